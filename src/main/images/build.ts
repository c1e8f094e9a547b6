// Building, checking and listing guest images in the image dir (hostPaths().imageDir):
//   <name>.ext4  the root file system, made with `mkfs.ext4 -d` from a staging folder (no loop mount)
//   <name>.json  what it was built from: manifest hash, kernel version, size, build time
// An image is stale when its manifest/init/agent changed or it was built for another kernel; stale
// images are rebuilt, never silently reused. A build writes temp files and renames them into place, so
// a failed or interrupted build leaves the previous image (or nothing), never half of one.
import { closeSync, existsSync, mkdirSync, symlinkSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { hostPaths } from '../paths.ts';
import { findKernel, requireTool, type KernelInfo } from './kernel.ts';
import { availableImages, loadManifest, manifestHash, type ImageManifest } from './manifest.ts';
import { IMAGE_MKFS_EXTENDED, installGuestFiles, run, type Progress } from './rootfs/common.ts';
import { pruneRetainedImages, retainImage } from './backing.ts';
import { stageBusyboxRoot } from './rootfs/tiny.ts';
import { buildDebianImageRootless, stageDebianRoot, stageDebianShims } from './rootfs/debian.ts';

/**
 * Debian images are built without root (mmdebstrap --mode=unshare) when vnetlab does not run as root,
 * or when VNETLAB_ROOTLESS_BUILD=1; VNETLAB_ROOTLESS_BUILD=0 forces the debootstrap build (needs root).
 */
export function rootlessBuild(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.VNETLAB_ROOTLESS_BUILD === '1') return true;
  if (env.VNETLAB_ROOTLESS_BUILD === '0') return false;
  return typeof process.getuid === 'function' && process.getuid() !== 0;
}

export interface ImageRecord {
  name: string;
  manifestVersion: number;
  manifestHash: string;
  kernelVersion: string;
  /** The NIC syntax of the kernel it was built for (found from the binary: KernelInfo.nicSyntax). */
  nicSyntax?: 'legacy' | 'vector';
  sizeBytes: number;
  /** Bytes the sparse file really uses on disk. */
  diskBytes: number;
  builtAt: string;
  buildSeconds: number;
}

export interface ImageStatus {
  name: string;
  path: string;
  built: boolean;
  /** Why it must be rebuilt, when it must. */
  staleReason?: string;
  record?: ImageRecord;
  manifest: ImageManifest;
}

export interface ImageOptions {
  env?: NodeJS.ProcessEnv;
  /** Rebuild even when the image is up to date. */
  force?: boolean;
  progress?: Progress;
  kernel?: KernelInfo;
}

export function imagePath(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(hostPaths(env).imageDir, `${name}.ext4`);
}

export function imageStatus(name: string, options: { env?: NodeJS.ProcessEnv; kernel?: KernelInfo } = {}): ImageStatus {
  const env = options.env ?? process.env;
  const manifest = loadManifest(name, env);
  const path = imagePath(name, env);
  const recordPath = path.replace(/\.ext4$/, '.json');
  const status: ImageStatus = { name, path, built: false, manifest };
  if (!existsSync(path) || !existsSync(recordPath)) {
    status.staleReason = 'not built';
    return status;
  }
  let record: ImageRecord;
  try {
    record = JSON.parse(readFileSync(recordPath, 'utf8')) as ImageRecord;
  } catch {
    status.staleReason = `${recordPath} is unreadable`;
    return status;
  }
  status.built = true;
  status.record = { ...record, diskBytes: statSync(path).blocks * 512 };
  const kernel = options.kernel ?? findKernel({ env });
  if (record.kernelVersion !== kernel.version) status.staleReason = `built for kernel ${record.kernelVersion}, the kernel is ${kernel.version}`;
  else if (record.manifestHash !== manifestHash(name, env)) status.staleReason = 'its manifest, init or agent changed since it was built';
  else if (statSync(path).size !== record.sizeBytes) status.staleReason = `${path} does not have the size it was built with`;
  return status;
}

export function listImages(options: { env?: NodeJS.ProcessEnv } = {}): ImageStatus[] {
  const kernel = findKernel({ env: options.env });
  // The instructor's recipes too (a broken one is left out here; `image build` says what is wrong with it).
  return availableImages({ recipes: true, env: options.env }).flatMap((name) => {
    try {
      return [imageStatus(name, { env: options.env, kernel })];
    } catch {
      return [];
    }
  });
}

