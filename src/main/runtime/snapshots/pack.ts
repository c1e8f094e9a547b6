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
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, createReadStream, existsSync, fstatSync, fsyncSync, ftruncateSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, realpathSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { createGunzip, createGzip } from 'node:zlib';
import { UserError } from '../../errors.ts';
import { diskExtents, readCowLayout } from '../../guest/cow-disk.ts';
import type { NetState } from '../../guest/netstate.ts';
import { findKernel } from '../../images/kernel.ts';
import { MAX_LAB_BYTES } from '../../lab/limits.ts';
import { planLab } from '../prepare.ts';
import { PACK_DIR } from '../../paths.ts';
import { labFilesHash, listStates, saveState, snapshotDir, type ImageIdentity, type StoreOptions } from './store.ts';

const MAGIC = Buffer.from('VNLPACK1');
const END = Buffer.from('VNLPEND1');
const TRAILER = 32 + END.length;
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

export interface PackResult {
  file: string;
  bytes: number;
  header: PackHeader;
  seconds: number;
}

export interface PackOptions extends StoreOptions {
  /** A saved state (default: the lab as it is now, saved on the spot as `pack-<time>`). */
  state?: string;
}

// ---- writing -----------------------------------------------------------------------------------

export async function writePack(labPath: string, file: string, options: PackOptions = {}): Promise<PackResult> {
  const env = options.env ?? process.env;
  const started = Date.now();
  const { plan, model } = await planLab(labPath, { env });
  let stateName = options.state;
  if (!stateName) {
    stateName = `pack-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
    options.onProgress?.(`saving the lab as it is now as state ${stateName}`);
    await saveState(labPath, stateName, { env, note: `packed into ${basename(file)}` });
  }
  const state = (await listStates(labPath, { env })).find((s) => s.name === stateName);
  if (!state) throw new UserError(`there is no saved state called ${stateName}`, 2, 'list them: vnetlab snapshot list');
  const dir = snapshotDir(plan);

  const entries = labEntries(model.root);
  const machines: PackMachine[] = [];
  const payload: ({ kind: 'file'; path: string; size: number } | { kind: 'disk'; path: string; extents: { offset: number; length: number }[] } | { kind: 'net'; text: Buffer })[] = [];
  for (const e of entries) if (e.type === 'file') payload.push({ kind: 'file', path: join(model.root, e.path), size: e.size });
  const images: Record<string, ImageIdentity> = {};
  for (const guest of plan.guests) {
    const m = state.machines[guest.name];
    if (!m) continue;
    const entry: PackMachine = { name: guest.name, image: guest.image };
    if (m.disk) {
      const path = join(dir, 'disks', m.disk);
      const { size, extents } = diskExtents(path);
      const identity = m.image;
      if (!identity) throw new UserError(`the disk of ${guest.name} in state ${stateName} does not say which image it belongs to`, 3);
      images[guest.image] ??= identity;
      entry.disk = { size, records: extents.length, dataBytes: extents.reduce((n, e) => n + e.length, 0), imageIdentity: identity };
      payload.push({ kind: 'disk', path, extents });
    }
    if (m.net) {
      const text = readFileSync(join(dir, 'net', m.net));
      entry.netBytes = text.length;
      payload.push({ kind: 'net', text });
    }
    machines.push(entry);
  }
  const header: PackHeader = {
    format: 'vnetlab-pack',
    formatVersion: 1,
    id: randomBytes(8).toString('hex'),
    createdAt: new Date().toISOString(),
    lab: { name: model.meta.name ?? basename(model.root), folder: basename(model.root), hash: labFilesHash(model.root) },
    state: { name: state.name, note: state.note, createdAt: state.createdAt },
    kernel: { version: findKernel({ env }).version },
    images,
    entries,
    machines,
  };

  const temp = join(dirname(resolve(file)), `.${basename(file)}.${process.pid}.tmp`);
  const out = await open(temp, 'w', 0o644);
  const hash = createHash('sha256');
  let bytes = 0;
  const write = async (buf: Buffer) => {
    hash.update(buf);
    await out.write(buf);
    bytes += buf.length;
  };
  try {
    const json = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(4);
    len.writeUInt32BE(json.length);
    await write(MAGIC);
    await write(len);
    await write(json);
    const gzip = createGzip({ level: 6 });
    const done = new Promise<void>((resolveDone, reject) => {
      gzip.on('error', reject);
      gzip.on('end', resolveDone);
    });
    let chain = Promise.resolve();
    gzip.on('data', (chunk: Buffer) => {
      gzip.pause();
      chain = chain.then(() => write(chunk)).then(() => void gzip.resume());
    });
    const push = (buf: Buffer) => new Promise<void>((r) => (gzip.write(buf) ? r() : gzip.once('drain', () => r())));
    for (const item of payload) {
      if (item.kind === 'file') {
        const data = readFileSync(item.path);
        if (data.length !== item.size) throw new UserError(`${item.path} changed while it was being packed`, 1, 'pack again');
        await push(data);
      } else if (item.kind === 'net') await push(item.text);
      else {
        const fd = openSync(item.path, 'r');
        try {
          for (const { offset, length } of item.extents) {
            const head = Buffer.alloc(12);
            head.writeBigUInt64BE(BigInt(offset), 0);
            head.writeUInt32BE(length, 8);
            await push(head);
            for (let done = 0; done < length; ) {
              const chunk = Buffer.alloc(Math.min(1 << 20, length - done));
              const n = readSync(fd, chunk, 0, chunk.length, offset + done);
              if (n <= 0) throw new Error(`${item.path} is shorter than it was a moment ago`);
              await push(chunk.subarray(0, n));
              done += n;
            }
          }
        } finally {
          closeSync(fd);
        }
      }
    }
    gzip.end();
    await done;
    await chain;
    await out.write(hash.digest());
    await out.write(END);
    bytes += TRAILER;
    await out.sync();
    await out.close();
    renameSync(temp, file);
  } catch (err) {
    await out.close().catch(() => {});
    rmSync(temp, { force: true });
    throw err;
  }
  return { file, bytes, header, seconds: (Date.now() - started) / 1000 };
}

/** The lab folder's files and folders (relative), without an unpacked pack's own folder. Links that stay inside are packed as what they point to. */
function labEntries(root: string): (PackFileEntry | PackDirEntry)[] {
  const out: (PackFileEntry | PackDirEntry)[] = [];
  const realRoot = realpathSync(root);
  let total = 0;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const rel = relative(root, path);
      if (rel === PACK_DIR) continue;
      let st = lstatSync(path);
      if (st.isSymbolicLink()) {
        const target = safeRealpath(path);
        if (!target || (target !== realRoot && !target.startsWith(realRoot + sep))) continue;
        st = statSync(path);
      }
      if (st.isDirectory()) {
        out.push({ type: 'dir', path: rel });
        walk(path);
      } else if (st.isFile()) {
        total += st.size;
        if (total > PACK_LIMITS.labBytes) throw new UserError(`the lab's files are larger than ${PACK_LIMITS.labBytes >> 20} MiB`, 2);
        out.push({ type: 'file', path: rel, size: st.size, mode: st.mode & 0o777 });
      }
    }
  };
  walk(root);
  return out;
}

