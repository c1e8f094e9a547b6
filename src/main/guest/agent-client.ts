// Host end of the exec channel (docs/ARCHITECTURE.md, "Exec channel protocol"): talks to
// kernels/guest/agent/vnetlab-agent.c over the two FIFOs behind the guest's ssl0 (/dev/ttyS0).
// Line-based: the guest's lines may arrive in any fragmentation, and lines that are not protocol
// (e.g. echoes from before the agent set its tty raw) are ignored.
import type { Readable, Writable } from 'node:stream';
import type { ExecResult } from '../../shared/runtime-api.ts';

export interface ExecOptions {
  /** Kill the command's process group after this long; the result then has exitCode 124, timedOut. 0 = never. */
  timeoutMs?: number;
  /** Bytes for the command's stdin (closed afterwards). Without it stdin is closed at once. */
  stdin?: string | Buffer;
  /** Leave stdin open for writeStdin()/closeStdin() (an interactive exec). */
  keepStdinOpen?: boolean;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Called with the command id as soon as it is sent (for kill()/writeStdin()). */
  onStart?: (id: number) => void;
}

export interface PingResult {
  ready: boolean;
  startupExitCode?: number;
}

interface Running {
  stdout: Buffer[];
  stderr: Buffer[];
  options: ExecOptions;
  resolve: (r: ExecResult) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
  timedOut: boolean;
  startedAt: number;
}

export class AgentClosedError extends Error {
  constructor(message = 'the exec channel to the guest is closed') {
    super(message);
    this.name = 'AgentClosedError';
  }
}

/** How much longer than its own timeout the host waits for the guest to report a command done. */
const HOST_GRACE_MS = 5_000;
/** Base64 of at most this many bytes per `I` line. */
const STDIN_CHUNK = 1024;
/**
 * Bytes sent to the guest and not yet acknowledged (`A <n>`) at most. UML's serial line stops reading
 * its host fd for good once the guest tty throttles (its n_tty buffer holds 4 KB), so the host must
 * never let that buffer fill up.
 */
const SEND_WINDOW = 2048;

export class AgentClient {
  private partial = '';
  private nextId = 1;
  private readonly running = new Map<number, Running>();
  private readyCode: number | undefined;
  private readyWaiters: ((code: number) => void)[] = [];
  private pingWaiters: ((r: PingResult) => void)[] = [];
  private closedError: Error | undefined;
  /** Bytes waiting for room in the send window, and bytes the guest has not acknowledged yet. */
  private sendQueue: Buffer[] = [];
  private unacknowledged = 0;
  /**
   * Whether the agent has said anything yet. Until then what we send (pings while the guest boots) may
   * be dropped by a serial line nobody has opened, and would never be acknowledged: it is not counted.
   */
  private agentSeen = false;
  private readonly closeListeners: ((err: Error) => void)[] = [];
  private readonly onData = (data: Buffer | string) => this.receive(typeof data === 'string' ? data : data.toString('latin1'));
  private readonly onEnd = () => this.shutdown(new AgentClosedError('the guest closed the exec channel'));

  constructor(
    private readonly fromGuest: Readable,
    private readonly toGuest: Writable,
  ) {
    fromGuest.on('data', this.onData);
    fromGuest.on('end', this.onEnd);
    fromGuest.on('error', this.onEnd);
    toGuest.on('error', this.onEnd);
  }

  /** The startup script's exit code once the guest said `R`, else undefined. */
  get startupExitCode(): number | undefined {
    return this.readyCode;
  }

