// The real Launcher: network daemons (vde_switch, wirefilter) through the daemon spawner
// (daemon-spawner.ts; a capture's vde_plug, whose stdout we read, through child_process), each in its
// own session, and one `linux.uml` per guest inside a node-pty (its own session), wired per
// docs/ARCHITECTURE.md: the console on the pty, the exec channel on two FIFOs passed as fds 3 and 4.
//
// Every process starts behind a gate: it waits for one line before exec'ing the real program (a tiny
// sh here, the spawner's fork there). We spawn, hand the pid to `register` (the on-disk record), and
// only then open the gate, so no process ever runs unrecorded; if we die before that, the gate sees EOF
// (its pty hangs up, or the spawner exits) and nothing is started.
import { spawn } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import * as pty from 'node-pty';
import type { GuestPlan } from '../../shared/plan.ts';
import { EnvironmentError, UserError } from '../errors.ts';
import { backingImageFor, createCowDiskAsync, readCowHeader } from '../images/backing.ts';
import { signalName, type ConsolePty, type DaemonHandle, type DaemonSpec, type ExitInfo, type GuestAgent, type GuestHandle, type Launcher, type ProcessHandle, type Register } from './launcher.ts';
import { groupHasMembers, trySignal } from './records.ts';
import { connectAgent } from './agent.ts';
import { adoptPooledGuest } from './pool/pooled-guest.ts';
import type { PooledGuest } from './pool/protocol.ts';
import { mconsoleCommand, mconsoleCommands } from './mconsole.ts';
import { confinementFor, daemonArgv, guestLaunch, makeMemoryFolder, removeMemoryFolder, type Confinement } from './confinement.ts';
import { guestArgv } from './guest-argv.ts';
import { isFifo, makeFifosAsync, makeGuestFifos } from './fifos.ts';
import { hostTmpfs } from './host-tmpfs.ts';
import { DaemonSpawner } from './daemon-spawner.ts';
import { hostHelper } from '../images/host-helpers.ts';

/**
 * Gives the kernel its exec channel as fds 3 (to guest) and 4 (from guest), after the gate line,
 * which arrives on that same channel (dash's `read` takes one byte at a time, so nothing more is eaten).
 */
const GUEST_WRAPPER = 'exec 3<"$TO_GUEST" 4>"$FROM_GUEST"; IFS= read -r gate <&3 && [ "$gate" = go ] || exit 97; exec "$@"';
/** The gate of a daemon: its stdin is our pipe until the line arrives, then the FIFO (or /dev/null). */
const DAEMON_WRAPPER = 'IFS= read -r gate && [ "$gate" = go ] || exit 97; exec "$@" <>"$VNETLAB_STDIN"';
const GATE_LINE = 'go\n';
const DAEMON_READY_TIMEOUT_MS = 5_000;

export class RealLauncher implements Launcher {
  /** Every process starts in its sandbox (confinement.ts) unless the user started the lab --unconfined. */
  constructor(private readonly confinement: Confinement = confinementFor()) {}

  /** The last spawn's turn of the event loop (spawnTurn). */
  private lastSpawnTurn: Promise<void> = Promise.resolve();

  /**
   * Waits for a turn of the event loop of its own to spawn in. A spawn holds the loop ~1–4 ms (the fork,
   * then the wait for exec); a burst of them (a new supervisor's network: 8 cables and their switches at
   * once) held it for tens of ms, with no console byte passed and no request answered meanwhile. Now
   * sockets are served between any two spawns.
   */
  spawnTurn(): Promise<void> {
    const turn = this.lastSpawnTurn.then(() => new Promise<void>((resolve) => setImmediate(resolve)));
    this.lastSpawnTurn = turn;
    return turn;
  }

  /** Starts the daemons off this process (daemon-spawner.ts); undefined where it cannot be built (no C compiler). */
  private spawner: DaemonSpawner | null | undefined;

  private daemonSpawner(): DaemonSpawner | undefined {
    if (this.spawner === undefined) {
      try {
        this.spawner = new DaemonSpawner(hostHelper('vnetlab-spawner'), process.env);
      } catch {
        this.spawner = null; // daemons are then spawned from here, as they always could be
      }
    }
    return this.spawner ?? undefined;
  }

  /** Lets the daemon spawner go (the daemons it started run on), and waits until it has. */
  close(): Promise<void> {
    return this.spawner?.close() ?? Promise.resolve();
  }

  /** The FIFOs daemons share as stdin, being made: the first daemons of a start all wait for one mkfifo. */
  private readonly sharedFifos = new Map<string, Promise<void>>();

