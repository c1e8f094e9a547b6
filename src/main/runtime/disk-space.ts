// Free space on the folders a lab writes to. With the state dir full a guest's writes fail inside it
// (it panics, or loses data while looking healthy); with the run dir full the run files cannot be
// written. So a start refuses below a floor, `status` warns, and ENOSPC becomes a message naming the
// folder instead of "internal error".
import { renameSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Plan } from '../../shared/plan.ts';
import { EnvironmentError } from '../errors.ts';

const MiB = 1024 * 1024;

/** Floors in MiB; the env variables override them (tests, small machines). */
const FLOORS = {
  // Guest disks are sparse COW files that grow with what students install and write.
  state: { env: 'VNETLAB_MIN_FREE_STATE_MB', defaultMiB: 200, what: 'the state dir (guest disks)', moveHint: 'VNETLAB_STATE_DIR' },
  // plan.json, records, logs, the lab-fs image (a few MB at most).
  run: { env: 'VNETLAB_MIN_FREE_RUN_MB', defaultMiB: 16, what: 'the run dir (sockets, logs, lab-fs image)', moveHint: 'VNETLAB_RUNTIME_DIR' },
} as const;

type Role = keyof typeof FLOORS;

/** Bytes available to us on the filesystem holding `path` (or its nearest existing parent). */
export function freeBytes(path: string): number | undefined {
  for (let p = path; ; p = dirname(p)) {
    try {
      const st = statfsSync(p);
      return st.bavail * st.bsize;
    } catch {
      if (dirname(p) === p) return undefined;
    }
  }
}

function floorBytes(role: Role, env: NodeJS.ProcessEnv): number {
  const raw = env[FLOORS[role].env];
  const mib = raw !== undefined && raw !== '' && Number.isFinite(Number(raw)) && Number(raw) >= 0 ? Number(raw) : FLOORS[role].defaultMiB;
  return mib * MiB;
}

function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(bytes < 10 * MiB ? 1 : 0)} MiB`;
}

/** A message when `dir` has less free space than its floor, else undefined. */
export function spaceShortage(dir: string, role: Role, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const free = freeBytes(dir);
  const floor = floorBytes(role, env);
  if (free === undefined || free >= floor) return undefined;
  return `${FLOORS[role].what} ${dir} has only ${mib(free)} free; a lab needs at least ${mib(floor)} there`;
}

/** Refuse a start (exit 3) when the state dir or the run dir is (nearly) full. */
export function checkStartSpace(plan: Pick<Plan, 'runDir' | 'stateDir'>, env: NodeJS.ProcessEnv = process.env): void {
  for (const [dir, role] of [[plan.stateDir, 'state'], [plan.runDir, 'run']] as const) {
    const shortage = spaceShortage(dir, role, env);
    if (shortage) {
      throw new EnvironmentError(
        `not enough disk space: ${shortage}`,
        `free some space on that filesystem, or set ${FLOORS[role].moveHint} to a folder on another one (${FLOORS[role].env}=<MiB> changes the limit)`,
      );
    }
  }
}

/** The warning `status` prints while a lab runs on a (nearly) full state dir, or undefined. */
export function stateSpaceWarning(stateDir: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const shortage = spaceShortage(stateDir, 'state', env);
  return shortage ? `warning: ${shortage}; guests writing to their disks may fail or lose data. Free some space.` : undefined;
}

export function isNoSpace(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException | undefined;
  return e?.code === 'ENOSPC' || e?.code === 'EDQUOT' || /No space left on device|Disk quota exceeded/.test(String(e?.message ?? ''));
}

export function noSpaceError(dir: string): EnvironmentError {
  const free = freeBytes(dir);
  return new EnvironmentError(
    `the disk holding ${dir} is full${free !== undefined ? ` (${mib(free)} free)` : ''}: vnetlab could not write its files there`,
    'free some space on that filesystem and run the command again (vnetlab clean removes what a failed start left)',
  );
}

/**
 * A run or state file of ours (a plan, a record, an intent): written through `<file>.<pid>.tmp` + rename,
 * 0600; on failure the tmp file is removed and ENOSPC is explained. (Files of the user's, a lab's, are
 * written by lab/atomic.ts writeFileAtomic.)
 */
export function writeRunFile(file: string, content: string, mode = 0o600): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, content, { mode });
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    if (isNoSpace(err)) throw noSpaceError(dirname(file));
    throw err;
  }
}
