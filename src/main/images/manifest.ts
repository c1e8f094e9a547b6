// Image manifests (kernels/images/<name>.yaml) and the hash that decides when a built image is stale:
// it covers the manifest and every file the build copies into the guest (init, agent source, shims),
// so changing any of them rebuilds the image instead of silently reusing an old one.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { UserError } from '../errors.ts';

/** The project's kernels/ folder (manifests, guest init, agent source, shims). */
export const KERNELS_DIR = fileURLToPath(new URL('../../../kernels/', import.meta.url));
export const GUEST_DIR = join(KERNELS_DIR, 'guest');
/** Host-side build scripts (the Debian chroot steps). */
export const BUILD_SCRIPTS_DIR = join(KERNELS_DIR, 'build');
/** The TypeScript that lays out a root file system: part of what an image is made of. */
const ROOTFS_CODE_DIR = fileURLToPath(new URL('./rootfs/', import.meta.url));

export interface ImageManifest {
  name: string;
  version: number;
  description: string;
  base: 'busybox' | 'debootstrap';
  /** Apparent size of the ext4 file in bytes. */
  sizeBytes: number;
  /** Guest memory in MiB that suits this image. */
  memoryMiB: number;
  /** The least memory a guest of this image gets whatever the lab asks (src/main/compiler/memory.ts). */
  minMemoryMiB: number;
  packages: string[];
  suite?: string;
  variant?: string;
  mirror?: string;
  /** Where it was read from. */
  file: string;
}

export function manifestPath(name: string): string {
  return join(KERNELS_DIR, 'images', `${name}.yaml`);
}

export function availableImages(): string[] {
  return readdirSync(join(KERNELS_DIR, 'images'))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -5))
    .sort();
}

export function loadManifest(name: string): ImageManifest {
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(name)) throw new UserError(`'${name}' is not an image name`, 2, `images: ${availableImages().join(', ')}`);
  const file = manifestPath(name);
  if (!existsSync(file)) throw new UserError(`there is no image called '${name}'`, 2, `images: ${availableImages().join(', ')}`);
  const text = readFileSync(file, 'utf8');
  const doc = parseDocument(text);
  const lineOf = (key: string): number => {
    const node = doc.get(key, true) as { range?: [number] } | undefined;
    const offset = node?.range?.[0];
    return offset === undefined ? 1 : text.slice(0, offset).split('\n').length;
  };
  const fail = (key: string, what: string): never => {
    throw new UserError(`${file}:${lineOf(key)}: ${what}`, 2, 'fix the image manifest');
  };
  if (doc.errors.length) fail('', doc.errors[0]!.message);
  const raw = (doc.toJS() ?? {}) as Record<string, unknown>;
  if (raw.name !== name) fail('name', `name must be '${name}' (the file name)`);
  if (!Number.isInteger(raw.version)) fail('version', 'version must be a whole number');
  if (raw.base !== 'busybox' && raw.base !== 'debootstrap') fail('base', "base must be 'busybox' or 'debootstrap'");
  const packages = raw.packages ?? [];
  if (!Array.isArray(packages) || packages.some((p) => typeof p !== 'string' || !/^[a-z0-9][a-z0-9+.-]*$/.test(p))) fail('packages', 'packages must be a list of Debian package names');
  if (raw.base === 'debootstrap') {
    for (const key of ['suite', 'variant', 'mirror']) if (typeof raw[key] !== 'string') fail(key, `${key} is required for a debootstrap image`);
    if (!/^https?:\/\/[^\s'"]+$/.test(String(raw.mirror))) fail('mirror', 'mirror must be an http(s) URL');
    if (!/^[a-z]+$/.test(String(raw.suite)) || !/^[a-z]+$/.test(String(raw.variant))) fail('suite', 'suite and variant must be plain words');
  }
  return {
    name,
    version: raw.version as number,
    description: String(raw.description ?? ''),
    base: raw.base as ImageManifest['base'],
    sizeBytes: parseSize(raw.size, () => fail('size', "size must look like '512M' or '3G'")),
    memoryMiB: parseSize(raw.memory ?? '64M', () => fail('memory', "memory must look like '64M'")) / 2 ** 20,
    minMemoryMiB: parseSize(raw.min_memory ?? '64M', () => fail('min_memory', "min_memory must look like '64M'")) / 2 ** 20,
    packages: packages as string[],
    suite: raw.suite as string | undefined,
    variant: raw.variant as string | undefined,
    mirror: raw.mirror as string | undefined,
    file,
  };
}

function parseSize(value: unknown, fail: () => never): number {
  const m = /^(\d+)([MG])$/.exec(String(value ?? ''));
  if (!m) fail();
  return Number(m![1]) * (m![2] === 'G' ? 2 ** 30 : 2 ** 20);
}

/**
 * Hash of everything that goes into an image from this project: its manifest, the guest folder
 * (init, agent, shims), the build scripts and the code that lays out the root file system. The kernel
 * version is recorded separately.
 */
export function manifestHash(name: string): string {
  const hash = createHash('sha256');
  const files = [manifestPath(name), ...listFiles(GUEST_DIR), ...listFiles(BUILD_SCRIPTS_DIR), ...listFiles(ROOTFS_CODE_DIR)];
  for (const file of files.sort()) {
    hash.update(relative(KERNELS_DIR, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex');
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...listFiles(path));
    else out.push(path);
  }
  return out;
}
