// The supervisor's part of saved states: what must happen next to a running guest.
//   save:    sync + read the network state (one exec), mconsole `stop`, copy the disk, `go`;
//   restore: the saved disk in place of the machine's (the guest is down), its network state left as
//            `<stateDir>/pending-net/<machine>.json`, applied by applyPendingNet when it next boots,
//            before the machine is reported ready (a restore, and the first start of an unpacked pack).
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { GuestPlan } from '../../../shared/plan.ts';
import { open } from 'node:fs/promises';
import { copyDisk, type CopyMethod } from '../../guest/cow-disk.ts';
import { CAPTURE_SCRIPT, parseNetState, planNetRestore, type NetState } from '../../guest/netstate.ts';
import type { GuestAgent } from '../launcher.ts';

export interface DiskSaveRequest {
  machine: string;
  /** Where the copy goes (a file that does not exist yet). */
  dest: string;
}

export interface SavedDisk {
  machine: string;
  /** False when the machine had never booted (no disk): nothing was copied. */
  hasDisk: boolean;
  /** The machine ran: its network state was read and it was paused for the copy. */
  running: boolean;
  net?: NetState;
  /** mconsole stop → go, ms. */
  pauseMs?: number;
  /** Reading its network state (with the sync), ms. */
  readMs?: number;
  copy?: { method: CopyMethod; bytes: number };
}

export interface DiskRestoreRequest {
  machine: string;
  /** The saved disk, or undefined: the machine had no disk then (it starts from the lab files). */
  disk?: string;
  net?: NetState;
}

export interface NetRestoreReport {
  /** What was changed, one line each. */
  changes: string[];
  /** What still differs after applying (should be empty). */
  remaining: string[];
  error?: string;
  /** Scripts applied (0 when the boot already matched), and the time it all took, ms. */
  rounds?: number;
  ms?: number;
}

/** `<stateDir>/pending-net/<machine>.json`: a network state to apply at the machine's next boot. */
export function pendingNetPath(plan: GuestPlan): string {
  return join(dirname(dirname(plan.cow)), 'pending-net', `${basename(plan.cow, '.cow')}.json`);
}

export function writePendingNet(plan: GuestPlan, net: NetState | undefined): void {
  const file = pendingNetPath(plan);
  if (!net) {
    rmSync(file, { force: true });
    return;
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify(net), { mode: 0o600 });
  renameSync(temp, file);
}

const CAPTURE_TIMEOUT_MS = 60_000;

/** Until FRR's (or Quagga's) daemons answer: watchfrr says so once it started them all; else a vty socket. */
const FRR_WAIT = `i=0; while [ $i -lt 50 ]; do if [ -e /var/run/frr/watchfrr.pid ]; then [ -e /var/run/frr/watchfrr.started ] && break; else for s in /var/run/frr/*.vty /run/frr/*.vty /var/run/quagga/*.vty; do [ -S "$s" ] && break 2; done; fi; sleep 0.2; i=$((i+1)); done
`;

export interface RunningGuest {
  agent: GuestAgent;
  mconsole(command: string): Promise<string>;
}

/** Sync the guest's disk and read its network state: one exec. */
export async function readLiveState(machine: string, agent: GuestAgent): Promise<{ net: NetState; readMs: number }> {
  const started = Date.now();
  const result = await agent.exec(`sync\n${CAPTURE_SCRIPT}`, { timeoutMs: CAPTURE_TIMEOUT_MS });
  try {
    return { net: parseNetState(result.stdout), readMs: Date.now() - started };
  } catch (err) {
    throw new Error(`could not read the network state of ${machine}: ${(err as Error).message}${result.timedOut ? ' (timed out)' : ''}`);
  }
}

/**
 * Copy a machine's disk to `request.dest`. A running guest is paused (mconsole `stop`) for the copy
 * and let go (`go`) whatever happens; `live` is what readLiveState read just before.
 */
/** The copy goes to the page cache: the caller makes it durable with syncFiles (after the guest runs again). */
export async function saveMachineDisk(plan: GuestPlan, request: DiskSaveRequest, running: RunningGuest | undefined, live?: { net: NetState; readMs: number }): Promise<SavedDisk> {
  mkdirSync(dirname(request.dest), { recursive: true, mode: 0o700 });
  if (!running) {
    if (!existsSync(plan.cow)) return { machine: request.machine, hasDisk: false, running: false };
    return { machine: request.machine, hasDisk: true, running: false, copy: copyDisk(plan.cow, request.dest, { durable: false }) };
  }
  const { net, readMs } = live ?? (await readLiveState(request.machine, running.agent));
  const pauseStart = Date.now();
  await running.mconsole('stop');
  let copy: SavedDisk['copy'];
  try {
    // Written to the page cache while the guest waits; made durable once it runs again.
    copy = copyDisk(plan.cow, request.dest, { durable: false });
  } finally {
    await running.mconsole('go');
  }
  const pauseMs = Date.now() - pauseStart;
  return { machine: request.machine, hasDisk: true, running: true, net, pauseMs, readMs, copy };
}

