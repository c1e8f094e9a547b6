// Builds the renderer bundle into dist/renderer/ (index.html, app.js, app.css) with esbuild.
// `node src/renderer/build.mjs` builds; `vnetlab serve`/`app` call buildRenderer() when the bundle is
// missing or older than a source file.
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');
export const outDir = join(repoRoot, 'dist', 'renderer');
const sourceDirs = [here, join(repoRoot, 'src', 'shared')];

function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** True when dist/renderer is missing or older than any renderer/shared source (or package.json). */
export function rendererIsStale() {
  const bundle = join(outDir, 'app.js');
  if (!existsSync(bundle) || !existsSync(join(outDir, 'index.html'))) return true;
  const built = statSync(bundle).mtimeMs;
  const sources = Math.max(...sourceDirs.map(newestMtime), statSync(join(repoRoot, 'package.json')).mtimeMs);
  return sources > built;
}

export async function buildRenderer({ minify = true } = {}) {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: { app: join(here, 'main.ts') },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['chrome120'],
    outdir: outDir,
    minify,
    sourcemap: true,
    logLevel: 'warning',
    legalComments: 'none',
  });
  copyFileSync(join(here, 'index.html'), join(outDir, 'index.html'));
  return outDir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = Date.now();
  await buildRenderer();
  console.log(`renderer built in ${Date.now() - t0} ms → ${outDir}`);
}
