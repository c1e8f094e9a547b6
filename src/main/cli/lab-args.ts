// The CLI's shared flags and arguments (start, status, connect, exec, stop, crash, restart, wipe,
// clean, check…): `--lab`, `--unconfined`, `--timeout`, and which lab `[LAB] [MACHINE…]` means.
// What a lab path means to the runtime (its run dir, its supervisor) is runtime/lab-target.ts.
import { existsSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { UserError } from '../errors.ts';
import { hostPaths } from '../paths.ts';
import { UNCONFINED_ENV } from '../runtime/confinement.ts';
import { labFolder } from '../runtime/lab-target.ts';
import { findRunDir } from '../runtime/run-dir.ts';

/** `--unconfined`: start without the sandbox (docs/security.md); the supervisor inherits the choice through the environment. */
export const UNCONFINED_FLAG = {
  type: 'boolean',
  description: 'run the lab WITHOUT the sandbox that keeps guests away from your files (only on a host without Landlock, for a lab you trust; same as VNETLAB_UNCONFINED=1)',
} as const;

export function applyUnconfinedFlag(flag: unknown, env: NodeJS.ProcessEnv): void {
  if (flag === true) env[UNCONFINED_ENV] = '1';
}

export const LAB_FLAG = { type: 'string', short: 'l', description: 'the lab folder (default: the current folder)', valueName: 'LAB' } as const;

function looksLikeLab(path: string): boolean {
  if (!existsSync(path)) return false;
  if (statSync(path).isDirectory()) return existsSync(resolve(path, 'lab.yaml')) || existsSync(resolve(path, 'lab.conf'));
  return /^lab\.(ya?ml|conf)$/.test(basename(path)) || /\.ya?ml$/.test(path);
}

/** A machine name or a running lab's id (src/main/lab/limits.ts MACHINE_NAME, src/main/paths.ts labIdFor). */
const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * Split `[LAB] [names…]`: the first positional is the lab when it is a lab folder or lab file (or a
 * running lab's id), otherwise the lab is `--lab` or the current folder. A first positional that cannot
 * be a machine name (`/x`, `../lab`, `notes.txt`) was meant as a lab: when it is not one, say why
 * (exit 2) instead of taking it for a machine of the lab in the current folder.
 */
export function resolveLab(positionals: string[], labFlag: unknown, cwd: string, env: NodeJS.ProcessEnv, allowLabPositional = true): { labPath: string; rest: string[] } {
  if (typeof labFlag === 'string') {
    const labPath = resolve(cwd, labFlag);
    // A lab folder deleted (or emptied) while its lab runs may still be stopped or cleaned by its path.
    if (!looksLikeLab(labPath) && !findRunDir(labFolder(labPath), hostPaths(env))) throw notALab(labFlag, labPath);
    return { labPath, rest: positionals };
  }
  const first = positionals[0];
  if (allowLabPositional && first !== undefined) {
    const candidate = resolve(cwd, first);
    const isRunningId = !first.includes('/') && !existsSync(candidate) && findRunDir(first, hostPaths(env)) !== undefined;
    if (looksLikeLab(candidate) || isRunningId) return { labPath: isRunningId ? first : candidate, rest: positionals.slice(1) };
    if (!NAME.test(first)) {
      // A deleted lab folder whose lab still runs is still that lab.
      if (!existsSync(candidate) && findRunDir(candidate, hostPaths(env))) return { labPath: candidate, rest: positionals.slice(1) };
      // Folders that are not labs stay positionals: `check --submissions` takes them (machinesOnly refuses them).
      if (!existsSync(candidate) || !statSync(candidate).isDirectory()) throw notALab(first, candidate);
    }
  }
  return { labPath: cwd, rest: positionals };
}

/** Refuse positionals that cannot be machine names (a path that is not a lab, a typo): exit 2 with why. */
export function machinesOnly(names: string[], cwd: string): string[] {
  for (const name of names) if (!NAME.test(name)) throw notALab(name, resolve(cwd, name));
  return names;
}

/** Why a path given as the lab is not one. */
export function notALab(given: string, abs: string): UserError {
  if (!existsSync(abs)) {
    const what = given.includes('/') || given.startsWith('.') ? 'no such file or folder' : 'no such file or folder, and not a machine name (lowercase letters, digits, - and _)';
    return new UserError(`${given}: ${what} (${abs})`, 2, 'give the folder of a lab (with lab.yaml or lab.conf), or run the command inside it');
  }
  if (statSync(abs).isDirectory()) return new UserError(`${abs} is not a lab: it has neither lab.yaml nor lab.conf`, 2, 'give the folder of a lab, or run the command inside it');
  return new UserError(`${abs} is a file, not a lab: a lab is a folder with lab.yaml or lab.conf (or that file itself)`, 2, 'give the folder of a lab, or run the command inside it');
}

/** Parse a `--timeout` in seconds. */
export function parseSeconds(value: unknown, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UserError(`--${flag} must be a positive number of seconds, not '${String(value)}'`);
  return n;
}

/** Quote words for /bin/sh so `exec pc1 -- echo 'a b'` runs what the user typed. */
export function shellJoin(words: string[]): string {
  if (words.length === 1) return words[0]!; // one word: the user already wrote a shell command
  return words.map((w) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(' ');
}