function safeRealpath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

// ---- reading -----------------------------------------------------------------------------------

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

function fail(file: string, what: string): never {
  throw new UserError(`${file} is refused: ${what}`, 2, 'a pack written by vnetlab pack never holds this; do not unpack files of unknown origin');
}

/** A path inside the pack: relative, with plain parts only. */
function checkPath(file: string, path: unknown, what: string): string {
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
class ByteReader {
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

export interface UnpackResult {
  dir: string;
  header: PackHeader;
  files: number;
  machines: string[];
}

/**
 * Unpack `file` into the new folder `dir`: the lab's files, and in `<dir>/.vnetlab-pack/` the disks and
 * network states its first start boots from (seedFromPack). Nothing is written outside `dir`.
 */
export async function unpackPack(file: string, dir: string): Promise<UnpackResult> {
  const { header, payloadStart, payloadEnd } = await verifyPack(file);
  const target = resolve(dir);
  let created = false;
  if (existsSync(target)) {
    const st = lstatSync(target);
    if (st.isSymbolicLink() || !st.isDirectory()) throw new UserError(`${dir} exists and is not a folder`, 2, 'give a new folder: vnetlab unpack FILE -o NEW-FOLDER');
    if (readdirSync(target).length) throw new UserError(`${dir} is not empty`, 2, 'give a new or empty folder: unpacking never writes over files');
  } else {
    mkdirSync(target, { recursive: false, mode: 0o755 });
    created = true;
  }
  const declared = header.entries.reduce((n, e) => n + (e.type === 'file' ? e.size : 0), 0) + header.machines.reduce((n, m) => n + (m.disk ? m.disk.dataBytes + 12 * m.disk.records : 0) + (m.netBytes ?? 0), 0);
  const gunzip = createGunzip();
  createReadStream(file, { start: payloadStart, end: payloadEnd - 1 }).on('error', (e) => gunzip.destroy(e)).pipe(gunzip);
  const reader = new ByteReader(gunzip, declared, file);
  const pathIn = (rel: string) => {
    const path = join(target, ...rel.split('/'));
    if (!path.startsWith(target + sep)) fail(file, `${rel} would be written outside ${dir}`);
    return path;
  };
  const createNew = (path: string, mode: number) => openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  let files = 0;
  try {
    for (const e of header.entries) {
      const path = pathIn(e.path);
      if (e.type === 'dir') {
        mkdirSync(path, { mode: 0o755 });
        continue;
      }
      const fd = createNew(path, (e.mode & 0o777) | 0o600);
      try {
        for (let done = 0; done < e.size; ) {
          const chunk = await reader.read(Math.min(1 << 20, e.size - done));
          writeSync(fd, chunk);
          done += chunk.length;
        }
      } finally {
        closeSync(fd);
      }
      files++;
    }
    const packDir = join(target, PACK_DIR);
    mkdirSync(join(packDir, 'disks'), { recursive: true, mode: 0o700 });
    mkdirSync(join(packDir, 'net'), { recursive: true, mode: 0o700 });
    for (const m of header.machines) {
      if (m.disk) {
        const fd = createNew(join(packDir, 'disks', `${m.name}.cow`), 0o600);
        try {
          let data = 0;
          for (let i = 0; i < m.disk.records; i++) {
            const head = await reader.read(12);
            const offset = Number(head.readBigUInt64BE(0));
            const length = head.readUInt32BE(8);
            data += length;
            if (offset + length > m.disk.size) fail(file, `the disk of ${m.name} writes past its declared size of ${m.disk.size} bytes (at ${offset})`);
            if (data > m.disk.dataBytes) fail(file, `the disk of ${m.name} holds more data than the ${m.disk.dataBytes} bytes declared`);
            for (let done = 0; done < length; ) {
              const chunk = await reader.read(Math.min(1 << 20, length - done));
              writeSync(fd, chunk, 0, chunk.length, offset + done);
              done += chunk.length;
            }
          }
          if (data !== m.disk.dataBytes) fail(file, `the disk of ${m.name} holds ${data} bytes, not the ${m.disk.dataBytes} declared`);
          ftruncateSync(fd, m.disk.size);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        const layout = readCowLayout(join(packDir, 'disks', `${m.name}.cow`));
        if (!layout || layout.fileSize !== m.disk.size || layout.backingSize !== m.disk.imageIdentity.sizeBytes) fail(file, `the disk of ${m.name} is not a disk vnetlab made`);
      }
      if (m.netBytes !== undefined) {
        const text = await reader.read(m.netBytes);
        let net: NetState;
        try {
          net = JSON.parse(text.toString('utf8')) as NetState;
        } catch {
          fail(file, `the network state of ${m.name} is not valid JSON`);
        }
        if (net!.version !== 1 || !Array.isArray(net!.links)) fail(file, `the network state of ${m.name} is not one vnetlab wrote`);
        writeFileSync(join(packDir, 'net', `${m.name}.json`), text, { mode: 0o600, flag: 'wx' });
      }
    }
    if (!(await reader.atEnd())) fail(file, 'it holds more data than its header declares');
    writeFileSync(join(packDir, 'pack.json'), `${JSON.stringify(header, null, 1)}\n`, { mode: 0o600, flag: 'wx' });
    return { dir: target, header, files, machines: header.machines.map((m) => m.name) };
  } catch (err) {
    gunzip.destroy();
    if (created) rmSync(target, { recursive: true, force: true });
    else for (const name of readdirSync(target)) rmSync(join(target, name), { recursive: true, force: true });
    throw err;
  }
}
