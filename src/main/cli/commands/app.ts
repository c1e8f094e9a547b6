// `vnetlab app [LAB]` (= `npm start`): the desktop app. Electron when its binary is installed;
// otherwise the app is served on 127.0.0.1 and opened in Chromium's app mode when there is a display,
// or its URL is printed.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { REPO_ROOT, startAppServer } from '../../server/app-host.ts';
import type { Command } from '../command.ts';
import { UserError } from '../exit-codes.ts';

/** The Electron binary when the `electron` package downloaded it (it is skipped offline and in CI). */
export function electronBinary(): string | undefined {
  try {
    const require = createRequire(join(REPO_ROOT, 'package.json'));
    const pkgDir = resolve(require.resolve('electron/package.json'), '..');
    const pathFile = join(pkgDir, 'path.txt');
    if (!existsSync(pathFile)) return undefined;
    const binary = join(pkgDir, 'dist', readFileSync(pathFile, 'utf8').trim());
    return existsSync(binary) ? binary : undefined;
  } catch {
    return undefined;
  }
}

const BROWSERS = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

function findOnPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '/usr/bin:/bin').split(':')) if (dir && existsSync(join(dir, name))) return join(dir, name);
  return undefined;
}

/** `--allow DIR` values (a list flag), resolved against the working folder. */
export function allowedDirs(flag: string | boolean | string[] | undefined, cwd: string): string[] {
  const values = Array.isArray(flag) ? flag : typeof flag === 'string' ? [flag] : [];
  return values.map((dir) => resolve(cwd, dir));
}

/** How long a browser that fails (no sandbox as root, no display access) takes to exit: anything sooner is a failure. */
const BROWSER_EARLY_EXIT_MS = 4000;

/** The user who ran `sudo vnetlab app` (SUDO_UID/SUDO_GID, not root), with their home: the window is theirs. */
export function sudoUser(env: NodeJS.ProcessEnv): { uid: number; gid: number; name: string; home?: string } | undefined {
  const uid = Number(env.SUDO_UID);
  const gid = Number(env.SUDO_GID);
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid <= 0 || gid < 0) return undefined;
  let name = env.SUDO_USER ?? String(uid);
  let home: string | undefined;
  try {
    const entry = readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':')).find((f) => Number(f[2]) === uid);
    if (entry) [name, home] = [entry[0]!, entry[5]];
  } catch {
    // no passwd file: the user's HOME stays as sudo left it
  }
  return { uid, gid, name, ...(home ? { home } : {}) };
}

/**
 * Opens the URL in a Chromium app window (or the desktop's browser) when a display is available.
 * Chromium's sandbox does not run as root: under sudo, the window opens as the user who ran sudo, with
 * the sandbox; as root otherwise it needs --no-sandbox, and Chromium's warning bar about that flag is
 * hidden (--test-type) because this terminal says it instead, along with what is safer.
 * A browser that exits at once is reported with the end of what it printed, instead of failing silently.
 */
