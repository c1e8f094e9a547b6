// `vnetlab image export|import`: one file an instructor publishes next to the labs, so a class does not
// build the same image forty times (and students without root get the debian image).
//
// File format (`.vnlimg`), version 1 — everything big-endian:
//   "VNLIMG01"                      8 bytes magic
//   u32 n, then n bytes of JSON     the header (ImageFileHeader): name, build record, the manifest's text,
//                                   kernel version and NIC syntax, apparent size, sha256 of the ext4 content
//   the payload, up to 40 bytes     a gzip stream of records `u64 offset, u32 length, bytes`: the ext4's
//   before the end                  non-zero 1 MiB blocks only, in order (a 3 GiB sparse image holds ~0.5 GiB)
//   32 bytes                        sha256 of everything above (detects truncation and tampering)
//   "VNLEND01"                      8 bytes end marker
// The checksums detect damage, not forgery: publish the file's sha256 next to it when that matters.
//
// Import is all or nothing: the file is checked (header, kernel, manifest), decompressed into a temp
// folder of the image dir while both hashes are computed, and only renamed into place when both match.
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, fsyncSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createGunzip, createGzip } from 'node:zlib';
import { open } from 'node:fs/promises';
import { UserError } from '../errors.ts';
import { hostPaths } from '../paths.ts';
import { retainImage, pruneRetainedImages } from './backing.ts';
import { imageStatus, withBuildLock, type ImageRecord } from './build.ts';
import { findKernel, type KernelInfo } from './kernel.ts';
import { loadManifest, manifestHash, manifestPath } from './manifest.ts';

const MAGIC = Buffer.from('VNLIMG01');
const END = Buffer.from('VNLEND01');
const BLOCK = 1 << 20;
const MAX_HEADER = 1 << 20;

export interface ImageFileHeader {
  format: 'vnetlab-image';
  formatVersion: 1;
  name: string;
  /** The build record of the exported image (diskBytes as it was on the exporting host). */
  record: ImageRecord;
  /** The manifest's text, as it was on the exporting host. */
  manifest: string;
  kernelVersion: string;
  /** Apparent size of the ext4 file. */
  sizeBytes: number;
  /** sha256 of the whole ext4 file (holes read as zeros). */
  contentSha256: string;
  /** Bytes of non-zero blocks carried. */
  dataBytes: number;
  exportedAt: string;
}

export interface TransferOptions {
  env?: NodeJS.ProcessEnv;
  kernel?: KernelInfo;
  progress?: (message: string) => void;
}

export interface ExportResult {
  file: string;
  header: ImageFileHeader;
  fileBytes: number;
  seconds: number;
}

/** Writes the built, up-to-date image `name` to `file` (replaced atomically). */
export async function exportImage(name: string, file: string, options: TransferOptions = {}): Promise<ExportResult> {
  const env = options.env ?? process.env;
  const progress = options.progress ?? (() => {});
  const started = Date.now();
  const status = imageStatus(name, { env, kernel: options.kernel });
  if (!status.built || !status.record) throw new UserError(`image '${name}' is not built, so there is nothing to export`, 2, `build it first: vnetlab image build ${name}`);
  if (status.staleReason) throw new UserError(`image '${name}' is stale (${status.staleReason}): it would not be used after import either`, 2, `rebuild it first: vnetlab image build ${name}`);
  const source = status.path;
  const sizeBytes = statSync(source).size;

  progress(`reading ${source} (${mib(sizeBytes)} apparent, ${mib(status.record.diskBytes)} on disk)`);
  const temp = `${file}.${process.pid}.tmp`;
  const fd = openSync(source, 'r');
  const out = await open(temp, 'w');
  try {
    // The file hash covers everything before it: magic, header, payload.
    const whole = createHash('sha256');
    const content = createHash('sha256');
    const write = async (chunk: Buffer) => {
      whole.update(chunk);
      await out.write(chunk);
    };
    // Pass 1: which blocks hold data, and the content hash (holes read back as zeros, fast).
    const zero = Buffer.alloc(BLOCK);
    const buf = Buffer.alloc(BLOCK);
    const blocks: number[] = [];
    let dataBytes = 0;
    for (let offset = 0; offset < sizeBytes; offset += BLOCK) {
      const n = readFully(fd, buf, Math.min(BLOCK, sizeBytes - offset), offset);
      const view = buf.subarray(0, n);
      content.update(view);
      if (!view.equals(zero.subarray(0, n))) {
        blocks.push(offset);
        dataBytes += n;
      }
    }
    const header: ImageFileHeader = {
      format: 'vnetlab-image',
      formatVersion: 1,
      name,
      record: status.record,
      manifest: readFileSync(manifestPath(name), 'utf8'),
      kernelVersion: status.record.kernelVersion,
      sizeBytes,
      contentSha256: content.digest('hex'),
      dataBytes,
      exportedAt: new Date().toISOString(),
    };
    const json = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(4);
    len.writeUInt32BE(json.length);
    await write(MAGIC);
    await write(len);
    await write(json);

    progress(`compressing ${mib(dataBytes)} of data (gzip)`);
    // Pass 2: compress the data blocks.
    const gzip = createGzip({ level: 6, chunkSize: 1 << 18 });
    const pumped = (async () => {
      for await (const chunk of gzip as AsyncIterable<Buffer>) await write(chunk);
    })();
    for (const offset of blocks) {
      const n = readFully(fd, buf, Math.min(BLOCK, sizeBytes - offset), offset);
      const rec = Buffer.alloc(12);
      rec.writeBigUInt64BE(BigInt(offset));
      rec.writeUInt32BE(n, 8);
      if (!gzip.write(rec)) await new Promise((r) => gzip.once('drain', r));
      if (!gzip.write(Buffer.from(buf.subarray(0, n)))) await new Promise((r) => gzip.once('drain', r));
    }
    gzip.end();
    await pumped;
    await out.write(whole.digest());
    await out.write(END);
    await out.sync();
    await out.close();
    renameSync(temp, file);
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    const fileBytes = statSync(file).size;
    progress(`exported '${name}' to ${file}: ${mib(fileBytes)} in ${seconds} s`);
    return { file, header, fileBytes, seconds };
  } catch (err) {
    await out.close().catch(() => {});
    rmSync(temp, { force: true });
    throw err;
  } finally {
    closeSync(fd);
  }
}

