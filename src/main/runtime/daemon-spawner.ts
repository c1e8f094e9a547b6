// The network daemons of a lab, started through kernels/host/vnetlab-spawner.c instead of by forking the
// supervisor. A fork of the supervisor (a node process of ~60 MB) copies its page tables, then blocks its
// only thread until the child has exec'd: 5–15 ms per daemon under load, two daemons per machine, while
// no console byte passes. The spawner, a small static process of our own, forks instead; the supervisor
// writes a request and goes on. The gate stays (real-launcher.ts): each daemon is held until the
// supervisor has recorded its pid, so nothing runs that `clean` could not find.
//
// The spawner is the supervisor's child and reports its daemons' exits. Should it die, the daemons it
// started run on (their own sessions; their exits are then found by looking at /proc), the daemons it
// held never run, and the next spawn starts a new spawner.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { signalName, type DaemonHandle, type ExitInfo, type Register } from './launcher.ts';
import { hasExited, processStartTime, trySignal, type ProcessRecord } from './records.ts';

/** How often the daemons of a spawner that died are looked at, until each has exited. */
const ORPHAN_POLL_MS = 500;

export interface SpawnRequest {
  /** The daemon's command line (already through the sandbox, confinement.ts); no empty argument. */
  argv: string[];
  /** Its stdout and stderr, appended (made 0600). */
  logFile: string;
  /** The FIFO it holds open as its stdin (read-write), or none: /dev/null. */
  stdinFifo?: string;
  /** For register: the sockets it owns. */
  sockets: string[];
}

interface Pending {
  request: SpawnRequest;
  register: Register;
  resolve(handle: DaemonHandle): void;
  reject(err: Error): void;
}

interface Running {
  /** The daemon as recorded (pid and start time): how it is known once nobody reports its exit. */
  process: Pick<ProcessRecord, 'pid' | 'startTime'>;
  resolveExit(exit: ExitInfo): void;
}

export class DaemonSpawner {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly running = new Map<number, Running>();
  private buffered = '';

  /** `helper`: the built vnetlab-spawner; `env`: what daemons run with (PATH). */
  constructor(
    private readonly helper: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** Whether a request can go through the spawner (its frames end at an empty field). */
  static canSpawn(request: Pick<SpawnRequest, 'argv' | 'logFile' | 'stdinFifo'>): boolean {
    return request.argv.length > 0 && [...request.argv, request.logFile, request.stdinFifo ?? '-'].every((field) => field !== '' && !field.includes('\0'));
  }

  /** Start a daemon; resolves once it is recorded (register) and let go. */
  spawn(request: SpawnRequest, register: Register): Promise<DaemonHandle> {
    const child = this.ensureChild();
    const id = this.nextId++;
    mkdirSync(dirname(request.logFile), { recursive: true, mode: 0o700 });
    return new Promise<DaemonHandle>((resolve, reject) => {
      this.pending.set(id, { request, register, resolve, reject });
      this.holdLoop();
      child.stdin!.write(Buffer.from(['S' + String(id), request.stdinFifo ?? '-', request.logFile, ...request.argv, ''].join('\0') + '\0'));
    });
  }

  /** Let the spawner go: at EOF it exits (daemons it started run on). Resolves once it has (1 s at most). */
  async close(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin?.end();
    // A timer that holds the event loop: the caller may be a supervisor on its way out, with nothing
    // else left to hold it (node would end mid-await, before its last words).
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([gone, new Promise((resolve) => (timer = setTimeout(resolve, 1_000)))]);
    clearTimeout(timer);
  }

  private ensureChild(): ChildProcess {
    if (this.child) return this.child;
    const child = spawn(this.helper, [], { stdio: ['pipe', 'pipe', 'inherit'], env: { PATH: this.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' } });
    child.stdin!.on('error', () => {}); // it died: its exit is handled below
    child.stdout!.setEncoding('utf8').on('data', (text: string) => this.onReplies(text));
    child.once('exit', () => this.onSpawnerGone(child));
    child.once('error', () => this.onSpawnerGone(child));
    // Idle, the spawner holds nothing up: a process with nothing else to do may end (it then exits at EOF).
    child.unref();
    (child.stdin as unknown as { unref?(): void }).unref?.();
    this.child = child;
    this.holdLoop();
    return child;
  }

  /** While a spawn is answered, the event loop waits for the answer; idle, it does not wait for the spawner. */
  private holdLoop(): void {
    const stdout = this.child?.stdout as unknown as { ref?(): void; unref?(): void } | undefined;
    if (this.pending.size > 0) stdout?.ref?.();
    else stdout?.unref?.();
  }

  private onReplies(text: string): void {
    this.buffered += text;
    let end: number;
    while ((end = this.buffered.indexOf('\n')) >= 0) {
      const [type, a, b, c] = this.buffered.slice(0, end).split(' ');
      this.buffered = this.buffered.slice(end + 1);
      if (type === 'P') this.onHeld(Number(a), Number(b));
      else if (type === 'F') this.onFailed(Number(a), Number(b));
      else if (type === 'X') this.onExit(Number(a), Number(b), Number(c));
    }
    this.holdLoop();
  }

  /** Held at its gate: record it, then let it run. */
  private onHeld(id: number, pid: number): void {
    const job = this.pending.get(id);
    if (!job) return;
    this.pending.delete(id);
    const { request } = job;
    // Read once, for the record and for finding its exit should the spawner die.
    const startTime = processStartTime(pid) ?? '';
    try {
      job.register({ pid, pgid: pid, argv: request.argv, sockets: request.sockets, startTime });
    } catch (err) {
      // Not recorded: it must not run. A gate left shut goes with the spawner; ending it now is cleaner.
      trySignal(pid, 'SIGKILL');
      job.reject(err as Error);
      return;
    }
    const exited = new Promise<ExitInfo>((resolveExit) => this.running.set(pid, { process: { pid, startTime }, resolveExit }));
    this.child?.stdin!.write(`G${id}\0`);
    job.resolve({ pid, pgid: pid, argv: request.argv, exited, kill: (signal) => trySignal(-pid, signal) });
  }

  private onFailed(id: number, errno: number): void {
    const job = this.pending.get(id);
    if (!job) return;
    this.pending.delete(id);
    job.reject(new Error(`could not start ${job.request.argv[0]} (fork failed, errno ${errno})`));
  }

  private onExit(pid: number, code: number, signal: number): void {
    const daemon = this.running.get(pid);
    if (!daemon) return;
    this.running.delete(pid);
    daemon.resolveExit(code >= 0 ? { code, signal: null } : { code: null, signal: signalName(signal) });
  }

  /** The spawner died: requests in flight fail, and its running daemons' exits are found by looking. */
  private onSpawnerGone(child: ChildProcess): void {
    if (this.child === child) this.child = undefined;
    for (const [id, job] of this.pending) {
      this.pending.delete(id);
      job.reject(new Error(`could not start ${job.request.argv[0]}: the daemon spawner exited`));
    }
    const orphans = [...this.running];
    this.running.clear();
    if (orphans.length === 0) return;
    const timer = setInterval(() => {
      for (let i = orphans.length - 1; i >= 0; i--) {
        const [, daemon] = orphans[i]!;
        if (!hasExited(daemon.process)) continue;
        daemon.resolveExit({ code: null, signal: null });
        orphans.splice(i, 1);
      }
      if (orphans.length === 0) clearInterval(timer);
    }, ORPHAN_POLL_MS);
    timer.unref();
  }
}
