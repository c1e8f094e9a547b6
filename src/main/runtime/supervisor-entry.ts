// How to launch the supervisor process. Through `node --import tsx` it takes ~0.6 s to start (tsx
// compiles its modules on every start); a bundle built once with esbuild starts in ~0.1 s. The bundle
// lives in node_modules/.cache (so `node-pty` still resolves from there) and is rebuilt whenever one
// of its source files changed; without esbuild or a writable cache we fall back to tsx.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const SOURCE = join(here, 'supervisor-main.ts');
const REPO = resolve(here, '../../..');
const CACHE_DIR = join(REPO, 'node_modules/.cache/vnetlab');
/**
 * Named after the source tree it was built from: two checkouts may share one node_modules (a
 * symlink), and one must never run the other's supervisor.
 */
const TREE = createHash('sha256').update(SOURCE).digest('hex').slice(0, 10);
const BUNDLE = join(CACHE_DIR, `supervisor-${TREE}.mjs`);
/** The bundle's inputs with their size and mtime when it was built. */
const INPUTS = join(CACHE_DIR, `supervisor-${TREE}.inputs.json`);

/** The argv (after the node binary) that starts a supervisor for `runDir`. */
export async function supervisorCommand(runDir: string): Promise<string[]> {
  try {
    if (!bundleIsCurrent()) await buildBundle();
    return [BUNDLE, runDir];
  } catch {
    return ['--import', 'tsx', SOURCE, runDir];
  }
}

function fingerprint(file: string): string {
  const st = statSync(file);
  return `${st.size}:${st.mtimeMs}`;
}

function bundleIsCurrent(): boolean {
  if (!existsSync(BUNDLE) || !existsSync(INPUTS)) return false;
  try {
    const inputs = JSON.parse(readFileSync(INPUTS, 'utf8')) as Record<string, string>;
    return Object.entries(inputs).every(([file, print]) => existsSync(file) && fingerprint(file) === print);
  } catch {
    return false;
  }
}

async function buildBundle(): Promise<void> {
  const esbuild = await import('esbuild');
  mkdirSync(CACHE_DIR, { recursive: true });
  const partial = `${BUNDLE}.${process.pid}.partial`;
  const result = await esbuild.build({
    entryPoints: [SOURCE],
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
  writeFileSync(`${INPUTS}.${process.pid}.partial`, JSON.stringify(inputs, null, 2));
  // Bundle first, then its inputs list: a reader never pairs a new list with an old bundle.
  renameSync(partial, BUNDLE);
  renameSync(`${INPUTS}.${process.pid}.partial`, INPUTS);
}
