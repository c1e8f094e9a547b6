// Hand-in packs (`vnetlab pack`, `vnetlab unpack`, `vnetlab check FILE.vnlpack`): one file with a lab's
// files, every machine's disk differences and its live network state, from a saved state.
//
// File format (`.vnlpack`), version 1 — integers big-endian:
//   "VNLPACK1"                       8 bytes magic
//   u32 n, then n bytes of JSON      the header (PackHeader): lab, state, kernel, images, and every entry
//                                    with its size, in payload order
//   a gzip stream                    the entries' bytes, one after another: each lab file; each disk as
//                                    records `u64 offset, u32 length, bytes` (only the parts of the sparse
//                                    COW file that carry data); each network state (JSON)
//   32 bytes                         sha256 of everything above
//   "VNLPEND1"                       8 bytes end marker
//
// A pack is untrusted input (a student's file on a grader's machine). Unpacking checks, before writing
// anything, that the file is whole (end marker: not truncated) and unchanged (sha256: no bit flipped),
// and that the header is sane: relative paths without `..`, only files and folders (no links, devices),
// sizes within limits. While unpacking it refuses any byte more than the header declared (a disk bigger
// than declared, a record outside its disk, extra data), and it writes only inside the new folder DIR:
// DIR must not exist or be empty, every folder in it is made by us, every file created new (O_EXCL,
// O_NOFOLLOW). On any failure DIR is removed again (or emptied, when it existed).
import { createHash } from 'node:crypto';
import { closeSync, constants, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import { UserError } from '../../errors.ts';
import { MAX_LAB_BYTES } from '../../lab/limits.ts';
import { PACK_DIR } from '../../paths.ts';
import type { ImageIdentity } from './store.ts';
export const MAGIC = Buffer.from('VNLPACK1');

export const END = Buffer.from('VNLPEND1');

export const TRAILER = 32 + END.length;

export const PACK_EXTENSION = '.vnlpack';

/** Limits on what a pack may declare: generous for any lab, small enough that a hostile pack cannot fill a disk. */
export const PACK_LIMITS = {
  headerBytes: 4 * 1024 * 1024,
  files: 20_000,
  labBytes: MAX_LAB_BYTES,
  /** Apparent size of one disk (a COW over a 3 GiB image is ~3 GiB). */
  diskBytes: 64 * 1024 ** 3,
  /** Data one disk may carry. */
  diskDataBytes: 8 * 1024 ** 3,
  netBytes: 16 * 1024 * 1024,
  machines: 1000,
  pathLength: 1024,
};

export interface PackFileEntry {
  type: 'file';
  path: string;
  size: number;
  mode: number;
}

export interface PackDirEntry {
  type: 'dir';
  path: string;
}

export interface PackMachine {
  name: string;
  image: string;
  /** The machine's disk: apparent size, how many records and data bytes the payload holds for it. */
  disk?: { size: number; records: number; dataBytes: number; imageIdentity: ImageIdentity };
  /** Bytes of its network state (JSON) in the payload. */
  netBytes?: number;
}

export interface PackHeader {
  format: 'vnetlab-pack';
  formatVersion: 1;
  /** Random, so that an unpacked lab knows which pack its state came from. */
  id: string;
  createdAt: string;
  lab: { name: string; folder: string; hash: string };
  state: { name: string; note: string; createdAt: string };
  kernel: { version: string };
  images: Record<string, ImageIdentity>;
  entries: (PackFileEntry | PackDirEntry)[];
  machines: PackMachine[];
}

/** Checks a pack file whole (end marker, checksum, header) without writing anything; returns its header. */
export async function verifyPack(file: string): Promise<{ header: PackHeader; payloadStart: number; payloadEnd: number }> {
  const shown = file;
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT' ? `${shown}: no such file` : code === 'ELOOP' ? `${shown} is a symbolic link, not a pack` : `${shown} cannot be read: ${(err as Error).message}`, 2);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UserError(`${shown} is not a file`, 2);
    const size = st.size;
    const head = Buffer.alloc(12);
    const n = readSync(fd, head, 0, 12, 0);
    if (n < 8 || !head.subarray(0, 8).equals(MAGIC)) throw new UserError(`${shown} is not a vnetlab pack (it does not start with VNLPACK1)`, 2, 'a pack is what vnetlab pack -o FILE.vnlpack writes');
    const tail = Buffer.alloc(TRAILER);
    if (size < 12 + TRAILER || readSync(fd, tail, 0, TRAILER, size - TRAILER) !== TRAILER || !tail.subarray(32).equals(END)) {
      throw new UserError(`${shown} is truncated: it ends after ${size} bytes without the end marker a whole pack has`, 2, 'the copy or download was cut short: get the file again');
    }
    const hash = createHash('sha256');
    await new Promise<void>((resolveHash, reject) => {
      createReadStream(file, { start: 0, end: size - TRAILER - 1 })
        .on('data', (chunk) => hash.update(chunk))
        .on('end', () => resolveHash())
        .on('error', reject);
    });
    if (!hash.digest().equals(tail.subarray(0, 32))) {
      throw new UserError(`${shown} is damaged: its checksum does not match its contents (some bytes were changed)`, 2, 'get the file again from its author; a pack that was altered is not graded');
    }
    const headerLength = head.readUInt32BE(8);
    if (headerLength > PACK_LIMITS.headerBytes || 12 + headerLength > size - TRAILER) throw new UserError(`${shown}: its header claims ${headerLength} bytes, more than the file or the limit (${PACK_LIMITS.headerBytes})`, 2);
    const json = Buffer.alloc(headerLength);
    readSync(fd, json, 0, headerLength, 12);
    let parsed: unknown;
    try {
      parsed = JSON.parse(json.toString('utf8'));
    } catch {
      throw new UserError(`${shown}: its header is not valid JSON`, 2);
    }
    return { header: checkHeader(parsed, shown), payloadStart: 12 + headerLength, payloadEnd: size - TRAILER };
  } finally {
    closeSync(fd);
  }
}

