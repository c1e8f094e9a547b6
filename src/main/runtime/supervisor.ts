// The per-lab supervisor: owns the switches, the guests and their console sessions, brings guests up
// in dependency waves with bounded parallelism, and takes them down gracefully (cad → halt → SIGKILL).
// It is transport-free: server.ts exposes it on a Unix socket; tests drive it with a fake launcher.
import { EventEmitter } from 'node:events';
import { availableParallelism, freemem } from 'node:os';
import { join } from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';
import type { GuestPlan, Plan } from '../../shared/plan.ts';
import type { ExecResult, LabEvent, LabStatus, MachineState, MachineStatus } from '../../shared/runtime-api.ts';
import { UserError } from '../errors.ts';
import { ConsoleSession } from './console-session.ts';
import type { ExecOptions, GuestHandle, Launcher, SwitchHandles } from './launcher.ts';
import { processGroup, removeRecord, writeRecord } from './records.ts';

export interface SupervisorOptions {
  /** Where records are written (the lab's run dir); omitted by fast tests that start no real process. */
  recordsRunDir?: string;
  /** Concurrent boots; default min(2 × cores, what free memory allows). */
  maxParallelBoots?: number;
  /** Graceful stop: wait this long after `cad` before `halt`, and after `halt` before SIGKILL. */
  cadTimeoutMs?: number;
  haltTimeoutMs?: number;
  /** Console log files live in each guest's dir unless false (fake tests). */
  consoleLogs?: boolean;
}

export interface StartOptions {
  /** Per-guest readiness timeout (default 120 s). */
  timeoutMs?: number;
}

export interface StartResult {
  /** Every selected machine is ready (a failing startup script does not make it false). */
  ok: boolean;
  started: string[];
  failed: { machine: string; error: string }[];
  /** Machines that are ready but whose startup script exited non-zero. */
  startupFailed: { machine: string; exitCode: number }[];
}

interface Machine {
  plan: GuestPlan;
  state: MachineState;
  handle?: GuestHandle;
  startedAt?: Date;
  startupExitCode?: number;
  error?: string;
  stopRequested?: 'stop' | 'crash';
  console: ConsoleSession;
  /** The boot in progress (another client's start), so a concurrent start waits for it too. */
  booting?: Promise<string | undefined>;
}

const DEFAULT_READY_TIMEOUT_MS = 120_000;
const ACTIVE_STATES: MachineState[] = ['booting', 'ready', 'stopping'];

export class Supervisor extends EventEmitter {
  private readonly machines = new Map<string, Machine>();
  private switches = new Map<string, SwitchHandles>();
  private switchesStarting: Promise<void> | undefined;
  /** Operations in flight (start/stop/…): the supervisor is never idle while one runs. */
  private busy = 0;
  /** Set by the process hosting the supervisor once it has decided to exit. */
  exiting = false;

  constructor(
    readonly plan: Plan,
    private readonly launcher: Launcher,
    private readonly options: SupervisorOptions = {},
  ) {
    super();
    for (const guest of plan.guests) {
      const logFile = options.consoleLogs === false ? undefined : join(guest.dir, 'console.log');
      this.machines.set(guest.name, { plan: guest, state: 'stopped', console: new ConsoleSession(`${guest.name}/0`, logFile) });
    }
  }

  // ---- queries -------------------------------------------------------------------------------

  machineNames(): string[] {
    return [...this.machines.keys()];
  }

  state(machine: string): MachineState {
    return this.get(machine).state;
  }

  /** True while any guest process runs (even a failed one) or an operation is in flight. */
  isActive(): boolean {
    return this.busy > 0 || [...this.machines.values()].some((m) => m.handle || ACTIVE_STATES.includes(m.state));
  }

  status(): LabStatus {
    return {
      labId: this.plan.lab.id,
      name: this.plan.lab.name,
      root: this.plan.lab.root,
      supervisorPid: process.pid,
      machines: [...this.machines.values()].map((m) => this.machineStatus(m)),
      switches: this.plan.switches.map((s) => {
        const h = this.switches.get(s.domain);
        return { domain: s.domain, pid: h?.switch.pid, running: !!h };
      }),
    };
  }

