// Host end of the exec channel (docs/ARCHITECTURE.md, "Exec channel protocol"): talks to
// kernels/guest/agent/vnetlab-agent.c over the two FIFOs behind the guest's ssl0 (/dev/ttyS0).
// Line-based: the guest's lines may arrive in any fragmentation. Everything the guest says is checked
// field by field (parseGuestLine): root inside a guest can write anything on /dev/ttyS0, and a bad line
// is dropped and logged, never trusted, so it can neither wedge the channel nor crash the supervisor.
import type { Readable, Writable } from 'node:stream';
import type { ExecResult } from '../../shared/runtime-api.ts';

export interface ExecOptions {
  /** Kill the command's process group after this long; the result then has exitCode 124, timedOut. 0 = never. */
  timeoutMs?: number;
  /**
   * Run it with the lab-fs tool set (`T`: the lab-fs's static busybox sh, its applets first in PATH)
   * instead of the guest's /bin/sh (`X`): a check's command, out of reach of a planted /bin/sh or `ip`.
   */
  tools?: boolean;
  /** Bytes for the command's stdin (closed afterwards). Without it stdin is closed at once. */
  stdin?: string | Buffer;
  /** Leave stdin open for writeStdin()/closeStdin() (an interactive exec). */
  keepStdinOpen?: boolean;
  /** Only pass output to onStdout/onStderr, never keep it for the result (a console that runs for hours). */
  streamOnly?: boolean;
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

/** What a guest may say (docs/ARCHITECTURE.md, "Exec channel protocol"), once its fields are checked. */
export type GuestMessage =
  | { kind: 'R'; code: number }
  | { kind: 'B' }
  | { kind: 'W' }
  | { kind: 'A'; bytes: number }
  | { kind: 'O' | 'E'; id: number; data: Buffer }
  | { kind: 'D'; id: number; code: number }
  | { kind: 'L'; text: Buffer }
  /** The guest took a halt request (`H 0`) and has told its init to shut down. */
  | { kind: 'H' }
  /** The agent's protocol level, said when it starts serving: 1 = it takes `H`. */
  | { kind: 'V'; level: number }
  /** Not protocol and not worth a word: an empty line, or an echo of what we sent before the tty went raw. */
  | { kind: 'ignore' }
  | { kind: 'malformed'; reason: string };

/**
 * Longest line a guest may send. The agent's longest are output chunks: 3,072 bytes as 4,096 base64
 * characters plus `O <id> `; anything longer is not the agent's.
 */
export const MAX_GUEST_LINE = 8192;
/** Most base64 characters in one O/E/L line (the agent's CHUNK of 3,072 bytes). */
const MAX_CHUNK_BASE64 = 4096;
/** The agent acknowledges at most one read of its 4 MiB line buffer at a time. */
const MAX_ACK = 4 * 1024 * 1024;
/** Canonical, padded base64, as the agent writes it. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const ID = /^[1-9]\d{0,14}$/;
const NUMBER = /^\d{1,10}$/;

/**
 * Checks one line from the guest (without its newline). `issued(id)` says whether we ever sent that
 * command id. Pure: no state changes; AgentClient acts on the result.
 */
export function parseGuestLine(line: string, issued: (id: number) => boolean): GuestMessage {
  if (line.length > MAX_GUEST_LINE) return { kind: 'malformed', reason: `longer than ${MAX_GUEST_LINE} characters` };
  if (line === '' || /^(?:[PXICKN](?: |$)|H )/.test(line)) return { kind: 'ignore' };
  const fields = line.split(' ');
  const kind = fields[0]!;
  const count = (n: number): string | undefined => (fields.length === n ? undefined : `'${kind}' takes ${n - 1} field${n === 2 ? '' : 's'}, not ${fields.length - 1}`);
  const bad = (reason: string): GuestMessage => ({ kind: 'malformed', reason });
  const id = (text: string): number | string => {
    if (!ID.test(text)) return `'${text.slice(0, 20)}' is not a command id`;
    const n = Number(text);
    return issued(n) ? n : `command id ${n} was never issued`;
  };
  const exitCode = (text: string): number | string => (NUMBER.test(text) && Number(text) <= 255 ? Number(text) : `'${text.slice(0, 20)}' is not an exit code (0-255)`);
  const base64 = (text: string): Buffer | string => {
    if (text.length > MAX_CHUNK_BASE64) return `a payload of ${text.length} base64 characters (at most ${MAX_CHUNK_BASE64})`;
    return BASE64.test(text) ? Buffer.from(text, 'base64') : 'the payload is not well-formed base64';
  };
  switch (kind) {
    case 'B':
    case 'W':
    case 'H':
      return count(1) === undefined ? { kind } : bad(count(1)!);
    case 'R': {
      if (count(2)) return bad(count(2)!);
      const code = exitCode(fields[1]!);
      return typeof code === 'number' ? { kind, code } : bad(code);
    }
    case 'V': {
      if (count(2)) return bad(count(2)!);
      return NUMBER.test(fields[1]!) ? { kind, level: Number(fields[1]) } : bad(`'${fields[1]!.slice(0, 20)}' is not a protocol level`);
    }
    case 'A': {
      if (count(2)) return bad(count(2)!);
      const text = fields[1]!;
      if (!NUMBER.test(text) || Number(text) > MAX_ACK) return bad(`'${text.slice(0, 20)}' is not a byte count (0-${MAX_ACK})`);
      return { kind, bytes: Number(text) };
    }
    case 'O':
    case 'E': {
      if (count(3)) return bad(count(3)!);
      const n = id(fields[1]!);
      if (typeof n === 'string') return bad(n);
      const data = base64(fields[2]!);
      return typeof data === 'string' ? bad(data) : { kind, id: n, data };
    }
    case 'D': {
      if (count(3)) return bad(count(3)!);
      const n = id(fields[1]!);
      if (typeof n === 'string') return bad(n);
      const code = exitCode(fields[2]!);
      return typeof code === 'number' ? { kind, id: n, code } : bad(code);
    }
    case 'L': {
      if (count(2)) return bad(count(2)!);
      const text = base64(fields[1]!);
      return typeof text === 'string' ? bad(text) : { kind, text };
    }
    default:
      return bad(`'${kind.slice(0, 20)}' is not a message of the protocol`);
  }
}

export interface AgentClientOptions {
  /**
   * Told about every line from the guest that was dropped, with why. Default: a line on stderr (the
   * supervisor's log), at most MALFORMED_LOG_BURST a minute, then a count of those not shown.
   */
  onMalformed?: (line: string, reason: string) => void;
}

/** Lines logged per minute at most by the default onMalformed: a guest may send millions. */
const MALFORMED_LOG_BURST = 20;

function defaultMalformedLogger(): (line: string, reason: string) => void {
  let windowStart = 0;
  let shown = 0;
  let hidden = 0;
  return (line, reason) => {
    const now = Date.now();
    if (now - windowStart >= 60_000) {
      if (hidden > 0) process.stderr.write(`${new Date().toISOString()} exec channel: ${hidden} more malformed lines from the guest were dropped\n`);
      windowStart = now;
      shown = 0;
      hidden = 0;
    }
    if (shown >= MALFORMED_LOG_BURST) {
      hidden++;
      return;
    }
    shown++;
    const excerpt = JSON.stringify(line.length > 80 ? `${line.slice(0, 80)}…` : line);
    process.stderr.write(`${new Date().toISOString()} exec channel: dropped a malformed line from the guest (${reason}): ${excerpt}\n`);
  };
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
  /** Inside a line already too long: everything up to the next newline is dropped. */
  private discarding = false;
  /** Lines from the guest dropped as malformed, since the start. */
  malformedLines = 0;
  private readonly onMalformed: (line: string, reason: string) => void;
  private nextId = 1;
  private readonly running = new Map<number, Running>();
  private readyCode: number | undefined;
  private readyWaiters: ((code: number) => void)[] = [];
  private pingWaiters: ((r: PingResult) => void)[] = [];
  private haltWaiters: (() => void)[] = [];
  /** The link watch asked of the agent (watchLinks), while it runs. */
  private linkWatchId: number | undefined;
  /** What the agent announced (`V n`); 0 for an agent built before it said anything. */
  private agentLevel = 0;
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
    options: AgentClientOptions = {},
  ) {
    this.onMalformed = options.onMalformed ?? defaultMalformedLogger();
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
   * Asks the guest to shut down (its init runs the shutdown, as for mconsole's `cad`). True once the
   * agent said it took the request, or once the channel closed after we asked (the guest is going
   * down: with 500 guests stopping at once its answer may come after the end). False at once for an
   * agent that never said it takes `H` (a disk still booting an image built before it), or a closed
   * channel; false after `timeoutMs` for a guest too busy to answer. The caller then uses mconsole.
   */
  requestHalt(timeoutMs = 5_000): Promise<boolean> {
    if (this.closedError || this.agentLevel < 1) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(false), timeoutMs);
      const waiter = () => finish(true);
      const onClose = () => finish(true);
      const finish = (took: boolean) => {
        clearTimeout(timer);
        this.haltWaiters = this.haltWaiters.filter((w) => w !== waiter);
        const i = this.closeListeners.indexOf(onClose);
        if (i >= 0) this.closeListeners.splice(i, 1);
        resolve(took);
      };
      this.haltWaiters.push(waiter);
      this.closeListeners.push(onClose);
      this.send('H 0');
    });
  }

  /**
   * IPv6 now, in a guest whose boot left it out (guest/ipv6-later.ts): `6`, then a ping, whose answer
   * comes once the agent has loaded it (it handles lines in order). A command sent after `6` finds IPv6.
   */
  async ipv6Now(): Promise<void> {
    if (this.closedError) return;
    this.send('6 0');
    await this.ping(30_000).catch(() => {});
  }

  /**
   * A pooled guest waits for who it is (`N`, src/main/runtime/pool/): the `vnl_*` arguments a cold
   * guest finds on its kernel command line. Its boot then goes on, and `R` follows as usual.
   */
  identify(identity: string): void {
    this.send(`N ${Buffer.from(identity, 'utf8').toString('base64')}`);
  }

  /**
   * The guest's link watch (`links eth0=up …` lines now and at each change, runtime/link-watch.ts), served
   * by the agent itself (`S`, level 2): no process is made in the guest for it. Undefined for an agent
   * that never said it takes `S`: the caller runs `vnetlab-agent --link-watch` as a command instead.
   * Resolves when the watch ends: kill(id) (128+9), or a later watch replacing it (0: the agent keeps
   * one, and says nothing more of the one it replaced).
   */
  watchLinks(onStdout: (chunk: Buffer) => void, onStart?: (id: number) => void): Promise<ExecResult> | undefined {
    if (this.closedError) return Promise.reject(this.closedError);
    if (this.agentLevel < 2) return undefined;
    if (this.linkWatchId !== undefined) this.settle(this.linkWatchId, 0);
    const id = this.nextId++;
    this.linkWatchId = id;
    return new Promise<ExecResult>((resolve, reject) => {
      this.running.set(id, { stdout: [], stderr: [], options: { streamOnly: true, onStdout }, resolve, reject, timedOut: false, startedAt: Date.now() });
      this.send(`S ${id}`);
      onStart?.(id);
    });
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
      this.send(`${options.tools ? 'T' : 'X'} ${id} ${seconds} ${Buffer.from(command, 'utf8').toString('base64')}`);
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
    for (const raw of lines) {
      if (this.discarding) {
        // The rest of a line that was already too long (reported when it passed the limit).
        this.discarding = false;
        continue;
      }
      this.handleLine(raw.replace(/\r$/, ''));
    }
    if (this.partial.length > MAX_GUEST_LINE + 1) {
      // Not our protocol: never grow without bound, and resynchronise at the next newline.
      if (!this.discarding) this.malformed(this.partial, `longer than ${MAX_GUEST_LINE} characters`);
      this.partial = '';
      this.discarding = true;
    }
  }

  private malformed(line: string, reason: string): void {
    this.malformedLines++;
    try {
      this.onMalformed(line, reason);
    } catch {
      // a logger must not take the channel down
    }
  }

  private handleLine(line: string): void {
    const message = parseGuestLine(line, (id) => id < this.nextId);
    if (message.kind === 'ignore') return;
    if (message.kind === 'malformed') return this.malformed(line, message.reason);
    this.agentSeen = true;
    try {
      this.act(message);
    } catch (err) {
      // Our own callbacks (onStdout…) threw: say so, and keep serving the other commands.
      this.malformed(line, `handling it failed: ${(err as Error).message}`);
    }
  }

  private act(message: Exclude<GuestMessage, { kind: 'ignore' | 'malformed' }>): void {
    switch (message.kind) {
      case 'A':
        this.unacknowledged = Math.max(0, this.unacknowledged - message.bytes);
        this.pump();
        break;
      case 'R':
        this.readyCode = message.code;
        for (const w of this.readyWaiters.splice(0)) w(message.code);
        for (const w of this.pingWaiters.splice(0)) w({ ready: true, startupExitCode: message.code });
        break;
      case 'B':
        for (const w of this.pingWaiters.splice(0)) w({ ready: false });
        break;
      case 'H':
        for (const w of this.haltWaiters.splice(0)) w();
        break;
      case 'V':
        this.agentLevel = message.level;
        break;
      case 'O':
      case 'E': {
        // An id we issued whose command is over (the host gave up on it first): nothing waits for it.
        const entry = this.running.get(message.id);
        if (!entry) return;
        if (message.kind === 'O') {
          if (!entry.options.streamOnly) entry.stdout.push(message.data);
          entry.options.onStdout?.(message.data);
        } else {
          if (!entry.options.streamOnly) entry.stderr.push(message.data);
          entry.options.onStderr?.(message.data);
        }
        break;
      }
      case 'D':
        this.settle(message.id, message.code);
        break;
      // 'L' (startup log lines) and 'W' (a pooled guest waiting, seen by the pool) carry nothing a caller waits for.
    }
  }

  private settle(id: number, exitCode: number): void {
    const entry = this.running.get(id);
    if (!entry) return;
    this.running.delete(id);
    if (id === this.linkWatchId) this.linkWatchId = undefined;
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