export function fail(file: string, what: string): never {
  throw new UserError(`${file} is refused: ${what}`, 2, 'a pack written by vnetlab pack never holds this; do not unpack files of unknown origin');
}

/** A path inside the pack: relative, with plain parts only. */
export function checkPath(file: string, path: unknown, what: string): string {
  if (typeof path !== 'string' || !path) fail(file, `${what} has no path`);
  const p = path as string;
  if (p.length > PACK_LIMITS.pathLength) fail(file, `${what} has a path longer than ${PACK_LIMITS.pathLength} characters`);
  if (p.startsWith('/')) fail(file, `${what} has an absolute path (${p}): it would be written outside the folder`);
  if (/[\0\\]/.test(p)) fail(file, `${what} has a path with a NUL or backslash (${JSON.stringify(p)})`);
  const parts = p.split('/');
  if (parts.some((x) => x === '..')) fail(file, `${what} has a path that climbs out with '..' (${p}): it would be written outside the folder`);
  if (parts.some((x) => x === '' || x === '.')) fail(file, `${what} has a path with empty or '.' parts (${p})`);
  if (parts[0] === PACK_DIR) fail(file, `${what} would overwrite the pack's own folder (${p})`);
  return p;
}

const isCount = (n: unknown, max: number) => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= max;

