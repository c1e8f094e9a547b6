// Guest disks as saved states hold them: UML COW files (version 3) over a shared image. A COW file is
// sparse: a header naming the image (path, mtime, size), a bitmap of the sectors the guest wrote, and
// those sectors at their place after the bitmap. Copying one must stay sparse (a 512 MiB tiny disk
// holds ~8 MB after a boot), so:
//   - a reflink when the filesystem has them (btrfs, XFS, bcachefs: no data copied at all);
//   - else only the header, the bitmap and the sectors the bitmap marks (read through the bitmap, so
//     the holes are never read), written at the same offsets into a file of the same length.
// diskExtents() gives the same runs to the pack writer. Files that are not COW v3 disks are copied
// whole, skipping blocks of zeros.
import { closeSync, constants, copyFileSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const COW_MAGIC = 0x4f4f4f4d;
const HEADER_V3 = 32 + 4096;
/** Granularity of the runs we copy: one bitmap byte covers 8 sectors (4 KiB with 512-byte sectors). */
const IO_CHUNK = 1 << 20;

export interface CowLayout {
  backingFile: string;
  backingMtime: number;
  backingSize: number;
  sectorSize: number;
  alignment: number;
  bitmapOffset: number;
  bitmapBytes: number;
  dataOffset: number;
  /** Apparent size of the COW file: dataOffset + backingSize. */
  fileSize: number;
}

/** The layout of a COW v3 file (cow_user.c: read_cow_header, cow_sizes); undefined when it is not one. */
export function readCowLayout(path: string): CowLayout | undefined {
  const fd = openSync(path, 'r');
  try {
    return cowLayoutOfFd(fd);
  } finally {
    closeSync(fd);
  }
}

function cowLayoutOfFd(fd: number): CowLayout | undefined {
  const header = Buffer.alloc(HEADER_V3);
  const n = readSync(fd, header, 0, header.length, 0);
  if (n < HEADER_V3 || header.readUInt32BE(0) !== COW_MAGIC || header.readUInt32BE(4) !== 3) return undefined;
  const backingMtime = header.readUInt32BE(8);
  const backingSize = Number(header.readBigUInt64BE(12));
  const sectorSize = header.readUInt32BE(20);
  const alignment = header.readUInt32BE(24);
  if (!sectorSize || !alignment || sectorSize > 1 << 16 || alignment > 1 << 20 || backingSize <= 0 || backingSize > 2 ** 44) return undefined;
  const end = header.indexOf(0, 32);
  const roundUp = (x: number, a: number) => Math.ceil(x / a) * a;
  const bitmapOffset = roundUp(HEADER_V3, alignment);
  const bitmapBytes = Math.ceil(Math.ceil(backingSize / sectorSize) / 8);
  const dataOffset = roundUp(bitmapOffset + bitmapBytes, alignment);
  return {
    backingFile: header.toString('utf8', 32, end < 0 ? HEADER_V3 : end),
    backingMtime,
    backingSize,
    sectorSize,
    alignment,
    bitmapOffset,
    bitmapBytes,
    dataOffset,
    fileSize: dataOffset + backingSize,
  };
}

/** A run of bytes of a file that matters: [offset, offset + length). */
export interface Extent {
  offset: number;
  length: number;
}

/**
 * The parts of a disk file that carry data: for a COW v3 file, [0, dataOffset) (header and bitmap)
 * and the sectors its bitmap marks, merged into runs; for any other file, its non-zero 64 KiB blocks.
 */
export function diskExtents(path: string): { size: number; extents: Extent[]; cow?: CowLayout } {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const cow = cowLayoutOfFd(fd);
    if (!cow || cow.fileSize > size + cow.alignment) return { size, extents: nonZeroExtents(fd, size) };
    const bitmap = Buffer.alloc(cow.bitmapBytes);
    readFully(fd, bitmap, cow.bitmapOffset);
    const extents: Extent[] = [{ offset: 0, length: cow.dataOffset }];
    const span = 8 * cow.sectorSize; // one bitmap byte
    for (let i = 0; i < bitmap.length; i++) {
      if (bitmap[i] === 0) continue;
      const offset = cow.dataOffset + i * span;
      const length = Math.min(span, size - offset);
      if (length <= 0) break;
      const last = extents[extents.length - 1]!;
      if (last.offset + last.length === offset) last.length += length;
      else extents.push({ offset, length });
    }
    return { size, extents, cow };
  } finally {
    closeSync(fd);
  }
}

