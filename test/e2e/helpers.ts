// End-to-end helpers: a real `vnetlab serve` in its own process group with temp HOME/runtime/state
// dirs (images come from the shared cache), and Debian's Chromium driven by playwright-core.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { hostPaths } from '../../src/main/paths.ts';

export const REPO = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
export const VNETLAB = join(REPO, 'bin', 'vnetlab.mjs');
/**
 * Where e2e runs save screenshots: a temp folder, unless VNETLAB_SCREENSHOTS names one (e.g.
 * `VNETLAB_SCREENSHOTS=docs/screenshots` to refresh the documentation's pictures on purpose).
 */
/**
 * Screenshots go to docs/screenshots only when asked (VNETLAB_SCREENSHOTS=docs/screenshots); otherwise
 * to a private temp folder of this run (never a fixed path in /tmp another user may already own).
 */
export const SCREENSHOTS = process.env.VNETLAB_SCREENSHOTS ? resolve(REPO, process.env.VNETLAB_SCREENSHOTS) : throwawayScreenshots();

function throwawayScreenshots(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vnetlab-e2e-screenshots-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface TestEnv {
  dir: string;
  home: string;
  env: NodeJS.ProcessEnv;
}

/** Temp HOME, runtime and state dirs; images are shared with the default cache so nothing is rebuilt. */
export function testEnv(prefix: string): TestEnv {
  const dir = mkdtempSync(join(tmpdir(), `vnl-${prefix}-`));
  const home = join(dir, 'home');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    VNETLAB_RUNTIME_DIR: join(dir, 'run'),
    VNETLAB_STATE_DIR: join(dir, 'state'),
    VNETLAB_IMAGE_DIR: process.env.VNETLAB_IMAGE_DIR || hostPaths(process.env).imageDir,
    DISPLAY: '',
    WAYLAND_DISPLAY: '',
  };
  spawnSync('mkdir', ['-p', home, env.VNETLAB_RUNTIME_DIR!, env.VNETLAB_STATE_DIR!]);
  return { dir, home, env };
}

export interface Served {
  /** The first link `vnetlab serve` printed (its one-time token opens the app once, in one browser). */
  url: string;
  origin: string;
  /**
   * A link no browser has used yet: the first call gives `url`, each later one the fresh link the
   * server printed after the previous one was used (a page that already holds the cookie can open
   * `url` again instead).
   */
  freshLink(): Promise<string>;
  process: ChildProcess;
  stop(): Promise<void>;
}

const LINK_RE = /http:\/\/127\.0\.0\.1:\d+\/\?token=[^\s)]+/g;

