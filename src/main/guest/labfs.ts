// Builds the read-only lab-fs image (ubd1 of every guest) from a plan's `labFs.entries`: stages the
// entries in a temp folder, then `mkfs.ext4 -d` turns that folder into an image without root or a
// loop mount. Written to a temp file and renamed, so a guest never sees a half-built image.
// The compiler checked paths lexically; here, with the files at hand, symlinks are resolved and any
// source that really lives outside the lab folder is refused.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { chmod, link, lstat, mkdir, mkdtemp, open, readdir, readFile, readlink, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { LabFsEntry, LabFsPlan } from '../../shared/plan.ts';
import { EnvironmentError, UserError } from '../errors.ts';
import { cacheDirOf, hostPaths, PACK_DIR } from '../paths.ts';
import { whichTool } from '../images/kernel.ts';
import { ignoreWgetTimeoutOption, isStaticElf, wgetHasTimeout } from '../images/rootfs/tiny.ts';
import { IPV6_LATER_FILE, ipv6CanWait } from './ipv6-later.ts';

/** Where the agent mounts the lab-fs in every guest (kernels/guest/agent/vnetlab-agent.c, boot_guest). */
export const LABFS_MOUNT = '/run/vnetlab/labfs';
/** The grader's tool set in the lab-fs: a static busybox, and one applet link per tool in `bin/`. */
export const LABFS_TOOLS = `${LABFS_MOUNT}/tools`;

const run = promisify(execFile);

const LABEL = 'vnetlab-lab';
const BLOCK = 4096;
/** Room for ext4's own metadata (superblocks, inode tables, journal) on top of the content. */
const HEADROOM_BYTES = 8 * 1024 * 1024;
const HEADROOM_FACTOR = 1.5;

export interface BuildLabFsOptions {
  /** The lab folder: no source may resolve outside it. */
  labRoot: string;
  /** Where to look for the host's static busybox (PATH); process.env by default. */
  env?: NodeJS.ProcessEnv;
  /**
   * A private folder of the lab's (its state folder) where the last image is kept, named by what it was
   * built from: the next start of an unchanged lab takes it instead of building again (~0.35 s of CPU).
   */
  cacheDir?: string;
  /**
   * Where to stage the image's files: a private folder on the host's tmpfs (runtime/host-tmpfs.ts), where
   * ~400 tool links and the lab's files cost ~5 µs each against ~100 µs on a disk's ext4. Default: beside
   * the image.
   */
  stagingParent?: string;
  /**
   * Called once the image is in place, before the build tidies up (removes its staging folder, keeps the
   * image for the next start): guests may boot from then on. The returned promise still waits for all.
   */
  onImageReady?(): void;
}

let buildCount = 0;

/** A build's staging folder is named for the process that builds it: `clean` removes those left by one that died. */
export const STAGING_PREFIX = 'labfs-staging-';

/** Where a lab's lab-fs image is kept between starts, in its state folder (`cacheDir`); `wipe` removes it. */
export function keptLabFsDir(stateDir: string): string {
  return join(stateDir, 'labfs');
}

