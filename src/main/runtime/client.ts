// The typed client of a lab's supervisor: what the CLI, the grader and the GUI service use.
// (launch.ts's launchLab(labFolder) does plan + prepare + ensureSupervisor + start in one call.)
//
//   const sup = await ensureSupervisor(plan);          // spawns the supervisor if it is not running
//   await sup.start();                                 // → { ok, started, failed }
//   const r = await sup.exec('pc1', 'ping -c 1 10.0.0.2', { timeoutMs: 10_000 });
//   const c = await sup.attachConsole('pc1', { onData: (d) => term.write(d) });
//   c.write('ls\r'); c.resize(120, 40); c.detach();
//   const off = sup.subscribe((event) => …);          // machine-state, progress, lab-stopped
//   await sup.stop(); sup.close();
//
// `connectSupervisor(labRootOrId)` attaches to a lab that already runs (undefined when it does not).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plan } from '../../shared/plan.ts';
import type { CableStatus, ConsoleHandle, ExecResult, LabEvent, LabStatus } from '../../shared/runtime-api.ts';
import type { CableChange } from './network/network.ts';
import { EnvironmentError, UserError } from '../errors.ts';
import { hostPaths } from '../paths.ts';
import { lineReader, type Methods, type MethodName, type ServerMessage } from './protocol.ts';
import { reapRecorded } from './reaper.ts';
import { isAlive, hasExited, lockHolderAlive, readRecords, takeProcessLock } from './records.ts';
import { ensureRunDir, findRunDir, READY_FD_ENV, runFiles } from './run-dir.ts';
import { checkStartSpace, writeRunFile } from './disk-space.ts';
import { supervisorCommand } from './supervisor-entry.ts';
import { takeStandby } from './supervisor-standby.ts';
import { landlockAbi } from '../images/host-helpers.ts';
import type { ApplyResult } from './apply.ts';
import type { StartResult } from './supervisor.ts';
import type { DiskRestoreRequest, DiskSaveRequest, SavedDisk } from './snapshots/live.ts';
import { withoutTlsSetup } from './node-env.ts';

export type { StartResult };

export interface AttachOptions {
  onData(data: string): void;
  /** Called when the connection to the supervisor closes (lab stopped). */
  onClose?(): void;
  /** Which console of the machine: 0 (default) is the guest's own, 1.. extra ones (runtime/extra-console.ts). */
  console?: number;
  replay?: boolean;
  flowControl?: boolean;
  cols?: number;
  rows?: number;
}

export interface ClientExecOptions {
  timeoutMs?: number;
  stdin?: string;
  /** Run with the lab-fs tool set, not the guest's /bin/sh (checks). */
  tools?: boolean;
  /** The grader asks: a grader machine refuses every other exec. */
  grader?: boolean;
  onStdout?(chunk: string): void;
  onStderr?(chunk: string): void;
}

const SUPERVISOR_START_TIMEOUT_MS = 15_000;

/** The supervisor's connection closed while a request was waiting for its answer. */
export class SupervisorGoneError extends UserError {
  constructor() {
    super('the lab supervisor went away (the lab was stopped or cleaned)', 1);
  }
}

