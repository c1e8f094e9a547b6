// Layout of a lab's run dir (0700): what the supervisor, the client and `clean` agree on.
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, join, resolve } from 'node:path';
import type { Plan } from '../../shared/plan.ts';
import { hostPaths, type HostPaths } from '../paths.ts';

export const runFiles = {
  socket: (runDir: string) => join(runDir, 'supervisor.sock'),
  plan: (runDir: string) => join(runDir, 'plan.json'),
  log: (runDir: string) => join(runDir, 'supervisor.log'),
  lock: (runDir: string) => join(runDir, 'supervisor.lock'),
};

export function readRunPlan(runDir: string): Plan | undefined {
  try {
    return JSON.parse(readFileSync(runFiles.plan(runDir), 'utf8')) as Plan;
  } catch {
    return undefined;
  }
}

/** A lab id: `<name>-<8 hex>` (src/main/paths.ts). */
const LAB_ID = /^[a-z0-9][a-z0-9-]{0,15}-[0-9a-f]{8}$/;

/**
 * Every run dir of this user (one per lab that runs or ran and was not cleaned). Only folders that are
 * provably ours count — a lab id name AND a plan or records inside — because the runtime root may be a
 * shared folder such as $XDG_RUNTIME_DIR, and `clean --all` deletes what this returns.
 */
export function listRunDirs(paths: HostPaths = hostPaths()): string[] {
  try {
    return readdirSync(paths.runtimeRoot)
      .map((name) => join(paths.runtimeRoot, name))
      .filter(isLabRunDir)
      .sort();
  } catch {
    return [];
  }
}

export function isLabRunDir(dir: string): boolean {
  return LAB_ID.test(basename(dir)) && (existsSync(runFiles.plan(dir)) || existsSync(join(dir, 'records')));
}

/**
 * The run dir of the lab in `labRoot`, or of the lab with that id. A lab id ends with a hash of the
 * lab's absolute folder (src/main/paths.ts), so the folder alone finds it without reading the lab.
 */
export function findRunDir(labRootOrId: string, paths: HostPaths = hostPaths()): string | undefined {
  const dirs = listRunDirs(paths);
  const byId = dirs.find((d) => d === join(paths.runtimeRoot, labRootOrId));
  if (byId && !labRootOrId.includes('/')) return byId;
  // The same folder may be reached through a symlink: try the path as given and its real path.
  const candidates = [...new Set([resolve(labRootOrId), realPath(labRootOrId)].filter((p): p is string => !!p))];
  for (const abs of candidates) {
    const hash = createHash('sha256').update(abs).digest('hex').slice(0, 8);
    const found = dirs.find((d) => d.endsWith(`-${hash}`) && (readRunPlan(d)?.lab.root ?? abs) === abs);
    if (found) return found;
  }
  return undefined;
}

function realPath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/** Remove every Unix socket and FIFO under a run dir (the supervisor does it on exit); returns them. */
export function removeSockets(dir: string): string[] {
  const sockets = listSockets(dir);
  for (const path of sockets) rmSync(path, { force: true });
  return sockets;
}

/** Sockets and FIFOs still present under a run dir. */
export function listSockets(dir: string): string[] {
  const found: string[] = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return found;
  }
  for (const name of entries) {
    const path = join(dir, name);
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) found.push(...listSockets(path));
    else if (st.isSocket() || st.isFIFO()) found.push(path);
  }
  return found;
}