  /**
   * Resolves with the startup exit code when the guest is ready. Pings every half second, so a
   * client attached after the boot-time `R` (a restarted supervisor) still learns it.
   */
  waitReady(timeoutMs: number): Promise<number> {
    if (this.readyCode !== undefined) return Promise.resolve(this.readyCode);
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      const pinger = setInterval(() => this.send(`P 0`), 500);
      const timer = setTimeout(() => finish(new Error(`the guest was not ready after ${Math.round(timeoutMs / 1000)} s (no answer on the exec channel)`)), timeoutMs);
      const onClose = (err: Error) => finish(err);
      const waiter = (code: number) => finish(undefined, code);
      const finish = (err?: Error, code?: number) => {
        clearInterval(pinger);
        clearTimeout(timer);
        this.readyWaiters = this.readyWaiters.filter((w) => w !== waiter);
        const i = this.closeListeners.indexOf(onClose);
        if (i >= 0) this.closeListeners.splice(i, 1);
        if (err) reject(err);
        else resolve(code!);
      };
      this.readyWaiters.push(waiter);
      this.closeListeners.push(onClose);
      this.send('P 0');
    });
  }

  /** Asks the guest whether it is ready; rejects after timeoutMs without an answer. */
  ping(timeoutMs = 5_000): Promise<PingResult> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pingWaiters = this.pingWaiters.filter((w) => w !== waiter);
        reject(new Error(`no answer to a ping within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (r: PingResult) => {
        clearTimeout(timer);
        resolve(r);
      };
      this.pingWaiters.push(waiter);
      this.send('P 0');
    });
  }

  /**
   * A pooled guest waits for who it is (`N`, src/main/runtime/pool/): the `vnl_*` arguments a cold
   * guest finds on its kernel command line. Its boot then goes on, and `R` follows as usual.
   */
  identify(identity: string): void {
    this.send(`N ${Buffer.from(identity, 'utf8').toString('base64')}`);
  }

  /** Runs `sh -c command` in the guest. Never rejects for the command's own failure: see exitCode. */
  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    return new Promise<ExecResult>((resolve, reject) => {
      const entry: Running = { stdout: [], stderr: [], options, resolve, reject, timedOut: false, startedAt: Date.now() };
      this.running.set(id, entry);
      const timeoutMs = options.timeoutMs ?? 0;
      // The guest enforces the timeout; the host only guards against a guest that died or hangs.
      if (timeoutMs > 0) {
        entry.timer = setTimeout(() => {
          entry.timedOut = true;
          this.kill(id);
          this.settle(id, 124);
        }, timeoutMs + HOST_GRACE_MS);
      }
      const seconds = timeoutMs > 0 ? (timeoutMs / 1000).toFixed(3) : '0';
      this.send(`X ${id} ${seconds} ${Buffer.from(command, 'utf8').toString('base64')}`);
      options.onStart?.(id);
      if (options.stdin !== undefined) this.writeStdin(id, options.stdin);
      if (!options.keepStdinOpen) this.closeStdin(id);
    });
  }

  writeStdin(id: number, data: string | Buffer): void {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    for (let i = 0; i < bytes.length; i += STDIN_CHUNK) this.send(`I ${id} ${bytes.subarray(i, i + STDIN_CHUNK).toString('base64')}`);
  }

  closeStdin(id: number): void {
    this.send(`C ${id}`);
  }

  /** SIGKILL to the command's process group; its exec() resolves with 128+9. */
  kill(id: number): void {
    this.send(`K ${id}`);
  }

  /** Fails every pending call and stops listening; the streams themselves belong to the caller. */
  close(): void {
    this.shutdown(new AgentClosedError());
  }

  /** Called once when the channel closes (guest gone, or close()). */
  onClose(listener: (err: Error) => void): void {
    if (this.closedError) listener(this.closedError);
    else this.closeListeners.push(listener);
  }

  private send(line: string): void {
    if (this.closedError) return;
    this.sendQueue.push(Buffer.from(`${line}\n`, 'latin1'));
    this.pump();
  }

  /** Writes queued bytes while the window has room, splitting lines where needed (the guest joins them). */
  private pump(): void {
    while (this.sendQueue.length && this.unacknowledged < SEND_WINDOW) {
      const head = this.sendQueue[0]!;
      const room = SEND_WINDOW - this.unacknowledged;
      const piece = head.length <= room ? head : head.subarray(0, room);
      if (piece === head) this.sendQueue.shift();
      else this.sendQueue[0] = head.subarray(room);
      if (this.agentSeen) this.unacknowledged += piece.length;
      this.toGuest.write(piece);
    }
  }

  private receive(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop()!;
    if (this.partial.length > 16 * 2 ** 20) this.partial = ''; // not our protocol: never grow without bound
    for (const raw of lines) this.handleLine(raw.replace(/\r$/, ''));
  }

  private handleLine(line: string): void {
    const m = /^([ROEDLBA])(?: (-?\d+))?(?: (\S*))?$/.exec(line);
    if (!m) return;
    this.agentSeen = true;
    const [, kind, num, payload] = m;
    switch (kind) {
      case 'A':
        this.unacknowledged = Math.max(0, this.unacknowledged - Number(num ?? 0));
        this.pump();
        break;
      case 'R': {
        const code = Number(num ?? 0);
        this.readyCode = code;
        for (const w of this.readyWaiters.splice(0)) w(code);
        for (const w of this.pingWaiters.splice(0)) w({ ready: true, startupExitCode: code });
        break;
      }
      case 'B':
        for (const w of this.pingWaiters.splice(0)) w({ ready: false });
        break;
      case 'O':
      case 'E': {
        const entry = this.running.get(Number(num));
        if (!entry || payload === undefined) return;
        const chunk = Buffer.from(payload, 'base64');
        if (kind === 'O') {
          entry.stdout.push(chunk);
          entry.options.onStdout?.(chunk);
        } else {
          entry.stderr.push(chunk);
          entry.options.onStderr?.(chunk);
        }
        break;
      }
      case 'D':
        this.settle(Number(num), Number(payload ?? 255));
        break;
      // 'L' (startup log lines) carries nothing a caller waits for.
    }
  }

  private settle(id: number, exitCode: number): void {
    const entry = this.running.get(id);
    if (!entry) return;
    this.running.delete(id);
    clearTimeout(entry.timer);
    entry.resolve({
      stdout: Buffer.concat(entry.stdout).toString('utf8'),
      stderr: Buffer.concat(entry.stderr).toString('utf8'),
      exitCode,
      // 124 is also an ordinary exit code: it means "timed out" only once the timeout has passed.
      timedOut: entry.timedOut || (exitCode === 124 && !!entry.options.timeoutMs && Date.now() - entry.startedAt >= entry.options.timeoutMs),
    });
  }

  private shutdown(err: Error): void {
    if (this.closedError) return;
    this.closedError = err;
    this.sendQueue = [];
    this.fromGuest.off('data', this.onData);
    this.fromGuest.off('end', this.onEnd);
    for (const [id, entry] of this.running) {
      clearTimeout(entry.timer);
      entry.reject(err);
      this.running.delete(id);
    }
    for (const l of this.closeListeners.splice(0)) l(err);
  }
}
