// How to launch the supervisor process (and the warm pool's, pool/pool-main.ts, the same way). Through `node --import tsx` it takes ~0.6 s to start (tsx
// compiles its modules on every start); a bundle built once with esbuild starts in ~0.1 s. The bundle
// lives in node_modules/.cache (so `node-pty` still resolves from there) and is rebuilt whenever one
// of its source files changed; without esbuild or a writable cache we fall back to tsx.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(here, '../../..');
const CACHE_DIR = join(REPO, 'node_modules/.cache/vnetlab');

/** The argv (after the node binary) that starts a supervisor for `runDir`. */
export function supervisorCommand(runDir: string): Promise<string[]> {
  return daemonCommand('supervisor', join(here, 'supervisor-main.ts'), runDir);
}

/** The argv (after the node binary) that starts the warm pool's process for the pool folder `dir`. */
export function poolCommand(dir: string): Promise<string[]> {
  return daemonCommand('pool', join(here, 'pool', 'pool-main.ts'), dir);
}

async function daemonCommand(name: string, source: string, arg: string): Promise<string[]> {
  // Named after the source tree it was built from: two checkouts may share one node_modules (a
  // symlink), and one must never run the other's daemon.
  const tree = createHash('sha256').update(source).digest('hex').slice(0, 10);
  const bundle = join(CACHE_DIR, `${name}-${tree}.mjs`);
  /** The bundle's inputs with their size and mtime when it was built. */
  const inputs = join(CACHE_DIR, `${name}-${tree}.inputs.json`);
  try {
    if (!bundleIsCurrent(bundle, inputs)) await buildBundle(source, bundle, inputs);
    return [bundle, arg];
  } catch {
    return ['--import', 'tsx', source, arg];
  }
}

function fingerprint(file: string): string {
  const st = statSync(file);
  return `${st.size}:${st.mtimeMs}`;
}

function bundleIsCurrent(bundle: string, inputsFile: string): boolean {
  if (!existsSync(bundle) || !existsSync(inputsFile)) return false;
  try {
    const inputs = JSON.parse(readFileSync(inputsFile, 'utf8')) as Record<string, string>;
    return Object.entries(inputs).every(([file, print]) => existsSync(file) && fingerprint(file) === print);
  } catch {
    return false;
  }
}

async function buildBundle(source: string, bundle: string, inputsFile: string): Promise<void> {
  const esbuild = await import('esbuild');
  mkdirSync(CACHE_DIR, { recursive: true });
  const partial = `${bundle}.${process.pid}.partial`;
  const result = await esbuild.build({
    entryPoints: [source],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['node-pty'],
    outfile: partial,
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: REPO,
  });
  const inputs: Record<string, string> = {};
  for (const input of Object.keys(result.metafile.inputs)) {
    const file = resolve(REPO, input);
    inputs[file] = fingerprint(file);
  }
  writeFileSync(`${inputsFile}.${process.pid}.partial`, JSON.stringify(inputs, null, 2));
  // Bundle first, then its inputs list: a reader never pairs a new list with an old bundle.
  renameSync(partial, bundle);
  renameSync(`${inputsFile}.${process.pid}.partial`, inputsFile);
}