function nonZeroExtents(fd: number, size: number): Extent[] {
  const block = 64 * 1024;
  const buf = Buffer.alloc(block);
  const extents: Extent[] = [];
  for (let offset = 0; offset < size; offset += block) {
    const n = readSync(fd, buf, 0, Math.min(block, size - offset), offset);
    if (n <= 0) break;
    if (isZero(buf, n)) continue;
    const last = extents[extents.length - 1];
    if (last && last.offset + last.length === offset) last.length += n;
    else extents.push({ offset, length: n });
  }
  return extents;
}

function isZero(buf: Buffer, n: number): boolean {
  for (let i = 0; i < n; i += 8) {
    if (i + 8 <= n ? buf.readBigUInt64LE(i) !== 0n : buf.subarray(i, n).some((b) => b !== 0)) return false;
  }
  return true;
}

function readFully(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) {
    const n = readSync(fd, buf, done, buf.length - done, position + done);
    if (n <= 0) {
      buf.fill(0, done);
      return;
    }
    done += n;
  }
}

export type CopyMethod = 'reflink' | 'sparse';

/**
 * Copy a guest disk to `dest` (replaced atomically: written to a temp file beside it, fsync'ed, renamed).
 * Returns how: a reflink when the filesystem makes one, else a sparse copy of the extents.
 */
export function copyDisk(source: string, dest: string, options: { durable?: boolean } = {}): { method: CopyMethod; bytes: number } {
  const temp = join(dirname(dest), `.${basename(dest)}.${process.pid}.tmp`);
  rmSync(temp, { force: true });
  try {
    try {
      copyFileSync(source, temp, constants.COPYFILE_FICLONE_FORCE);
      renameSync(temp, dest);
      return { method: 'reflink', bytes: 0 };
    } catch {
      rmSync(temp, { force: true });
    }
    const { size, extents } = diskExtents(source);
    const bytes = writeExtents(source, temp, size, extents, options.durable !== false);
    renameSync(temp, dest);
    return { method: 'sparse', bytes };
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}

function writeExtents(source: string, dest: string, size: number, extents: Extent[], durable: boolean): number {
  const from = openSync(source, 'r');
  const to = openSync(dest, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  let bytes = 0;
  try {
    const buf = Buffer.alloc(IO_CHUNK);
    for (const { offset, length } of extents) {
      for (let done = 0; done < length; ) {
        const want = Math.min(IO_CHUNK, length - done);
        const n = readSync(from, buf, 0, want, offset + done);
        if (n <= 0) break;
        writeSync(to, buf, 0, n, offset + done);
        done += n;
        bytes += n;
      }
    }
    ftruncateSync(to, size);
    if (durable) fsyncSync(to);
  } finally {
    closeSync(from);
    closeSync(to);
  }
  return bytes;
}

/**
 * Point a COW file at another file of the same image (same content: same build), as UML itself does
 * when the command line names a different backing file with the same mtime and size: writes the
 * path, the mtime (seconds) and the size into its header.
 */
export function rebaseCow(path: string, backingFile: string, mtimeSeconds: number, size: number): void {
  const name = Buffer.from(backingFile, 'utf8');
  if (name.length >= 4096) throw new Error(`the image path is too long for a disk header: ${backingFile}`);
  const fd = openSync(path, 'r+');
  try {
    const layout = cowLayoutOfFd(fd);
    if (!layout) throw new Error(`${path} is not a UML COW disk`);
    if (layout.backingSize !== size) throw new Error(`${path} was made over an image of ${layout.backingSize} bytes, not ${size}`);
    const fields = Buffer.alloc(4);
    fields.writeUInt32BE(mtimeSeconds >>> 0, 0);
    writeSync(fd, fields, 0, 4, 8);
    const pathField = Buffer.alloc(4096);
    name.copy(pathField);
    writeSync(fd, pathField, 0, 4096, 32);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** fsync a file (a copy made with `durable: false`, once the guest runs again). */
export function syncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Blocks a file really takes on disk (st_blocks × 512). */
export function allocatedBytes(path: string): number {
  const fd = openSync(path, 'r');
  try {
    return fstatSync(fd).blocks * 512;
  } finally {
    closeSync(fd);
  }
}
