// The front door's side of a worker connection: requests with ids, pushes routed to the browser
// session that opened them, notices (idle stops, check results) to one listener. One connection
// carries every student of the worker, so nothing one of them sends or asks for may close it: a
// request over the frame limit is refused to its caller, a reply over it (skipped unread) fails that
// one call. When the worker goes away (it crashed, or was killed and its supervisor restarts it), the
// calls in flight fail with a "reconnect" error, every browser session on it hears onLost (the front
// door closes those sockets, and the app reconnects and opens a new session), and the next request
// connects again, waiting a little for a worker that is restarting. A worker on another host can
// vanish without closing its connection (its node or network died: no FIN ever comes), so the front
// door asks it for a ping every few seconds and takes it for gone when nothing at all has come back
// for a while; it then keeps trying to connect in the background, so the dashboard and the waiting
// students learn as soon as it is back.
import { connect, type Socket } from 'node:net';
import type { PushMessage } from '../../shared/service-api.ts';
import { UserError } from '../errors.ts';
import { encodeFrame, FrameTooLarge, idOfHead, lineReader, MAX_FRAME_BYTES, mib, type Notice, type WorkerFrame, type WorkerOp } from './protocol.ts';

export class WorkerError extends UserError {
  constructor(
    message: string,
    readonly code: string,
    hint?: string,
  ) {
    super(message, 2, hint);
  }
}

/** What a student whose worker went away is told (the WebSocket close reason: at most 123 bytes). */
export const RECONNECT_REASON = 'lost the connection to your lab server: reconnecting';

export function reconnectError(): WorkerError {
  return new WorkerError('your lab server stopped answering during this call, so your session on it ended: reconnect (reload the page) and try again', 'reconnect', 'your labs and files are kept on it');
}

export interface WorkerClientOptions {
  /** How long a request waits for a worker that does not answer yet (one restarting); 0 = fail at once. */
  connectWaitMs?: number;
  /** How long one connection attempt may take before it is given up and made again (ms). */
  connectTimeoutMs?: number;
  /** How often a connected worker is pinged (ms; 0 = never). */
  heartbeatMs?: number;
  /** A connected worker from which nothing came for this long is taken for gone (ms). */
  deadAfterMs?: number;
  /** How the worker is named to students and in the log ("worker 2"); the address by default. */
  label?: string;
  /** Told when the worker is reached again or lost (`why`: what was seen). */
  onState?(up: boolean, why: string): void;
}

/** The worker as the front door last saw it: connected or not, since when. */
export interface WorkerState {
  up: boolean;
  since: number;
  /** Why it is down (the last error), when it is. */
  why?: string;
}

interface BrowserSession {
  onPush(push: PushMessage): void;
  onLost?(): void;
}

export class WorkerClient {
  private socket?: Socket;
  private ready?: Promise<void>;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly sessions = new Map<string, BrowserSession>();
  private closed = false;
  private readonly connectWaitMs: number;
  private readonly heartbeatMs: number;
  private readonly deadAfterMs: number;
  readonly label: string;
  private current: WorkerState = { up: false, since: Date.now(), why: 'not connected yet' };
  private reconnectTimer?: NodeJS.Timeout;

  constructor(
    readonly address: string,
    private readonly secret: string,
    private readonly onNotice: (notice: Notice) => void,
    private readonly options: WorkerClientOptions = {},
  ) {
    this.connectWaitMs = options.connectWaitMs ?? 15_000;
    this.heartbeatMs = options.heartbeatMs ?? 2_000;
    this.deadAfterMs = options.deadAfterMs ?? 6_000;
    this.label = options.label ?? `the lab server at ${address}`;
  }

  /** Connected or not, since when (what the dashboard shows). */
  get state(): WorkerState {
    return { ...this.current };
  }

  private setState(up: boolean, why: string): void {
    if (this.current.up === up && (up || this.current.why)) return;
    this.current = { up, since: Date.now(), ...(up ? {} : { why }) };
    this.options.onState?.(up, why);
  }

