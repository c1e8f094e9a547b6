// The real Launcher: one `vde_switch` per collision domain (child_process, own process group) and
// one `linux.uml` per guest inside a node-pty (its own session), wired per docs/ARCHITECTURE.md:
// the console on the pty, the exec channel on two FIFOs passed as fds 3 and 4 by a tiny sh wrapper.
import { spawn, execFile, execFileSync } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import * as pty from 'node-pty';
import type { GuestPlan, SwitchPlan } from '../../shared/plan.ts';
import { EnvironmentError, UserError } from '../errors.ts';
import { backingImageFor, readCowHeader } from '../images/backing.ts';
import type { ConsolePty, ExitInfo, GuestAgent, GuestHandle, Launcher, ProcessHandle, SwitchHandles } from './launcher.ts';
import { groupHasMembers } from './records.ts';
import { connectAgent } from './agent.ts';

/** The wrapper that gives the kernel its exec channel as fds 3 (to guest) and 4 (from guest). */
const GUEST_WRAPPER = 'exec "$@" 3<"$TO_GUEST" 4>"$FROM_GUEST"';
const SWITCH_READY_TIMEOUT_MS = 5_000;

export class RealLauncher implements Launcher {
  async spawnSwitch(plan: SwitchPlan): Promise<SwitchHandles> {
    mkdirSync(dirname(plan.ctlDir), { recursive: true, mode: 0o700 });
    rmSync(plan.ctlDir, { recursive: true, force: true });
    rmSync(plan.mgmtSocket, { force: true });
    // vde_switch exits on EOF of stdin; a FIFO it holds open read-write itself never reaches EOF,
    // so the switch outlives the supervisor if that dies (and `clean` still finds it in the records).
    const stdinFifo = `${plan.ctlDir}.stdin`;
    makeFifo(stdinFifo);
    const logFile = `${plan.ctlDir}.log`;
    const sw = spawnDetached(plan.argv, stdinFifo, logFile);
    const sockets = [plan.ctlDir, plan.mgmtSocket, stdinFifo, logFile];
    await waitForPath(join(plan.ctlDir, 'ctl'), sw, logFile, `vde_switch of collision domain ${plan.domain}`);
    let hostNat: ProcessHandle | undefined;
    if (plan.hostNat) {
      const natLog = `${plan.ctlDir}.slirp.log`;
      sockets.push(natLog);
      hostNat = spawnDetached(plan.hostNat.argv, '/dev/null', natLog);
    }
    return { switch: sw, hostNat, sockets };
  }