function checkHeader(value: unknown, file: string): PackHeader {
  const h = value as PackHeader;
  if (!h || typeof h !== 'object' || h.format !== 'vnetlab-pack') fail(file, 'its header is not a vnetlab pack header');
  if (h.formatVersion !== 1) throw new UserError(`${file} is a pack of format ${String(h.formatVersion)}; this vnetlab reads format 1`, 2, 'update vnetlab to read it');
  if (typeof h.id !== 'string' || !/^[0-9a-f]{16}$/.test(h.id)) fail(file, 'its header has no valid id');
  if (!h.lab || typeof h.lab.name !== 'string' || typeof h.lab.folder !== 'string') fail(file, 'its header does not name its lab');
  if (!h.state || typeof h.state.name !== 'string') fail(file, 'its header does not name its state');
  if (!Array.isArray(h.entries) || h.entries.length > PACK_LIMITS.files) fail(file, `it lists no entries or more than ${PACK_LIMITS.files}`);
  if (!Array.isArray(h.machines) || h.machines.length > PACK_LIMITS.machines) fail(file, 'its machines are not a list');
  const seen = new Map<string, 'file' | 'dir'>();
  let labBytes = 0;
  for (const e of h.entries as { type?: unknown; path?: unknown; size?: unknown; mode?: unknown; target?: unknown }[]) {
    if (!e || typeof e !== 'object') fail(file, 'an entry is not an object');
    const path = checkPath(file, e.path, `an entry`);
    if (e.type === 'symlink' || e.type === 'link' || e.type === 'hardlink' || e.target !== undefined) fail(file, `it holds a link (${path}): packs may hold only files and folders`);
    if (e.type !== 'file' && e.type !== 'dir') fail(file, `it holds ${path} of kind '${String(e.type)}': packs may hold only files and folders`);
    if (seen.has(path)) fail(file, `it lists ${path} twice`);
    // Every folder on the way must be listed before, as a folder.
    const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
    if (parent && seen.get(parent) !== 'dir') fail(file, `${path} comes before its folder ${parent}, or that is a file`);
    if (e.type === 'file') {
      if (!isCount(e.size, PACK_LIMITS.labBytes)) fail(file, `the size of ${path} is not a valid number`);
      if (!isCount(e.mode, 0o777)) fail(file, `the mode of ${path} is not valid`);
      labBytes += e.size as number;
      if (labBytes > PACK_LIMITS.labBytes) fail(file, `its lab files add up to more than ${PACK_LIMITS.labBytes >> 20} MiB`);
    }
    seen.set(path, e.type);
  }
  const names = new Set<string>();
  for (const m of h.machines) {
    if (!m || typeof m.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(m.name) || names.has(m.name)) fail(file, `a machine has an invalid or repeated name (${JSON.stringify(m?.name)})`);
    names.add(m.name);
    if (typeof m.image !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/.test(m.image)) fail(file, `machine ${m.name} names no valid image`);
    if (m.disk !== undefined) {
      const d = m.disk;
      if (!isCount(d.size, PACK_LIMITS.diskBytes)) fail(file, `the disk of ${m.name} declares ${String(d.size)} bytes (at most ${PACK_LIMITS.diskBytes})`);
      if (!isCount(d.dataBytes, Math.min(d.size, PACK_LIMITS.diskDataBytes))) fail(file, `the disk of ${m.name} declares more data (${String(d.dataBytes)} bytes) than its size or the limit`);
      if (!isCount(d.records, Math.max(1, Math.ceil(d.dataBytes / 512)) + 1)) fail(file, `the disk of ${m.name} declares an impossible number of records`);
      if (!d.imageIdentity || typeof d.imageIdentity.sizeBytes !== 'number' || typeof d.imageIdentity.mtime !== 'number') fail(file, `the disk of ${m.name} does not say which image it belongs to`);
    }
    if (m.netBytes !== undefined && !isCount(m.netBytes, PACK_LIMITS.netBytes)) fail(file, `the network state of ${m.name} declares ${String(m.netBytes)} bytes (at most ${PACK_LIMITS.netBytes})`);
  }
  return h;
}

/** Pulls exact byte counts out of a stream; never more than `limit` in all. */
export class ByteReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;
  total = 0;

  constructor(private readonly stream: NodeJS.ReadableStream, private readonly limit: number, private readonly file: string) {
    stream.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      this.total += chunk.length;
      if (this.total > this.limit + (1 << 20)) {
        this.error = new UserError(`${this.file} is refused: it holds more data than its header declares (more than ${this.limit} bytes)`, 2, 'a disk or file bigger than declared: the pack was tampered with');
        (this.stream as unknown as { destroy(): void }).destroy();
      }
      if (this.buffered > 4 << 20) this.stream.pause();
      this.wake?.();
    });
    stream.on('end', () => {
      this.ended = true;
      this.wake?.();
    });
    stream.on('error', (err: Error) => {
      this.error ??= new UserError(`${this.file} is damaged: its compressed data cannot be read (${err.message})`, 2);
      this.wake?.();
    });
  }

  async read(n: number): Promise<Buffer> {
    while (this.buffered < n) {
      if (this.error) throw this.error;
      if (this.ended) throw new UserError(`${this.file} is refused: its data ends before everything its header declares`, 2);
      this.stream.resume();
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
    if (this.error) throw this.error;
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    if (this.buffered < 1 << 20) this.stream.resume();
    return out;
  }

  /** True when the stream ends here (no more bytes). */
  async atEnd(): Promise<boolean> {
    while (!this.buffered && !this.ended && !this.error) {
      this.stream.resume();
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
    if (this.error) throw this.error;
    return this.buffered === 0;
  }
}
