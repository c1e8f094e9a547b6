// Layout of a lab's run dir (0700): what the supervisor, the client and `clean` agree on.
import { readdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
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

/** Every run dir of this user (one per lab that runs or ran and was not cleaned). */
export function listRunDirs(paths: HostPaths = hostPaths()): string[] {
  try {
    return readdirSync(paths.runtimeRoot, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => join(paths.runtimeRoot, e.name))
      .sort();
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
  const abs = resolve(labRootOrId);
  const hash = createHash('sha256').update(abs).digest('hex').slice(0, 8);
  return dirs.find((d) => d.endsWith(`-${hash}`) && (readRunPlan(d)?.lab.root ?? abs) === abs);
}