/**
 * Read-only folders where an installed vnetlab (a .deb, an administrator, `vnetlab image import` with
 * VNETLAB_IMAGE_DIR pointing there) puts images for every user: looked in, in this order, after the
 * user's own cache. `$VNETLAB_SYSTEM_IMAGE_DIRS` (colon-separated; empty: none) replaces the default.
 */
export const SYSTEM_IMAGE_DIRS = ['/var/lib/vnetlab/images', '/usr/share/vnetlab/images'];

export function systemImageDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const fromEnv = env.VNETLAB_SYSTEM_IMAGE_DIRS;
  return (fromEnv === undefined ? SYSTEM_IMAGE_DIRS : fromEnv.split(':')).filter((d) => d.startsWith('/'));
}

/**
 * The first up-to-date image `name` in the system-wide folders, or undefined. Same checks as the
 * user's own images (kernel version, manifest hash, size).
 */
export function systemImage(name: string, options: { env?: NodeJS.ProcessEnv; kernel?: KernelInfo } = {}): ImageStatus | undefined {
  const env = options.env ?? process.env;
  const own = resolve(hostPaths(env).imageDir);
  for (const dir of systemImageDirs(env)) {
    if (resolve(dir) === own) continue;
    const status = imageStatus(name, { env: { ...env, VNETLAB_IMAGE_DIR: dir, VNETLAB_SYSTEM_IMAGE_DIRS: '' }, kernel: options.kernel });
    if (status.built && !status.staleReason) return status;
  }
  return undefined;
}

/**
 * The image ready to boot: the user's own when it is up to date; else an up-to-date one from a
 * system-wide folder, linked into the user's cache (the plan names the cache's path, and guest disks
 * record it); else built. Used by the runtime before starting guests.
 */
export async function ensureImage(name: string, options: ImageOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const status = imageStatus(name, options);
  if (!status.staleReason && !options.force) return status.path;
  if (!options.force) {
    const kernel = options.kernel ?? findKernel({ env });
    const shared = systemImage(name, { env, kernel });
    if (shared) {
      linkSystemImage(shared, status, env);
      (options.progress ?? (() => {}))(`using the system-wide image ${shared.path}`);
      return status.path;
    }
  }
  await buildImage(name, options);
  return status.path;
}

/** `<cache>/<name>.ext4` → the system image (a symlink), and its record copied with where it came from. */
function linkSystemImage(shared: ImageStatus, own: ImageStatus, env: NodeJS.ProcessEnv): void {
  const dir = hostPaths(env).imageDir;
  mkdirSync(dir, { recursive: true });
  const path = own.path;
  // Disks made from the image being replaced still need it: keep it under its build time, as a rebuild does.
  if (own.record) retainImage(path, own.name, own.record.builtAt);
  const suffix = `.${process.pid}.tmp`;
  rmSync(path + suffix, { force: true });
  symlinkSync(shared.path, path + suffix);
  writeFileSync(path.replace(/\.ext4$/, '.json') + suffix, `${JSON.stringify({ ...shared.record, systemImage: shared.path }, null, 2)}\n`);
  renameSync(path + suffix, path);
  renameSync(path.replace(/\.ext4$/, '.json') + suffix, path.replace(/\.ext4$/, '.json'));
}