export class SupervisorClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; onStream?(s: 'stdout' | 'stderr', d: string): void }>();
  private readonly consoles = new Map<number, AttachOptions>();
  /** Output (the replay) that arrives before the attach response tells us whose console it is. */
  private readonly earlyConsoleData = new Map<number, string[]>();
  private readonly eventListeners = new Set<(event: LabEvent) => void>();
  private readonly captures = new Map<string, { onFrame(frame: Buffer, timeUs: number): void; onEnd?(reason: string, counts: { frames: number; dropped: number }): void }>();
  private subscribed = false;
  private closed = false;
  private sawLabStopped = false;

  constructor(
    private readonly socket: Socket,
    readonly runDir: string,
  ) {
    socket.on('data', lineReader((m) => this.onMessage(m as ServerMessage)));
    const onClose = () => {
      if (this.closed) return;
      this.closed = true;
      for (const p of this.pending.values()) p.reject(new SupervisorGoneError());
      this.pending.clear();
      for (const c of this.consoles.values()) c.onClose?.();
      for (const c of this.captures.values()) c.onEnd?.('the lab stopped', { frames: 0, dropped: 0 });
      if (!this.sawLabStopped) for (const l of this.eventListeners) l({ type: 'lab-stopped' });
    };
    socket.on('close', onClose);
    socket.on('error', onClose);
  }

  hello(): Promise<Methods['hello']['result']> {
    return this.call('hello', {});
  }

  status(): Promise<LabStatus> {
    return this.call('status', {});
  }

  start(machines: string[] = [], options: { timeoutMs?: number; requestedAt?: number } = {}): Promise<StartResult> {
    return this.call('start', { machines, timeoutMs: options.timeoutMs, requestedAt: options.requestedAt });
  }

  async stop(machines: string[] = []): Promise<void> {
    await this.call('stop', { machines });
  }

  async crash(machines: string[] = []): Promise<void> {
    await this.call('crash', { machines });
  }

  restart(machine: string, options: { timeoutMs?: number } = {}): Promise<StartResult> {
    return this.call('restart', { machine, timeoutMs: options.timeoutMs });
  }

  /** `restart`: restart exactly these machines (default: the running ones whose changes need a boot). */
  apply(plan: Plan, options: { dryRun?: boolean; restart?: string[] } = {}): Promise<ApplyResult> {
    return this.call('apply', { plan, dryRun: options.dryRun, ...(options.restart ? { restart: options.restart } : {}) });
  }

  /** Copy machines' disks for a saved state (runtime/snapshots/). */
  saveDisks(machines: DiskSaveRequest[]): Promise<SavedDisk[]> {
    return this.call('snapshot.save', { machines });
  }

  /** Put saved disks in place of machines' own and boot them; their network state is applied before they are ready. */
  restoreDisks(machines: DiskRestoreRequest[], options: { timeoutMs?: number; saveFirst?: DiskSaveRequest[] } = {}): Promise<Methods['snapshot.restore']['result']> {
    return this.call('snapshot.restore', { machines, timeoutMs: options.timeoutMs, ...(options.saveFirst?.length ? { saveFirst: options.saveFirst } : {}) });
  }

  links(): Promise<CableStatus[]> {
    return this.call('link.list', {});
  }

  changeLink(cable: string, change: CableChange): Promise<CableStatus> {
    return this.call('link.set', { cable, change });
  }

  /** Frames of a cable or domain as they pass; `stop()` ends the capture and says how many were dropped. */
  async capture(
    target: string,
    handlers: { onFrame(frame: Buffer, timeUs: number): void; onEnd?(reason: string, counts: { frames: number; dropped: number }): void },
  ): Promise<{ stop(): Promise<{ frames: number; dropped: number }> }> {
    const { captureId } = await this.call('capture.start', { target });
    this.captures.set(captureId, handlers);
    return {
      stop: async () => {
        this.captures.delete(captureId);
        return this.call('capture.stop', { captureId });
      },
    };
  }

  /**
   * Stop (or crash) everything and make the supervisor exit. 'gone': it went away before it answered,
   * which a stop races with (a start that the stop cancelled ends its supervisor too) but which also
   * follows a kill: the caller makes sure nothing it recorded still runs (stopLab).
   */
  async shutdown(how: 'stop' | 'crash' = 'stop'): Promise<'answered' | 'gone'> {
    try {
      await this.call('shutdown', { how });
      return 'answered';
    } catch (err) {
      if (err instanceof SupervisorGoneError) return 'gone';
      throw err;
    }
  }

  /** Run a shell command in a guest; output streams to the callbacks and is also in the result. */
  exec(machine: string, command: string, options: ClientExecOptions = {}): Promise<ExecResult> {
    const stream = !!(options.onStdout || options.onStderr);
    return this.call('exec', { machine, command, timeoutMs: options.timeoutMs, stdin: options.stdin, stream, ...(options.tools ? { tools: true } : {}), ...(options.grader ? { grader: true } : {}) }, (s, d) =>
      s === 'stdout' ? options.onStdout?.(d) : options.onStderr?.(d),
    );
  }

  async attachConsole(machine: string, options: AttachOptions): Promise<ConsoleHandle> {
    const { consoleId } = await this.call('console.attach', {
      machine,
      ...(options.console ? { console: options.console } : {}),
      replay: options.replay,
      flowControl: options.flowControl,
      cols: options.cols,
      rows: options.rows,
    });
    this.consoles.set(consoleId, options);
    for (const data of this.earlyConsoleData.get(consoleId) ?? []) options.onData(data);
    this.earlyConsoleData.delete(consoleId);
    return {
      write: (data) => this.notify('console.write', { consoleId, data }),
      resize: (cols, rows) => this.notify('console.resize', { consoleId, cols, rows }),
      ack: (chars) => this.notify('console.ack', { consoleId, chars }),
      detach: () => {
        this.consoles.delete(consoleId);
        this.notify('console.detach', { consoleId });
      },
    };
  }

  /** Lab events (machine-state, progress, lab-stopped). Returns an unsubscribe function. */
  subscribe(onEvent: (event: LabEvent) => void): () => void {
    this.eventListeners.add(onEvent);
    if (!this.subscribed) {
      this.subscribed = true;
      void this.call('subscribe', {}).catch(() => {});
    }
    return () => this.eventListeners.delete(onEvent);
  }

  /** Resolves once the supervisor has closed the connection (e.g. after the last machine stopped). */
  waitClosed(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private call<M extends MethodName>(method: M, params: Methods[M]['params'], onStream?: (s: 'stdout' | 'stderr', d: string) => void): Promise<Methods[M]['result']> {
    if (this.closed) return Promise.reject(new UserError('the lab supervisor is not running', 1));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onStream });
      this.socket.write(`${JSON.stringify({ id, method, params })}\n`);
    });
  }

  private notify<M extends MethodName>(method: M, params: Methods[M]['params']): void {
    if (!this.closed) this.socket.write(`${JSON.stringify({ method, params })}\n`);
  }

  private onMessage(m: ServerMessage): void {
    if ('capture' in m) {
      const c = this.captures.get(m.capture);
      if (!c) return;
      if ('frame' in m) c.onFrame(Buffer.from(m.frame, 'base64'), m.t);
      else {
        this.captures.delete(m.capture);
        c.onEnd?.(m.end, { frames: m.frames, dropped: m.dropped });
      }
      return;
    }
    if ('console' in m) {
      if (!('data' in m)) return;
      const c = this.consoles.get(m.console);
      if (c) c.onData(m.data);
      else this.earlyConsoleData.set(m.console, [...(this.earlyConsoleData.get(m.console) ?? []), m.data]);
      return;
    }
    if ('event' in m) {
      if (m.event.type === 'lab-stopped') this.sawLabStopped = true;
      for (const l of this.eventListeners) l(m.event);
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    if ('stream' in m) {
      p.onStream?.(m.stream, m.data);
      return;
    }
    this.pending.delete(m.id);
    if ('error' in m) p.reject(new UserError(m.error.message, m.error.exitCode ?? 1, m.error.hint));
    else p.resolve(m.result);
  }
}

