// Where the warm pool lives, and what makes two guests interchangeable. One pool per user (per
// runtime root): `<runtimeRoot>/pool/` (0700) holds its socket, lock, log, records and the FIFOs and
// mconsole folders of its guests; their disks are `<stateRoot>/pool/disks/<id>.cow`, on the same
// filesystem as the labs' disks, so a claimed guest's disk becomes the machine's with a rename.
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { HostPaths } from '../../paths.ts';

export function poolDir(paths: HostPaths): string {
  return join(paths.runtimeRoot, 'pool');
}

export const poolFiles = {
  socket: (dir: string) => join(dir, 'pool.sock'),
  lock: (dir: string) => join(dir, 'pool.lock'),
  log: (dir: string) => join(dir, 'pool.log'),
  umlDir: (dir: string) => join(dir, 'uml'),
  guestDir: (dir: string, id: string) => join(dir, 'guests', id),
};

export function poolDiskDir(paths: HostPaths): string {
  return join(paths.stateRoot, 'pool', 'disks');
}

/**
 * Guests are interchangeable when they booted the same kernel with the same shared arguments
 * (memory, boot arguments, IPv6 switch) over the same image file: a rebuilt image (a new inode or
 * mtime) makes a new key, and guests of the old one are never handed out.
 */
export function poolKey(shared: readonly string[], imagePath: string): string {
  let image = 'missing';
  try {
    const st = statSync(imagePath);
    image = `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    // a missing image: no guest can match
  }
  return createHash('sha256').update(JSON.stringify({ shared, imagePath, image })).digest('hex').slice(0, 16);
}
