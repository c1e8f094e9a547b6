// Guest disks outlive image rebuilds. A guest disk is a UML COW file whose header records the mtime and
// size of the image it was made from; UML refuses it ("mtime mismatch") over any other image file. So a
// rebuild keeps the previous image as `<name>@<build time>.ext4` (a hard link: no copy) as long as a
// disk needs it, and backingImageFor() finds the image file an existing disk was made from.
import { closeSync, constants, existsSync, ftruncateSync, linkSync, openSync, readdirSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { hostPaths } from '../paths.ts';

export interface CowHeader {
  backingFile: string;
  /** Seconds since the epoch, as UML stores it. */
  backingMtime: number;
  backingSize: number;
}

const COW_MAGIC = 0x4f4f4f4d;

/** UML's `struct cow_header_v3` (arch/um/drivers/cow_user.c): big-endian, packed, a 4096-byte path. */
const COW_HEADER_BYTES = 32 + 4096;
const COW_SECTOR = 512;
const COW_ALIGNMENT = 4096;

/**
 * Makes a new, empty guest disk over `backingImage`, as `uml_mkcow` (and UML itself) would: the v3
 * header, the bitmap of changed sectors (all clear), then the data area, all sparse. Written here with
 * system calls, not by running uml_mkcow: that was two processes per guest on the supervisor's event
 * loop (~25 ms each), a tenth of a 10-guest start. The file is created 0600 and never replaces one.
 */
export function createCowDisk(cowPath: string, backingImage: string): void {
  const { header, length } = cowLayout(backingImage, statSync(backingImage));
  const fd = openSync(cowPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    writeSync(fd, header, 0, header.length, 0);
    ftruncateSync(fd, length);
  } finally {
    closeSync(fd);
  }
}

/**
 * createCowDisk through the thread pool, for a process that serves consoles meanwhile (the supervisor):
 * on a loaded disk the synchronous calls held its event loop ~2–3 ms per guest.
 */
export async function createCowDiskAsync(cowPath: string, backingImage: string): Promise<void> {
  const { header, length } = cowLayout(backingImage, await stat(backingImage));
  const file = await open(cowPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await file.write(header, 0, header.length, 0);
    await file.truncate(length);
  } finally {
    await file.close();
  }
}

/** A new COW disk's header and its file's length: the bitmap and the data area after it stay holes. */
function cowLayout(backingImage: string, backing: { mtimeMs: number; size: number }): { header: Buffer; length: number } {
  const header = Buffer.alloc(COW_HEADER_BYTES);
  header.writeUInt32BE(COW_MAGIC, 0);
  header.writeUInt32BE(3, 4);
  header.writeUInt32BE(Math.floor(backing.mtimeMs / 1000) >>> 0, 8);
  header.writeBigUInt64BE(BigInt(backing.size), 12);
  header.writeUInt32BE(COW_SECTOR, 20);
  header.writeUInt32BE(COW_ALIGNMENT, 24);
  header.writeUInt32BE(0, 28); // cow_format: COW_BITMAP
  if (Buffer.byteLength(backingImage) >= 4096) throw new Error(`the image path is too long for a UML disk header: ${backingImage}`);
  header.write(backingImage, 32, 'utf8');
  // The bitmap starts at the header rounded up to the alignment; the data at the end of the bitmap,
  // rounded up too (uml_mkcow's layout, byte for byte; test/images/cow-disk.test.ts compares them).
  const roundUp = (n: number) => Math.ceil(n / COW_ALIGNMENT) * COW_ALIGNMENT;
  const bitmapBytes = Math.ceil(Math.ceil(backing.size / COW_SECTOR) / 8);
  const dataOffset = roundUp(roundUp(COW_HEADER_BYTES) + bitmapBytes);
  return { header, length: dataOffset + backing.size };
}

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