  console(machine: string): ConsoleSession {
    return this.get(machine).console;
  }

  // ---- start ---------------------------------------------------------------------------------

  async start(names: string[] = [], options: StartOptions = {}): Promise<StartResult> {
    const selected = this.select(names);
    const timeoutMs = options.timeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    this.busy++;
    const result: StartResult = { ok: true, started: [], failed: [], startupFailed: [] };
    try {
      await this.ensureSwitches();
      const limit = this.options.maxParallelBoots ?? defaultParallelBoots(this.plan.guests);
      for (const wave of this.plan.waves) {
        const inWave = wave.filter((n) => selected.has(n)).map((n) => this.get(n));
        // Machines another start is booting (or has queued) are awaited, never booted twice.
        const alreadyBooting = inWave.filter((m) => m.booting);
        const queued = inWave
          .filter((m) => !m.booting && !ACTIVE_STATES.includes(m.state))
          .map((m) => {
            let finished!: (error: string | undefined) => void;
            m.booting = new Promise((resolve) => (finished = resolve));
            return { m, finished };
          });
        const report = (m: Machine, error: string | undefined) => {
          const name = m.plan.name;
          if (error) result.failed.push({ machine: name, error });
          else result.started.push(name);
          if (!error && m.startupExitCode) result.startupFailed.push({ machine: name, exitCode: m.startupExitCode });
        };
        await Promise.all([
          runBounded(queued, limit, async ({ m, finished }) => {
            const error = await this.boot(m, timeoutMs).catch((err: Error) => this.fail(m, err.message));
            m.booting = undefined;
            finished(error);
            report(m, error);
          }),
          ...alreadyBooting.map(async (m) => report(m, await m.booting)),
        ]);
      }
    } finally {
      this.busy--;
    }
    result.ok = result.failed.length === 0;
    this.checkIdle();
    return result;
  }

  private async ensureSwitches(): Promise<void> {
    this.switchesStarting ??= (async () => {
      for (const sw of this.plan.switches) {
        if (this.switches.has(sw.domain)) continue;
        this.progress(`starting ${sw.kind} for collision domain ${sw.domain}`);
        const handles = await this.launcher.spawnSwitch(sw);
        this.switches.set(sw.domain, handles);
        this.record('switch', sw.domain, handles.switch.pid, handles.switch.pgid, handles.switch.argv, handles.sockets);
        if (handles.hostNat) this.record('host-nat', sw.domain, handles.hostNat.pid, handles.hostNat.pgid, handles.hostNat.argv, []);
        void handles.switch.exited.then((exit) => {
          if (this.switches.get(sw.domain) !== handles) return;
          this.switches.delete(sw.domain);
          this.unrecord('switch', sw.domain);
          this.progress(`switch of collision domain ${sw.domain} exited unexpectedly (${describeExit(exit)})`);
        });
      }
    })().finally(() => {
      this.switchesStarting = undefined;
    });
    return this.switchesStarting;
  }