  /** After a loss: keep trying to connect in the background until the worker answers again. */
  private reconnectSoon(): void {
    if (this.closed || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect().catch(() => this.reconnectSoon());
    }, 1_000);
    this.reconnectTimer.unref();
  }

  private connect(): Promise<void> {
    if (this.ready) return this.ready;
    const deadline = Date.now() + this.connectWaitMs;
    const attempt = async (): Promise<void> => {
      for (;;) {
        try {
          return await this.connectOnce();
        } catch (err) {
          if (this.closed || Date.now() + 250 > deadline) throw err;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    };
    const ready = attempt();
    this.ready = ready;
    ready.catch(() => {
      if (this.ready === ready) this.ready = undefined;
    });
    return ready;
  }

  private connectOnce(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let socket: Socket;
      if (this.address.startsWith('unix:')) socket = connect(this.address.slice(5));
      else {
        const m = /^tcp:(?:\/\/)?([^:]+):(\d+)$/.exec(this.address);
        if (!m) return reject(new Error(`bad worker address ${this.address}`));
        socket = connect(Number(m[2]), m[1]);
        // A keystroke and its echo are small frames: Nagle's algorithm would hold each one until the
        // previous is acknowledged (delayed ACK: bench/cluster.ts measured 48 ms per key without this
        // and the worker side's, 13.5 ms with both; on one host, over a Unix socket, 11 ms).
        socket.setNoDelay(true);
      }
      let hello = false;
      // A worker that accepts but never says hello (hung) is not waited for forever.
      const helloTimer = setTimeout(() => socket.destroy(new Error('no answer to the handshake')), 10_000);
      // Nor one whose host is gone: the kernel retries a SYN to an address nobody answers for about two
      // minutes, while the worker may be back meanwhile (on a new pod IP, under the same name). A fresh
      // attempt every few seconds resolves the name again.
      const connectTimer = setTimeout(() => socket.destroy(new Error('no answer to the connection')), this.options.connectTimeoutMs ?? 3_000);
      let heard = Date.now();
      let beat: NodeJS.Timeout | undefined;
      const heartbeat = () => {
        if (Date.now() - heard > this.deadAfterMs) return socket.destroy(new Error(`no answer for ${Math.round((Date.now() - heard) / 1000)} s`));
        const id = this.nextId++;
        // Its answer only proves the worker is there (any frame does).
        this.pending.set(id, { resolve: () => {}, reject: () => {} });
        socket.write(encodeFrame({ id, op: 'ping' }));
      };
      socket.on('connect', () => {
        clearTimeout(connectTimer);
        socket.write(`${JSON.stringify({ hello: { secret: this.secret } })}\n`);
      });
      socket.on('data', () => (heard = Date.now()));
      socket.on(
        'data',
        lineReader(
          (raw) => {
            const frame = raw as WorkerFrame;
            if ('hello' in frame) {
              hello = true;
              clearTimeout(helloTimer);
              this.socket = socket;
              if (this.heartbeatMs > 0) {
                beat = setInterval(heartbeat, this.heartbeatMs);
                beat.unref();
              }
              this.setState(true, 'connected');
              return resolve();
            }
            if (!hello) return;
            if ('notice' in frame) return this.onNotice(frame.notice);
            if ('push' in frame) return this.sessions.get(frame.session)?.onPush(frame.push);
            const p = this.pending.get(frame.id);
            if (!p) return;
            this.pending.delete(frame.id);
            if ('error' in frame) p.reject(new WorkerError(frame.error.message, frame.error.code, frame.error.hint));
            else p.resolve(frame.result);
          },
          () => socket.destroy(),
          {
            // A worker bounds its replies; one that did not (an older one) fails that call alone.
            onOversize: (head, bytes) => {
              const id = idOfHead(head);
              const p = id === undefined ? undefined : this.pending.get(id);
              if (!p) return;
              this.pending.delete(id!);
              p.reject(new WorkerError(`the answer is too large to send (${mib(bytes)}; at most ${mib(MAX_FRAME_BYTES)})`, 'too-large'));
            },
          },
        ),
      );
      let down = false;
      const onDown = (err?: Error) => {
        if (down) return;
        down = true;
        clearTimeout(helloTimer);
        clearTimeout(connectTimer);
        if (beat) clearInterval(beat);
        if (!hello) {
          this.setState(false, err?.message ?? 'the connection was refused');
          return reject(new WorkerError(`${this.label} is not reachable${err ? ` (${err.message})` : ''}`, 'unreachable', 'your labs and disks are kept on it; try again in a moment, and tell your instructor if it persists'));
        }
        if (this.socket !== socket) return;
        this.socket = undefined;
        this.ready = undefined;
        this.setState(false, err?.message ?? 'the connection closed');
        this.reconnectSoon();
        const pending = [...this.pending.values()];
        this.pending.clear();
        for (const p of pending) p.reject(reconnectError());
        // Browser sessions on this worker are gone with the connection: their pages must reconnect.
        const sessions = [...this.sessions.values()];
        this.sessions.clear();
        for (const s of sessions) s.onPush({ kind: 'event', labRoot: '', event: { type: 'progress', message: `connection to the lab server lost: ${RECONNECT_REASON}` } });
        // After the failed calls' errors have reached their pages (those are promise jobs, run first).
        setImmediate(() => {
          for (const s of sessions) s.onLost?.();
        });
      };
      socket.on('error', (err) => onDown(err));
      socket.on('close', () => onDown());
    });
  }

  /** Sends one request; `waitMs` bounds how long it waits for a worker that is not connected (default connectWaitMs). */
  async request<T = unknown>(op: WorkerOp, waitMs?: number): Promise<T> {
    if (this.closed) throw new UserError('the classroom server is shutting down', 3);
    // A call in a session the worker no longer has (it restarted since the session opened).
    if (op.op === 'call' && !this.sessions.has(op.session)) throw reconnectError();
    if (waitMs === undefined || this.socket) await this.connect();
    else {
      // The connection attempt goes on in the background; this request waits only so long.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new WorkerError(`${this.label} is not reachable (${this.current.why ?? 'no answer'})`, 'unreachable')), waitMs);
      });
      try {
        await Promise.race([this.connect(), late]);
      } finally {
        clearTimeout(timer);
      }
    }
    const id = this.nextId++;
    let line: string;
    try {
      line = encodeFrame({ id, ...op });
    } catch (err) {
      if (!(err instanceof FrameTooLarge)) throw err;
      const what = op.op === 'call' ? `${String(op.method).slice(0, 40)}()` : op.op;
      throw new WorkerError(`the request ${what} is too large for the lab server (${mib(err.bytes)} or more; at most ${mib(err.limit)})`, 'too-large', 'make the lab or the file smaller');
    }
    const socket = this.socket;
    if (!socket || socket.destroyed) throw reconnectError();
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      socket.write(line);
    });
  }

  /** Opens a browser session on the worker for this student; pushes go to `onPush`, `onLost` when the worker went away. */
  async openSession(session: string, student: string, readOnly: boolean, onPush: (push: PushMessage) => void, onLost?: () => void, waitMs?: number): Promise<void> {
    this.sessions.set(session, { onPush, ...(onLost ? { onLost } : {}) });
    try {
      await this.request({ op: 'open', session, student, readOnly }, waitMs);
    } catch (err) {
      this.sessions.delete(session);
      throw err;
    }
  }

  async closeSession(session: string): Promise<void> {
    if (!this.sessions.delete(session)) return;
    await this.request({ op: 'close', session }).catch(() => undefined);
  }

  /** Connects now, and keeps trying in the background while the worker is not there. */
  keepConnected(): void {
    this.connect().catch(() => this.reconnectSoon());
  }

  close(): void {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.socket?.destroy();
  }
}
