// Lab paths are relative to the lab folder and may never leave it: nothing in a lab may read host
// files. This is the lexical rule; files.ts also resolves symlinks on disk.
import { isAbsolute, normalize, posix, relative, resolve, sep } from 'node:path';

/** Why `labPath` would leave the lab folder, or undefined when it stays inside. */
export function labPathProblem(labPath: string): string | undefined {
  if (labPath.includes('\0')) return 'it contains a NUL character';
  if (isAbsolute(labPath) || /^[A-Za-z]:[\\/]/.test(labPath)) return 'it is an absolute path';
  const parts = labPath.split(/[\\/]+/);
  let depth = 0;
  for (const part of parts) {
    if (part === '..') depth--;
    else if (part !== '.' && part !== '') depth++;
    if (depth < 0) return "it goes up out of the lab folder with '..'";
  }
  return undefined;
}

/** True when `absolutePath` is `root` or inside it. */
export function isInside(root: string, absolutePath: string): boolean {
  const rel = relative(resolve(root), resolve(absolutePath));
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/** Why a guest path is unusable, or undefined. */
export function guestPathProblem(guestPath: string): string | undefined {
  if (!guestPath.startsWith('/')) return 'a guest path must be absolute (start with /)';
  if (guestPath.includes('\0')) return 'it contains a NUL character';
  if (guestPath.split('/').includes('..')) return "it contains '..'";
  return undefined;
}

/** A lab path in the one spelling we store: forward slashes, no `./`, no trailing slash. */
export function cleanLabPath(labPath: string): string {
  return posix.normalize(normalize(labPath).split(sep).join('/')).replace(/^\.\//, '').replace(/\/+$/, '') || '.';
}
