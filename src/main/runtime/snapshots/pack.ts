// Hand-in packs (`vnetlab pack`, `vnetlab unpack`, `vnetlab check FILE.vnlpack`): one file with a lab's
// files, every machine's disk differences and its live network state, from a saved state. The file
// format and the checks an untrusted pack must pass before anything is written are in pack-format.ts;
// this file writes packs and unpacks them (only inside a new folder, removed again on any failure).
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, createReadStream, existsSync, fsyncSync, ftruncateSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, realpathSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { createGunzip, createGzip } from 'node:zlib';
import { UserError } from '../../errors.ts';
import { diskExtents, readCowLayout } from '../../guest/cow-disk.ts';
import type { NetState } from '../../guest/netstate.ts';
import { findKernel } from '../../images/kernel.ts';
import { planLab } from '../prepare.ts';
import { PACK_DIR } from '../../paths.ts';
import { ByteReader, END, fail, MAGIC, PACK_LIMITS, TRAILER, verifyPack, type PackDirEntry, type PackFileEntry, type PackHeader, type PackMachine } from './pack-format.ts';
export { PACK_EXTENSION, PACK_LIMITS, verifyPack, type PackHeader } from './pack-format.ts';
import { labFilesHash, listStates, saveState, snapshotDir, type ImageIdentity, type StoreOptions } from './store.ts';

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
