// Builds the renderer bundle into dist/renderer/ (index.html, app.js, app.css) with esbuild.
// `node src/renderer/build.mjs` builds; `vnetlab serve`/`app` call buildRenderer() when the bundle is
// missing or older than a source file.
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
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

/**
 * Builds into a private folder, then renames each file into dist/renderer: two builds at once (two
 * `vnetlab serve` starting together on a stale bundle, as parallel e2e test files do) or a build while
 * a server reads the bundle never serve a half-written app.js — every file is the old one or the new one.
 */
export async function buildRenderer({ minify = true } = {}) {
  mkdirSync(outDir, { recursive: true });
  const work = mkdtempSync(join(dirname(outDir), '.renderer-build-'));
  try {
    await build({
      // The app, and a console in a window of its own (console.html).
      entryPoints: { app: join(here, 'main.ts'), console: join(here, 'console-window.ts') },
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: ['chrome120'],
      outdir: work,
      minify,
      sourcemap: true,
      logLevel: 'warning',
      legalComments: 'none',
    });
    copyFileSync(join(here, 'index.html'), join(work, 'index.html'));
    copyFileSync(join(here, 'console.html'), join(work, 'console.html'));
    // The pages last: they name the scripts and stylesheets, which are in place by then.
    const files = readdirSync(work).sort((a, b) => Number(a.endsWith('.html')) - Number(b.endsWith('.html')));
    for (const name of files) renameSync(join(work, name), join(outDir, name));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return outDir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = Date.now();
  await buildRenderer();
  console.log(`renderer built in ${Date.now() - t0} ms → ${outDir}`);
}
