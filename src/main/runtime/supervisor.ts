// The per-lab supervisor: owns the guests and their console sessions, brings guests up in dependency
// waves with bounded parallelism, and takes them down gracefully (cad → halt → SIGKILL). The network
// (switches and cables) has its own owner, network/network.ts. Every process is recorded on disk by
// the launcher's `register` callback before it may run (process-book.ts), so `clean` always sees it.
// Transport-free: server.ts exposes it on a Unix socket; tests drive it with a fake launcher.
//
// Over 500 lines because it is one state machine: every operation (start, stop, restart, apply, saved
// states) changes the same machines' states, stop counters and `busy`, so they stay in one class. What
// does not touch that state lives beside it: apply.ts (the diff, NIC hot-plug), guest-shutdown.ts,
// boot-slots.ts, pool/lab-claim.ts, snapshots/live.ts (disk copies), supervisor-types.ts.
import { existsSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import type { GuestPlan, Plan } from '../../shared/plan.ts';
import type { CableStatus, ExecResult, LabEvent, LabStatus, LinkState, MachineState, MachineStatus } from '../../shared/runtime-api.ts';
import { lineSplitter, parseLinkLine } from './link-watch.ts';
import { cableNews, carrierNews, type CableNews } from './cable-news.ts';
import { UserError } from '../errors.ts';
import { describeBootFailure, panicWatcher } from './boot-failure.ts';
import { ConsoleSession } from './console-session.ts';
import { ConsoleRecorder } from './console-record.ts';
import { ExtraConsoles, checkConsoleIndex } from './extra-console.ts';
import { describeExit, type ExecOptions, type GuestHandle, type Launcher } from './launcher.ts';
import { takePooledGuest } from './pool/lab-claim.ts';
import { defaultParallelBoots, runBounded } from './boot-slots.ts';
import { defaultParallelStops, stopCounter } from './stop-slots.ts';
import { shutDownGuest, waitFor } from './guest-shutdown.ts';
import type { MachineTimings, StartOptions, StartResult, StartTimings, SupervisorOptions } from './supervisor-types.ts';
import { Network, type CableChange, type Capture } from './network/network.ts';
import { ProcessBook } from './process-book.ts';
import { describeDiff, diffPlans, isEmptyDiff } from './plan-diff.ts';
import { applyDiff, type ApplyResult, type RunningLab } from './apply.ts';
import { GuestMemory } from './proc-memory.ts';
import { stateSpaceWarning } from './disk-space.ts';
import { applyPendingNet, pendingNetPath, readLiveState, saveMachineDisk, syncFiles, restoreMachineDisk, type DiskRestoreRequest, type DiskSaveRequest, type NetRestoreReport, type SavedDisk } from './snapshots/live.ts';

export type { GuestSource, MachineTimings, StartOptions, StartResult, StartTimings, SupervisorOptions } from './supervisor-types.ts';

type BootOutcome = { ready: true } | { error: string } | { stopped: true };

interface Machine {
  plan: GuestPlan;
  state: MachineState;
  handle?: GuestHandle;
  startedAt?: Date;
  startupExitCode?: number;
  error?: string;
  stopRequested?: 'stop' | 'crash';
  /** Bumped by every stop/crash of this machine: a start that saw another value has been overruled. */
  stops: number;
  /** How the last of those went: a guest it caught mid-spawn is ended the same way. */
  lastStop?: 'stop' | 'crash';
  console: ConsoleSession;
  /** Its consoles 1.. (extra-console.ts), from the first one opened. */
  extras?: ExtraConsoles;
  /** The boot in progress (another client's start), so a concurrent start waits for it too. */
  booting?: Promise<BootOutcome>;
  /** Its boot once its turn came (not while it waits for a slot): a stop waits for it to give way. */
  bootUnderWay?: Promise<unknown>;
  /** Settles `booting`. */
  finishBoot?: (outcome: BootOutcome) => void;
  /** Its NICs as the guest sees them (link-watch.ts), while it runs. */
  links?: Record<string, LinkState>;
}

const DEFAULT_READY_TIMEOUT_MS = 120_000;
/** The key that starts a guest console's shell (the guest init's console_key, kernels/guest/agent/vnetlab-agent.c): Enter, harmless to an older image's running shell. */
const CONSOLE_WAKE_KEY = '\r';
/** How often a running lab checks the free space under its guests' disks. */
const DISK_CHECK_MS = 10_000;
const ACTIVE_STATES: MachineState[] = ['booting', 'ready', 'stopping'];

export class Supervisor extends EventEmitter {
  private readonly machines = new Map<string, Machine>();
  readonly network: Network;
  private readonly book: ProcessBook;
  /** Operations in flight (start/stop/…): the supervisor is never idle while one runs. */
  private busy = 0;
  /** Set by the process hosting the supervisor once it has decided to exit. */
  exiting = false;
  /** When the last stop or crash of every machine came (ms since the epoch). */
  private lastFullStopAt = 0;
  private diskTimer: NodeJS.Timeout | undefined;
  /** What the last boot of each machine re-applied of a restored network state (snapshot restore). */
  private readonly netRestores = new Map<string, NetRestoreReport>();

  /** Guests' memory for status: sampled when each is ready, refreshed in the background (proc-memory.ts). */
  private readonly memory: GuestMemory;

  constructor(
    public plan: Plan,
    private readonly launcher: Launcher,
    private readonly options: SupervisorOptions = {},
  ) {
    super();
    this.memory = new GuestMemory(options.memory);
    this.book = new ProcessBook(options.recordsRunDir);
    this.network = new Network(plan, launcher, this.book, (message) => this.progress(message), (cable) => this.emitEvent({ type: 'cable', cable }));
    for (const guest of plan.guests) this.addMachine(guest);
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

  /**
   * A new supervisor is spawned for a start (launchLab → ensureSupervisor): its switches and cables come
   * up at once, while the starting side still builds the lab-fs and connects, instead of after the start
   * request (at 50 guests the network takes ~0.5 s). The start awaits the same network.up(); should it
   * fail here, the start tries again and reports why.
   */
  bringNetworkUpAhead(): void {
    void this.network.up().catch(() => {});
  }

  /** From what the supervisor keeps: nothing here reads /proc or waits (a console must never wait for a status). */
  status(): LabStatus {
    this.memory.asked();
    const diskWarning = this.diskWarning();
    return {
      labId: this.plan.lab.id,
      name: this.plan.lab.name,
      root: this.plan.lab.root,
      supervisorPid: process.pid,
      machines: [...this.machines.values()].map((m) => this.machineStatus(m)),
      switches: this.network.switchStatus(),
      cables: this.network.cableStatus(),
      ...(diskWarning ? { warnings: [diskWarning] } : {}),
    };
  }

  /** Console 0 is the guest's own; 1.. are shells on ptys inside it, opened by their first viewer. */
  console(machine: string, index = 0): ConsoleSession {
    const m = this.get(machine);
    if (m.plan.grader) throw graderRefusal(machine, 'a console');
    const chosen = checkConsoleIndex(machine, index);
    if (m.state === 'ready') void this.ipv6Now(m);
    if (chosen === 0) return m.console;
    if (!m.extras) {
      m.extras = new ExtraConsoles(m.plan.name, this.options.consoleLogs === false ? undefined : m.plan.dir, (n) => this.consoleTap(m.plan, n));
      if (m.handle && m.state === 'ready') m.extras.guestReady(m.handle.agent);
    }
    return m.extras.session(index);
  }

  // ---- start ---------------------------------------------------------------------------------

  /**
   * Ready guests whose IPv6 may still wait (src/main/guest/ipv6-later.ts): it comes once no start is
   * in progress, or at once for a machine someone uses (a command, a console). A guest that loaded it
   * at boot takes the `6` as a no-op.
   */
  private readonly ipv6Waiting = new Set<Machine>();

  private ipv6Now(m: Machine): Promise<void> {
    if (!this.ipv6Waiting.delete(m) || !m.handle) return Promise.resolve();
    return m.handle.agent.ipv6Now();
  }

  /**
   * The start is over: IPv6 for the guests that wait for it (~40 ms of a guest's CPU each), once the
   * start's answer is out, two per core at a time. A boot slot's worth at once (hundreds) held a
   * 500-machine start's answer ~6 s: the supervisor wrote hundreds of channels in one go, then every guest
   * loaded IPv6 at the same moment. A machine someone uses meanwhile gets it at once (ipv6Now).
   */
  private ipv6ForAll(): void {
    if (this.busy > 0 || this.ipv6Waiting.size === 0) return;
    setImmediate(() => {
      if (this.busy > 0) return; // another start began: it does this when it ends
      void runBounded([...this.ipv6Waiting], 2 * availableParallelism(), (m) => this.ipv6Now(m));
    });
  }

  /** How many guests boot at once: what the host can take (boot-slots.ts), unless the options say. */
  private bootSlots(): number {
    return this.options.maxParallelBoots ?? defaultParallelBoots(this.plan.guests);
  }

  async start(names: string[] = [], options: StartOptions = {}): Promise<StartResult> {
    const selected = this.select(names);
    const timeoutMs = options.timeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    // A stop that comes after this point overrules this start for the machines it stops.
    const stopsAtStart = new Map([...selected].map((n) => [n, this.get(n).stops]));
    // A start asked for before the last full stop reached us (over a slow command) lost to that stop.
    const late = options.requestedAt !== undefined && options.requestedAt < this.lastFullStopAt;
    const overruled = (m: Machine) => late || m.stops !== stopsAtStart.get(m.plan.name);
    this.busy++;
    const timings: StartTimings = { received: Date.now(), networkUp: 0, machines: {} };
    const result: StartResult = { ok: true, started: [], failed: [], startupFailed: [], stopped: [], timings };
    const report = (m: Machine, outcome: BootOutcome) => {
      const name = m.plan.name;
      if ('error' in outcome) result.failed.push({ machine: name, error: outcome.error });
      else if ('stopped' in outcome) result.stopped.push(name);
      else {
        result.started.push(name);
        if (m.startupExitCode) result.startupFailed.push({ machine: name, exitCode: m.startupExitCode });
      }
    };
    try {
      if (late) {
        result.stopped.push(...selected);
        result.ok = false;
        return result;
      }
      // Guests do not wait for the whole network: each boots once its own cables are up (boot →
      // network.readyForGuest). A switch that did not start still fails the start before any guest
      // boots, and the start still returns with the whole network up.
      const networkUp = this.network.up();
      networkUp.catch(() => {}); // awaited below
      await this.network.switchesSettled();
      if (this.network.switchStatus().some((s) => !s.running)) await networkUp;
      timings.networkUp = Date.now();
      this.watchDisk();
      const limit = this.bootSlots();
      for (const wave of this.plan.waves) {
        const inWave = wave.filter((n) => selected.has(n)).map((n) => this.get(n));
        // Machines another start is booting are awaited, never booted twice.
        const alreadyBooting = inWave.filter((m) => m.booting);
        const toBoot = inWave.filter((m) => !m.booting && !ACTIVE_STATES.includes(m.state));
        for (const m of toBoot) m.booting = new Promise((resolve) => (m.finishBoot = resolve));
        // One process makes the wave's FIFOs; should it fail, each guest's spawn makes its own and says why.
        await this.launcher.prepareGuests?.(toBoot.map((m) => m.plan)).catch(() => {});
        await Promise.all([
          runBounded(toBoot, limit, async (m) => {
            let outcome: BootOutcome = { stopped: true };
            if (!overruled(m)) {
              const boot = this.boot(m, timeoutMs, (timings.machines[m.plan.name] = { slot: Date.now(), spawn: 0, spawned: 0 })).catch((err: Error) => ({ error: this.fail(m, err.message) }));
              m.bootUnderWay = boot;
              outcome = await boot;
              m.bootUnderWay = undefined;
            }
            m.booting = undefined;
            m.finishBoot?.(outcome);
            report(m, outcome);
          }),
          ...alreadyBooting.map(async (m) => report(m, await m.booting!)),
        ]);
      }
      await networkUp;
      // Machines already up when this start came are neither started nor failed by it.
    } finally {
      this.busy--;
      this.ipv6ForAll();
    }
    result.ok = result.failed.length === 0 && result.stopped.length === 0;
    this.checkIdle();
    return result;
  }

  /** Boot one guest and wait for its readiness signal. */
  private async boot(m: Machine, timeoutMs: number, times: MachineTimings): Promise<BootOutcome> {
    // A stop from now on overrules this boot, even one that comes while it waits for its cables.
    const stops = m.stops;
    // A failed guest is kept running so its console can be read; a new boot replaces it, never doubles it.
    if (m.handle) await this.kill(m, 'crash');
    await this.network.readyForGuest(m.plan.name);
    if (m.stops !== stops) return { stopped: true };
    // A NIC without its port would be left out of the guest: the machine would come up "ready" without
    // the interface the lab gave it. It fails instead, saying why; its next start tries the port again.
    const portless = this.network.portlessCables(m.plan.name);
    if (portless.length) {
      const which = portless.map((p) => p.interface).join(', ');
      return { error: this.fail(m, `could not start: no port for its cable${portless.length > 1 ? 's' : ''} ${which} (${portless[0]!.error}); starting ${m.plan.name} again tries anew`) };
    }
    times.spawn = Date.now();
    m.error = undefined;
    m.startupExitCode = undefined;
    m.stopRequested = undefined;
    this.setState(m, 'booting');
    let handle: GuestHandle;
    try {
      const pooled = await takePooledGuest(this.options.pool, this.launcher, m.plan, m.console.dimensions, this.book, (message) => this.progress(message));
      if (pooled) times.pooled = true;
      handle = pooled ?? (await this.launcher.spawnGuest(m.plan, m.console.dimensions, this.book.register('guest', m.plan.name)));
    } catch (err) {
      this.book.forget('guest', m.plan.name);
      const hint = err instanceof UserError && err.hint ? `\n${err.hint}` : '';
      return { error: this.fail(m, `could not start: ${(err as Error).message}${hint}`) };
    }
    m.handle = handle;
    m.startedAt = new Date();
    times.spawned = m.startedAt.getTime();
    m.console.bindPty(handle.console, { booting: true, wakeKey: CONSOLE_WAKE_KEY });
    // Its exit is seen to (state, record, console) whatever comes next, the stop below included.
    const exited = handle.exited.then((exit) => {
      this.onGuestExit(m, handle, exit);
      return exit;
    });
    // A stop that came while we were spawning: the guest is recorded and ours, end it now (a crash: at once).
    if (m.stops !== stops) {
      void this.kill(m, m.lastStop ?? 'stop');
      await exited;
      return { stopped: true };
    }

    let settled = false;
    const failure = new Promise<string>((resolve) => {
      void exited.then((exit) => resolve(`exited during boot (${describeExit(exit)})`));
      const panicked = panicWatcher();
      handle.console.onData((data) => {
        times.kernel ??= Date.now();
        if (!settled && panicked(data)) resolve('kernel panic');
      });
    });
    const ready = handle.agent.waitReady(timeoutMs).then(
      (code) => ((times.ready = Date.now()), { code }),
      (err: Error) => ({ error: err.message || `not ready after ${Math.round(timeoutMs / 1000)} s` }),
    );
    const outcome = await Promise.race([ready, failure.then((error) => ({ error }))]);
    settled = true;
    if (m.handle !== handle || m.stopRequested || m.stops !== stops) return m.state === 'failed' && !m.stopRequested ? { error: m.error! } : { stopped: true };
    // A guest that failed but still runs is left running, so its console can be looked at; stop ends it.
    if ('error' in outcome) return { error: this.fail(m, outcome.error) };
    m.startupExitCode = outcome.code;
    m.console.bootDone(); // a window that attaches from now on is not shown the kernel's boot log
    this.ipv6Waiting.add(m);
    // Someone looks already, or a saved network state (maybe with IPv6 in it) is about to be applied.
    if (m.console.viewerCount > 0 || existsSync(pendingNetPath(m.plan))) await this.ipv6Now(m);
    // A restored state's network (addresses, routes, sysctls, firewall, routing config) goes back before the machine is ready.
    const net = await applyPendingNet(m.plan, handle.agent, (message) => this.progress(message));
    if (net) this.netRestores.set(m.plan.name, net);
    if (m.handle !== handle || m.stopRequested || m.stops !== stops) return { stopped: true };
    // The guest booted with every link's carrier on: a cable unplugged meanwhile says so before it counts as ready.
    for (const cable of this.network.cableStatus()) if (cable.machine === m.plan.name && !cable.plugged) await this.tellGuest(m, carrierNews(cable.interface, false));
    this.memory.add(handle.pgid);
    this.setState(m, 'ready');
    this.watchLinks(m, handle);
    m.extras?.guestReady(handle.agent);
    return { ready: true };
  }

  /**
   * A full disk under the guests' disks makes a booting guest panic and a running one lose writes,
   * with nothing on the host side to say why: say it in status, in failures, and once as an event.
   */
  private diskWarning(): string | undefined {
    return this.options.recordsRunDir ? stateSpaceWarning(this.plan.stateDir) : undefined;
  }

  private watchDisk(): void {
    if (this.diskTimer || !this.options.recordsRunDir) return;
    let warned = false;
    this.diskTimer = setInterval(() => {
      const warning = this.diskWarning();
      if (warning && !warned) this.progress(warning);
      warned = !!warning;
    }, DISK_CHECK_MS);
    this.diskTimer.unref();
  }

  private fail(m: Machine, reason: string): string {
    const disk = this.diskWarning();
    const error = describeBootFailure(disk ? `${reason}\n${disk}` : reason, m.plan.name, m.plan.image, m.console.tail(200));
    m.error = error;
    this.setState(m, 'failed', error);
    return error;
  }

  private onGuestExit(m: Machine, handle: GuestHandle, exit: { code: number | null; signal: string | null }): void {
    if (m.handle !== handle) return;
    this.ipv6Waiting.delete(m);
    handle.agent.close();
    this.memory.remove(handle.pgid);
    m.console.unbindPty();
    m.extras?.guestGone();
    m.handle = undefined;
    this.book.forget('guest', m.plan.name);
    if (m.stopRequested === 'crash') this.setState(m, 'crashed');
    else if (m.stopRequested === 'stop') this.setState(m, 'stopped');
    else if (m.state === 'failed') {
      // Stays failed (a panic, say): the error already says why.
    } else if (m.state === 'booting') this.fail(m, `exited during boot (${describeExit(exit)})`);
    else this.setState(m, exit.signal ? 'crashed' : 'stopped');
    m.console.note(`\r\n[vnetlab: ${m.plan.name} ${m.state === 'crashed' ? 'crashed' : 'stopped'}]\r\n`);
    this.checkIdle();
  }

  // ---- stop / crash / restart -----------------------------------------------------------------

  /** Graceful stop: `cad` (the guest runs its shutdown script and halts), `halt`, then SIGKILL. */
  async stop(names: string[] = []): Promise<void> {
    await this.halt(names, 'stop');
  }

  /** Pull the plug: SIGKILL at once, no shutdown script. */
  async crash(names: string[] = []): Promise<void> {
    await this.halt(names, 'crash');
  }

  /** Stop wins over start: machines queued by a start are overruled, booting ones are stopped too. */
  private async halt(names: string[], how: 'stop' | 'crash'): Promise<void> {
    const targets = [...this.select(names)].map((n) => this.get(n));
    for (const m of targets) {
      m.stops++;
      m.lastStop = how;
    }
    if (names.length === 0) this.lastFullStopAt = Date.now();
    this.busy++;
    try {
      // A crash is a SIGKILL each: all at once. A graceful stop makes each guest run its shutdown, as
      // many at once as the supervisor's file descriptors allow (stop-slots.ts), and says how far it got.
      const running = targets.filter((m) => m.handle);
      const count = stopCounter(running.length, (message) => this.progress(message));
      const limit = how === 'crash' ? running.length : (this.options.maxParallelStops ?? defaultParallelStops());
      await runBounded(running, limit, async (m) => {
        await this.kill(m, how);
        count();
      });
      // A machine whose boot was under way without a process yet (waiting for its cables, or being
      // spawned) had nothing to stop: its boot gives way itself (boot: `m.stops !== stops`). Until it
      // has, this stop is not over: a full stop that returned before let the supervisor exit with that
      // guest still booting, and the start it interrupted heard "the supervisor went away". Machines
      // still waiting for a boot slot are not waited for: their start skips them when their turn comes.
      await Promise.all(targets.map((m) => m.bootUnderWay));
    } finally {
      this.busy--;
    }
    this.checkIdle();
  }

  private async kill(m: Machine, how: 'stop' | 'crash'): Promise<void> {
    if (how === 'stop') return this.stopOne(m);
    const handle = m.handle;
    if (!handle) return;
    m.stopRequested = 'crash';
    handle.kill('SIGKILL');
    await handle.exited;
  }

  private async stopOne(m: Machine): Promise<void> {
    const handle = m.handle;
    if (!handle) return;
    m.stopRequested ??= 'stop';
    // A ready guest's agent serves its channel: ask it there. A booting one has no shutdown trap yet
    // either way; it gets `cad`, as before.
    const agentServes = m.state === 'ready';
    this.setState(m, 'stopping');
    const name = m.plan.name;
    await shutDownGuest(
      {
        ask: agentServes ? () => handle.agent.requestHalt().catch(() => false) : undefined,
        mconsole: (command) => this.launcher.mconsole(m.plan, command).catch((err: Error) => this.progress(`${name}: mconsole ${command} failed: ${err.message}`)),
        gone: (ms) => waitFor(handle.exited, ms),
        kill: async () => {
          handle.kill('SIGKILL');
          await handle.exited;
        },
      },
      { cadMs: this.options.cadTimeoutMs ?? 10_000, haltMs: this.options.haltTimeoutMs ?? 5_000, syncMs: this.options.syncTimeoutMs },
      (step, waitedMs) => this.progress(step === 'halt' ? `${name} did not stop after ${waitedMs / 1000} s; halting it` : `${name} did not halt; killing it`),
    );
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

  // ---- saved states (runtime/snapshots/) ---------------------------------------------------------

  /**
   * Copy machines' disks for a saved state. A running machine: sync and read its network state through
   * the agent (one round trip), pause it (mconsole `stop`), copy its disk, `go`. A stopped one: its disk
   * as it is. A machine on its way up or down is refused.
   */
  async saveDisks(requests: DiskSaveRequest[]): Promise<SavedDisk[]> {
    const targets = requests.map((r) => ({ r, m: this.get(r.machine) }));
    const moving = targets.filter(({ m }) => m.state === 'booting' || m.state === 'stopping' || (m.handle && m.state !== 'ready'));
    if (moving.length) {
      const names = moving.map(({ m }) => `${m.plan.name} (${m.state})`).join(', ');
      throw new UserError(`cannot save while machines are starting, stopping or failed: ${names}`, 1, 'wait until they are ready, or stop them, then save again');
    }
    this.busy++;
    try {
      const guests = targets.map(({ r, m }) => ({ r, m, running: m.handle && m.state === 'ready' ? { agent: m.handle.agent, mconsole: (command: string) => this.launcher.mconsole(m.plan, command) } : undefined }));
      // Network states are read in parallel (each costs the guest a few forks); the pauses come one at a time.
      const live = await Promise.all(guests.map(({ r, running }) => (running ? readLiveState(r.machine, running.agent) : undefined)));
      const saved: SavedDisk[] = [];
      for (const [i, { r, m, running }] of guests.entries()) saved.push(await saveMachineDisk(m.plan, r, running, live[i]));
      // Durable before the state is recorded, all at once, with every guest running again.
      await syncFiles(saved.filter((s) => s.copy).map((s) => guests.find((g) => g.r.machine === s.machine)!.r.dest));
      return saved;
    } finally {
      this.busy--;
      this.checkIdle();
    }
  }

  /**
   * Put saved disks (and network states, applied at boot) in place of machines' own, then boot them.
   * `saveFirst`: the machines as they are are saved first (before-restore-N): the running ones' network
   * state read (sync included), then every machine pulled down at once and its disk copied (no pause
   * needed: it is down, and synced a moment before).
   */
  async restoreDisks(requests: DiskRestoreRequest[], options: StartOptions & { saveFirst?: DiskSaveRequest[] } = {}): Promise<StartResult & { net: Record<string, NetRestoreReport>; saved: SavedDisk[] }> {
    const targets = requests.map((r) => ({ r, m: this.get(r.machine) }));
    const before = (options.saveFirst ?? []).map((r) => ({ r, m: this.get(r.machine) }));
    this.busy++;
    try {
      const live = await Promise.all(before.map(({ r, m }) => (m.handle && m.state === 'ready' ? readLiveState(r.machine, m.handle.agent) : undefined)));
      await this.halt([...new Set([...targets, ...before].map(({ m }) => m.plan.name))], 'crash');
      const saved: SavedDisk[] = [];
      for (const [i, { r, m }] of before.entries()) {
        if (m.handle) throw new UserError(`${m.plan.name} did not stop; nothing was restored`, 1);
        const s = await saveMachineDisk(m.plan, r, undefined);
        saved.push(live[i] ? { ...s, running: true, net: live[i]!.net, readMs: live[i]!.readMs, pauseMs: 0 } : s);
      }
      for (const { r, m } of targets) {
        if (m.handle) throw new UserError(`${m.plan.name} did not stop; its disk was not replaced`, 1);
        restoreMachineDisk(m.plan, r);
        this.netRestores.delete(m.plan.name);
      }
      // The copies are made durable while the machines boot (the before state is recorded only after).
      const [started] = await Promise.all([
        this.start(targets.map(({ m }) => m.plan.name), options),
        syncFiles([...before.filter((_, i) => saved[i]?.copy).map(({ r }) => r.dest), ...targets.filter(({ r }) => r.disk).map(({ m }) => m.plan.cow)]),
      ]);
      const net = Object.fromEntries(targets.flatMap(({ m }) => (this.netRestores.has(m.plan.name) ? [[m.plan.name, this.netRestores.get(m.plan.name)!]] : [])));
      return { ...started, net, saved };
    } finally {
      this.busy--;
      this.checkIdle();
    }
  }

  // ---- cables --------------------------------------------------------------------------------

  links(): CableStatus[] {
    return this.network.cableStatus();
  }

  async changeLink(id: string, change: CableChange): Promise<CableStatus> {
    this.busy++;
    try {
      const before = this.network.cable(id);
      const status = await this.network.change(id, change);
      const m = this.machines.get(status.machine);
      if (m?.state === 'ready') await this.tellGuest(m, cableNews(before, status, change));
      return status;
    } finally {
      this.busy--;
    }
  }

  /** Tells a guest what became of its cable: UML's NIC has no carrier of its own (cable-news.ts). */
  private async tellGuest(m: Machine, news: CableNews | undefined): Promise<void> {
    if (!m.handle || !news) return;
    const result = await m.handle.agent.exec(news.command, { timeoutMs: 10_000 }).catch((err: Error) => ({ exitCode: 1, stderr: err.message }));
    if (result.exitCode !== 0) this.progress(`${m.plan.name}: ${news.failure}: ${result.stderr.trim()}`);
  }

  capture(target: string, onFrame: (frame: Buffer, timeUs: number) => void, onEnd: (reason: string) => void): Promise<Capture> {
    return this.network.capture(target, onFrame, onEnd);
  }

  // ---- apply: the lab files changed while the lab runs (apply.ts) -----------------------------

  /** Bring the running lab to a new plan without touching what did not change (apply.ts). */
  async apply(next: Plan, options: { dryRun?: boolean; restart?: string[] } = {}): Promise<ApplyResult> {
    if (next.lab.id !== this.plan.lab.id) throw new UserError(`that plan is for lab ${next.lab.id}, not ${this.plan.lab.id}`, 2);
    const diff = diffPlans(this.plan, next);
    // Running machines whose changes need a boot restart with them, unless the caller names the machines to restart.
    const active = (name: string) => ['booting', 'ready'].includes(this.machines.get(name)?.state ?? '');
    const restart = options.restart ? options.restart.filter((n) => next.guests.some((g) => g.name === n)) : diff.restartNeeded.map((r) => r.machine).filter(active);
    for (const name of restart) this.get(name);
    const changes = describeDiff(diff, new Set(restart));
    if (options.dryRun || (isEmptyDiff(diff) && !restart.length)) return { changes, applied: false };
    this.busy++;
    try {
      changes.push(...(await applyDiff(this.runningLab(), diff, next, restart)));
      return { changes, applied: true };
    } finally {
      this.busy--;
      this.checkIdle();
    }
  }

  private runningLab(): RunningLab {
    const sup = this;
    return {
      get plan() {
        return sup.plan;
      },
      network: this.network,
      readyGuest: (name) => {
        const m = this.get(name);
        return m.handle && m.state === 'ready' ? { plan: m.plan, agent: m.handle.agent } : undefined;
      },
      mconsole: (plan, command) => this.launcher.mconsole(plan, command),
      stopMachine: (name) => this.halt([name], 'stop'),
      removeMachine: (name) => void this.machines.delete(name),
      addMachine: (guest) => this.addMachine(guest),
      setGuestPlan: (guest) => void (this.get(guest.name).plan = guest),
      setPlan: (next) => {
        this.plan = next;
        this.emit('plan', next);
      },
      start: (names) => this.start(names),
      progress: (message) => this.progress(message),
    };
  }

  // ---- exec ----------------------------------------------------------------------------------

  async exec(name: string, command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const m = this.get(name);
    if (m.state !== 'ready' || !m.handle) {
      throw new UserError(`${name} is ${m.state}, not ready`, 1, m.state === 'stopped' ? `start it: vnetlab start ${name}` : undefined);
    }
    if (m.plan.grader && !options.grader) throw graderRefusal(name, 'commands');
    const { grader: _grader, ...rest } = options;
    await this.ipv6Now(m);
    return m.handle.agent.exec(command, rest);
  }

  // ---- shutdown ------------------------------------------------------------------------------

  /** Stop every guest (gracefully unless `crash`), then the network. */
  async shutdown(how: 'stop' | 'crash' = 'stop'): Promise<void> {
    this.busy++;
    try {
      await this.halt([], how);
      await this.network.down();
      if (this.diskTimer) clearInterval(this.diskTimer);
      this.diskTimer = undefined;
      this.memory.stop();
    } finally {
      this.busy--;
    }
  }

  async stopSwitches(): Promise<void> {
    await this.network.down();
  }

  // ---- helpers -------------------------------------------------------------------------------

  private addMachine(guest: GuestPlan): void {
    const logFile = this.options.consoleLogs === false ? undefined : join(guest.dir, 'console.log');
    this.machines.set(guest.name, { plan: guest, state: 'stopped', stops: 0, console: new ConsoleSession(`${guest.name}/0`, logFile, this.consoleTap(guest, 0)) });
  }

  /** A recorded lab (an exam) records every console: `pc1.cast`, and `pc1.console2.cast` for its second. */
  private consoleTap(guest: GuestPlan, index: number): ConsoleRecorder | undefined {
    const rec = this.options.recordConsoles;
    const name = index ? `${basename(guest.dir)}.console${index + 1}` : basename(guest.dir);
    return rec ? new ConsoleRecorder({ file: join(rec.dir, `${name}.cast`), title: `${this.plan.lab.name}/${guest.name}${index ? ` (${index + 1})` : ''}`, maxBytes: rec.maxBytes }) : undefined;
  }

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

  /** Emits 'idle' when nothing runs any more: the server then stops the network and exits. */
  private checkIdle(): void {
    if (!this.isActive()) setImmediate(() => !this.isActive() && this.emit('idle'));
  }

  /**
   * Link lights: the ready guest's agent says when its NICs change (runtime/link-watch.ts);
   * each change is a `link-state` event. Ended with the guest; started again (at most every 10 s) if
   * something in the guest ended it while the guest runs on.
   */
  private watchLinks(m: Machine, handle: GuestHandle): void {
    const read = lineSplitter((line) => {
      const links = parseLinkLine(line);
      if (!links || m.handle !== handle) return;
      m.links = links;
      this.emitEvent({ type: 'link-state', machine: m.plan.name, interfaces: links });
    });
    const started = Date.now();
    void handle.agent.watchLinks(read).then(
      () => {
        if (m.handle !== handle || m.state !== 'ready') return;
        setTimeout(() => m.handle === handle && m.state === 'ready' && this.watchLinks(m, handle), Math.max(0, 10_000 - (Date.now() - started))).unref();
      },
      () => undefined,
    );
  }

  private machineStatus(m: Machine): MachineStatus {
    return {
      name: m.plan.name,
      state: m.state,
      pid: m.handle?.pid,
      rssBytes: m.handle ? this.memory.bytes(m.handle.pgid) : undefined,
      startedAt: m.handle && m.startedAt ? m.startedAt.toISOString() : undefined,
      startupExitCode: m.startupExitCode,
      error: m.error,
      interfaces: m.plan.interfaces.map((i) => ({ name: i.name, domain: i.domain, mac: i.mac })),
      ...(m.handle && m.links ? { links: m.links } : {}),
    };
  }
}

/** A grader machine (lab.yaml `grader: true`) takes no console and no exec but the grader's checks. */
function graderRefusal(machine: string, what: string): UserError {
  return new UserError(`${machine} is the grader's machine: it takes no ${what} from a student`, 1, 'checks run on it (`on:`/`from:` in a check); open a console on another machine');
}
