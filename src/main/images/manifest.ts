// Image manifests (kernels/images/<name>.yaml) and the hash that decides when a built image is stale:
// it covers the manifest and every file the build copies into the guest (init, agent source, shims),
// so changing any of them rebuilds the image instead of silently reusing an old one.
//
// Image recipes: an instructor's own manifest, `<name>.yaml` in ~/.config/vnetlab/images (or the folders
// of VNETLAB_IMAGE_RECIPES, colon-separated), that `extends: debian` and lists the packages it adds; it is
// built like any image (`vnetlab image build <name>`, without root through mmdebstrap) and named by labs
// as `image: <name>`. The project's own manifests cannot be shadowed by a recipe.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument, type Document } from 'yaml';
import { UserError } from '../errors.ts';

/** The project's kernels/ folder (manifests, guest init, agent source, shims). */
export const KERNELS_DIR = fileURLToPath(new URL('../../../kernels/', import.meta.url));
export const GUEST_DIR = join(KERNELS_DIR, 'guest');
/** Host-side build scripts (the Debian chroot steps). */
export const BUILD_SCRIPTS_DIR = join(KERNELS_DIR, 'build');
/** The TypeScript that lays out a root file system: part of what an image is made of. */
// From the repository root, so that a bundle of this module (bin/bundle-cache.mjs) finds the same folder.
const ROOTFS_CODE_DIR = fileURLToPath(new URL('../../../src/main/images/rootfs/', import.meta.url));

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
  /** The image a recipe extends (its packages come first, then the recipe's). */
  extends?: string;
  /** Where it was read from. */
  file: string;
  /** Every manifest file it was made from: the recipe's, then those it extends (all go into the image's hash). */
  files: string[];
}

/** Folders of instructors' image recipes: VNETLAB_IMAGE_RECIPES (colon-separated), else ~/.config/vnetlab/images. */
export function recipeDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.VNETLAB_IMAGE_RECIPES !== undefined) return env.VNETLAB_IMAGE_RECIPES.split(':').filter(Boolean);
  return [join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'vnetlab', 'images')];
}

/** The manifest of an image: the project's (kernels/images), else an instructor's recipe. */
export function manifestPath(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const own = join(KERNELS_DIR, 'images', `${name}.yaml`);
  if (existsSync(own)) return own;
  for (const dir of recipeDirs(env)) if (existsSync(join(dir, `${name}.yaml`))) return join(dir, `${name}.yaml`);
  return own;
}

/** The project's images; with `recipes`, the instructor's recipes too. */
export function availableImages(options: { recipes?: boolean; env?: NodeJS.ProcessEnv } = {}): string[] {
  const names = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.yaml') && /^[a-z0-9][a-z0-9._-]*\.yaml$/.test(f)).map((f) => f.slice(0, -5)) : []);
  const all = new Set(names(join(KERNELS_DIR, 'images')));
  if (options.recipes) for (const dir of recipeDirs(options.env)) for (const n of names(dir)) all.add(n);
  return [...all].sort();
}

/**
 * A manifest's text, parsed once per process: a start reads the same manifest four times (is an image due,
 * its status, its hash, then again to make sure of it), ~5 ms of cold YAML parsing each on the way to the
 * first boot. Keyed by the text itself, so an edited manifest is parsed anew. Only read, never changed.
 */
const parsedManifests = new Map<string, Document.Parsed>();

function parsedManifest(text: string): Document.Parsed {
  let doc = parsedManifests.get(text);
  if (!doc) {
    if (parsedManifests.size > 32) parsedManifests.clear();
    doc = parseDocument(text);
    parsedManifests.set(text, doc);
  }
  return doc;
}

export function loadManifest(name: string, env: NodeJS.ProcessEnv = process.env, extendedBy: string[] = []): ImageManifest {
  const known = () => `images: ${availableImages({ recipes: true, env }).join(', ')}`;
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(name)) throw new UserError(`'${name}' is not an image name`, 2, known());
  const file = manifestPath(name, env);
  if (!existsSync(file)) throw new UserError(`there is no image called '${name}'`, 2, `${known()}; an image of your own is a recipe in ${recipeDirs(env)[0] ?? '~/.config/vnetlab/images'} (docs/lab-format.md, "The debian image")`);
  const text = readFileSync(file, 'utf8');
  const doc = parsedManifest(text);
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
  const packages = raw.packages ?? [];
  if (!Array.isArray(packages) || packages.some((p) => typeof p !== 'string' || !/^[a-z0-9][a-z0-9+.-]*$/.test(p))) fail('packages', 'packages must be a list of Debian package names');
  if (raw.extends !== undefined) {
    // A recipe: what it does not say comes from the image it extends; its packages are added to that image's.
    if (typeof raw.extends !== 'string' || raw.extends === name || extendedBy.includes(String(raw.extends)) || extendedBy.length > 4) fail('extends', `extends must name another image (${availableImages({ env }).join(', ')}), without a loop`);
    const base = loadManifest(raw.extends as string, env, [...extendedBy, name]);
    if (base.base !== 'debootstrap') fail('extends', `'${base.name}' is not built from Debian packages: extend 'debian'`);
    for (const key of ['base', 'suite', 'variant', 'mirror']) if (raw[key] !== undefined) fail(key, `a recipe that extends '${base.name}' takes its ${key} from it; leave ${key} out`);
    if (raw.version !== undefined && !Number.isInteger(raw.version)) fail('version', 'version must be a whole number');
    return {
      ...base,
      name,
      version: (raw.version as number | undefined) ?? base.version,
      description: raw.description !== undefined ? String(raw.description) : `${base.description}, and ${(packages as string[]).join(', ') || 'nothing more'}`,
      sizeBytes: raw.size !== undefined ? parseSize(raw.size, () => fail('size', "size must look like '512M' or '3G'")) : base.sizeBytes,
      memoryMiB: raw.memory !== undefined ? parseSize(raw.memory, () => fail('memory', "memory must look like '64M'")) / 2 ** 20 : base.memoryMiB,
      minMemoryMiB: raw.min_memory !== undefined ? parseSize(raw.min_memory, () => fail('min_memory', "min_memory must look like '64M'")) / 2 ** 20 : base.minMemoryMiB,
      packages: [...base.packages, ...(packages as string[]).filter((p) => !base.packages.includes(p))],
      extends: base.name,
      file,
      files: [file, ...base.files],
    };
  }
  if (!Number.isInteger(raw.version)) fail('version', 'version must be a whole number');
  if (raw.base !== 'busybox' && raw.base !== 'debootstrap') fail('base', "base must be 'busybox' or 'debootstrap'");
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
    files: [file],
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
export function manifestHash(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const hash = createHash('sha256');
  const manifests = existsSync(manifestPath(name, env)) ? loadManifest(name, env).files : [manifestPath(name, env)];
  const files = [...manifests, ...listFiles(GUEST_DIR), ...listFiles(BUILD_SCRIPTS_DIR), ...listFiles(ROOTFS_CODE_DIR)];
  const recipes = new Set(manifests.filter((f) => relative(KERNELS_DIR, f).startsWith('..')));
  for (const file of files.sort()) {
    // A recipe lives outside the project: named by its file name, so the hash does not depend on where it is.
    const shown = recipes.has(file) ? `recipes/${basename(file)}` : relative(KERNELS_DIR, file);
    hash.update(shown).update('\0').update(readFileSync(file)).update('\0');
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
