// The two ends of a pooled guest's life as a process: the pool boots it (spawnPooledGuest), a lab's
// supervisor takes it over (adoptPooledGuest) and from then on it is one of the lab's guests.
//
// A process cannot hand a pty to another process, so a pooled guest's console is on two FIFOs, like
// its exec channel: `con0=fd:0,fd:1` with fd 0 and 1 the FIFOs `console-in` and `console-out`. Whoever
// owns the guest opens them by path. Each FIFO is always held open by its owner (O_RDWR), and at a
// handover the supervisor opens its ends before the pool closes its own, so the guest never sees EOF —
// except when the pool's owner dies while the guest waits: then the agent sees EOF on its channel and
// powers the guest off (kernels/guest/agent/vnetlab-agent.c, wait_for_claim), leaving nothing behind.
import { spawn } from 'node:child_process';
import { closeSync, constants, existsSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { EventEmitter } from 'node:events';
import type { GuestPlan } from '../../../shared/plan.ts';
import { connectAgent } from '../agent.ts';
import type { ConsolePty, ExitInfo, GuestAgent, GuestHandle, Register } from '../launcher.ts';
import { groupHasMembers, trySignal } from '../records.ts';
import { nudgeConsoleAfterOutput } from '../real-launcher.ts';
import { makeFifos } from '../fifos.ts';
import { makeMemoryFolder, removeMemoryFolder, stageLabFs, type GuestLaunch } from '../confinement.ts';
import { hotplugArgs, identityArgs } from '../guest-argv.ts';
import type { PooledGuest } from './protocol.ts';

/** The guest wrapper of real-launcher.ts, with the console on FIFOs instead of the pty. */
const POOLED_WRAPPER =
  'exec 0<"$CONSOLE_IN" 1>"$CONSOLE_OUT" 2>&1 3<"$TO_GUEST" 4>"$FROM_GUEST"; IFS= read -r gate <&3 && [ "$gate" = go ] || exit 97; exec "$@"';
/** How often an adopted guest (not our child: no exit event) is looked for in /proc. */
const EXIT_POLL_MS = 200;

// ---- the pool's side --------------------------------------------------------------------------

export interface BootingGuest {
  guest: PooledGuest;
  /** Resolves when the agent says it waits for its identity (`W`); rejects if the guest exits first. */
  waiting: Promise<void>;
  exited: Promise<ExitInfo>;
  /** Close the pool's ends of the FIFOs (after the lab opened its own). */
  letGo(): void;
}

export function spawnPooledGuest(guest: Omit<PooledGuest, 'pid' | 'pgid'>, launch: GuestLaunch, register: Register): BootingGuest {
  const { fifos } = guest;
  mkdirSync(dirname(fifos.toGuest), { recursive: true, mode: 0o700 });
  mkdirSync(dirname(guest.umidDir), { recursive: true, mode: 0o700 });
  mkdirSync(dirname(guest.cow), { recursive: true, mode: 0o700 });
  makeFifos([fifos.consoleIn, fifos.consoleOut, fifos.toGuest, fifos.fromGuest]);
  // Held open read-write by us, so the guest's opens never block and it never sees EOF while we live.
  const held = [fifos.consoleIn, fifos.consoleOut, fifos.toGuest].map((path) => openSync(path, constants.O_RDWR));
  const fromGuest = new Socket({ fd: openSync(fifos.fromGuest, constants.O_RDWR), readable: true, writable: false });
  // guest.argv is what the guest boots as (what a claiming lab compares); launch.argv runs it in its sandbox.
  const child = spawn('/bin/sh', ['-c', POOLED_WRAPPER, 'vnetlab-pooled', ...launch.argv], {
    detached: true,
    stdio: 'ignore',
    env: {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      CONSOLE_IN: fifos.consoleIn,
      CONSOLE_OUT: fifos.consoleOut,
      TO_GUEST: fifos.toGuest,
      FROM_GUEST: fifos.fromGuest,
      TMPDIR: launch.memoryDir,
    },
  });
  const pid = child.pid ?? 0;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.on('exit', (code, signal) => {
      if (pid && groupHasMembers(pid)) trySignal(-pid, 'SIGKILL');
      removeMemoryFolder(launch.memoryDir);
      resolve({ code, signal });
    });
    child.on('error', () => resolve({ code: 127, signal: null }));
  });
  const sockets = [...Object.values(fifos), guest.umidDir, launch.memoryDir];
  if (pid) {
    register({ pid, pgid: pid, argv: guest.argv, sockets });
    try {
      makeMemoryFolder(launch.memoryDir);
      writeSync(held[2]!, 'go\n');
    } catch {
      trySignal(-pid, 'SIGKILL'); // its gate never opens; it ran nothing, and `exited` tidies up
    }
  }
  let released = false;
  const letGo = () => {
    if (released) return;
    released = true;
    fromGuest.destroy();
    for (const fd of held) closeSync(fd);
  };
  void exited.then(letGo);
  const waiting = new Promise<void>((resolve, reject) => {
    let text = '';
    fromGuest.on('data', (chunk: Buffer) => {
      text = (text + chunk.toString('latin1')).slice(-256);
      if (/(^|\n)W\n/.test(text)) resolve();
    });
    void exited.then((exit) => reject(new Error(`the guest exited while booting (${exit.signal ?? `exit code ${exit.code}`})`)));
  });
  waiting.catch(() => {}); // the caller may only look at `exited`
  return { guest: { ...guest, pid, pgid: pid }, waiting, exited, letGo };
}

