// Bundles the Electron preload to one CommonJS file (a sandboxed preload can require only 'electron'):
// dist/electron/preload.cjs. Run by `vnetlab app` before launching Electron, and by `npm run dist`.
import { build } from 'esbuild';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..', '..');

await build({
  entryPoints: [join(here, 'preload.ts')],
  outfile: join(repoRoot, 'dist', 'electron', 'preload.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  external: ['electron'],
  target: 'node22',
  logLevel: 'warning',
});