/** Starts `vnetlab serve --no-open` and waits for the URL it prints. */
export async function serve(env: NodeJS.ProcessEnv, args: string[] = []): Promise<Served> {
  const child = spawn(process.execPath, [VNETLAB, 'serve', '--no-open', ...args], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const links = () => out.match(LINK_RE) ?? [];
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`vnetlab serve printed no URL in 60 s:\n${out}\n${err}`)), 60_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const first = links()[0];
      if (first) {
        clearTimeout(timer);
        resolveUrl(first);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`vnetlab serve exited (${code}):\n${out}\n${err}`));
    });
  });
  let handed = 0;
  return {
    url,
    origin: new URL(url).origin,
    freshLink: async () => {
      const deadline = Date.now() + 10_000;
      while (links().length <= handed) {
        if (Date.now() > deadline) throw new Error(`vnetlab serve printed no fresh link (was the previous one used?):\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return links()[handed++]!;
    },
    process: child,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(-child.pid!, 'SIGTERM'); // its own process group: only what this test started
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
    },
  };
}

/**
 * Debian's Chromium with a fresh profile in the test's temp dir. The first-run tour (help.ts) counts as
 * seen, so that its card covers nothing a test clicks, unless `firstRun` (the help journey's own test).
 */
export async function launchBrowser(dir: string, viewport = { width: 1400, height: 850 }, { firstRun = false } = {}): Promise<BrowserContext> {
  const context = await chromium.launchPersistentContext(join(dir, 'chromium'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport,
    // The caller cleans up (guests, server) on signals; playwright must not exit the process first.
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  if (!firstRun) {
    await context.addInitScript(() => {
      try {
        if (localStorage.getItem('vnetlab.tour') === null) localStorage.setItem('vnetlab.tour', 'seen-in-tests');
      } catch {
        // a page without storage (about:blank)
      }
    });
  }
  return context;
}

/** Stops a lab started by a test (graceful, through the CLI) so no guest outlives it. */
export function stopLab(lab: string, env: NodeJS.ProcessEnv): void {
  spawnSync(process.execPath, [VNETLAB, 'stop', lab], { env, encoding: 'utf8', timeout: 60_000 });
  spawnSync(process.execPath, [VNETLAB, 'clean'], { env, encoding: 'utf8', timeout: 60_000 });
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Page position of a node's centre, once the canvas holds still (settledPoint). */
export function nodePoint(page: Page, id: string): Promise<{ x: number; y: number }> {
  return settledPoint(page, id, 'node');
}

/** Page position of the middle of an edge, once the canvas holds still (settledPoint). */
export function edgePoint(page: Page, id: string): Promise<{ x: number; y: number }> {
  return settledPoint(page, id, 'edge');
}

async function settledPoint(page: Page, id: string, kind: 'node' | 'edge'): Promise<{ x: number; y: number }> {
  return page.evaluate(
    async ({ elementId, isEdge }) => {
      const cy = (window as any).__vnetlab.cy;
      const el = cy.getElementById(elementId);
      if (el.empty()) throw new Error(`no ${isEdge ? 'edge' : 'node'} ${elementId}`);
      const at = () => (isEdge ? el.renderedMidpoint() : el.renderedPosition());
      // The canvas may be moving (a fit after the window or the lab changed, slower on a loaded host): a
      // point read mid-animation is clicked where the element no longer is. Read it once it holds still
      // over two whole frames: a panel that just closed resizes the canvas in the ResizeObserver step,
      // which runs after this frame's requestAnimationFrame callbacks, so one unchanged frame proves nothing.
      const frame = () => new Promise<void>((resolve) => requestAnimationFrame(() => resolve()));
      let last = '';
      let still = 0;
      for (let i = 0; i < 300 && still < 2; i++) {
        const q = at();
        const r = document.getElementById('canvas')!.getBoundingClientRect();
        const here = `${Math.round(q.x)},${Math.round(q.y)},${cy.zoom().toFixed(4)},${Math.round(r.left)},${Math.round(r.top)},${Math.round(r.width)},${Math.round(r.height)}`;
        still = here === last && !cy.animated() && !el.animated() ? still + 1 : 0;
        last = here;
        await frame();
      }
      const p = at();
      const rect = document.getElementById('canvas')!.getBoundingClientRect();
      return { x: rect.left + p.x, y: rect.top + p.y };
    },
    { elementId: id, isEdge: kind === 'edge' },
  );
}

/** Machine/domain ids on the canvas. */
export async function graphIds(page: Page): Promise<{ nodes: string[]; edges: string[] }> {
  return page.evaluate(() => {
    const cy = (window as any).__vnetlab.cy;
    return { nodes: cy.nodes().map((n: any) => n.id()).sort(), edges: cy.edges().map((e: any) => e.id()).sort() };
  });
}

/**
 * What a user would see wrong with the page's layout at its current size, as sentences (empty when
 * none): the page scrolls sideways, the toolbar wraps onto a second row or a button onto two lines,
 * the canvas is squeezed below its minimum, a visible button of the side panel is cut off.
 */
export async function layoutProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const doc = document.documentElement;
    if (doc.scrollWidth > window.innerWidth || document.body.scrollWidth > window.innerWidth) {
      problems.push(`the page scrolls sideways (${Math.max(doc.scrollWidth, document.body.scrollWidth)} px wide in a ${window.innerWidth} px window)`);
    }
    const buttons = Array.from(document.querySelectorAll<HTMLElement>('#toolbar button')).filter((b) => !b.hidden && b.offsetParent !== null);
    const tops = new Set(buttons.map((b) => Math.round(b.getBoundingClientRect().top / 8)));
    if (tops.size > 1) problems.push(`the toolbar wraps onto ${tops.size} rows`);
    for (const b of buttons) {
      const lineHeight = Number.parseFloat(getComputedStyle(b).lineHeight) || 18;
      if (b.getBoundingClientRect().height > 2 * lineHeight + 4) problems.push(`toolbar button "${b.textContent}" is on two lines`);
    }
    const canvas = document.getElementById('canvas')!.getBoundingClientRect();
    if (canvas.width < 360 || canvas.height < 150) problems.push(`the canvas is squeezed to ${Math.round(canvas.width)}×${Math.round(canvas.height)} px`);
    for (const b of Array.from(document.querySelectorAll<HTMLElement>('#side button'))) {
      if (b.offsetParent === null) continue;
      const r = b.getBoundingClientRect();
      if (r.right > window.innerWidth + 1 || r.left < 0) problems.push(`side panel button "${b.textContent}" is cut off (${Math.round(r.left)}–${Math.round(r.right)} px in a ${window.innerWidth} px window)`);
    }
    return problems;
  });
}

/** What a machine's console tab shows (the renderer's test hook). */
export function consoleText(page: Page, machine: string): Promise<string> {
  return page.evaluate((m) => (window as any).__vnetlab.consoleText(m) as string, machine);
}

/** Wait until a machine's console shows `pattern`; returns what it shows, or fails saying what it showed. */
export async function waitConsole(page: Page, machine: string, pattern: RegExp, timeout = 30_000): Promise<string> {
  const deadline = Date.now() + timeout;
  let text = '';
  while (Date.now() < deadline) {
    text = await consoleText(page, machine);
    if (pattern.test(text)) return text;
    await page.waitForTimeout(200);
  }
  throw new Error(`the ${machine} console never showed ${pattern}; it shows:\n${text.trim().split('\n').slice(-15).join('\n')}`);
}

/** The end of a journey: the browser, the server, the lab it started (by its records) and the temp folder. */
/**
 * Waits for the folder dialog to close after OK. When it stays open, fails with what it says (its
 * error line, the path it holds, whether OK is still busy): a dialog that stays open under load said
 * nothing in a CI run, and this is what tells why next time.
 */
export async function dialogClosed(page: Page, timeout = 30_000): Promise<void> {
  try {
    await page.getByTestId('file-dialog').waitFor({ state: 'hidden', timeout });
  } catch (err) {
    const said = await page.evaluate(() => ({
      error: document.getElementById('dialog-error')?.textContent ?? '',
      path: (document.getElementById('dialog-path') as HTMLInputElement | null)?.value ?? '',
      okBusy: (document.getElementById('dialog-ok') as HTMLButtonElement | null)?.disabled ?? false,
      status: document.getElementById('status')?.textContent ?? '',
    }));
    throw new Error(`the folder dialog stayed open ${timeout / 1000} s after OK: error line ${JSON.stringify(said.error)}, path ${JSON.stringify(said.path)}, OK ${said.okBusy ? 'still waiting for the server' : 'enabled again'}, status bar ${JSON.stringify(said.status)}`, { cause: err });
  }
}

export async function closeJourney(parts: { browser?: BrowserContext; server?: Served; t?: TestEnv; lab?: string }): Promise<void> {
  await parts.browser?.close();
  await parts.server?.stop();
  if (parts.t) {
    if (parts.lab) stopLab(parts.lab, parts.t.env);
    removeDir(parts.t.dir);
  }
}

export interface Journey {
  t: TestEnv;
  server: Served;
  browser: BrowserContext;
  page: Page;
  /** The copy of the shipped lab, inside the journey's own folder. */
  lab: string;
}

/**
 * The usual start of a journey: a copy of a shipped lab (labs/<name>) in a fresh test folder, `vnetlab
 * serve` allowed there, Chromium at 1440×900 with one page. `prepare` may edit the copy before the server
 * starts. End it with closeJourney(journey).
 */
export async function openJourney(prefix: string, shippedLab: string, options: { prepare?: (lab: string) => void; firstRun?: boolean } = {}): Promise<Journey> {
  const t = testEnv(prefix);
  const lab = join(t.dir, shippedLab);
  cpSync(join(REPO, 'labs', shippedLab), lab, { recursive: true });
  options.prepare?.(lab);
  const server = await serve(t.env, ['--allow', t.dir]);
  const browser = await launchBrowser(t.dir, { width: 1440, height: 900 }, { firstRun: options.firstRun });
  const page = await browser.newPage();
  mkdirSync(SCREENSHOTS, { recursive: true });
  return { t, server, browser, page, lab };
}