export async function buildLabFs(labFs: LabFsPlan, options: BuildLabFsOptions): Promise<void> {
  const labRoot = await realpath(options.labRoot).catch(() => {
    throw new UserError(`the lab folder ${options.labRoot} does not exist`);
  });
  await mkdir(dirname(labFs.image), { recursive: true });
  const imageDir = await realpath(dirname(labFs.image));
  const image = join(imageDir, basename(labFs.image));
  // Unique per build: two starts of one lab in one process (two Start clicks) each build their own.
  const partial = `${image}.partial-${process.pid}-${++buildCount}`;
  // vnetlab's own folders, should the lab folder hold them (VNETLAB_STATE_DIR or the run dir set inside
  // it): guest disks and sockets are no lab files, and copying a lab's disks into its lab-fs took 46 s.
  const env = options.env ?? process.env;
  const { stateRoot, runtimeRoot } = hostPaths(env);
  const ours = await Promise.all([stateRoot, runtimeRoot, dirname(image), ...(options.cacheDir ? [options.cacheDir] : [])].map((p) => realpath(p).catch(() => p)));
  const skip = (staging: string) => [staging, partial, image, join(labRoot, PACK_DIR), ...ours];
  const cached = options.cacheDir ? join(keptLabFsDir(options.cacheDir), `labfs-${await labFsKey(labFs, labRoot, skip(''), env)}.ext4`) : undefined;
  if (cached && (await linkOrCopy(cached, partial))) {
    await rename(partial, image);
    options.onImageReady?.();
    // When the image already was that very file (a link made by the last start), rename does nothing
    // and leaves the partial name behind: one more link at every start.
    await rm(partial, { force: true });
    return;
  }
  const staging = await mkdtemp(join(options.stagingParent ?? imageDir, `${STAGING_PREFIX}${process.pid}-`));
  try {
    // An unpacked pack's disks (PACK_DIR) are the guests' disks, not lab files for /hostlab.
    const stager = new Stager(labRoot, staging, skip(staging));
    const sorted = [...labFs.entries].sort((a, b) => (a.dest < b.dest ? -1 : a.dest > b.dest ? 1 : 0));
    for (const entry of sorted) {
      stager.place(entry);
      await new Promise((resolve) => setImmediate(resolve));
    }
    // Last, so that no lab entry can replace it: /tools is not a destination the compiler gives out.
    stager.count(await placeTools(staging, options.env));
    // Only the lab folder is read: the compiler's own files (a Netkit machine's default net.ipv6 forwarding) do not count.
    if (!(await exists(join(staging, 'lab'))) || (await ipv6CanWait(join(staging, 'lab')))) {
      await writeFile(join(staging, IPV6_LATER_FILE), 'IPv6 comes after the start: nothing in this lab speaks of it (src/main/guest/ipv6-later.ts)\n', { mode: 0o644 });
      stager.count(1);
    }
    await rm(partial, { force: true });
    await mkfs(staging, partial, imageSizeKiB(stager.usedBytes));
    await ownAllByRoot(staging, partial);
    await rename(partial, image);
    options.onImageReady?.();
    if (cached) await keep(image, cached);
  } finally {
    await rm(staging, { recursive: true, force: true });
    await rm(partial, { force: true });
  }
}

/**
 * What a lab-fs image is built from, as a hash: the plan's entries, every file of the lab folder (path,
 * type, size, mtime, mode, a link's target), the host's busybox, who builds it, and this code itself
 * (its module file: in the command's bundle, any change to vnetlab). A lab edited in any way builds anew.
 */
async function labFsKey(labFs: LabFsPlan, labRoot: string, skip: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const hash = createHash('sha256');
  const stamp = async (path: string) => {
    const st = await lstat(path).catch(() => undefined);
    return st ? `${st.size}:${st.mtimeMs}:${st.mode}:${st.ino}` : '-';
  };
  const busybox = whichTool('busybox', env) ?? '';
  hash.update(JSON.stringify({ entries: labFs.entries, uid: process.getuid?.(), busybox }));
  hash.update(await stamp(busybox));
  for (const code of [import.meta.url, new URL('./ipv6-later.ts', import.meta.url).href]) hash.update(await stamp(fileURLToPath(code)));
  const walk = async (dir: string): Promise<void> => {
    const items = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const item of items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const path = join(dir, item.name);
      if (skip.includes(path)) continue;
      hash.update(`\0${relative(labRoot, path)}\0${await stamp(path)}`);
      if (item.isSymbolicLink()) hash.update(await readlink(path).catch(() => '?'));
      else if (item.isDirectory()) await walk(path);
    }
  };
  await walk(labRoot);
  return hash.digest('hex').slice(0, 24);
}

/** The kept image, as `dest`: a hard link where it can (guests open the lab-fs read-only, ubd1r), else a copy. */
async function linkOrCopy(kept: string, dest: string): Promise<boolean> {
  try {
    await link(kept, dest);
    return true;
  } catch {
    return copySparse(kept, dest).then(
      () => true,
      () => false,
    );
  }
}

/**
 * A copy that leaves the source's holes out, for an image and its keeping place on two file systems
 * (the run dir on a tmpfs, the state dir on a disk). An ext4 image is mostly holes: a plain copy wrote
 * all of its ~13 MB, into RAM on the tmpfs, where ~3 MB hold data.
 */