  /** Boot one guest and wait for its readiness signal; returns an error message or undefined. */
  private async boot(m: Machine, timeoutMs: number): Promise<string | undefined> {
    m.error = undefined;
    m.startupExitCode = undefined;
    m.stopRequested = undefined;
    this.setState(m, 'booting');
    let handle: GuestHandle;
    try {
      handle = await this.launcher.spawnGuest(m.plan, m.console.dimensions);
    } catch (err) {
      const hint = err instanceof UserError && err.hint ? `\n${err.hint}` : '';
      return this.fail(m, `could not start: ${(err as Error).message}${hint}`);
    }
    m.handle = handle;
    m.startedAt = new Date();
    this.record('guest', m.plan.name, handle.pid, handle.pgid, handle.argv, handle.sockets);
    m.console.bindPty(handle.console);

    let settled = false;
    const exited = handle.exited.then((exit) => {
      this.onGuestExit(m, handle, exit);
      return exit;
    });
    const failure = new Promise<string>((resolve) => {
      void exited.then((exit) => resolve(`exited during boot (${describeExit(exit)})`));
      let recent = ''; // the end of the previous chunk: the message may straddle two chunks
      handle.console.onData((data) => {
        if (settled) return;
        if (/Kernel panic/.test(recent + data)) resolve('kernel panic');
        recent = data.slice(-16);
      });
    });
    const ready = handle.agent.waitReady(timeoutMs).then(
      (code) => ({ code }),
      (err: Error) => ({ error: err.message || `not ready after ${Math.round(timeoutMs / 1000)} s` }),
    );
    const outcome = await Promise.race([ready, failure.then((error) => ({ error }))]);
    settled = true;
    if (m.handle !== handle || m.stopRequested) return m.state === 'failed' ? m.error : undefined;
    // A guest that failed but still runs is left running, so its console can be looked at; stop ends it.
    if ('error' in outcome) return this.fail(m, outcome.error);
    m.startupExitCode = outcome.code;
    this.setState(m, 'ready');
    return undefined;
  }

  private fail(m: Machine, reason: string): string {
    // Kernel stack dumps say nothing to a student: keep the lines around them.
    const tail = m.console
      .tail(200)
      .split('\n')
      .filter((l) => !/^\s*(\[<[0-9a-f]+>\]|Stack:|Call Trace:|([0-9a-f]{8}\s*)+$)/.test(l))
      .slice(-12)
      .join('\n');
    let error = tail ? `${reason}\n--- last console lines of ${m.plan.name} ---\n${tail}` : reason;
    // UML refuses a disk whose image changed since the disk was made (an image rebuild).
    const mismatch = /^.*(mismatch.*COW header|COW header.*mismatch).*$/im.exec(m.console.tail(200));
    if (mismatch) {
      error += `\n${mismatch[0].trim()}\nThe ${m.plan.image} image changed since ${m.plan.name}'s disk was created; start over from the lab files with: vnetlab wipe ${m.plan.name}`;
    }
    m.error = error;
    this.setState(m, 'failed', error);
    return error;
  }

  private onGuestExit(m: Machine, handle: GuestHandle, exit: { code: number | null; signal: string | null }): void {
    if (m.handle !== handle) return;
    handle.agent.close();
    m.console.unbindPty();
    m.handle = undefined;
    this.unrecord('guest', m.plan.name);
    if (m.stopRequested === 'crash') this.setState(m, 'crashed');
    else if (m.stopRequested === 'stop') this.setState(m, 'stopped');
    else if (m.state === 'failed') {
      // Stays failed (a panic, say): the error already says why.
    } else if (m.state === 'booting') this.fail(m, `exited during boot (${describeExit(exit)})`);
    else this.setState(m, exit.signal ? 'crashed' : 'stopped');
    m.console.push(`\r\n[vnetlab: ${m.plan.name} ${m.state === 'crashed' ? 'crashed' : 'stopped'}]\r\n`);
    this.checkIdle();
  }

  // ---- stop / crash / restart / wipe -----------------------------------------------------------

  /** Graceful stop: `cad` (the guest runs its shutdown script and halts), `halt`, then SIGKILL. */
  async stop(names: string[] = []): Promise<void> {
    const targets = [...this.select(names)].map((n) => this.get(n)).filter((m) => m.handle);
    this.busy++;
    try {
      await Promise.all(targets.map((m) => this.stopOne(m)));
    } finally {
      this.busy--;
    }
    this.checkIdle();
  }

