// Shared by the runtime's CLI commands (start, status, connect, exec, stop, crash, restart, wipe,
// clean, list): which lab a command means, and reaching its supervisor.
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { UserError } from '../errors.ts';
import { hostPaths } from '../paths.ts';
import { connectRunDir, type SupervisorClient } from './client.ts';
import { findRunDir } from './run-dir.ts';

export { waitSupervisorGone } from './client.ts';

export const LAB_FLAG = { type: 'string', short: 'l', description: 'the lab folder (default: the current folder)', valueName: 'LAB' } as const;

function looksLikeLab(path: string): boolean {
  if (!existsSync(path)) return false;
  if (statSync(path).isDirectory()) return existsSync(resolve(path, 'lab.yaml')) || existsSync(resolve(path, 'lab.conf'));
  return /^lab\.(ya?ml|conf)$/.test(basename(path)) || /\.ya?ml$/.test(path);
}

/**
 * Split `[LAB] [names…]`: the first positional is the lab when it is a lab folder or lab file (or a
 * running lab's id), otherwise the lab is `--lab` or the current folder.
 */
export function resolveLab(positionals: string[], labFlag: unknown, cwd: string, env: NodeJS.ProcessEnv, allowLabPositional = true): { labPath: string; rest: string[] } {
  if (typeof labFlag === 'string') return { labPath: resolve(cwd, labFlag), rest: positionals };
  const first = positionals[0];
  if (allowLabPositional && first !== undefined) {
    const candidate = resolve(cwd, first);
    const isRunningId = !first.includes('/') && !existsSync(candidate) && findRunDir(first, hostPaths(env)) !== undefined;
    if (looksLikeLab(candidate) || isRunningId) return { labPath: isRunningId ? first : candidate, rest: positionals.slice(1) };
  }
  return { labPath: cwd, rest: positionals };
}

/** The folder a lab path names (a lab.yaml/lab.conf file stands for its folder). */
export function labFolder(labPath: string): string {
  return existsSync(labPath) && statSync(labPath).isFile() ? dirname(labPath) : labPath;
}

export function runDirOf(labPath: string, env: NodeJS.ProcessEnv): string | undefined {
  return findRunDir(labFolder(labPath), hostPaths(env));
}

/** Connect to a running lab, or explain that it is not running. */
export async function requireSupervisor(labPath: string, env: NodeJS.ProcessEnv): Promise<SupervisorClient> {
  const runDir = runDirOf(labPath, env);
  const client = runDir ? await connectRunDir(runDir) : undefined;
  if (!client) {
    throw new UserError(`the lab in ${labFolder(labPath)} is not running`, 1, runDir ? `start it with: vnetlab start, or remove leftovers with: vnetlab clean` : 'start it with: vnetlab start');
  }
  return client;
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
