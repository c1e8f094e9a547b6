// TypeScript entry points bundled once with esbuild, kept in node_modules/.cache/vnetlab and rebuilt
// whenever one of their source files changed (size or mtime). Through tsx a process spends ~0.3–0.6 s
// in its loader hooks before our code runs; a bundle loads in a fraction of that. Used by the `vnetlab`
// command (bin/vnetlab.mjs) and for the supervisor and pool daemons (src/main/runtime/supervisor-entry.ts).
// Plain JavaScript, so that bin/vnetlab.mjs can use it before tsx is loaded.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository: found upwards from this file, which may itself be inside a bundle (the CLI's). */
export const REPO = (() => {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'bin', 'bundle-cache.mjs')) && existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return resolve(dirname(fileURLToPath(import.meta.url)), '..');
  }
})();
// A bundle's folder is three levels below the repository (node_modules/.cache/vnetlab-<name>-<tree>/), as
// src/main/<folder>/ is: paths a module makes from its own import.meta.url (`../../../kernels/`) come
// out the same from the bundle.
const CACHE_DIR = join(REPO, 'node_modules/.cache');

/**
 * The bundle of `source` (an absolute .ts path), built if missing or stale: the file to import or run.
 * `splitting`: the entry's dynamic imports become chunks loaded when used (the CLI's commands).
 * `external`: packages left to node_modules (`'*'`: all of them; native ones such as node-pty must be).
 * Throws when esbuild is missing or the cache cannot be written; the caller then uses tsx.
 */
export async function bundledEntry(name, source, { splitting = false, external = ['node-pty'] } = {}) {
  // Named after the source tree it was built from (two checkouts may share one node_modules, a symlink,
  // and one must never run the other's code) and how it is built (other externals: another bundle).
  const tree = createHash('sha256').update(JSON.stringify([source, splitting, external])).digest('hex').slice(0, 10);
  const dir = join(CACHE_DIR, `vnetlab-${name}-${tree}`);
  const entry = join(dir, 'entry.mjs');
  const inputs = join(CACHE_DIR, `vnetlab-${name}-${tree}.inputs.json`);
  if (!isCurrent(entry, inputs)) await build(source, dir, inputs, { splitting, external });
  return entry;
}

function fingerprint(file) {
  const st = statSync(file);
  return `${st.size}:${st.mtimeMs}`;
}

function isCurrent(entry, inputsFile) {
  if (!existsSync(entry) || !existsSync(inputsFile)) return false;
  try {
    const inputs = JSON.parse(readFileSync(inputsFile, 'utf8'));
    return Object.entries(inputs).every(([file, print]) => existsSync(file) && fingerprint(file) === print);
  } catch {
    return false;
  }
}

async function build(source, dir, inputsFile, { splitting, external }) {
  const esbuild = await import('esbuild');
  mkdirSync(CACHE_DIR, { recursive: true });
  const partial = `${dir}.${process.pid}.partial`;
  rmSync(partial, { recursive: true, force: true });
  const result = await esbuild.build({
    entryPoints: { entry: source },
    bundle: true,
    splitting,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    ...(external.includes('*') ? { packages: 'external' } : { external }),
    outdir: partial,
    outExtension: { '.js': '.mjs' },
    // CommonJS packages bundled into ESM still call require() for node's own modules (liquidjs:
    // `stream`); esbuild's shim uses a `require` in scope when there is one.
    banner: { js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" },
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: REPO,
  });
  // The builder is an input too: a bundle built with other settings (a banner, a target) is stale.
  const builder = join(REPO, 'bin/bundle-cache.mjs');
  const inputs = existsSync(builder) ? { [builder]: fingerprint(builder) } : {};
  for (const input of Object.keys(result.metafile.inputs)) {
    const file = resolve(REPO, input);
    inputs[file] = fingerprint(file);
  }
  writeFileSync(`${inputsFile}.${process.pid}.partial`, JSON.stringify(inputs, null, 2));
  // Chunks first (content-hashed names: one already there is the same file), then the entry, then the
  // inputs list: a reader never pairs a new list with an old bundle, and a process still running an older
  // entry finds the chunks it imports later. Chunks of older builds stay (only a source change makes any).
  mkdirSync(dir, { recursive: true });
  for (const file of readdirSync(partial)) if (file !== 'entry.mjs' && !existsSync(join(dir, file))) renameSync(join(partial, file), join(dir, file));
  renameSync(join(partial, 'entry.mjs'), join(dir, 'entry.mjs'));
  rmSync(partial, { recursive: true, force: true });
  renameSync(`${inputsFile}.${process.pid}.partial`, inputsFile);
}