  async spawnDaemon(spec: DaemonSpec, register: Register): Promise<DaemonHandle> {
    mkdirSync(dirname(spec.logFile), { recursive: true, mode: 0o700 });
    // Leftovers of a crashed run (a switch dir, a management socket) would make the daemon refuse to start.
    for (const path of spec.sockets) if (path !== spec.logFile) rmSync(path, { recursive: true, force: true });
    if (spec.stdinFifo) await this.ensureSharedFifo(spec.stdinFifo);
    const argv = daemonArgv(this.confinement, spec.argv, spec.folders, { hostNat: spec.hostNat });
    const spawner = spec.pipeStdout ? undefined : this.daemonSpawner();
    let proc: DaemonHandle;
    if (spawner && DaemonSpawner.canSpawn({ ...spec, argv })) {
      proc = await spawner.spawn({ argv, logFile: spec.logFile, stdinFifo: spec.stdinFifo, sockets: spec.sockets }, register);
    } else {
      // A capture's vde_plug gives us its stdout: a pipe to this process, which only a spawn of ours makes.
      await this.spawnTurn();
      proc = spawnGated({ ...spec, argv }, register);
    }
    if (spec.readyPath) await waitForPath(spec.readyPath, proc, spec.logFile, spec.what);
    return proc;
  }

  /**
   * A FIFO shared by many daemons: made once, kept while it is one. Made without blocking the event loop:
   * a synchronous mkfifo held a new supervisor ~20 ms before its first switch, its first answer included.
   */
  private ensureSharedFifo(path: string): Promise<void> {
    if (isFifo(path)) return Promise.resolve();
    let made = this.sharedFifos.get(path);
    if (!made) {
      made = makeFifosAsync([path]).finally(() => this.sharedFifos.delete(path));
      this.sharedFifos.set(path, made);
    }
    return made;
  }

  /** The wave's missing FIFOs in one process: the starting side (prepareHost) normally made them all already. */
  prepareGuests(plans: GuestPlan[]): Promise<void> {
    return makeGuestFifos(plans);
  }

  async spawnGuest(plan: GuestPlan, size: { cols: number; rows: number }, register: Register): Promise<GuestHandle> {
    mkdirSync(plan.dir, { recursive: true, mode: 0o700 });
    // UML creates the COW on first boot, but only inside a folder that exists.
    mkdirSync(dirname(plan.cow), { recursive: true, mode: 0o700 });
    const umlDir = plan.boot.umlDir;
    mkdirSync(umlDir, { recursive: true, mode: 0o700 });
    if (!existsSync(plan.imagePath)) {
      throw new EnvironmentError(`image ${plan.image} is missing: ${plan.imagePath}`, `build it: vnetlab image build ${plan.image}`);
    }
    const { toGuest, fromGuest } = plan.execChannel;
    // Made for the whole wave by prepareGuests; a guest booted on its own (a restart) makes its own.
    await makeGuestFifos([plan]);
    const backing = diskBackingImage(plan);
    // A fresh disk is made here, off the event loop, rather than in the spawn's turn by guestLaunch.
    if (!existsSync(plan.cow)) {
      await createCowDiskAsync(plan.cow, backing).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
    }
    // Both ends opened read-write so neither our open nor the wrapper's blocks, and neither side sees EOF.
    const toFd = openSync(toGuest, constants.O_RDWR);
    const fromFd = openSync(fromGuest, constants.O_RDWR);
    const toStream = new Socket({ fd: toFd, readable: false, writable: true });
    const fromStream = new Socket({ fd: fromFd, readable: true, writable: false });

    await this.spawnTurn();
    // argv[0] may be findKernel()'s wrapper (host quirks); it execs the kernel, so the pid stays the guest's.
    // Confined, the sandbox helper does what the wrapper would, then execs the kernel: same pid again.
    const { argv, memoryDir } = guestLaunch(this.confinement, plan, guestArgv(plan, { backingImage: backing }), backing, hostTmpfs());
    const term = pty.spawn('/bin/sh', ['-c', GUEST_WRAPPER, 'vnetlab-guest', ...argv], {
      name: 'xterm-256color',
      cols: size.cols,
      rows: size.rows,
      cwd: plan.dir,
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', TO_GUEST: toGuest, FROM_GUEST: fromGuest, TMPDIR: memoryDir },
    });
    const pid = term.pid;
    const sockets = [toGuest, fromGuest, memoryDir, join(umlDir, plan.umid)];
    register({ pid, pgid: pid, argv, sockets, mconsole: plan.mconsole });
    try {
      makeMemoryFolder(memoryDir);
    } catch (err) {
      // The gate never opens: end the waiting wrapper, which has run nothing.
      trySignal(-pid, 'SIGKILL');
      toStream.destroy();
      fromStream.destroy();
      throw err;
    }
    toStream.write(GATE_LINE);
    const exited = new Promise<ExitInfo>((resolve) => {
      term.onExit(({ exitCode, signal }) => {
        // UML helpers normally die with the kernel; make sure none is left in the guest's group.
        if (groupHasMembers(pid)) trySignal(-pid, 'SIGKILL');
        removeMemoryFolder(memoryDir);
        toStream.destroy();
        fromStream.destroy();
        resolve({ code: signal ? null : exitCode, signal: signal ? signalName(signal) : null });
      });
    });
    nudgeConsoleAfterOutput(term, pid, exited);
    const consolePty: ConsolePty = {
      onData: (listener) => void term.onData(listener),
      write: (data) => term.write(data),
      resize: (cols, rows) => {
        try {
          term.resize(cols, rows);
        } catch {
          // the pty closed meanwhile
        }
      },
    };
    const agent: GuestAgent = await connectAgent(fromStream, toStream);
    return {
      pid,
      pgid: pid,
      argv,
      exited,
      kill: (signal) => trySignal(-pid, signal),
      console: consolePty,
      agent,
      sockets,
    };
  }