// ---- the lab's side ---------------------------------------------------------------------------

/**
 * Make a pooled guest this machine: move its files to the machine's paths (same filesystems, so
 * renames: the guest keeps its open files), open its FIFOs, let the pool go (`handover`), hot-plug the
 * lab-fs and NICs, and tell the agent who it is. Throws if it cannot; the guest is then ended and
 * nothing of it is left at the machine's paths (the caller boots the machine cold).
 */
export async function adoptPooledGuest(
  plan: GuestPlan,
  pooled: PooledGuest,
  size: { cols: number; rows: number },
  register: Register,
  handover: () => Promise<void>,
  mconsole: (commands: string[]) => Promise<unknown>,
): Promise<GuestHandle> {
  const { toGuest, fromGuest } = plan.execChannel;
  const consoleIn = join(plan.dir, 'console-in');
  const consoleOut = join(plan.dir, 'console-out');
  const umidDir = dirname(plan.mconsole);
  const stagedLabFs = join(dirname(pooled.fifos.toGuest), 'labfs.ext4');
  const sockets = [toGuest, fromGuest, consoleIn, consoleOut, umidDir, stagedLabFs, pooled.memoryDir];
  const { pid, pgid } = pooled;
  register({ pid, pgid, argv: pooled.argv, sockets, mconsole: plan.mconsole });
  let diskTaken = false;
  const fds: number[] = [];
  try {
    mkdirSync(plan.dir, { recursive: true, mode: 0o700 });
    mkdirSync(dirname(umidDir), { recursive: true, mode: 0o700 });
    mkdirSync(dirname(plan.cow), { recursive: true, mode: 0o700 });
    rmSync(umidDir, { recursive: true, force: true }); // a crashed guest's leftovers
    renameSync(pooled.umidDir, umidDir);
    renameSync(pooled.fifos.toGuest, toGuest);
    renameSync(pooled.fifos.fromGuest, fromGuest);
    renameSync(pooled.fifos.consoleIn, consoleIn);
    renameSync(pooled.fifos.consoleOut, consoleOut);
    for (const path of [consoleIn, consoleOut, toGuest, fromGuest]) fds.push(openSync(path, constants.O_RDWR));
    stageLabFs(plan.labFsImage, stagedLabFs);
    // link, not rename: it fails rather than replace a disk that appeared meanwhile (the student's work).
    linkSync(pooled.cow, plan.cow);
    diskTaken = true;
    unlinkSync(pooled.cow);
  } catch (err) {
    for (const fd of fds) closeSync(fd);
    if (diskTaken) rmSync(plan.cow, { force: true });
    throw err;
  }
  const [inFd, outFd, toFd, fromFd] = fds as [number, number, number, number];
  const toStream = new Socket({ fd: toFd, readable: false, writable: true });
  const fromStream = new Socket({ fd: fromFd, readable: true, writable: false });
  const consoleOutStream = new Socket({ fd: outFd, readable: true, writable: false });
  const consoleInStream = new Socket({ fd: inFd, readable: false, writable: true });
  for (const s of [toStream, fromStream, consoleOutStream, consoleInStream]) s.on('error', () => {});
  const exited = watchExit(pid, pgid);
  void exited.then(() => {
    for (const s of [toStream, fromStream, consoleOutStream, consoleInStream]) s.destroy();
    // The pool that spawned it removes it too, if it still runs; if not, nobody else would.
    removeMemoryFolder(pooled.memoryDir);
  });
  const kill = (signal: NodeJS.Signals) => trySignal(-pgid, signal);

  let agent: GuestAgent;
  try {
    await handover();
    // Its sandbox lets the guest read its own pool folder, not the lab's run folder: the lab-fs goes there
    // (kept while the guest runs: UML opens it when the guest mounts it; recorded with the guest's files).
    await mconsole(hotplugArgs(plan, stagedLabFs).map((arg) => `config ${arg}`));
    agent = await connectAgent(fromStream, toStream, identityArgs(plan).join(' '));
  } catch (err) {
    kill('SIGKILL');
    await exited;
    rmSync(plan.cow, { force: true }); // the pooled guest's disk, never the student's (it was fresh)
    throw err;
  }
  const console = fifoConsole(consoleOutStream, consoleInStream, agent, exited);
  console.resize(size.cols, size.rows);
  nudgeConsoleAfterOutput(console, pid, exited);
  return { pid, pgid, argv: pooled.argv, exited, kill, console, agent, sockets };
}

