// What a sandboxed program must be allowed to read and execute: itself and the shared libraries it
// loads. `ldd` answers that by running the dynamic loader, ~15 ms a program; a lab's start asks it for
// a dozen (the kernel, vde_switch, wirefilter, vde_plug, every vdeplug plugin): ~110 ms on the path of
// every start before a guest could boot. The answers are kept in the user's cache, and one is used only
// while the program and every file it names still have the size, mtime and inode they had (a package
// upgrade replaces files, so it misses, and ldd runs again).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDirOf } from '../paths.ts';

interface Entry {
  files: string[];
  /** fingerprint of each file (the program first) when ldd was run */
  prints: string[];
}

const CACHE_FILE = 'program-files-v1.json';
const known = new Map<string, string[]>();
let onDisk: Record<string, Entry> | undefined;

/** A program and the shared libraries it loads (from `ldd`; the libraries' real files too). */
export function programFiles(program: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const seen = known.get(program);
  if (seen) return seen;
  const cache = readCache(env);
  const entry = cache[program];
  if (entry && entry.files[0] === program && entry.files.every((file, i) => fingerprint(file) === entry.prints[i])) {
    known.set(program, entry.files);
    return entry.files;
  }
  const files = lddFiles(program);
  known.set(program, files);
  const prints = files.map(fingerprint);
  if (prints.every((p) => p !== undefined)) {
    cache[program] = { files, prints: prints as string[] };
    writeCache(env, cache);
  }
  return files;
}

function lddFiles(program: string): string[] {
  const files = [program];
  try {
    const out = execFileSync('ldd', [program], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
    for (const line of out.split('\n')) {
      const path = /=>\s*(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)\s+\(/.exec(line)?.[1];
      if (path && existsSync(path)) files.push(path, realpathSync(path));
    }
  } catch {
    // a static program (ldd exits 1: "not a dynamic executable") needs nothing more
  }
  return [...new Set(files)];
}

function fingerprint(file: string): string | undefined {
  try {
    const st = statSync(file);
    return `${st.size}:${st.mtimeMs}:${st.ino}`;
  } catch {
    return undefined;
  }
}

function readCache(env: NodeJS.ProcessEnv): Record<string, Entry> {
  if (onDisk) return onDisk;
  onDisk = {};
  const file = join(cacheDirOf(env), CACHE_FILE);
  try {
    // Its paths widen a sandbox: only a file of our own counts, and only well-formed entries.
    if (statSync(file).uid !== process.getuid?.()) return onDisk;
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Entry>;
    for (const [program, e] of Object.entries(parsed)) {
      const wellFormed = Array.isArray(e?.files) && Array.isArray(e.prints) && e.files.length === e.prints.length && e.files.every((f) => typeof f === 'string' && f.startsWith('/'));
      if (wellFormed && program.startsWith('/')) onDisk[program] = e;
    }
  } catch {
    // none yet, or unreadable: ldd answers, and the cache is written anew
  }
  return onDisk;
}

function writeCache(env: NodeJS.ProcessEnv, cache: Record<string, Entry>): void {
  const dir = cacheDirOf(env);
  const file = join(dir, CACHE_FILE);
  const partial = `${file}.${process.pid}.partial`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(partial, JSON.stringify(cache), { mode: 0o600 });
    renameSync(partial, file);
  } catch {
    // a read-only cache: every start asks ldd, as before
  }
}

/** Forget what this process learnt (tests). */
export function forgetProgramFiles(): void {
  known.clear();
  onDisk = undefined;
}