async function copySparse(from: string, to: string): Promise<void> {
  const source = await open(from, 'r');
  try {
    const target = await open(to, 'wx', 0o644);
    try {
      const size = (await source.stat()).size;
      const chunk = Buffer.alloc(1024 * 1024);
      const zeros = Buffer.alloc(BLOCK);
      for (let offset = 0; offset < size; offset += chunk.length) {
        const { bytesRead } = await source.read(chunk, 0, chunk.length, offset);
        // Each run of blocks holding data is written in one call; blocks of zeros are skipped.
        let run = -1;
        for (let block = 0; block < bytesRead + BLOCK; block += BLOCK) {
          const start = Math.min(block, bytesRead);
          const data = start < bytesRead ? chunk.subarray(start, Math.min(start + BLOCK, bytesRead)) : undefined;
          const holds = !!data && !(data.length === BLOCK && data.equals(zeros));
          if (holds && run < 0) run = start;
          if (!holds && run >= 0) {
            await target.write(chunk, run, start - run, offset + run);
            run = -1;
          }
        }
      }
      await target.truncate(size);
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

/** Keeps the image just built for the next start, in place of older ones (a failure only costs the next start a build). */
async function keep(image: string, kept: string): Promise<void> {
  const dir = dirname(kept);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const partial = `${kept}.${process.pid}.partial`;
    await rm(partial, { force: true });
    if (!(await linkOrCopy(image, partial))) return;
    await rename(partial, kept);
    for (const old of await readdir(dir)) if (old !== basename(kept)) await rm(join(dir, old), { force: true });
  } catch {
    // a full or read-only state folder: built again next time
  }
}

/**
 * Copies entries into the staging folder, counting the space they will take in the image. With
 * synchronous file calls: awaited one by one through the thread pool, they made a cold lab-fs build ~20 %
 * slower (the caller yields between entries, so an app serving consoles is not held for long).
 */
class Stager {
  usedBytes = 0;

  constructor(
    private readonly labRoot: string,
    private readonly staging: string,
    /** Never copied into the image, should the lab folder hold them (run dir inside the lab). */
    private readonly skip: string[],
  ) {}

  place(entry: LabFsEntry): void {
    const target = join(this.staging, entry.dest);
    if (!target.startsWith(`${this.staging}/`)) throw new UserError(`lab-fs destination '${entry.dest}' leaves the image`);
    mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    if ('content' in entry) {
      this.clear(target);
      writeFileSync(target, entry.content, { mode: entry.mode ?? 0o644 });
      chmodSync(target, entry.mode ?? 0o644);
      this.count(Buffer.byteLength(entry.content));
      return;
    }
    const source = this.insideLab(entry.from);
    const info = statSync(source);
    if (entry.kind === 'dir') {
      if (!info.isDirectory()) throw new UserError(`${entry.from} should be a folder (it is placed at ${entry.dest})`);
      this.copyDir(source, target, new Set([source]));
    } else {
      if (!info.isFile()) throw new UserError(`${entry.from} should be a file (it is placed at ${entry.dest})`);
      this.clear(target);
      copyFileSync(source, target);
      this.count(info.size);
    }
    if (entry.mode !== undefined) chmodSync(target, entry.mode);
  }

  /** Copies a folder, following symlinks that stay inside the lab; `ancestors` stops symlink loops. */
  private copyDir(source: string, target: string, ancestors: Set<string>): void {
    mkdirSync(target, { recursive: true, mode: 0o755 });
    this.count(0);
    for (const item of readdirSync(source, { withFileTypes: true })) {
      let from = join(source, item.name);
      if (this.skip.includes(from)) continue;
      const to = join(target, item.name);
      if (item.isSymbolicLink()) {
        // A dangling link inside the lab points nowhere in the guest either: leave it out.
        if (!existsSync(from)) continue;
        from = this.insideLab(from);
      }
      const info = statSync(from);
      if (info.isDirectory()) {
        if (ancestors.has(from) || this.skip.includes(from)) continue;
        this.copyDir(from, to, new Set([...ancestors, from]));
      } else if (info.isFile()) {
        this.clear(to);
        copyFileSync(from, to);
        this.count(info.size);
      }
      // Sockets, FIFOs and devices have no place in a lab image.
    }
  }

  /** The real path of a source, refusing one that resolves outside the lab folder. */
  private insideLab(path: string): string {
    let real: string;
    try {
      real = realpathSync(path);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new UserError(`cannot read ${path}: ${e.code === 'ENOENT' ? 'it does not exist (a dangling symlink?)' : e.message}`);
    }
    if (real !== this.labRoot && !real.startsWith(`${this.labRoot}/`)) {
      const shown = relative(this.labRoot, path).startsWith('..') ? path : relative(this.labRoot, path);
      throw new UserError(
        `${shown} resolves to ${real}, outside the lab folder ${this.labRoot}`,
        undefined,
        'a lab may only use files inside its folder: copy the file into the lab instead of linking to it',
      );
    }
    return real;
  }

  /** A file replaces whatever an earlier, broader entry put at the same place. */
  private clear(target: string): void {
    rmSync(target, { recursive: true, force: true });
  }

  count(bytes: number): void {
    this.usedBytes += Math.max(1, Math.ceil(bytes / BLOCK)) * BLOCK;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function imageSizeKiB(usedBytes: number): number {
  return Math.ceil((usedBytes * HEADROOM_FACTOR + HEADROOM_BYTES) / 1024);
}

/**
 * `mkfs.ext4 -d` gives each inode the owner of its staged file: the user who started the lab. In the
 * guest every lab file must be root's, as in Netkit and Kathará (the init copies root/ with `cp -a`,
 * so a uid 1000 would land on /etc itself). Without root to chown the staging folder, debugfs
 * rewrites the owners in the image instead.
 */
async function ownAllByRoot(staging: string, image: string): Promise<void> {
  const commands: string[] = [];
  // Synchronous calls, yielding every few hundred entries: awaited one by one, the ~400 entries of a
  // small lab took ~30 ms (thread-pool round trips) on the way to the first boot; now ~2 ms.
  let sinceYield = 0;
  const visit = async (dir: string, inImage: string) => {
    for (const item of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, item.name);
      const inside = `${inImage}/${item.name}`;
      const info = lstatSync(path);
      if (info.uid !== 0 || info.gid !== 0) {
        if (/["\\\n]/.test(inside)) throw new UserError(`cannot place ${inside} in the lab image: its name holds a quote, backslash or newline`, undefined, 'rename the file in the lab folder');
        commands.push(`sif "${inside}" uid 0`, `sif "${inside}" gid 0`);
      }
      if (item.isDirectory()) await visit(path, inside);
      if (++sinceYield >= 500) {
        sinceYield = 0;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  };
  await visit(staging, '');
  const root = await lstat(staging);
  if (root.uid !== 0 || root.gid !== 0) commands.push('sif / uid 0', 'sif / gid 0');
  if (commands.length === 0) return;
  const script = `${image}.owners`;
  try {
    await writeFile(script, `${commands.join('\n')}\n`);
    const { stderr } = await run(sbinTool('debugfs'), ['-w', '-f', script, image], { maxBuffer: 64 * 1024 * 1024 });
    // debugfs exits 0 even when a command fails; anything past its version banner is a failure.
    const problems = stderr.split('\n').filter((line) => line.trim() !== '' && !/^debugfs \d/.test(line));
    if (problems.length > 0) throw new EnvironmentError(`debugfs could not set owners in ${image}: ${problems.slice(0, 3).join('; ')}`);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new EnvironmentError('debugfs is not installed', 'install e2fsprogs (apt-get install e2fsprogs)');
    throw err instanceof UserError ? err : new EnvironmentError(`debugfs could not set owners in ${image}: ${(e.stderr || e.message).trim()}`);
  } finally {
    await rm(script, { force: true });
  }
}

/** e2fsprogs live in /sbin, which a normal user's PATH on Debian does not hold: look there too. */
function sbinTool(name: string): string {
  return whichTool(name) ?? name;
}

async function mkfs(staging: string, image: string, sizeKiB: number): Promise<void> {
  try {
    await run(sbinTool('mkfs.ext4'), ['-q', '-F', '-d', staging, '-L', LABEL, image, `${sizeKiB}k`], { maxBuffer: 4 * 1024 * 1024 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new EnvironmentError('mkfs.ext4 is not installed', 'install e2fsprogs (apt-get install e2fsprogs)');
    throw new EnvironmentError(`mkfs.ext4 could not build the lab image ${image}: ${(e.stderr || e.message).trim()}`);
  }
}

interface ToolSet {
  /** The busybox it was made from: path, size, mtime, inode. */
  stamp: string;
  binary: Buffer;
  applets: string[];
}

let toolsCache: ToolSet | undefined;

/**
 * The grader's tool set (`/tools` in the image, LABFS_TOOLS in the guest): the host's static busybox
 * (Debian's busybox-static, as in the `tiny` image, with the same `wget -T` fix) and `bin/<applet>`
 * links to it. Checks run in it (the agent's `T` request), so a student's /bin/sh or `ip` is not
 * what grades them. Without a static busybox on the host there is no tool set: checks then fail
 * saying so (the agent answers 127), never falling back to the guest's shell. Returns the bytes used.
 */
async function placeTools(staging: string, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const busybox = whichTool('busybox', env);
  if (!busybox || !isStaticElf(busybox)) return 0;
  const set = await toolSet(busybox, env);
  const tools = join(staging, 'tools');
  await mkdir(join(tools, 'bin'), { recursive: true, mode: 0o755 });
  await writeFile(join(tools, 'busybox'), set.binary, { mode: 0o755 });
  await chmod(join(tools, 'busybox'), 0o755);
  // ~400 links, one synchronous call each: awaiting each was a thread-pool round trip.
  for (const applet of set.applets) symlinkSync('../busybox', join(tools, 'bin', applet));
  return set.binary.length + set.applets.length * BLOCK;
}

/**
 * The applets and the patched binary of this busybox: made once (busybox asked for its applets and its
 * wget's options, the binary read and patched: two execs and ~15 ms on the way to a lab's first boot)
 * and kept in the user's cache, named by the busybox and this code, for every later start.
 */
async function toolSet(busybox: string, env: NodeJS.ProcessEnv): Promise<ToolSet> {
  const st = statSync(busybox);
  const code = statSync(fileURLToPath(import.meta.url));
  const stamp = `${busybox}:${st.size}:${st.mtimeMs}:${st.ino}:${code.size}:${code.mtimeMs}`;
  if (toolsCache?.stamp === stamp) return toolsCache;
  const kept = join(cacheDirOf(env), 'tools', `busybox-${createHash('sha256').update(stamp).digest('hex').slice(0, 24)}`);
  try {
    const binary = readFileSync(`${kept}.bin`);
    const applets = readFileSync(`${kept}.applets`, 'utf8').split('\n').filter(Boolean);
    if (binary.length > 0 && applets.length > 0) return (toolsCache = { stamp, binary, applets });
  } catch {
    // not kept yet
  }
  const { stdout } = await run(busybox, ['--list'], { maxBuffer: 1024 * 1024 });
  let binary: Buffer = await readFile(busybox);
  if (!wgetHasTimeout(busybox)) binary = ignoreWgetTimeoutOption(binary) ?? binary;
  const applets = stdout.split('\n').map((a) => a.trim()).filter((a) => /^[A-Za-z0-9._[-]+$/.test(a) && a !== '.' && a !== '..');
  toolsCache = { stamp, binary, applets };
  try {
    mkdirSync(dirname(kept), { recursive: true, mode: 0o700 });
    // The list last: a reader that finds it finds the binary whole.
    for (const [file, data] of [[`${kept}.bin`, binary], [`${kept}.applets`, `${applets.join('\n')}\n`]] as const) {
      writeFileSync(`${file}.${process.pid}.partial`, data, { mode: 0o600 });
      renameSync(`${file}.${process.pid}.partial`, file);
    }
    // One tool set is kept: those of an older busybox or vnetlab go (2 MB each).
    for (const old of readdirSync(dirname(kept))) if (!join(dirname(kept), old).startsWith(kept)) rmSync(join(dirname(kept), old), { force: true });
  } catch {
    // a read-only cache: made again next time
  }
  return toolsCache;
}
