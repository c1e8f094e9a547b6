// Talking to a cable's wirefilter through its management socket (vde2's wirefilter, Marionnet's way):
// one command per line, answered by a `1000 Success` line or an error code. L is the machine's port
// and R the domain switch (wirefilterArgv), so LR is "out" (machine → domain) and RL is "in".
import { createConnection } from 'node:net';
import type { CableImpairments, Impairment } from '../../../shared/plan.ts';

const REPLY_TIMEOUT_MS = 3_000;
const FULL_FRAME_BYTES = 1500;
const DIRECTIONS = { out: 'LR', in: 'RL' } as const;

/**
 * The wirefilter commands that take a cable from `current` to exactly `next`: only the values that
 * differ, since wirefilter answers one command per turn of its event loop (~0.15 s each here).
 */
export function impairmentCommands(next: CableImpairments, current: CableImpairments = {}): string[] {
  const commands: string[] = [];
  for (const dir of ['out', 'in'] as const) {
    const want = settings(next[dir] ?? {});
    const have = settings(current[dir] ?? {});
    for (const [name, value] of Object.entries(want)) if (have[name] !== value) commands.push(`${name} ${DIRECTIONS[dir]} ${value}`);
  }
  return commands;
}

/** wirefilter's own parameters for one direction (0 = off). */
function settings(i: Impairment): Record<string, string> {
  return {
    loss: String(i.lossPct ?? 0),
    // `value+range`: uniformly spread over value ± range.
    delay: `${i.delayMs ?? 0}${i.jitterMs ? `+${i.jitterMs}` : ''}`,
    dup: String(i.dupPct ?? 0),
    bandwidth: String(i.rateBps ? Math.max(1, Math.round(i.rateBps / 8)) : 0),
    noise: String(i.corruptPct ? corruptionToNoise(i.corruptPct) : 0),
  };
}

/**
 * wirefilter's noise is "flipped bits per megabyte"; we offer "percent of full-size frames with one
 * flipped bit", which is what a student can observe (checksums failing on N % of big packets).
 */
export function corruptionToNoise(corruptPct: number): number {
  return Math.round(((corruptPct / 100) * (1024 * 1024)) / FULL_FRAME_BYTES);
}

/**
 * Send commands to a wirefilter's management socket, one at a time (it reads one command per read);
 * rejects with the first error reply.
 */
export function wirefilterCommands(mgmtSocket: string, commands: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(mgmtSocket);
    let buffer = '';
    let next = 0;
    let greeted = false;
    const timer = setTimeout(
      () => finish(new Error(`the wirefilter at ${mgmtSocket} did not answer ${greeted ? `'${commands[next - 1]}'` : 'with its prompt'} (got: ${JSON.stringify(buffer.slice(-200))})`)),
      REPLY_TIMEOUT_MS + 200 * commands.length,
    );
    const finish = (err?: Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    const sendNext = () => {
      if (next >= commands.length) return finish();
      socket.write(`${commands[next++]}\n`);
    };
    socket.on('error', (err) => finish(new Error(`cannot reach the wirefilter at ${mgmtSocket}: ${err.message}`)));
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      if (!greeted) {
        if (!/VDEwf\$ ?$/.test(buffer)) return; // the banner ends with the first prompt
        greeted = true;
        buffer = '';
        return sendNext();
      }
      // A reply is complete once its code line and the next prompt are in: chunks may cut it anywhere
      // (a prompt left from the previous reply can precede the code on its line).
      const reply = /\b(1\d{3}) ([^\n]*)\n[\s\S]*VDEwf\$ ?$/.exec(buffer);
      if (!reply) return;
      buffer = '';
      if (reply[1] !== '1000') return finish(new Error(`wirefilter refused '${commands[next - 1]}': ${reply[2]}`));
      sendNext();
    });
  });
}