  private async stopOne(m: Machine): Promise<void> {
    const handle = m.handle;
    if (!handle) return;
    m.stopRequested ??= 'stop';
    this.setState(m, 'stopping');
    const cadMs = this.options.cadTimeoutMs ?? 10_000;
    const haltMs = this.options.haltTimeoutMs ?? 5_000;
    if (await this.askAndWait(m, handle, 'cad', cadMs)) return;
    this.progress(`${m.plan.name} did not stop after ${cadMs / 1000} s; halting it`);
    if (await this.askAndWait(m, handle, 'halt', haltMs)) return;
    this.progress(`${m.plan.name} did not halt; killing it`);
    handle.kill('SIGKILL');
    await handle.exited;
  }

  private async askAndWait(m: Machine, handle: GuestHandle, command: 'cad' | 'halt', ms: number): Promise<boolean> {
    try {
      await this.launcher.mconsole(m.plan, command);
    } catch (err) {
      this.progress(`${m.plan.name}: mconsole ${command} failed: ${(err as Error).message}`);
    }
    return waitFor(handle.exited, ms);
  }

  /** Pull the plug: SIGKILL at once, no shutdown script. */
  async crash(names: string[] = []): Promise<void> {
    const targets = [...this.select(names)].map((n) => this.get(n)).filter((m) => m.handle);
    this.busy++;
    try {
      await Promise.all(
        targets.map(async (m) => {
          m.stopRequested = 'crash';
          m.handle!.kill('SIGKILL');
          await m.handle?.exited;
        }),
      );
    } finally {
      this.busy--;
    }
    this.checkIdle();
  }

  async restart(name: string, options: StartOptions = {}): Promise<StartResult> {
    this.busy++;
    try {
      await this.stop([name]);
      return await this.start([name], options);
    } finally {
      this.busy--;
      this.checkIdle();
    }
  }

  async wipe(names: string[] = []): Promise<string[]> {
    const targets = [...this.select(names)].map((n) => this.get(n));
    const running = targets.filter((m) => m.handle || ACTIVE_STATES.includes(m.state)).map((m) => m.plan.name);
    if (running.length) {
      throw new UserError(`cannot wipe running machines: ${running.join(', ')}`, 2, `stop them first: vnetlab stop ${running.join(' ')}`);
    }
    for (const m of targets) await this.launcher.wipeDisk(m.plan);
    return targets.map((m) => m.plan.name);
  }

  // ---- exec ----------------------------------------------------------------------------------

  async exec(name: string, command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const m = this.get(name);
    if (m.state !== 'ready' || !m.handle) {
      throw new UserError(`${name} is ${m.state}, not ready`, 1, m.state === 'stopped' ? `start it: vnetlab start ${name}` : undefined);
    }
    return m.handle.agent.exec(command, options);
  }

  // ---- shutdown ------------------------------------------------------------------------------

  /** Stop every guest (gracefully unless `crash`), then the switches. */
  async shutdown(how: 'stop' | 'crash' = 'stop'): Promise<void> {
    this.busy++;
    try {
      if (how === 'crash') await this.crash();
      else await this.stop();
      await this.stopSwitches();
    } finally {
      this.busy--;
    }
  }

  async stopSwitches(): Promise<void> {
    const all = [...this.switches.entries()];
    this.switches = new Map();
    await Promise.all(
      all.map(async ([domain, h]) => {
        for (const p of [h.hostNat, h.switch]) {
          if (!p) continue;
          p.kill('SIGTERM');
          if (!(await waitFor(p.exited, 3000))) {
            p.kill('SIGKILL');
            await p.exited;
          }
        }
        this.unrecord('switch', domain);
        this.unrecord('host-nat', domain);
      }),
    );
  }

  // ---- helpers -------------------------------------------------------------------------------

  private get(name: string): Machine {
    const m = this.machines.get(name);
    if (!m) throw new UserError(`no machine named '${name}' in lab ${this.plan.lab.name}`, 2, `machines: ${this.machineNames().join(', ')}`);
    return m;
  }

  private select(names: string[]): Set<string> {
    for (const n of names) this.get(n);
    return new Set(names.length ? names : this.machineNames());
  }

