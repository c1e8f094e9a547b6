// `vnetlab clean`: end everything a lab started and remove its run dir, working only from the on-disk
// records (so it works after the supervisor was killed with -9). A process is signalled only while its
// pid still has the recorded start time; nothing is ever looked up or killed by name.
// Guest disks live in the state dir and are left alone: only `wipe` deletes them.
import { existsSync, rmSync } from 'node:fs';
import { relative, isAbsolute } from 'node:path';
import { UserError } from '../errors.ts';
import { hostPaths, type HostPaths } from '../paths.ts';
import { assertPrivateDir } from './private-dir.ts';
import { groupHasMembers, isRecordedProcessAlive, readRecords, signalRecorded, type ProcessRecord } from './records.ts';
import { isLabRunDir, listRunDirs } from './run-dir.ts';

export interface CleanReport {
  runDir: string;
  killed: { kind: string; name: string; pid: number }[];
  removed: string[];
}

const KILL_ORDER: ProcessRecord['kind'][] = ['supervisor', 'guest', 'capture', 'wire', 'port', 'host-nat', 'switch'];

/** Whether a recorded process (or what is left of its group) still runs. */
export function isAlive(r: ProcessRecord): boolean {
  return isRecordedProcessAlive(r) || (r.pgid > 0 && r.pgid === r.pid && !pidInUse(r.pid) && groupHasMembers(r.pgid));
}

function pidInUse(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

export async function cleanRunDir(runDir: string, paths: HostPaths = hostPaths()): Promise<CleanReport> {
  const rel = relative(paths.runtimeRoot, runDir);
  // Records in a folder someone else could write to may name any process of ours: refuse (exit 3).
  assertPrivateDir(paths.runtimeRoot);
  assertPrivateDir(runDir);
  if (!rel || rel.startsWith('..') || isAbsolute(rel) || !isLabRunDir(runDir)) {
    throw new UserError(`refusing to clean ${runDir}: not a lab run dir inside ${paths.runtimeRoot}`);
  }
  const report: CleanReport = { runDir, killed: [], removed: [] };
  const records = readRecords(runDir).sort((a, b) => KILL_ORDER.indexOf(a.kind) - KILL_ORDER.indexOf(b.kind));
  // The supervisor first, so it cannot start anything new; then guests (pulling the plug), then switches.
  for (const r of records) {
    if (!isAlive(r)) continue;
    if (signalRecorded(r, 'SIGKILL')) report.killed.push({ kind: r.kind, name: r.name, pid: r.pid });
  }
  const deadline = Date.now() + 5_000;
  while (records.some(isAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const r of records) for (const s of r.sockets) if (existsSync(s)) report.removed.push(s);
  // The whole run dir goes, with any `*.<pid>.tmp` a failed write (e.g. a full disk) left behind.
  if (existsSync(runDir)) {
    rmSync(runDir, { recursive: true, force: true });
    report.removed.push(runDir);
  }
  return report;
}

export async function cleanAll(paths: HostPaths = hostPaths()): Promise<CleanReport[]> {
  const reports: CleanReport[] = [];
  for (const dir of listRunDirs(paths)) reports.push(await cleanRunDir(dir, paths));
  return reports;
}
