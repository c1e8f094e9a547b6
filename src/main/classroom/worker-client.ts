// The front door's side of a worker connection: requests with ids, pushes routed to the browser
// session that opened them, notices (idle stops, check results) to one listener. Reconnects after a
// worker restarts; calls made while it is away fail with a message a student can act on.
import { connect, type Socket } from 'node:net';
import type { PushMessage } from '../../shared/service-api.ts';
import { UserError } from '../errors.ts';
import { lineReader, type Notice, type WorkerFrame, type WorkerOp } from './protocol.ts';

export class WorkerError extends UserError {
  constructor(
    message: string,
    readonly code: string,
    hint?: string,
  ) {
    super(message, 2, hint);
  }
}

export class WorkerClient {
  private socket?: Socket;
  private ready?: Promise<void>;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly sessions = new Map<string, (push: PushMessage) => void>();
  private closed = false;

  constructor(
    readonly address: string,
    private readonly secret: string,
    private readonly onNotice: (notice: Notice) => void,
  ) {}

  private connect(): Promise<void> {
    if (this.ready) return this.ready;
    this.ready = new Promise<void>((resolve, reject) => {
      const socket = this.address.startsWith('unix:')
        ? connect(this.address.slice(5))
        : (() => {
            const m = /^tcp:(?:\/\/)?([^:]+):(\d+)$/.exec(this.address);
            if (!m) throw new Error(`bad worker address ${this.address}`);
            return connect(Number(m[2]), m[1]);
          })();
      this.socket = socket;
      let hello = false;
      socket.on('connect', () => socket.write(`${JSON.stringify({ hello: { secret: this.secret } })}\n`));
      socket.on(
        'data',
        lineReader(
          (raw) => {
            const frame = raw as WorkerFrame;
            if ('hello' in frame) {
              hello = true;
              return resolve();
            }
            if ('notice' in frame) return this.onNotice(frame.notice);
            if ('push' in frame) return this.sessions.get(frame.session)?.(frame.push);
            const p = this.pending.get(frame.id);
            if (!p) return;
            this.pending.delete(frame.id);
            if ('error' in frame) p.reject(Object.assign(new WorkerError(frame.error.message, frame.error.code, frame.error.hint)));
            else p.resolve(frame.result);
          },
          () => socket.destroy(),
        ),
      );
      const down = (err?: Error) => {
        this.ready = undefined;
        this.socket = undefined;
        if (!hello) reject(new UserError(`the lab server (worker ${this.address}) is not reachable${err ? `: ${err.message}` : ''}`, 3, 'try again in a moment; tell your instructor if it persists'));
        for (const p of this.pending.values()) p.reject(new UserError('the lab server restarted during the call', 3, 'try again'));
        this.pending.clear();
        // Browser sessions on this worker are gone with the connection: their consoles must re-attach.
        for (const push of this.sessions.values()) push({ kind: 'event', labRoot: '', event: { type: 'progress', message: 'connection to the lab server lost: reload the page' } });
        this.sessions.clear();
      };
      socket.on('error', (err) => down(err));
      socket.on('close', () => down());
    });
    this.ready.catch(() => undefined);
    return this.ready;
  }

  async request<T = unknown>(op: WorkerOp): Promise<T> {
    if (this.closed) throw new UserError('the classroom server is shutting down', 3);
    await this.connect();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.socket!.write(`${JSON.stringify({ id, ...op })}\n`);
    });
  }

  /** Opens a browser session on the worker for this student; pushes go to `onPush`. */
  async openSession(session: string, student: string, readOnly: boolean, onPush: (push: PushMessage) => void): Promise<void> {
    this.sessions.set(session, onPush);
    try {
      await this.request({ op: 'open', session, student, readOnly });
    } catch (err) {
      this.sessions.delete(session);
      throw err;
    }
  }

  async closeSession(session: string): Promise<void> {
    if (!this.sessions.delete(session)) return;
    await this.request({ op: 'close', session }).catch(() => undefined);
  }

  close(): void {
    this.closed = true;
    this.socket?.destroy();
  }
}
