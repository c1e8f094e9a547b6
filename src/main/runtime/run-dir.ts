// Layout of a lab's run dir (0700): what the supervisor, the client and `clean` agree on.
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import type { Plan } from '../../shared/plan.ts';
import { EnvironmentError } from '../errors.ts';
import { hostPaths, type HostPaths } from '../paths.ts';
import { assertPrivateDir, ensurePrivateDir, isPrivateDir, isTrustedFile } from './private-dir.ts';
import { lockHolderAlive } from './records.ts';

export const runFiles = {
  socket: (runDir: string) => join(runDir, 'supervisor.sock'),
  plan: (runDir: string) => join(runDir, 'plan.json'),
  log: (runDir: string) => join(runDir, 'supervisor.log'),
  lock: (runDir: string) => join(runDir, 'supervisor.lock'),
  /** Held (O_EXCL, our pid inside) by the one start that spawns the supervisor; the others wait for it. */
  spawning: (runDir: string) => join(runDir, 'supervisor.spawning'),
};

/**
 * Create a lab's run dir and the runtime root above it (`<runtimeRoot>/<labId>`), each 0700 and
 * checked: a planted root is refused (src/main/runtime/private-dir.ts).
 */
export function ensureRunDir(runDir: string, paths: HostPaths = hostPaths()): void {
  if (dirname(resolve(runDir)) === resolve(paths.runtimeRoot)) ensurePrivateDir(paths.runtimeRoot, { checkParents: true });
  ensurePrivateDir(runDir);
}

/** The plan in a run dir, or undefined when there is none. A plan someone else could have written is refused: its argv would be run. */
export function readRunPlan(runDir: string): Plan | undefined {
  assertPrivateDir(runDir);
  const file = runFiles.plan(runDir);
  if (!existsSync(file)) return undefined;
  if (!isTrustedFile(file)) throw new EnvironmentError(`refusing to read ${file}: it is not a file of yours that only you can write`, `remove it and run the command again`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Plan;
  } catch {
    return undefined;
  }
}

/** A lab id: `<name>-<8 hex>` (src/main/paths.ts). */
const LAB_ID = /^[a-z0-9][a-z0-9-]{0,15}-[0-9a-f]{8}$/;

/**
 * Every run dir of this user (one per lab that runs or ran and was not cleaned). Only folders that are
 * provably ours count — a lab id name, owned by us and writable by nobody else, with a plan or records
 * inside — because `clean --all` deletes what this returns and signals what its records name.
 */
export function listRunDirs(paths: HostPaths = hostPaths()): string[] {
  // A root that someone else owns or can write to is refused outright (exit 3), not skipped quietly.
  assertPrivateDir(paths.runtimeRoot);
  try {
    return readdirSync(paths.runtimeRoot)
      .map((name) => join(paths.runtimeRoot, name))
      .filter(isLabRunDir)
      .sort();
  } catch {
    return [];
  }
}

/** A run dir needs a lab id name, to be our private folder, and to hold something a start leaves. */
export function isLabRunDir(dir: string): boolean {
  return LAB_ID.test(basename(dir)) && isPrivateDir(dir) && (existsSync(runFiles.plan(dir)) || existsSync(join(dir, 'records')) || staleTmpFiles(dir).length > 0);
}

/** `plan.json.<pid>.tmp` and the like, left when a write failed half-way (e.g. a full disk). */
export function staleTmpFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => /\.\d+\.tmp$/.test(n)).map((n) => join(dir, n));
  } catch {
    return [];
  }
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
    const found = dirs.filter((d) => d.endsWith(`-${hash}`) && (readRunPlan(d)?.lab.root ?? abs) === abs);
    if (found.length) return mostAlive(found);
  }
  return undefined;
}

/**
 * One folder may have several run dirs: its lab was renamed (the id holds the name) after a run that
 * was killed. The one whose supervisor runs is the lab; else the one last written.
 */
function mostAlive(dirs: string[]): string {
  if (dirs.length === 1) return dirs[0]!;
  const running = dirs.find((d) => lockHolderAlive(runFiles.lock(d)));
  if (running) return running;
  const written = (d: string) => lstatSync(runFiles.plan(d), { throwIfNoEntry: false })?.mtimeMs ?? lstatSync(d).mtimeMs;
  return [...dirs].sort((a, b) => written(b) - written(a))[0]!;
}

function realPath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/** Remove every Unix socket and FIFO under a run dir but `keep` (the supervisor does it on exit); returns them. */
export function removeSockets(dir: string, keep: string[] = []): string[] {
  const sockets = listSockets(dir).filter((path) => !keep.includes(path));
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

/**
 * Set by the command that spawns a supervisor to the number of a pipe it gave it: the supervisor writes a
 * line there once it listens, so the command connects at once instead of at its next look (every 50 ms).
 */
export const READY_FD_ENV = 'VNETLAB_READY_FD';
