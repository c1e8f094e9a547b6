// Binds a guest's exec channel (the two FIFO streams) to the AgentClient of src/main/guest, which
// speaks the protocol in docs/ARCHITECTURE.md; the supervisor only sees the small GuestAgent interface.
import type { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { AgentClient } from '../guest/agent-client.ts';
import type { GuestAgent } from './launcher.ts';
import { LINK_WATCH_COMMAND } from './link-watch.ts';

/** `identity`: a pooled guest's `vnl_*` arguments, sent first (AgentClient.identify). */
export async function connectAgent(fromGuest: Readable, toGuest: Writable, identity?: string): Promise<GuestAgent> {
  const client = new AgentClient(fromGuest, toGuest);
  if (identity !== undefined) client.identify(identity);
  return {
    waitReady: (timeoutMs) => client.waitReady(timeoutMs),
    exec: (command, options = {}) => {
      // Chunks may split a UTF-8 character; a decoder per stream keeps text intact.
      const out = new StringDecoder('utf8');
      const err = new StringDecoder('utf8');
      const { onStdout, onStderr } = options;
      return client.exec(command, {
        timeoutMs: options.timeoutMs,
        stdin: options.stdin,
        ...(options.tools ? { tools: true } : {}),
        onStdout: onStdout ? (chunk) => onStdout(out.write(chunk)) : undefined,
        onStderr: onStderr ? (chunk) => onStderr(err.write(chunk)) : undefined,
      });
    },
    interactive: (command, options) => {
      const out = new StringDecoder('utf8');
      const err = new StringDecoder('utf8');
      let id: number | undefined;
      const done = client.exec(command, {
        keepStdinOpen: true,
        streamOnly: true,
        onStart: (n) => (id = n),
        onStdout: (chunk) => options.onStdout(out.write(chunk)),
        onStderr: (chunk) => options.onStderr(err.write(chunk)),
      });
      // A closed channel rejects `done`; whoever holds the console hears it there, not as an unhandled rejection.
      done.catch(() => undefined);
      return {
        done,
        write: (data) => id !== undefined && client.writeStdin(id, data),
        end: () => id !== undefined && client.closeStdin(id),
        kill: () => id !== undefined && client.kill(id),
      };
    },
    requestHalt: (timeoutMs) => client.requestHalt(timeoutMs),
    ipv6Now: () => client.ipv6Now(),
    watchLinks: (onStdout) => {
      const out = new StringDecoder('utf8');
      const onChunk = (chunk: Buffer) => onStdout(out.write(chunk));
      // An agent built before `S` runs the same watcher as a command (a fork, a shell and an exec more).
      return client.watchLinks(onChunk) ?? client.exec(LINK_WATCH_COMMAND, { tools: true, streamOnly: true, onStdout: onChunk });
    },
    close: () => client.close(),
  };
}
