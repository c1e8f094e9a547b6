// Guest disks outlive image rebuilds. A guest disk is a UML COW file whose header records the mtime and
// size of the image it was made from; UML refuses it ("mtime mismatch") over any other image file. So a
// rebuild keeps the previous image as `<name>@<build time>.ext4` (a hard link: no copy) as long as a
// disk needs it, and backingImageFor() finds the image file an existing disk was made from.
import { closeSync, existsSync, linkSync, openSync, readdirSync, readSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { hostPaths } from '../paths.ts';

export interface CowHeader {
  backingFile: string;
  /** Seconds since the epoch, as UML stores it. */
  backingMtime: number;
  backingSize: number;
}

const COW_MAGIC = 0x4f4f4f4d;

/** Reads a UML COW (version 3) header; undefined when the file is not one. */
export function readCowHeader(cowPath: string): CowHeader | undefined {
  const fd = openSync(cowPath, 'r');
  try {
    const header = Buffer.alloc(32 + 4096);
    const n = readSync(fd, header, 0, header.length, 0);
    if (n < 32 || header.readUInt32BE(0) !== COW_MAGIC || header.readUInt32BE(4) !== 3) return undefined;
    const end = header.indexOf(0, 32);
    return {
      backingMtime: header.readUInt32BE(8),
      backingSize: Number(header.readBigUInt64BE(12)),
      backingFile: header.toString('utf8', 32, end < 0 ? n : end),
    };
  } finally {
    closeSync(fd);
  }
}

/** Where a rebuild keeps the image it replaces. */
export function retainedImagePath(imageDir: string, name: string, builtAt: string): string {
  return join(imageDir, `${name}@${builtAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}.ext4`);
}

/** Keeps the current image (and its record) under its build time before a rebuild replaces it. */
export function retainImage(imagePath: string, name: string, builtAt: string): void {
  if (!existsSync(imagePath)) return;
  const kept = retainedImagePath(join(imagePath, '..'), name, builtAt);
  for (const [from, to] of [[imagePath, kept], [imagePath.replace(/\.ext4$/, '.json'), kept.replace(/\.ext4$/, '.json')]] as const) {
    try {
      linkSync(from, to);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' && (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/**
 * The image file an existing guest disk was made from: the current `<name>.ext4` or one kept by a rebuild,
 * matched on the mtime and size recorded in the disk's COW header. Undefined when none is left (the
 * disk must be wiped), or when the file is not a COW disk.
 */
export function backingImageFor(cowPath: string, name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const header = readCowHeader(cowPath);
  if (!header) return undefined;
  const imageDir = hostPaths(env).imageDir;
  const candidates = [join(imageDir, `${name}.ext4`), ...readdirSafe(imageDir).filter((f) => f.startsWith(`${name}@`) && f.endsWith('.ext4')).sort().reverse().map((f) => join(imageDir, f))];
  return candidates.find((path) => {
    try {
      const st = statSync(path);
      return Math.floor(st.mtimeMs / 1000) === header.backingMtime && st.size === header.backingSize;
    } catch {
      return false;
    }
  });
}

/**
 * Deletes the kept images of `name` that no guest disk of this user needs any more (disks live in
 * `<stateRoot>/labs/<lab>/disks/*.cow`, and saved states' copies in `snapshots/disks/`). Returns what was deleted.
 */
export function pruneRetainedImages(name: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const { imageDir, stateRoot } = hostPaths(env);
  const retained = readdirSafe(imageDir).filter((f) => f.startsWith(`${name}@`) && f.endsWith('.ext4'));
  if (!retained.length) return [];
  const needed = new Set<string>();
  for (const lab of readdirSafe(join(stateRoot, 'labs'))) {
    // The guests' disks, and the copies kept by saved states (runtime/snapshots/store.ts).
    for (const disks of [join(stateRoot, 'labs', lab, 'disks'), join(stateRoot, 'labs', lab, 'snapshots', 'disks')]) {
      for (const disk of readdirSafe(disks).filter((f) => f.endsWith('.cow'))) {
        const header = safeHeader(join(disks, disk));
        if (header) needed.add(`${header.backingMtime}/${header.backingSize}`);
      }
    }
  }
  const deleted: string[] = [];
  for (const file of retained) {
    const path = join(imageDir, file);
    const st = statSync(path);
    if (needed.has(`${Math.floor(st.mtimeMs / 1000)}/${st.size}`)) continue;
    rmSync(path, { force: true });
    rmSync(path.replace(/\.ext4$/, '.json'), { force: true });
    deleted.push(path);
  }
  return deleted;
}

function safeHeader(path: string): CowHeader | undefined {
  try {
    return readCowHeader(path);
  } catch {
    return undefined;
  }
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