export interface ImportResult {
  name: string;
  path: string;
  header: ImageFileHeader;
  seconds: number;
}

/** Reads only the header of an image file, checking its framing; a UserError (exit 2) when it is not one. */
export function readImageHeader(file: string): { header: ImageFileHeader; payloadStart: number; payloadBytes: number } {
  const bad = (why: string): never => {
    throw new UserError(`${file} is not a usable vnetlab image file: ${why}`, 2, 'download or export it again (vnetlab image export NAME -o FILE)');
  };
  if (!existsSync(file)) throw new UserError(`${file} does not exist`, 2, 'give the path of a file made by vnetlab image export');
  const size = statSync(file).size;
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(12);
    if (readFully(fd, head, 12, 0) < 12 || !head.subarray(0, 8).equals(MAGIC)) bad('it does not start like one (wrong magic)');
    const n = head.readUInt32BE(8);
    if (n > MAX_HEADER || 12 + n + 40 > size) bad('it is truncated (header)');
    const json = Buffer.alloc(n);
    readFully(fd, json, n, 12);
    const payloadStart = 12 + n;
    const payloadBytes = size - payloadStart - 40;
    if (payloadBytes < 20) bad('it is truncated (no data)');
    const end = Buffer.alloc(8);
    readFully(fd, end, 8, size - 8);
    if (!end.equals(END)) bad('its end marker is missing (truncated or damaged)');
    let header: ImageFileHeader;
    try {
      header = JSON.parse(json.toString('utf8')) as ImageFileHeader;
    } catch {
      return bad('its header is not valid JSON (damaged)');
    }
    if (header.format !== 'vnetlab-image') bad('its header is not a vnetlab image header');
    if (header.formatVersion !== 1) bad(`it has format version ${header.formatVersion}; this vnetlab reads version 1 (a newer vnetlab made it: update vnetlab)`);
    if (typeof header.name !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/.test(header.name)) bad('its image name is invalid');
    if (!Number.isSafeInteger(header.sizeBytes) || header.sizeBytes <= 0 || header.sizeBytes % 1024 !== 0) bad('its image size is invalid');
    if (!/^[0-9a-f]{64}$/.test(String(header.contentSha256))) bad('its content checksum is invalid');
    return { header, payloadStart, payloadBytes };
  } finally {
    closeSync(fd);
  }
}

/**
 * Imports an image file into the image dir. Refused (UserError, exit 2, nothing written) when the file is
 * damaged, built for another kernel, or from guest files that differ from this vnetlab's (it would be
 * rebuilt at once). The image it replaces is kept while guest disks need it, as a rebuild does.
 */