/**
 * fsync the copies saveMachineDisk and restoreMachineDisk made (they write to the page cache, so that a
 * guest's pause and a restore's boot never wait for the disk), all at once.
 */
export async function syncFiles(paths: string[]): Promise<void> {
  await Promise.all(
    paths.map(async (path) => {
      const handle = await open(path, 'r').catch(() => undefined);
      if (!handle) return;
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    }),
  );
}

/** Only while the machine is down: its disk becomes the saved one (or none), its pending network state the saved one. The copy still needs syncFiles. */
export function restoreMachineDisk(plan: GuestPlan, request: DiskRestoreRequest): void {
  mkdirSync(dirname(plan.cow), { recursive: true, mode: 0o700 });
  if (request.disk) copyDisk(request.disk, plan.cow, { durable: false });
  else rmSync(plan.cow, { force: true });
  writePendingNet(plan, request.net);
}

/**
 * At boot, after the guest said ready: bring its network to the pending saved state, if there is one.
 * Reads what the boot made, applies the difference and reads again (one exec), at most three times
 * (writing a global sysctl resets per-interface ones). Never fails the boot: problems are reported.
 */
export async function applyPendingNet(plan: GuestPlan, agent: GuestAgent, progress: (message: string) => void): Promise<NetRestoreReport | undefined> {
  const file = pendingNetPath(plan);
  if (!existsSync(file)) return undefined;
  let saved: NetState;
  try {
    saved = JSON.parse(readFileSync(file, 'utf8')) as NetState;
    if (saved?.version !== 1 || !Array.isArray(saved.links)) throw new Error('not a network state');
  } catch (err) {
    rmSync(file, { force: true });
    progress(`${plan.name}: the saved network state could not be read (${(err as Error).message}); the machine keeps what it booted with`);
    return { changes: [], remaining: [], error: (err as Error).message };
  }
  const report: NetRestoreReport = { changes: [], remaining: [], rounds: 0 };
  const started = Date.now();
  try {
    const read = async (prefix = '') => {
      const r = await agent.exec(`${prefix}${CAPTURE_SCRIPT}`, { timeoutMs: CAPTURE_TIMEOUT_MS });
      const marker = r.stdout.indexOf('@@vnl ');
      const before = (marker < 0 ? r.stdout : r.stdout.slice(0, marker)).trim();
      return { state: parseNetState(r.stdout), output: before };
    };
    // Routing daemons started by the startup script may still be coming up: wait for them in the guest
    // (a host round trip per try would cost a whole read each time), at most 10 s.
    const waitFrr = saved.frr !== undefined ? FRR_WAIT : '';
    let current = (await read(waitFrr)).state;
    for (let round = 0; round < 3; round++) {
      const step = planNetRestore(saved, current);
      if (!step.script) break;
      if (round === 0) report.changes = step.changes;
      report.rounds = round + 1;
      // Read again afterwards only when something may have cascaded (a global sysctl resets per-interface
      // ones, a MAC change takes the link down): otherwise the script's own output says what failed.
      const verify = /printf '%s\\n'|address/.test(step.script) || round > 0;
      if (!verify) {
        const r = await agent.exec(step.script, { timeoutMs: CAPTURE_TIMEOUT_MS });
        const said = `${r.stdout}${r.stderr}`.trim();
        if (said) progress(`${plan.name}: restoring its network said: ${said.split('\n').slice(0, 5).join(' | ')}`);
        current = saved;
        break;
      }
      const after = await read(step.script);
      if (after.output) progress(`${plan.name}: restoring its network said: ${after.output.split('\n').slice(0, 5).join(' | ')}`);
      current = after.state;
    }
    report.remaining = planNetRestore(saved, current).changes;
    report.ms = Date.now() - started;
    if (report.remaining.length) progress(`${plan.name}: after the restore, still different: ${report.remaining.join('; ')}`);
  } catch (err) {
    report.error = (err as Error).message;
    progress(`${plan.name}: its saved network state could not be applied: ${report.error}`);
  }
  rmSync(file, { force: true });
  return report;
}
