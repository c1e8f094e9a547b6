// `vnetlab clean`: end everything a lab started and remove its run dir, working only from the on-disk
// records (so it works after the supervisor was killed with -9), through the one reaper (reaper.ts).
// Guest disks live in the state dir and are left alone: only `wipe` deletes them.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative } from 'node:path';
import { UserError } from '../errors.ts';
import { hostPaths, type HostPaths } from '../paths.ts';
import { assertPrivateDir, isPrivateDir } from './private-dir.ts';
import { tmpfsFolderPath } from './host-tmpfs.ts';
import { STAGING_PREFIX } from '../guest/labfs.ts';
import { isAlive, pidExists, readRecords, type ProcessRecord } from './records.ts';
import { reapRecorded } from './reaper.ts';
import { isLabRunDir, listRunDirs } from './run-dir.ts';
import { poolDir, poolDiskDir } from './pool/pool-files.ts';

export interface CleanReport {
  runDir: string;
  killed: { kind: string; name: string; pid: number }[];
  removed: string[];
}

export async function cleanRunDir(runDir: string, paths: HostPaths = hostPaths()): Promise<CleanReport> {
  const rel = relative(paths.runtimeRoot, runDir);
  // Records in a folder someone else could write to may name any process of ours: refuse (exit 3).
  assertPrivateDir(paths.runtimeRoot);
  assertPrivateDir(runDir);
  if (!rel || rel.startsWith('..') || isAbsolute(rel) || !isLabRunDir(runDir)) {
    throw new UserError(`refusing to clean ${runDir}: not a lab run dir inside ${paths.runtimeRoot}`);
  }
  return endRecorded(runDir);
}

/** Kill what a folder's records name, then remove the folder (its sockets, FIFOs and leftovers). */
async function endRecorded(runDir: string): Promise<CleanReport> {
  const records = readRecords(runDir);
  // Pulling the plug: the supervisor first, so it cannot start anything new; then guests, then the network.
  const killed = await reapRecorded(runDir, { how: 'kill' });
  const report: CleanReport = { runDir, killed: killed.map((r) => ({ kind: r.kind, name: r.name, pid: r.pid })), removed: [] };
  for (const r of records) report.removed.push(...r.sockets.filter((s) => existsSync(s)));
  removeRecordedMemoryFolders(records);
  // The whole run dir goes, with any `*.<pid>.tmp` a failed write (e.g. a full disk) left behind.
  if (existsSync(runDir)) {
    rmSync(runDir, { recursive: true, force: true });
    report.removed.push(runDir);
  }
  return report;
}

/** A guest's memory folder lives outside any run dir (/dev/shm/vnetlab-<uid>/<umid>): those its records name go too. */
export function removeRecordedMemoryFolders(records: ProcessRecord[]): void {
  for (const path of records.flatMap((r) => r.sockets)) if (isMemoryFolder(path)) rmSync(path, { recursive: true, force: true });
}

/** A guest's own memory folder, by its place: directly inside this user's `vnetlab-<uid>` folder. */
function isMemoryFolder(path: string): boolean {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return basename(dirname(path)) === `vnetlab-${uid}` && basename(path) !== '' && !path.includes('/../');
}

/** The warm pool (pool/): its process, its guests, their folders and throwaway disks. */
export async function cleanPool(paths: HostPaths = hostPaths()): Promise<CleanReport | undefined> {
  const dir = poolDir(paths);
  if (!existsSync(dir)) return undefined;
  assertPrivateDir(paths.runtimeRoot);
  assertPrivateDir(dir);
  const report = await endRecorded(dir);
  const disks = poolDiskDir(paths);
  if (existsSync(disks)) {
    rmSync(disks, { recursive: true, force: true });
    report.removed.push(disks);
  }
  return report;
}

/** The records of the pool's processes (read them before `pool down`: it removes them on its way out). */
export function poolRecords(paths: HostPaths = hostPaths()): ProcessRecord[] {
  const dir = poolDir(paths);
  return existsSync(dir) ? readRecords(dir) : [];
}

/**
 * Wait until the pool's processes (after `pool down`) are gone: those recorded before it was asked
 * (`known`: the pool removes its records a moment before it exits) and any recorded now, each with
 * what is left of its process group (UML helpers).
 */
export async function waitPoolGone(paths: HostPaths = hostPaths(), known: ProcessRecord[] = [], timeoutMs = 30_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (![...known, ...poolRecords(paths)].some(isAlive)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

export async function cleanAll(paths: HostPaths = hostPaths()): Promise<CleanReport[]> {
  const reports: CleanReport[] = [];
  // The pool first: labs take guests from it, and a lab being cleaned must not get a new one.
  const pool = await cleanPool(paths);
  if (pool) reports.push(pool);
  for (const dir of listRunDirs(paths)) reports.push(await cleanRunDir(dir, paths));
  const staging = removeAbandonedStaging();
  if (staging.length) reports.push({ runDir: dirname(staging[0]!), killed: [], removed: staging });
  return reports;
}

/** Lab-fs staging folders on the tmpfs whose building process is gone (killed mid-build): a build's own is never touched. */
export function removeAbandonedStaging(): string[] {
  const folder = tmpfsFolderPath();
  if (!isPrivateDir(folder)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(folder)) {
    const pid = name.startsWith(STAGING_PREFIX) ? Number.parseInt(name.slice(STAGING_PREFIX.length), 10) : NaN;
    if (!(pid > 0) || pidExists(pid)) continue;
    rmSync(join(folder, name), { recursive: true, force: true });
    removed.push(join(folder, name));
  }
  return removed;
}
