// Folders only this user may write to. The runtime root may live in a shared place ($TMPDIR is
// world-writable), so another local user could create `vnetlab-<uid>` first and plant records (which
// `clean` would signal) or a plan (whose argv our supervisor would run). Every level we create is made
// 0700 and checked with lstat (owner, mode, not a symlink) before we write into it or trust what it holds.
import { chmodSync, lstatSync, mkdirSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { EnvironmentError } from '../errors.ts';
import { isNoSpace, noSpaceError } from './disk-space.ts';

const myUid = (): number => (typeof process.getuid === 'function' ? process.getuid() : 0);

/** Why `path` cannot be trusted as our private folder, or undefined when it can (or does not exist). */
export function privateDirProblem(path: string): string | undefined {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) return undefined;
  return problemOf(st, 'folder');
}

function problemOf(st: Stats, what: 'folder' | 'file'): string | undefined {
  if (st.isSymbolicLink()) return 'it is a symbolic link';
  if (what === 'folder' ? !st.isDirectory() : !st.isFile()) return `it is not a ${what}`;
  if (st.uid !== myUid()) return `it belongs to uid ${st.uid}, not to you (uid ${myUid()})`;
  // Writable by group or others: someone else could have put files in it.
  if (st.mode & 0o022) return `its mode ${modeOf(st)} lets other users write to it`;
  return undefined;
}

function modeOf(st: Stats): string {
  return `0${(st.mode & 0o7777).toString(8)}`;
}

function refusal(path: string, problem: string): EnvironmentError {
  return new EnvironmentError(
    `refusing to use ${path}: ${problem}, so what it holds may have been planted by someone else`,
    `if you created it yourself, fix it with: chmod 700 ${path}; otherwise remove it (as its owner or root) and run the command again, or set XDG_RUNTIME_DIR or VNETLAB_RUNTIME_DIR to a folder of your own`,
  );
}

/** Throw an EnvironmentError when `path` exists and is not ours alone; a missing folder is fine. */
export function assertPrivateDir(path: string): void {
  const problem = privateDirProblem(path);
  if (problem) throw refusal(path, problem);
}

/** Whether `path` exists and is our private folder (for read paths that skip what is not ours). */
export function isPrivateDir(path: string): boolean {
  const st = lstatSync(path, { throwIfNoEntry: false });
  return !!st && problemOf(st, 'folder') === undefined;
}

/** A regular file of ours that nobody else can write (records, plans). */
export function isTrustedFile(path: string): boolean {
  const st = lstatSync(path, { throwIfNoEntry: false });
  return !!st && problemOf(st, 'file') === undefined;
}

/**
 * Create `path` (and missing parents) with mode 0700, then check it. An existing folder of ours that
 * others can only read is tightened to 0700 (nobody else could have written into it); one that others
 * can write to, that belongs to someone else or that is a symlink is refused.
 */
export function ensurePrivateDir(path: string, options: { checkParents?: boolean } = {}): void {
  if (options.checkParents) assertSafeParents(dirname(path));
  try {
    mkdirSync(path, { recursive: true, mode: 0o700 });
  } catch (err) {
    // EEXIST: a file or a dangling symlink is in the way; the check below names it.
    if (isNoSpace(err)) throw noSpaceError(dirname(path));
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = lstatSync(path, { throwIfNoEntry: false });
  const problem = st ? problemOf(st, 'folder') : 'it could not be created';
  if (problem) throw refusal(path, problem);
  if (st!.mode & 0o077) chmodSync(path, 0o700);
}

/**
 * The folders above a private folder must not let anyone else rename it away and put their own in its
 * place: each must belong to us or root and be writable by nobody else, unless sticky (like /tmp).
 */
/**
 * A volume Kubernetes mounts with `fsGroup` is group-writable by the pod's own group: acceptable only
 * where the operator says so (VNETLAB_TRUST_GROUP_WRITABLE=1, set by deploy/k8s for workers), only for
 * a group we are in, and never when others may write too. On a shared host a group may hold other users.
 */
function trustedGroupWritable(st: Stats): boolean {
  if (process.env.VNETLAB_TRUST_GROUP_WRITABLE !== '1' || st.mode & 0o002) return false;
  const groups = typeof process.getgroups === 'function' ? process.getgroups() : [];
  return groups.includes(st.gid) || (typeof process.getgid === 'function' && process.getgid() === st.gid);
}

function assertSafeParents(dir: string): void {
  for (let d = dir; ; d = dirname(d)) {
    const st = lstatSync(d, { throwIfNoEntry: false });
    if (st && !st.isSymbolicLink()) {
      const owner = st.uid === myUid() || st.uid === 0;
      const sticky = (st.mode & 0o1000) !== 0;
      if (!owner || (st.mode & 0o022 && !sticky && !trustedGroupWritable(st))) {
        throw refusal(d, owner ? `its mode ${modeOf(st)} lets other users replace what is in it` : `it belongs to uid ${st.uid}, who could replace what is in it`);
      }
    }
    if (dirname(d) === d) return;
  }
}
