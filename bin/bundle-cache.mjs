// TypeScript entry points bundled once with esbuild, kept in node_modules/.cache/vnetlab and rebuilt
// whenever one of their source files changed (size or mtime). Through tsx a process spends ~0.3–0.6 s
// in its loader hooks before our code runs; a bundle loads in a fraction of that. Used by the `vnetlab`
// command (bin/vnetlab.mjs) and for the supervisor and pool daemons (src/main/runtime/supervisor-entry.ts).
// Plain JavaScript, so that bin/vnetlab.mjs can use it before tsx is loaded.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

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
 * The bundle of `source` (an absolute .ts path), built if missing or stale: one CommonJS file (entry.cjs)
 * to load with requireWithCodeCache. `external`: packages left to node_modules (`'*'`: all of them;
 * native ones such as node-pty must be). Throws when esbuild is missing or the cache cannot be written;
 * the caller then uses tsx.
 */
export async function bundledEntry(name, source, { external = ['node-pty'] } = {}) {
  // Named after the source tree it was built from (two checkouts may share one node_modules, a symlink,
  // and one must never run the other's code) and how it is built (other externals: another bundle).
  const tree = createHash('sha256').update(JSON.stringify([source, external, 'cjs'])).digest('hex').slice(0, 10);
  const dir = join(CACHE_DIR, `vnetlab-${name}-${tree}`);
  const entry = join(dir, 'entry.cjs');
  const inputs = join(CACHE_DIR, `vnetlab-${name}-${tree}.inputs.json`);
  if (!isCurrent(entry, inputs)) await build(source, dir, inputs, external);
  return entry;
}

/**
 * The node arguments that run `source` (a long-running process of ours: the supervisor, the warm pool)
 * from its CommonJS bundle with V8's code cache (bin/run-bundle.mjs), then `args`. Throws as bundledEntry.
 */
export async function bundleCommand(name, source, args) {
  return [join(REPO, 'bin/run-bundle.mjs'), await bundledEntry(name, source), name, ...args];
}

/**
 * Loads a CommonJS bundle with V8's code cache, kept beside it per `use` (a command name): node 20 has no
 * compile cache of its own, and a command compiled its ~1.7 MB of code on every run, then each function
 * it called on first use — ~0.1 s of a core, on the way to a lab's first boot. The cache is written when
 * the process exits, after a run (so it holds the functions that run used), when there was none or V8
 * refused it (another bundle, another node).
 */
export function requireWithCodeCache(entry, use) {
  const cacheFile = `${entry}.${/^[a-z][a-z0-9-]*$/.test(use) ? use : 'other'}.v8cache`;
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // not made yet
  }
  const wrapper = `(function (exports, require, module, __filename, __dirname) {${readFileSync(entry, 'utf8')}\n})`;
  const script = new Script(wrapper, { filename: entry, cachedData });
  const module = { exports: {} };
  script.runInThisContext().call(module.exports, module.exports, createRequire(entry), module, entry, dirname(entry));
  if (!cachedData || script.cachedDataRejected) {
    process.once('exit', () => {
      try {
        const partial = `${cacheFile}.${process.pid}.partial`;
        writeFileSync(partial, script.createCachedData());
        renameSync(partial, cacheFile);
      } catch {
        // a read-only checkout: compiled again next time
      }
    });
  }
  return module.exports;
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

async function build(source, dir, inputsFile, external) {
  const esbuild = await import('esbuild');
  mkdirSync(CACHE_DIR, { recursive: true });
  const partial = `${dir}.${process.pid}.partial`;
  rmSync(partial, { recursive: true, force: true });
  const result = await esbuild.build({
    entryPoints: { entry: source },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    ...(external.includes('*') ? { packages: 'external' } : { external }),
    outdir: partial,
    outExtension: { '.js': '.cjs' },
    // Our modules find files from their own place (`new URL('../../../kernels/…', import.meta.url)`):
    // the bundle's, three levels below the repository like src/main/<folder>/.
    define: { 'import.meta.url': '__bundleUrl', 'import.meta.dirname': '__dirname' },
    // An `import()` of a module left outside (node's own) as require(): a script run by node:vm has no
    // loader for import() without an experimental flag. Our own dynamic imports are in the one file.
    supported: { 'dynamic-import': false },
    banner: { js: "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
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
  // The entry, then the inputs list: a reader never pairs a new list with an old bundle. The code caches
  // of the last build would be refused by V8: they go before the new entry comes.
  mkdirSync(dir, { recursive: true });
  for (const file of readdirSync(dir)) if (file.endsWith('.v8cache')) rmSync(join(dir, file), { force: true });
  renameSync(join(partial, 'entry.cjs'), join(dir, 'entry.cjs'));
  rmSync(partial, { recursive: true, force: true });
  renameSync(`${inputsFile}.${process.pid}.partial`, inputsFile);
}