  adoptGuest(plan: GuestPlan, pooled: PooledGuest, size: { cols: number; rows: number }, register: Register, handover: () => Promise<void>): Promise<GuestHandle> {
    return adoptPooledGuest(plan, pooled, size, register, handover, (commands) => mconsoleCommands(plan.mconsole, commands));
  }

  mconsole(plan: GuestPlan, command: string): Promise<string> {
    return mconsoleCommand(plan.mconsole, command);
  }
}

/**
 * A guest disk only works over the exact image file it was made from (UML checks the image's mtime).
 * After an image rebuild the old image is kept (src/main/images/backing.ts): boot the disk over that one.
 */
function diskBackingImage(plan: GuestPlan): string {
  const asPlanned = plan.imagePath;
  if (!existsSync(plan.cow)) return asPlanned;
  const env = { ...process.env, VNETLAB_IMAGE_DIR: dirname(plan.imagePath) };
  let backing: string | undefined;
  try {
    if (!readCowHeader(plan.cow)) return asPlanned; // not a COW file: let UML say what is wrong
    backing = backingImageFor(plan.cow, plan.image, env);
  } catch {
    return asPlanned;
  }
  if (!backing) {
    throw new UserError(
      `the disk of ${plan.name} was made from a ${plan.image} image that no longer exists`,
      2,
      `start ${plan.name} over from the lab files: vnetlab wipe ${plan.name}`,
    );
  }
  return backing;
}



/** Spawn a daemon in its own process group behind the gate (see the top of this file), not tied to our lifetime. */
function spawnGated(spec: DaemonSpec, register: Register): DaemonHandle {
  const logFd = openSync(spec.logFile, 'a', 0o600);
  let child;
  try {
    child = spawn('/bin/sh', ['-c', DAEMON_WRAPPER, 'vnetlab-gate', ...spec.argv], {
      detached: true,
      stdio: ['pipe', spec.pipeStdout ? 'pipe' : logFd, logFd],
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', VNETLAB_STDIN: spec.stdinFifo ?? '/dev/null' },
    });
  } finally {
    closeSync(logFd);
  }
  const exited = new Promise<ExitInfo>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
    child.on('error', () => resolve({ code: 127, signal: null }));
  });
  child.unref();
  const pid = child.pid ?? 0;
  if (!pid) throw new EnvironmentError(`could not run ${spec.argv[0]}`, 'install it: sudo apt-get install vde2');
  register({ pid, pgid: pid, argv: spec.argv, sockets: spec.sockets });
  child.stdin!.end(GATE_LINE);
  child.stdin!.on('error', () => {}); // the daemon may be gone already; its exit says why
  const stdout = spec.pipeStdout ? child.stdout! : undefined;
  return { pid, pgid: pid, argv: spec.argv, exited, kill: (signal) => trySignal(-pid, signal), stdout };
}

async function waitForPath(path: string, proc: ProcessHandle, logFile: string, what: string): Promise<void> {
  let exited = false;
  void proc.exited.then(() => (exited = true));
  const deadline = Date.now() + DAEMON_READY_TIMEOUT_MS;
  while (!existsSync(path)) {
    if (exited || Date.now() > deadline) {
      if (!exited) proc.kill('SIGKILL');
      const log = readLogTail(logFile);
      throw new Error(`${what} ${exited ? 'exited' : 'did not start'}${log ? `: ${log}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

function readLogTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join('\n');
  } catch {
    return '';
  }
}

/**
 * UML's console can miss the SIGIO telling it that its pty has room again, and then writes nothing
 * more until its next input (a flood such as `yes` into a busy viewer stalls for good). A SIGIO
 * 100 ms after each burst of output makes it look at its fds again; for an idle guest it is a no-op.
 * Only once the kernel runs (its banner went by): before that UML has no SIGIO handler yet.
 */
export function nudgeConsoleAfterOutput(term: Pick<ConsolePty, 'onData'>, pid: number, exited: Promise<unknown>): void {
  let kernelUp = false;
  let alive = true;
  let timer: NodeJS.Timeout | undefined;
  void exited.then(() => {
    alive = false;
    if (timer) clearTimeout(timer);
  });
  term.onData((data) => {
    kernelUp ||= data.includes('Linux version');
    if (!kernelUp) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      if (alive) trySignal(pid, 'SIGIO');
    }, 100);
  });
}