export async function importImage(file: string, options: TransferOptions & { imageDir?: string } = {}): Promise<ImportResult> {
  const env = options.env ?? process.env;
  const progress = options.progress ?? (() => {});
  const started = Date.now();
  const { header, payloadStart, payloadBytes } = readImageHeader(file);
  const damaged = (why: string): never => {
    throw new UserError(`${file} is damaged: ${why}; nothing was imported`, 2, 'download or export it again');
  };
  // The whole-file checksum first: a damaged file is called damaged, whatever part of it changed.
  progress(`checking ${basename(file)} (${mib(statSync(file).size)})`);
  const trailer = Buffer.alloc(32);
  const tfd = openSync(file, 'r');
  readFully(tfd, trailer, 32, payloadStart + payloadBytes);
  closeSync(tfd);
  if (!(await sha256File(file, payloadStart + payloadBytes)).equals(trailer)) damaged('its checksum does not match (the file was changed or corrupted)');
  const name = header.name;
  loadManifest(name); // an image this vnetlab does not know is refused with the list of those it does
  const kernel = options.kernel ?? findKernel({ env });
  if (header.kernelVersion !== kernel.version) {
    throw new UserError(`${file} holds image '${name}' built for kernel ${header.kernelVersion}, but this host's UML kernel is ${kernel.version} (${kernel.binary}): its modules would not load`, 2, `export it from a host with kernel ${kernel.version}, or build it here: vnetlab image build ${name}`);
  }
  const localHash = manifestHash(name);
  if (header.record.manifestHash !== localHash) {
    throw new UserError(`${file} holds image '${name}' made from other guest files (manifest, init or agent) than this vnetlab's: it would count as stale and be rebuilt`, 2, `use the file exported by the same vnetlab version as this one, or build it here: vnetlab image build ${name}`);
  }

  const imageDir = options.imageDir ?? hostPaths(env).imageDir;
  mkdirSync(imageDir, { recursive: true });
  return withBuildLock(join(imageDir, `${name}.lock`), progress, async () => {
    const staging = mkdtempSync(join(imageDir, `.${name}.import-`));
    try {
      const tempImage = join(staging, `${name}.ext4`);
      progress(`unpacking into ${imageDir}`);
      const fd = openSync(tempImage, 'w');
      let written = 0;
      const content = createHash('sha256');
      try {
        const gunzip = createGunzip();
        const input = createReadStream(file, { start: payloadStart, end: payloadStart + payloadBytes - 1 });
        input.pipe(gunzip);
        input.on('error', (err) => gunzip.destroy(err));
        let pending: Buffer = Buffer.alloc(0);
        let expectNext = 0;
        // The content hash as the file is written: holes between blocks are zeros.
        try {
          for await (const chunk of gunzip as AsyncIterable<Buffer>) {
            pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
            for (;;) {
              if (pending.length < 12) break;
              const offset = Number(pending.readBigUInt64BE(0));
              const length = pending.readUInt32BE(8);
              if (length > BLOCK || offset < expectNext || offset + length > header.sizeBytes) damaged('a data block is out of place');
              if (pending.length < 12 + length) break;
              hashZeros(content, offset - expectNext);
              content.update(pending.subarray(12, 12 + length));
              writeFully(fd, pending.subarray(12, 12 + length), offset);
              written += length;
              expectNext = offset + length;
              pending = pending.subarray(12 + length);
            }
          }
        } catch (err) {
          if (err instanceof UserError) throw err;
          damaged(`its compressed data cannot be read (${(err as Error).message})`);
        }
        if (pending.length) damaged('its data ends in the middle of a block');
        hashZeros(content, header.sizeBytes - expectNext);
        ftruncateSync(fd, header.sizeBytes);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      if (written !== header.dataBytes) damaged(`it carries ${written} bytes of data, its header says ${header.dataBytes}`);
      if (content.digest('hex') !== header.contentSha256) damaged('the unpacked image does not have the checksum it was exported with');

      // The record as if built here: kernel and manifest hash were checked above.
      const record: ImageRecord & { importedFrom?: string; importedAt?: string } = {
        ...header.record,
        sizeBytes: header.sizeBytes,
        diskBytes: statSync(tempImage).blocks * 512,
        importedFrom: basename(file),
        importedAt: new Date().toISOString(),
      };
      const tempRecord = join(staging, `${name}.json`);
      writeFileSync(tempRecord, `${JSON.stringify(record, null, 2)}\n`);
      const path = join(imageDir, `${name}.ext4`);
      const before = imageStatus(name, { env: { ...env, VNETLAB_IMAGE_DIR: imageDir }, kernel });
      if (before.record) retainImage(path, name, before.record.builtAt);
      renameSync(tempImage, path);
      renameSync(tempRecord, path.replace(/\.ext4$/, '.json'));
      for (const old of pruneRetainedImages(name, { ...env, VNETLAB_IMAGE_DIR: imageDir })) progress(`removed ${old}: no guest disk uses it any more`);
      const seconds = Math.round((Date.now() - started) / 100) / 10;
      progress(`imported '${name}' (built ${header.record.builtAt} for kernel ${header.kernelVersion}) in ${seconds} s: ${path}`);
      return { name, path, header, seconds };
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  });
}

const ZEROS = Buffer.alloc(BLOCK);
function hashZeros(hash: ReturnType<typeof createHash>, bytes: number): void {
  for (; bytes > 0; bytes -= BLOCK) hash.update(bytes >= BLOCK ? ZEROS : ZEROS.subarray(0, bytes));
}

/** sha256 of a file, or of its first `length` bytes. */
async function sha256File(path: string, length?: number): Promise<Buffer> {
  const hash = createHash('sha256');
  if (length === 0) return hash.digest();
  const stream = createReadStream(path, { highWaterMark: BLOCK, ...(length === undefined ? {} : { start: 0, end: length - 1 }) });
  for await (const chunk of stream as AsyncIterable<Buffer>) hash.update(chunk);
  return hash.digest();
}

function readFully(fd: number, buf: Buffer, length: number, position: number): number {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

function writeFully(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, position + done);
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 2 ** 20)} MiB`;
}
