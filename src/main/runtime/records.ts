// On-disk records of every process a lab started: one JSON file per process in `<runDir>/records/`.
// They are written right after spawn, before the supervisor relies on the process, so that
// `vnetlab clean` can find and end everything even after the supervisor was killed with -9.
// A pid alone is not proof of identity (pids are reused), so each record also carries the process's
// start time from /proc/<pid>/stat, and nothing is signalled unless it still matches.
import { existsSync, linkSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeRunFile } from './disk-space.ts';
import { assertPrivateDir, ensurePrivateDir, isTrustedFile } from './private-dir.ts';

/**
 * `supervisor`: a lab's; `pool`: the warm pool's process (pool/pool-main.ts); `port`: a cable's port hub;
 * `wire`: a cable's wirefilter; `capture`: a capture's vde_plug.
 */
export type ProcessKind = 'supervisor' | 'pool' | 'switch' | 'host-nat' | 'guest' | 'port' | 'wire' | 'capture';

export interface ProcessRecord {
  kind: ProcessKind;
  /** Machine or collision-domain name ('supervisor' for the supervisor). */
  name: string;
  pid: number;
  /** Process group to signal: every process here is started as a group leader. */
  pgid: number;
  argv: string[];
  /** Field 22 of /proc/<pid>/stat (clock ticks since host boot): defends against pid reuse. */
  startTime: string;
  /** Unix sockets and FIFOs this process owns, removed by `clean`. */
  sockets: string[];
  /** A guest's management socket: how a guest left running is shut down gracefully (reaper.ts). */
  mconsole?: string;
  recordedAt: string;
}

export function recordsDir(runDir: string): string {
  return join(runDir, 'records');
}

function recordFile(runDir: string, kind: ProcessKind, name: string): string {
  return join(recordsDir(runDir), `${kind}-${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`);
}

/** Start time of a live process, or undefined when there is no such process. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
    const afterName = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return afterName[19]; // field 22 overall = index 19 after fields 1–2
  } catch {
    return undefined;
  }
}

/** Process group of a live process, or undefined. */
export function processGroup(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return undefined;
  }
}

export function writeRecord(runDir: string, record: Omit<ProcessRecord, 'startTime' | 'recordedAt'> & { startTime?: string }): ProcessRecord {
  const full: ProcessRecord = {
    ...record,
    startTime: record.startTime ?? processStartTime(record.pid) ?? '',
    recordedAt: new Date().toISOString(),
  };
  ensurePrivateDir(recordsDir(runDir));
  writeRunFile(recordFile(runDir, record.kind, record.name), `${JSON.stringify(full, null, 2)}\n`);
  return full;
}

export function removeRecord(runDir: string, kind: ProcessKind, name: string): void {
  rmSync(recordFile(runDir, kind, name), { force: true });
}

/**
 * The records of a run dir. `clean` signals what they name, so they are read only from folders that
 * are ours alone (a planted folder throws an EnvironmentError) and only from files of ours.
 */
