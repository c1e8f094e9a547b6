// The two FIFOs of a guest's exec channel (docs/ARCHITECTURE.md): `toGuest` (the kernel reads it as
// fd 3) and `fromGuest` (the kernel writes it as fd 4). Both are opened O_RDWR so that neither side
// ever blocks on open or sees EOF when the other end restarts, and wrapped in net.Socket so reads go
// through the event loop instead of occupying a libuv worker thread per guest.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, statSync } from 'node:fs';
import { Socket } from 'node:net';
import { AgentClient } from './agent-client.ts';

export interface ExecChannel {
  fromGuest: Socket;
  toGuest: Socket;
  client: AgentClient;
  close(): void;
}

/** Creates the FIFO if it does not exist (mkfifo, mode 600). */
export function ensureFifo(path: string): void {
  if (existsSync(path)) {
    if (!statSync(path).isFIFO()) throw new Error(`${path} exists and is not a FIFO`);
    return;
  }
  execFileSync('mkfifo', ['-m', '600', path]);
}

export function openExecChannel(toGuestPath: string, fromGuestPath: string): ExecChannel {
  ensureFifo(toGuestPath);
  ensureFifo(fromGuestPath);
  const flags = constants.O_RDWR | constants.O_NONBLOCK;
  const toFd = openSync(toGuestPath, flags);
  let fromFd: number;
  try {
    fromFd = openSync(fromGuestPath, flags);
  } catch (err) {
    closeSync(toFd);
    throw err;
  }
  const toGuest = new Socket({ fd: toFd, readable: false, writable: true });
  const fromGuest = new Socket({ fd: fromFd, readable: true, writable: false });
  const client = new AgentClient(fromGuest, toGuest);
  return {
    fromGuest,
    toGuest,
    client,
    close() {
      client.close();
      fromGuest.destroy();
      toGuest.destroy();
    },
  };
}