function connectSocket(path: string): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    socket.once('connect', () => resolve(socket));
    socket.once('error', () => resolve(undefined));
  });
}

/** Attach to the supervisor of a running lab (by lab folder, or lab id); undefined when it is not running. */
export async function connectSupervisor(labRootOrId: string, env: NodeJS.ProcessEnv = process.env): Promise<SupervisorClient | undefined> {
  const runDir = findRunDir(labRootOrId, hostPaths(env));
  return runDir ? connectRunDir(runDir) : undefined;
}

/**
 * Connect to the supervisor of a run dir; undefined when none runs. A supervisor on its way out (its
 * last machine just stopped) counts as none: we wait until it has exited, so callers never talk to a
 * lab that is going away.
 */
export async function connectRunDir(runDir: string): Promise<SupervisorClient | undefined> {
  const socket = await connectSocket(runFiles.socket(runDir));
  if (!socket) return undefined;
  const client = new SupervisorClient(socket, runDir);
  const hello = await client.hello().catch(() => undefined);
  if (hello && !hello.stopping) return client;
  client.close();
  if (!(await waitSupervisorGone(runDir, 15_000))) {
    throw new EnvironmentError(`the supervisor in ${runDir} is stopping but did not exit`, 'run: vnetlab clean');
  }
  return undefined;
}