export async function buildImage(name: string, options: ImageOptions = {}): Promise<ImageStatus> {
  const env = options.env ?? process.env;
  const progress = options.progress ?? (() => {});
  const manifest = loadManifest(name, env);
  const kernel = options.kernel ?? findKernel({ env });
  const imageDir = hostPaths(env).imageDir;
  mkdirSync(imageDir, { recursive: true });

  return withBuildLock(join(imageDir, `${name}.lock`), progress, async () => {
    // Someone else may have built it while we waited for the lock.
    const before = imageStatus(name, { env, kernel });
    if (!before.staleReason && !options.force) return before;

    const mkfs = requireTool('mkfs.ext4', env);
    const started = Date.now();
    // Hash what the build starts from: a file edited during the build makes the result stale, not falsely fresh.
    const hash = manifestHash(name, env);
    const staging = mkdtempSync(join(imageDir, `.${name}.build-`));
    try {
      const root = join(staging, 'root');
      mkdirSync(root);
      progress(`building image '${name}' (${manifest.description}) for kernel ${kernel.version}`);
      const tempImage = join(staging, `${name}.ext4`);
      const label = `vnetlab-${name}`.slice(0, 16);
      const sizeArg = `${manifest.sizeBytes / 1024}k`;
      const cacheDir = join(imageDir, 'build-cache', name);
      if (manifest.base === 'debootstrap' && rootlessBuild(env)) {
        // No root: vnetlab's files are staged as the user (under usr/: the root is merged-/usr), the
        // rest happens in a user namespace.
        for (const dir of ['lib', 'sbin', 'bin']) {
          mkdirSync(join(root, 'usr', dir), { recursive: true });
          symlinkSync(`usr/${dir}`, join(root, dir));
        }
        installGuestFiles(root, kernel, env, progress);
        stageDebianShims(root, progress);
        await buildDebianImageRootless(manifest, { overlay: root, image: tempImage, mkfs, sizeArg, label, staging, cacheDir, env, progress });
      } else {
        if (manifest.base === 'busybox') stageBusyboxRoot(root, env, progress);
        else await stageDebianRoot(root, manifest, { env, progress, cacheDir });
        installGuestFiles(root, kernel, env, progress);
        progress(`writing the ext4 file system (mkfs.ext4 -d, ${manifest.sizeBytes / 2 ** 20} MiB sparse)`);
        await run(mkfs, ['-q', '-F', '-t', 'ext4', '-L', label, '-E', IMAGE_MKFS_EXTENDED, '-d', root, tempImage, sizeArg]);
      }

      const record: ImageRecord = {
        name,
        manifestVersion: manifest.version,
        manifestHash: hash,
        kernelVersion: kernel.version,
        nicSyntax: kernel.nicSyntax,
        sizeBytes: statSync(tempImage).size,
        diskBytes: statSync(tempImage).blocks * 512,
        builtAt: new Date().toISOString(),
        buildSeconds: Math.round((Date.now() - started) / 100) / 10,
      };
      const tempRecord = join(staging, `${name}.json`);
      writeFileSync(tempRecord, `${JSON.stringify(record, null, 2)}\n`);
      // Disks made from the image being replaced still need it: keep it under its build time.
      const path = imagePath(name, env);
      if (before.record) retainImage(path, name, before.record.builtAt);
      // Image first, record second: an image without a matching record counts as stale, never the reverse.
      renameSync(tempImage, path);
      renameSync(tempRecord, path.replace(/\.ext4$/, '.json'));
      for (const old of pruneRetainedImages(name, env)) progress(`removed ${old}: no guest disk uses it any more`);
      progress(`image '${name}' built in ${record.buildSeconds} s: ${path} (${Math.round(record.diskBytes / 2 ** 20)} MiB on disk)`);
      return imageStatus(name, { env, kernel });
    } finally {
      // A root built without root may leave files owned by subordinate ids: never let cleaning them
      // hide why the build failed; say where they are instead.
      try {
        rmSync(staging, { recursive: true, force: true });
      } catch (err) {
        progress(`could not remove the build folder ${staging} (${(err as NodeJS.ErrnoException).code}); it holds files of your subordinate ids: remove it with sudo rm -rf ${staging}`);
      }
    }
  });
}

/**
 * One build of an image at a time across processes (parallel test files, a CLI build and a lab start):
 * an O_EXCL lock file holding the builder's pid. A lock whose pid is gone is taken over.
 */
export async function withBuildLock<T>(lockPath: string, progress: Progress, body: () => Promise<T>): Promise<T> {
  let told = false;
  for (;;) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSafe(lockPath).trim());
      if (!holder || !isAlive(holder)) {
        // The builder died: its lock is stale. Remove it and try again (another waiter may win; fine).
        try { unlinkSync(lockPath); } catch { /* already taken over */ }
        continue;
      }
      if (!told) progress(`waiting for another build of this image (pid ${holder}) to finish`);
      told = true;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await body();
  } finally {
    try { unlinkSync(lockPath); } catch { /* gone already */ }
  }
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
