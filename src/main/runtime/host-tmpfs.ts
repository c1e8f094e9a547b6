// The host's tmpfs (/dev/shm), for what vnetlab makes in number or in RAM and never needs past a reboot:
// each guest's memory file (UML maps an unlinked file: here it never becomes dirty page cache written
// back to a disk; `VNETLAB_UML_TMPDIR` overrides the place), and the staging folder a lab-fs image is built from (~400 tool links and the
// lab's files: a link costs ~5 µs there, ~100 µs on a disk's ext4, where staging took ~60 ms a build).
// Our part of it is one folder per user, `vnetlab-<uid>`, made 0700 and checked like the runtime root
// (private-dir.ts): /dev/shm is as shared a place as /tmp.
import { join } from 'node:path';
import { hasUsableShm } from '../paths.ts';
import { ensurePrivateDir } from './private-dir.ts';

/**
 * The tmpfs root: /dev/shm when the host has a writable one; `VNETLAB_UML_TMPDIR` overrides it, then
 * TMPDIR, then /tmp (no tmpfs: things still work, on the disk).
 */
export function hostTmpfs(): string {
  const chosen = process.env.VNETLAB_UML_TMPDIR;
  if (chosen) return chosen;
  return hasUsableShm() ? '/dev/shm' : (process.env.TMPDIR ?? '/tmp');
}

/** Where this user's folder in the tmpfs root is (`<root>/vnetlab-<uid>`), made or not. */
export function tmpfsFolderPath(root: string = hostTmpfs()): string {
  return join(root, `vnetlab-${typeof process.getuid === 'function' ? process.getuid() : 0}`);
}

/** This user's private folder in the tmpfs root, created 0700 and checked. */
export function ourTmpfsFolder(root: string = hostTmpfs()): string {
  const mine = tmpfsFolderPath(root);
  ensurePrivateDir(mine, { checkParents: true });
  return mine;
}