/** An adopted guest is not our child: its end is seen in /proc (gone, or a zombie its parent has not reaped). */
function watchExit(pid: number, pgid: number): Promise<ExitInfo> {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (isRunning(pid)) return;
      clearInterval(timer);
      // UML helpers normally die with the kernel; make sure none is left in the guest's group.
      if (groupHasMembers(pgid)) trySignal(-pgid, 'SIGKILL');
      resolve({ code: null, signal: null });
    }, EXIT_POLL_MS);
  });
}

function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * The console of an adopted guest. Its host side is a FIFO, not a tty, so UML has no window size to
 * pass on: the guest's console tty is sized from inside (the agent runs stty), once per settled size.
 */
function fifoConsole(out: Socket, input: Socket, agent: GuestAgent, exited: Promise<unknown>): ConsolePty {
  const events = new EventEmitter();
  const decoder = new StringDecoder('utf8');
  out.on('data', (chunk: Buffer) => events.emit('data', decoder.write(chunk)));
  let size = '';
  let timer: NodeJS.Timeout | undefined;
  let alive = true;
  void exited.then(() => {
    alive = false;
    clearTimeout(timer);
  });
  return {
    onData: (listener) => void events.on('data', listener),
    write: (data) => {
      if (alive) input.write(data);
    },
    resize: (cols, rows) => {
      const wanted = `${Math.max(1, Math.round(rows))} ${Math.max(1, Math.round(cols))}`;
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (!alive || wanted === size) return;
        size = wanted;
        const [r, c] = wanted.split(' ');
        // `; true`: sh must not exec stty itself. The agent starts each command in a session of its own,
        // and a session leader that opens a tty nobody controls yet (the console shell may be starting)
        // makes it its controlling tty, and hangs it up on exit: the student's shell would go with it.
        void agent.exec(`stty -F /dev/tty0 rows ${r} cols ${c}; true`, { timeoutMs: 10_000 }).catch(() => {});
      }, 50);
    },
  };
}

/** Whether a machine may take a pooled guest: only a fresh disk (an existing one is the student's). */
export function canTakePooledGuest(plan: GuestPlan): boolean {
  return !existsSync(plan.cow);
}
