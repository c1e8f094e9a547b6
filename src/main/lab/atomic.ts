// Atomic writes for user files: write a temp file next to the target, then rename over it, so a
// crash or a full disk never leaves a half-written lab.yaml behind.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { destinationInside } from './safe-paths.ts';

/** A file of the user's (a lab file, a report) replaced whole or not at all. (The runtime's own files: runtime/disk-space.ts writeRunFile.) */
export async function writeFileAtomic(path: string, content: string | Uint8Array, mode?: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temp, content);
    if (mode !== undefined) await chmod(temp, mode);
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
}

/** writeFileAtomic for `rel` inside the folder `root`, refused when `rel` or a symlink on its way leads out of it. */
export async function writeFileInside(root: string, rel: string, content: string | Uint8Array, what: string, mode?: number): Promise<void> {
  await writeFileAtomic(await destinationInside(root, rel, what), content, mode);
}