/** Connect to the lab's supervisor, spawning it (detached, in its own session) when it is not running. */
export async function ensureSupervisor(plan: Plan, env: NodeJS.ProcessEnv = process.env, onProgress?: (message: string) => void, standby?: ChildProcess): Promise<SupervisorClient> {
  const existing = await connectRunDir(plan.runDir);
  if (existing) return existing;
  // Starts of one lab at once: one spawns, the others wait for its supervisor. (Each spawning its own
  // left the losers' node processes running for a while after every start had returned.)
  const release = claimSpawn(plan.runDir);
  if (!release) return waitForSpawn(plan, env, onProgress);
  try {
    return await spawnSupervisor(plan, env, onProgress, standby);
  } finally {
    release();
  }
}

/** The right to spawn the supervisor: the same lock as the supervisor's own (whole, pid and start time; a dead holder's taken over). */
function claimSpawn(runDir: string): (() => void) | undefined {
  const file = runFiles.spawning(runDir);
  return takeProcessLock(file) ? () => rmSync(file, { force: true }) : undefined;
}

function spawnerAlive(runDir: string): boolean {
  return lockHolderAlive(runFiles.spawning(runDir));
}

/** Another start is spawning the supervisor: connect once it listens; if that start gave up, try ourselves. */
async function waitForSpawn(plan: Plan, env: NodeJS.ProcessEnv, onProgress?: (message: string) => void): Promise<SupervisorClient> {
  // As long as that start lives: it may first shut down what a dead supervisor left running. Its own
  // steps are bounded; this bound is only against a start that hangs.
  const deadline = Date.now() + 10 * 60_000;
  while (Date.now() < deadline) {
    const client = await connectRunDir(plan.runDir);
    if (client) return client;
    if (!spawnerAlive(plan.runDir)) return ensureSupervisor(plan, env, onProgress);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new EnvironmentError(`the lab supervisor did not start: ${logTail(runFiles.log(plan.runDir))}`, `see ${runFiles.log(plan.runDir)}`);
}

/** `standby`: a supervisor process the command started ahead, in standby (supervisor-standby.ts), used instead of a spawn while it lives. */
async function spawnSupervisor(plan: Plan, env: NodeJS.ProcessEnv, onProgress?: (message: string) => void, standby?: ChildProcess): Promise<SupervisorClient> {
  // It may have come up between our first look and the claim.
  const up = await connectRunDir(plan.runDir);
  if (up) return up;
  const live = readRecords(plan.runDir).filter(isAlive);
  // Another start of this lab spawned its supervisor a moment ago: wait for it to listen, never start a second one.
  if (live.some((r) => r.kind === 'supervisor')) {
    const deadline = Date.now() + SUPERVISOR_START_TIMEOUT_MS;
    while (Date.now() < deadline && readRecords(plan.runDir).some((r) => r.kind === 'supervisor' && isAlive(r))) {
      const client = await connectRunDir(plan.runDir);
      if (client) return client;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  // A supervisor killed earlier left guests running: shut them down cleanly (their disks keep the
  // student's work), then start afresh; a new supervisor must never boot them a second time.
  const leftovers = readRecords(plan.runDir).filter(isAlive);
  if (leftovers.length) {
    onProgress?.(`the previous supervisor of ${plan.lab.name} died; shutting down what it left running (${leftovers.map((r) => `${r.kind} ${r.name}`).join(', ')})`);
    await reapRecorded(plan.runDir, { how: 'graceful', forget: true });
    const still = readRecords(plan.runDir).filter(isAlive);
    if (still.length) {
      throw new UserError(`the supervisor of lab ${plan.lab.name} is gone and ${still.length} of its processes would not stop (${still.map((r) => `${r.kind} ${r.name}`).join(', ')})`, 1, `end them: vnetlab clean ${plan.lab.root}`);
    }
  }
  // A planted runtime root or a full disk is refused here too: before a supervisor is spawned.
  ensureRunDir(plan.runDir, hostPaths(env));
  checkStartSpace(plan, env);
  writeRunFile(runFiles.plan(plan.runDir), `${JSON.stringify(plan, null, 2)}\n`);
  // fd 3: a pipe on which it says it listens (READY_FD_ENV), so we connect then, not at our next look.
  const supervisorEnv = { ...env, [READY_FD_ENV]: '3', ...knownLandlockAbi(env) };
  const cwd = dirname(fileURLToPath(import.meta.url));
  const child = takeStandby(standby, { runDir: plan.runDir, env: definedOnly(supervisorEnv), cwd }) ?? (await spawnFresh(plan.runDir, supervisorEnv, cwd));
  const readyPipe = child.stdio[3] as Readable | null;
  let wakeUp: (() => void) | undefined;
  let said = false;
  const heard = () => {
    said = true;
    wakeUp?.();
  };
  readyPipe?.once('data', heard).once('close', heard).once('error', heard);
  let exitedAt: number | undefined;
  child.once('exit', () => (exitedAt = Date.now()));
  const deadline = Date.now() + SUPERVISOR_START_TIMEOUT_MS;
  try {
    while (Date.now() < deadline) {
      const client = await connectRunDir(plan.runDir);
      if (client) return client;
      // Ours exited: either it failed, or another start of the same lab won the race and its
      // supervisor will be listening shortly. Give that one a few seconds.
      if (exitedAt !== undefined && Date.now() - exitedAt > 3_000) break;
      // A look every 50 ms, or at once when it says it listens (only the first time: then it is the looks).
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        if (!said) wakeUp = () => (clearTimeout(timer), resolve());
      });
      wakeUp = undefined;
    }
  } finally {
    readyPipe?.destroy();
  }
  throw new EnvironmentError(`the lab supervisor did not start: ${logTail(runFiles.log(plan.runDir))}`, `see ${runFiles.log(plan.runDir)}`);
}

async function spawnFresh(runDir: string, env: NodeJS.ProcessEnv, cwd: string): Promise<ChildProcess> {
  const logFd = openSync(runFiles.log(runDir), 'a', 0o600);
  try {
    const child = spawn(process.execPath, await supervisorCommand(runDir), { detached: true, stdio: ['ignore', logFd, logFd, 'pipe'], env: withoutTlsSetup(env), cwd });
    child.unref();
    return child;
  } finally {
    closeSync(logFd);
  }
}

function definedOnly(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** The host's Landlock ABI as this process already asked it, so the supervisor does not ask again (~5 ms, on its way to listening). */
function knownLandlockAbi(env: NodeJS.ProcessEnv): { VNETLAB_LANDLOCK_ABI?: string } {
  try {
    return { VNETLAB_LANDLOCK_ABI: String(landlockAbi(env)) };
  } catch {
    return {}; // no helper yet: the supervisor finds out, and says so
  }
}

/** Wait until the supervisor process recorded in a run dir has exited (after a full stop). */
export async function waitSupervisorGone(runDir: string, timeoutMs = 30_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  // The supervisor removes its record a moment before it exits: once seen, wait for the process itself.
  let supervisor = readRecords(runDir).find((r) => r.kind === 'supervisor');
  while (Date.now() < deadline) {
    supervisor = readRecords(runDir).find((r) => r.kind === 'supervisor') ?? supervisor;
    if (!supervisor || hasExited(supervisor)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

function logTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join('\n');
  } catch {
    return '(no log)';
  }
}