export function openBrowser(url: string, env: NodeJS.ProcessEnv, log: (line: string) => void, uid = process.getuid?.() ?? -1): boolean {
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY) {
    log('no display ($DISPLAY/$WAYLAND_DISPLAY unset): open the URL above in a browser on this machine.');
    return false;
  }
  const chromium = BROWSERS.map((b) => findOnPath(b, env)).find(Boolean);
  if (!chromium && !findOnPath('xdg-open', env)) {
    log('no browser found: open the URL above in a browser on this machine.');
    return false;
  }
  const asRoot = uid === 0;
  const user = asRoot ? sudoUser(env) : undefined;
  const unsandboxed = asRoot && !user && !!chromium;
  if (chromium && user) log(`running as root through sudo: Chromium opens as ${user.name}, with its sandbox.`);
  if (unsandboxed) log('running as root: Chromium is started with --no-sandbox (it refuses to run as root otherwise), and without its warning bar about that flag, which this line replaces; a normal user account is safer.');
  const [cmd, args] = chromium ? [chromium, [`--app=${url}`, '--no-first-run', ...(unsandboxed ? ['--no-sandbox', '--test-type'] : [])]] : ['xdg-open', [url]];
  // The browser is the user's window, not a child to manage: it is detached and outlives us. Its
  // stderr is read only for the first seconds, to report a browser that could not start.
  const child = spawn(cmd, args, {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: user?.home ? { ...env, HOME: user.home } : env,
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const started = Date.now();
  const watch = setTimeout(() => {
    child.stderr!.destroy();
    child.unref();
  }, BROWSER_EARLY_EXIT_MS);
  watch.unref();
  child.on('error', (err) => log(`could not start ${cmd} (${err.message}): open the URL above in a browser yourself.`));
  child.on('exit', (code, signal) => {
    clearTimeout(watch);
    // A browser that hands the URL to one already running (or xdg-open) exits 0 at once: only a failure is news.
    if (Date.now() - started > BROWSER_EARLY_EXIT_MS || code === 0) return;
    const tail = stderr.trim().split('\n').slice(-3).join('\n  ');
    log(`${cmd} exited at once (${signal ?? `code ${code}`})${tail ? `:\n  ${tail}` : ''}\nopen the URL above in a browser yourself.`);
  });
  child.unref();
  (child.stderr as unknown as { unref?: () => void }).unref?.();
  return true;
}

/**
 * After the server closed, lab watchers may still hold a timer or a supervisor socket for a moment:
 * make sure the process ends even then (labs run in their own supervisors and are not affected).
 */
export function exitSoon(): void {
  setTimeout(() => process.exit(process.exitCode ?? 0), 500).unref();
}

/** Resolves on Ctrl-C / SIGTERM. */
export function waitForSignal(): Promise<void> {
  return new Promise((r) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      r();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}

/** Booted guests the app keeps for the open lab: the shipped labs have 2–4 machines. */
const APP_POOL = 4;

/** `--pool N`: how many booted guests the app keeps for the open lab. */
export function poolSize(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 16) throw new UserError(`--pool must be a whole number from 0 to 16, got '${String(value)}'`, 2);
  return n;
}

const command: Command = {
  name: 'app',
  summary: 'open the vnetlab app (Electron, or Chromium in app mode, or a URL to open)',
  usage: 'app [LAB] [--allow DIR]...',
  description: `
Opens the topology editor and lab runner on LAB (default: labs/two-hosts).
Uses Electron when it is installed; otherwise serves the app on 127.0.0.1 and opens it in Chromium's
app mode when a display is available, else prints the URL. Closing the window leaves labs running.
Run with sudo, the window opens as your own user, sandboxed; as root otherwise Chromium needs
--no-sandbox: it is added, with a warning here instead of Chromium's bar. --allow DIR lets the open/save
dialogs use another folder (repeatable).
While it is open the app keeps up to --pool booted guests (default ${APP_POOL}) for the lab on screen, so
Start is ready in about a second (vnetlab pool --help); --pool 0 keeps none.`,
  flags: {
    allow: { type: 'list', description: 'another folder the open/save dialogs may use (repeatable)', valueName: 'DIR' },
    pool: { type: 'string', description: `booted guests to keep for the open lab (default ${APP_POOL}; 0: none)`, valueName: 'N' },
  },
  async run(args, io) {
    if (args.positionals.length > 1) throw new UserError(`app takes one lab, not ${args.positionals.length}`, 2, 'usage: vnetlab app [LAB]');
    const lab = args.positionals[0] ? resolve(io.cwd, args.positionals[0]) : undefined;
    const electron = electronBinary();
    if (electron && (io.env.DISPLAY || io.env.WAYLAND_DISPLAY)) {
      // Electron runs package.json "main" (src/main/electron/main.cjs); its sandboxed preload is bundled first.
      const build = spawnSync(process.execPath, [join(REPO_ROOT, 'src', 'main', 'electron', 'build.mjs')], { cwd: REPO_ROOT, stdio: 'inherit' });
      if (build.status !== 0) throw new UserError('building the Electron preload failed (see above)', 3);
      const r = spawnSync(electron, [REPO_ROOT, ...(lab ? [lab] : [])], { stdio: 'inherit', env: io.env });
      return r.status ?? 1;
    }
    const pool = poolSize(args.flags.pool, APP_POOL);
    // The link goes on the browser's command line, which every local user can read in /proc: its token
    // opens the app once, then is dead (the page lives on an HttpOnly cookie that is in no argv).
    const onLinkUsed = () => io.stdout.write(`(that link is used up; another browser can open: ${server.newLink()})\n`);
    const server = await startAppServer({ lab, allow: allowedDirs(args.flags.allow, io.cwd), env: io.env, log: (l) => io.stderr.write(`${l}\n`), pool, onLinkUsed });
    io.stdout.write(`vnetlab app: ${server.url}\n(the link opens the app once; Ctrl-C stops the app's server; running labs keep running)\n`);
    openBrowser(server.url, io.env, (l) => io.stderr.write(`${l}\n`));
    await waitForSignal();
    await server.close();
    exitSoon();
    return 0;
  },
};

export default command;