  private setState(m: Machine, state: MachineState, error?: string): void {
    m.state = state;
    this.emitEvent({ type: 'machine-state', machine: m.plan.name, state, ...(error ? { error } : {}) });
  }

  private progress(message: string): void {
    this.emitEvent({ type: 'progress', message });
  }

  private emitEvent(event: LabEvent): void {
    this.emit('event', event);
  }

  /** Emits 'idle' when nothing runs any more: the server then stops switches and exits. */
  private checkIdle(): void {
    if (!this.isActive()) setImmediate(() => !this.isActive() && this.emit('idle'));
  }

  private machineStatus(m: Machine): MachineStatus {
    return {
      name: m.plan.name,
      state: m.state,
      pid: m.handle?.pid,
      rssBytes: m.handle ? groupRssBytes(m.handle.pgid) : undefined,
      startedAt: m.handle && m.startedAt ? m.startedAt.toISOString() : undefined,
      startupExitCode: m.startupExitCode,
      error: m.error,
      interfaces: m.plan.interfaces.map((i) => ({ name: i.name, domain: i.domain, mac: i.mac })),
    };
  }

  private record(kind: 'guest' | 'switch' | 'host-nat', name: string, pid: number, pgid: number, argv: string[], sockets: string[]): void {
    if (!this.options.recordsRunDir) return;
    writeRecord(this.options.recordsRunDir, { kind, name, pid, pgid, argv, sockets });
  }

  private unrecord(kind: 'guest' | 'switch' | 'host-nat', name: string): void {
    if (this.options.recordsRunDir) removeRecord(this.options.recordsRunDir, kind, name);
  }
}

/** Run `task` over `items` with at most `limit` at once. */
export async function runBounded<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) await task(items[next++]!);
  });
  await Promise.all(workers);
}

/**
 * Boots spend much of their time waiting (disk, timers, the startup script), so four per core keep the
 * CPU busy (bench/runtime.ts: a bound of 2 per core made 10 boots ~1.6× slower than all at once);
 * the bound still keeps a 50-guest lab from starving the guests that are already up.
 */
function defaultParallelBoots(guests: GuestPlan[]): number {
  const byCpu = Math.max(8, 4 * availableParallelism());
  const perGuest = Math.max(...guests.map((g) => g.memoryMiB), 64) * 1024 * 1024;
  const byMemory = Math.max(1, Math.floor(freemem() / perGuest));
  return Math.max(1, Math.min(byCpu, byMemory));
}

function waitFor(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

function describeExit(exit: { code: number | null; signal: string | null }): string {
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}

/**
 * Memory of every process in a group (UML runs a few host processes per guest that share the guest's
 * memory file): proportional set size, so shared pages are not counted twice; RSS when PSS is unreadable.
 */
export function groupRssBytes(pgid: number): number | undefined {
  let total = 0;
  let found = false;
  // UML's helper processes (I/O, SIGIO) are clone(CLONE_VM) children: separate pids sharing the kernel
  // process's address space, each reporting that same address space in full. Count each space once;
  // the kernel prints an identical smaps_rollup (address range header included) for every sharer.
  const seenSpaces = new Set<string>();
  for (const pid of processIds()) {
    if (processGroup(pid) !== pgid) continue;
    const rollup = readRollup(pid);
    if (rollup !== undefined) {
      if (seenSpaces.has(rollup)) continue;
      seenSpaces.add(rollup);
    }
    const bytes = processMemoryBytes(pid, rollup);
    if (bytes === undefined) continue;
    total += bytes;
    found = true;
  }
  return found ? total : undefined;
}

function readRollup(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return undefined;
  }
}

function processMemoryBytes(pid: number, rollup: string | undefined): number | undefined {
  const pss = rollup === undefined ? null : /^Pss:\s+(\d+) kB/m.exec(rollup);
  if (pss) return Number(pss[1]) * 1024;
  try {
    return Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * 4096;
  } catch {
    return undefined;
  }
}

function processIds(): number[] {
  try {
    return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number);
  } catch {
    return [];
  }
}