  async spawnGuest(plan: GuestPlan, size: { cols: number; rows: number }): Promise<GuestHandle> {
    mkdirSync(plan.dir, { recursive: true, mode: 0o700 });
    // UML creates the COW on first boot, but only inside a folder that exists.
    mkdirSync(dirname(plan.cow), { recursive: true, mode: 0o700 });
    const umlDir = plan.argv.find((a) => a.startsWith('uml_dir='))?.slice('uml_dir='.length);
    if (umlDir) mkdirSync(umlDir, { recursive: true, mode: 0o700 });
    if (!existsSync(plan.imagePath)) {
      throw new EnvironmentError(`image ${plan.image} is missing: ${plan.imagePath}`, `build it: vnetlab image build ${plan.image}`);
    }
    const { toGuest, fromGuest } = plan.execChannel;
    makeFifo(toGuest);
    makeFifo(fromGuest);
    // Both ends opened read-write so neither our open nor the wrapper's blocks, and neither side sees EOF.
    const toFd = openSync(toGuest, constants.O_RDWR);
    const fromFd = openSync(fromGuest, constants.O_RDWR);
    const toStream = new Socket({ fd: toFd, readable: false, writable: true });
    const fromStream = new Socket({ fd: fromFd, readable: true, writable: false });

    // argv[0] may be findKernel()'s wrapper (host quirks); it execs the kernel, so the pid stays the guest's.
    const argv = withDiskBackingImage(plan);
    const term = pty.spawn('/bin/sh', ['-c', GUEST_WRAPPER, 'vnetlab-guest', ...argv], {
      name: 'xterm-256color',
      cols: size.cols,
      rows: size.rows,
      cwd: plan.dir,
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', TO_GUEST: toGuest, FROM_GUEST: fromGuest, TMPDIR: guestMemoryDir() },
    });
    const pid = term.pid;
    const exited = new Promise<ExitInfo>((resolve) => {
      term.onExit(({ exitCode, signal }) => {
        // UML helpers normally die with the kernel; make sure none is left in the guest's group.
        if (groupHasMembers(pid)) trySignal(-pid, 'SIGKILL');
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
      pause: () => term.pause(),
      resume: () => term.resume(),
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
      sockets: [toGuest, fromGuest, ...(umlDir ? [join(umlDir, plan.umid)] : [])],
    };
  }

  mconsole(plan: GuestPlan, command: 'cad' | 'halt'): Promise<void> {
    return new Promise((resolve, reject) => {
      execFile('uml_mconsole', [plan.mconsole, command], { timeout: 5_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${String(stderr || stdout || err.message).trim()}`));
        else resolve();
      });
    });
  }

  async wipeDisk(plan: GuestPlan): Promise<void> {
    rmSync(plan.cow, { force: true });
  }
}

/**
 * A guest disk only works over the exact image file it was made from (UML checks the image's mtime).
 * After an image rebuild the old image is kept (src/main/images/backing.ts): boot the disk over that one.
 */
function withDiskBackingImage(plan: GuestPlan): string[] {
  if (!existsSync(plan.cow)) return plan.argv;
  const env = { ...process.env, VNETLAB_IMAGE_DIR: dirname(plan.imagePath) };
  let backing: string | undefined;
  try {
    if (!readCowHeader(plan.cow)) return plan.argv; // not a COW file: let UML say what is wrong
    backing = backingImageFor(plan.cow, plan.image, env);
  } catch {
    return plan.argv;
  }
  if (!backing) {
    throw new UserError(
      `the disk of ${plan.name} was made from a ${plan.image} image that no longer exists`,
      2,
      `start ${plan.name} over from the lab files: vnetlab wipe ${plan.name}`,
    );
  }
  if (backing === plan.imagePath) return plan.argv;
  const ubd0 = `ubd0=${plan.cow},${plan.imagePath}`;
  return plan.argv.map((a) => (a === ubd0 ? `ubd0=${plan.cow},${backing}` : a));
}

function makeFifo(path: string): void {
  rmSync(path, { force: true });
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  execFileSync('mkfifo', ['-m', '0600', path]);
}

/** Spawn a daemon in its own process group, stdout/stderr to a log file, not tied to our lifetime. */
function spawnDetached(argv: string[], stdinPath: string, logFile: string): ProcessHandle {
  const stdinFd = openSync(stdinPath, constants.O_RDWR);
  const logFd = openSync(logFile, 'a', 0o600);
  let child;
  try {
    child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: [stdinFd, logFd, logFd] });
  } finally {
    closeSync(stdinFd);
    closeSync(logFd);
  }
  const exited = new Promise<ExitInfo>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
    child.on('error', () => resolve({ code: 127, signal: null }));
  });
  child.unref();
  const pid = child.pid ?? 0;
  if (!pid) throw new EnvironmentError(`could not run ${argv[0]}`, 'install it: sudo apt-get install vde2');
  return { pid, pgid: pid, argv, exited, kill: (signal) => trySignal(-pid, signal) };
}

async function waitForPath(path: string, proc: ProcessHandle, logFile: string, what: string): Promise<void> {
  let exited = false;
  void proc.exited.then(() => (exited = true));
  const deadline = Date.now() + SWITCH_READY_TIMEOUT_MS;
  while (!existsSync(path)) {
    if (exited || Date.now() > deadline) {
      if (!exited) proc.kill('SIGKILL');
      const log = readLogTail(logFile);
      throw new Error(`${what} ${exited ? 'exited' : 'did not start'}${log ? `: ${log}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

function readLogTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join('\n');
  } catch {
    return '';
  }
}

function trySignal(target: number, signal: NodeJS.Signals): void {
  try {
    process.kill(target, signal);
  } catch {
    // already gone
  }
}

function signalName(signal: number): string {
  const names: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 9: 'SIGKILL', 15: 'SIGTERM', 6: 'SIGABRT', 11: 'SIGSEGV' };
  return names[signal] ?? `signal ${signal}`;
}

/**
 * UML's console can miss the SIGIO telling it that its pty has room again, and then writes nothing
 * more until its next input (a flood such as `yes` into a busy viewer stalls for good). A SIGIO
 * 100 ms after each burst of output makes it look at its fds again; for an idle guest it is a no-op.
 * Only once the kernel runs (its banner went by): before that UML has no SIGIO handler yet.
 */
function nudgeConsoleAfterOutput(term: pty.IPty, pid: number, exited: Promise<unknown>): void {
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

/**
 * Where UML keeps the guest's RAM (an unlinked file it maps): tmpfs when the host has a writable
 * /dev/shm, so guest memory never becomes dirty page cache written back to disk; `VNETLAB_UML_TMPDIR`
 * overrides it, then TMPDIR, then /tmp.
 */
function guestMemoryDir(): string {
  const chosen = process.env.VNETLAB_UML_TMPDIR;
  if (chosen) return chosen;
  try {
    accessSync('/dev/shm', constants.W_OK);
    if (statSync('/dev/shm').isDirectory()) return '/dev/shm';
  } catch {
    // no usable tmpfs: fall through
  }
  return process.env.TMPDIR ?? '/tmp';
}