export function readRecords(runDir: string): ProcessRecord[] {
  assertPrivateDir(runDir);
  assertPrivateDir(recordsDir(runDir));
  let names: string[];
  try {
    names = readdirSync(recordsDir(runDir)).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  const records: ProcessRecord[] = [];
  for (const name of names.sort()) {
    if (!isTrustedFile(join(recordsDir(runDir), name))) continue; // not written by us: never act on it
    try {
      records.push(JSON.parse(readFileSync(join(recordsDir(runDir), name), 'utf8')) as ProcessRecord);
    } catch {
      // A torn or foreign file: nothing we can safely act on.
    }
  }
  return records;
}

/** True when the recorded process is still the one we started (same pid AND same start time). */
export function isRecordedProcessAlive(record: Pick<ProcessRecord, 'pid' | 'startTime'>): boolean {
  if (!record.pid || !record.startTime) return false;
  return processStartTime(record.pid) === record.startTime;
}

/** Whether the recorded process has exited: gone, or a zombie (only its parent's wait is missing). */
export function hasExited(record: Pick<ProcessRecord, 'pid' | 'startTime'>): boolean {
  return !isRecordedProcessAlive(record) || processState(record.pid) === 'Z';
}

/** The state letter of a process (R, S, D, Z…), or undefined once it is gone. */
export function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** Whether a recorded process (or what is left of its group) still runs. */
export function isAlive(r: ProcessRecord): boolean {
  return isRecordedProcessAlive(r) || (r.pgid > 0 && r.pgid === r.pid && !existsSync(`/proc/${r.pid}`) && groupHasMembers(r.pgid));
}

/**
 * Signal a recorded process and its group, only if it is still the process we started.
 * Returns whether anything was signalled.
 */
export function signalRecorded(record: ProcessRecord, signal: NodeJS.Signals): boolean {
  if (!isRecordedProcessAlive(record)) {
    // The leader may be gone while members of its group live on (UML helpers). Linux never hands out
    // a pid still in use as a group id, so a group with that id and no new leader is still ours.
    const leaderReused = record.pgid === record.pid && processStartTime(record.pid) !== undefined;
    return record.pgid > 0 && !leaderReused && groupHasMembers(record.pgid) && trySignal(-record.pgid, signal);
  }
  const groupIsOurs = record.pgid > 0 && processGroup(record.pid) === record.pgid;
  return trySignal(groupIsOurs ? -record.pgid : record.pid, signal);
}

/** Sends a signal (to a process group: a negative target); false when there is no such process (any more). */
export function trySignal(target: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(target, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether any process on the host is still in this process group (a zombie counts): signal 0 to the
 * group asks the kernel, in one call. It once walked /proc, which with 500 guests (~3,000 processes)
 * made each guest's exit read 3,000 files: 7.6 s of a 500-guest stop blocked the supervisor.
 */
/** Whether a process with this pid exists (ours or not: EPERM still means it runs). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function groupHasMembers(pgid: number): boolean {
  if (!(pgid > 1)) return false;
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    // EPERM: the group exists, but its processes are not ours to signal.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the process with this pid is still the one that started at `startTime`. */
export function isSameProcess(pid: number, startTime: string): boolean {
  return !!pid && !!startTime && processStartTime(pid) === startTime;
}

/**
 * Creates `path` holding `content`, or returns false when it exists. The file appears whole: it is
 * written under a name of our own and linked into place, so no reader ever sees it empty (an empty
 * lock read as "its writer died" let two supervisors of one lab both take it).
 */
export function createWhole(path: string, content: string): boolean {
  const tmp = `${path}.${process.pid}.${Date.now().toString(36)}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Whether the process that holds a takeProcessLock lock file is still running (pid and start time). */
export function lockHolderAlive(file: string): boolean {
  try {
    const owner = JSON.parse(readFileSync(file, 'utf8')) as { pid: number; startTime: string };
    return isSameProcess(owner.pid, owner.startTime);
  } catch {
    return false;
  }
}

/**
 * One daemon per folder (a lab's supervisor, the pool): a lock file holding our pid and start time.
 * A lock whose process is gone (or that cannot be read) is taken over: moved aside under a name of our
 * own first, so two takers cannot both remove and replace it; if what was moved aside turns out to be
 * a live owner's lock (taken meanwhile), it is put back and we lose.
 */
export function takeProcessLock(lock: string): boolean {
  const mine = JSON.stringify({ pid: process.pid, startTime: processStartTime(process.pid) });
  const ownerAlive = lockHolderAlive;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (createWhole(lock, mine)) return true;
    if (ownerAlive(lock)) return false;
    const aside = `${lock}.${process.pid}.stale`;
    try {
      renameSync(lock, aside);
    } catch {
      continue; // another taker moved it first: look again
    }
    if (ownerAlive(aside)) {
      try {
        linkSync(aside, lock);
      } catch {
        // someone holds it again already
      }
      rmSync(aside, { force: true });
      return false;
    }
    rmSync(aside, { force: true });
  }
  return false;
}
