// The writers build paths from a model that may come from a client of the app API, not from disk:
// a machine name like `../../x` or a file entry through a symlink must never make them write outside
// the destination folder, nor copy host files into it. Each path is checked after resolving the
// symlinks that already exist on disk (the lexical rule alone is in lab-paths.ts).
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { UserError } from '../errors.ts';
import { isInside, labPathProblem } from './lab-paths.ts';

const HINT = 'lab paths and machine names stay inside the lab folder; rename the machine or copy the file into the lab folder';

/**
 * `rel` under the folder `root`, refused (UserError) when it leaves `root` with `..`, is absolute, or
 * goes through an existing symlink that leads out. Safe to create, write or copy onto.
 */
export async function destinationInside(root: string, rel: string, what: string): Promise<string> {
  const realRoot = await realRootOf(root);
  const problem = labPathProblem(rel);
  if (problem) throw new UserError(`refusing to write ${what} '${rel}' into ${root}: ${problem}`, undefined, HINT);
  const target = join(realRoot, rel);
  // The deepest part of the path that exists decides where a write really lands.
  let existing = target;
  while (existing !== realRoot && !(await lstat(existing).then(() => true, () => false))) existing = dirname(existing);
  const real = await realpath(existing).catch(() => undefined);
  if (real === undefined || !isInside(realRoot, real)) {
    throw new UserError(`refusing to write ${what} '${rel}' into ${root}: ${relative(realRoot, existing) || '.'} is a symlink that leads ${real ? `out of the folder (to ${real})` : 'nowhere'}`, undefined, 'remove the symlink from the destination folder, or save somewhere else');
  }
  return target;
}

/**
 * The real path of lab path `rel` in the lab folder `root`, refused (UserError) when it, or any
 * symlink inside it (for a folder), leads out of `root`: its content would be copied into the saved lab.
 */
export async function sourceInside(root: string, rel: string, what: string): Promise<string> {
  const realRoot = await realRootOf(root);
  const problem = labPathProblem(rel);
  if (problem) throw new UserError(`refusing to copy ${what} '${rel}': ${problem}`, undefined, HINT);
  const real = await realpath(join(realRoot, rel)).catch((e: NodeJS.ErrnoException) => {
    throw new UserError(`cannot copy ${what} '${rel}' from ${root}: ${e.code === 'ENOENT' ? 'it does not exist' : e.code ?? e.message}`, undefined, 'check the path; it is relative to the lab folder');
  });
  if (!isInside(realRoot, real)) throw escapes(what, rel, real);
  if ((await stat(real)).isDirectory()) await refuseLinksOut(realRoot, real, rel, what);
  return real;
}

async function refuseLinksOut(realRoot: string, dir: string, shown: string, what: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isSymbolicLink()) {
      const target = await realpath(full).catch(() => undefined);
      // A dangling link is copied as a link and reads nothing; one that resolves outside is refused.
      if (target !== undefined && !isInside(realRoot, target)) throw escapes(what, `${shown}/${entry.name}`, target);
    } else if (entry.isDirectory()) await refuseLinksOut(realRoot, full, `${shown}/${entry.name}`, what);
  }
}

function escapes(what: string, rel: string, real: string): UserError {
  return new UserError(`refusing to copy ${what} '${rel}': it is a symlink that leads out of the lab folder (to ${real})`, undefined, 'copy the file into the lab folder instead of linking to it');
}

async function realRootOf(root: string): Promise<string> {
  return realpath(root).catch((e: NodeJS.ErrnoException) => {
    throw new UserError(`cannot use the folder ${root}: ${e.code === 'ENOENT' ? 'it does not exist' : e.code ?? e.message}`);
  });
}

/**
 * Copies of lab files are the user's own work from now on: a lab opened from a read-only place (a
 * course folder, /usr/share, a corpus) must not leave read-only files that the next save cannot
 * replace. Owner write (and search on folders) is added; nothing else of the modes changes.
 */
export async function makeOwnerWritable(path: string): Promise<void> {
  const { chmod, lstat, readdir } = await import('node:fs/promises');
  const st = await lstat(path);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    await chmod(path, (st.mode & 0o7777) | 0o700);
    for (const name of await readdir(path)) await makeOwnerWritable(`${path}/${name}`);
  } else if ((st.mode & 0o200) === 0) {
    await chmod(path, (st.mode & 0o7777) | 0o200);
  }
}
