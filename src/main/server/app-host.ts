// What `vnetlab serve` and `vnetlab app` share: make sure the renderer bundle is built and fresh,
// bind the service to the real modules, and start the loopback server.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnvironmentError, UserError } from '../errors.ts';
import { hostPaths } from '../paths.ts';
import { AppPool } from '../service/app-pool.ts';
import { realBackends } from '../service/real-backends.ts';
import { Service } from '../service/service.ts';
import { startServer, type RunningServer } from './server.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const SHIPPED_LABS = join(REPO_ROOT, 'labs');
export const DEFAULT_LAB = join(SHIPPED_LABS, 'two-hosts');
const RENDERER_SRC = join(REPO_ROOT, 'src', 'renderer');
const RENDERER_OUT = join(REPO_ROOT, 'dist', 'renderer');

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newestMtime(join(path, name))));
}

/** True when dist/renderer is missing or older than a renderer/shared source or package.json. */
export function rendererIsStale(): boolean {
  const bundle = join(RENDERER_OUT, 'app.js');
  if (!existsSync(bundle) || !existsSync(join(RENDERER_OUT, 'index.html'))) return true;
  const sources = Math.max(newestMtime(RENDERER_SRC), newestMtime(join(REPO_ROOT, 'src', 'shared')), statSync(join(REPO_ROOT, 'package.json')).mtimeMs);
  return sources > statSync(bundle).mtimeMs;
}

/** Builds the renderer with esbuild (src/renderer/build.mjs) when it is missing or stale. */
export function ensureRenderer(log: (line: string) => void): string {
  if (!rendererIsStale()) return RENDERER_OUT;
  log('building the app (renderer bundle)…');
  // In the Electron shell process.execPath is Electron: ELECTRON_RUN_AS_NODE makes it plain Node (ignored by Node).
  const r = spawnSync(process.execPath, [join(RENDERER_SRC, 'build.mjs')], { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } });
  if (r.status !== 0) {
    throw new EnvironmentError(`building the renderer failed: ${(r.stderr || r.stdout || '').trim().split('\n').slice(-5).join('\n')}`, 'run `npm ci`, then `npm run build:renderer` to see the whole error');
  }
  return RENDERER_OUT;
}

export interface AppServerOptions {
  lab?: string;
  port?: number;
  /** More folders the open/save dialogs may use (`--allow DIR`). */
  allow?: string[];
  env: NodeJS.ProcessEnv;
  log(line: string): void;
  /** Keep up to this many booted guests for the open lab (the app's warm pool); 0 or absent: none. */
  pool?: number;
  /** Told each time a browser used a link (its one-time token is dead from then on). */
  onLinkUsed?(): void;
}

export async function startAppServer(options: AppServerOptions): Promise<RunningServer & { service: Service }> {
  const lab = resolve(options.lab ?? DEFAULT_LAB);
  if (!existsSync(lab)) throw new UserError(`no lab at ${lab}`, 2, 'give the folder of a lab (lab.yaml or a Netkit/Kathará lab.conf), or no LAB for labs/two-hosts');
  const staticDir = ensureRenderer(options.log);
  const home = options.env.HOME || homedir();
  const allow = (options.allow ?? []).map((dir) => resolve(dir));
  for (const dir of allow) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`--allow ${dir}: no such folder`, 2, 'give an existing folder the open/save dialogs may use');
  }
  const backends = realBackends({ env: options.env });
  const pool = options.pool ? new AppPool(options.pool, options.env, options.log) : undefined;
  if (pool) {
    const load = backends.loadLab;
    backends.loadLab = async (path) => {
      const loaded = await load(path);
      if (loaded.model) pool.follow(path);
      return loaded;
    };
  }
  const service = new Service({
    backends,
    labsDir: SHIPPED_LABS,
    home,
    // The lab named on the command line may live outside home (e.g. a course folder): allow its folder.
    extraRoots: [dirname(lab), ...allow],
  });
  // Say up front what the host lacks to run labs (the editor works without it; Start says it again).
  for (const p of (await service.backends.environment()).problems) options.log(`warning: ${p.what}; to run labs: ${p.fix}`);
  const port = options.port ?? 0;
  // The lab the app opens on: its guests start booting now, before a page has even loaded it.
  pool?.follow(lab);
  const server = await startServer({ service, staticDir, port, sessionKey: port ? serverSessionKey(options.env, port) : undefined, initialLab: lab, onLinkUsed: options.onLinkUsed });
  return {
    ...server,
    service,
    close: async () => {
      await server.close();
      await pool?.close();
    },
  };
}

/**
 * The session cookie's secret of a server on a fixed port (`--port N`) is kept from one run to the
 * next, in a 0600 file of the user's state folder: a page left open while `vnetlab serve --port N` was
 * stopped and started again (or restarted after a crash) reconnects by itself with the cookie it
 * holds, instead of retrying forever with a cookie the new server would refuse. It is never put in a
 * URL (links carry one-time tokens). A server on a free port gets a new port and a new secret each run
 * (the page cannot find it again anyway).
 */
export function serverSessionKey(env: NodeJS.ProcessEnv, port: number): string {
  const dir = join(hostPaths(env).stateRoot, 'serve');
  const file = join(dir, `port-${port}.key`);
  try {
    const kept = readFileSync(file, 'utf8').trim();
    // Only a file this user alone can read is trusted.
    if (/^[0-9a-f]{48}$/.test(kept) && (statSync(file).mode & 0o077) === 0) return kept;
  } catch {
    // none yet: make one
  }
  const key = randomBytes(24).toString('hex');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  chmodSync(file, 0o600); // an existing file with looser bits is rewritten private
  return key;
}
