// UI figures in Debian's Chromium against a real `vnetlab serve`, each against a baseline measured in
// the same run:
//  - open → drawn and laid out: a generated 300-machine lab without positions (automatic layout) vs
//    the shipped two-hosts lab;
//  - frame time while panning the 300-machine canvas vs panning two-hosts;
//  - console throughput into xterm.js for 20 MB of guest output (with flow control), vs the same output
//    thrown away inside the guest (what the guest and its console can produce at all), and how late
//    the page's input handling runs meanwhile vs idle.
// Run: npx tsx bench/ui.ts [--mb N]   (boots two tiny guests; ~1-2 min)
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { launchBrowser } from '../test/e2e/helpers.ts';
import { hostPaths } from '../src/main/paths.ts';

const REPO = resolve(import.meta.dirname, '..');
const VNETLAB = join(REPO, 'bin', 'vnetlab.mjs');
const mbArg = process.argv.indexOf('--mb');
const MB = mbArg > 0 ? Number(process.argv[mbArg + 1]) : 20;

const base = mkdtempSync(join(tmpdir(), 'vbench-ui-'));
const home = join(base, 'home');
mkdirSync(home, { recursive: true });
const env: NodeJS.ProcessEnv = {
  ...process.env,
  HOME: home,
  VNETLAB_RUNTIME_DIR: join(base, 'r'),
  VNETLAB_STATE_DIR: join(base, 'state'),
  VNETLAB_IMAGE_DIR: hostPaths(process.env).imageDir,
  DISPLAY: '',
  WAYLAND_DISPLAY: '',
};
const twoHosts = join(REPO, 'labs', 'two-hosts');

/** 300 machines: 30 LANs of 9 hosts on a switch, each LAN's router on a backbone hub. No positions. */
function bigLab(): string {
  const dir = join(home, 'big-300');
  mkdirSync(dir, { recursive: true });
  const lines = ['lab:', '  name: big-300', 'machines:'];
  for (let lan = 1; lan <= 30; lan++) {
    lines.push(`  r${lan}:`, '    kind: router', '    image: tiny', '    memory: 64', '    interfaces:', `      - {domain: lan${lan}, ipv4: 10.${lan}.0.1/24}`, `      - {domain: backbone, ipv4: 10.0.0.${lan}/24}`);
    for (let h = 1; h <= 9; h++) {
      lines.push(`  h${lan}-${h}:`, '    image: tiny', '    memory: 64', '    interfaces:', `      - {domain: lan${lan}, ipv4: 10.${lan}.0.${h + 1}/24}`);
    }
  }
  lines.push('domains:', ...Array.from({ length: 30 }, (_, i) => `  lan${i + 1}: {kind: switch}`));
  writeFileSync(join(dir, 'lab.yaml'), `${lines.join('\n')}\n`);
  return dir;
}

async function serve(): Promise<{ url: string; stop(): void }> {
  const child = spawn(process.execPath, [VNETLAB, 'serve', '--no-open'], { env, detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const url = await new Promise<string>((ok, fail) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /http:\/\/127\.0\.0\.1:\d+\/\?token=\w+/.exec(out);
      if (m) ok(m[0]);
    });
    child.once('exit', (code) => fail(new Error(`vnetlab serve exited with ${code}`)));
  });
  return { url, stop: () => process.kill(-child.pid!, 'SIGTERM') };
}

/** Milliseconds from navigation to every node drawn with a position (layout done, view fitted). */
async function openTime(page: Page, origin: string, lab: string, machines: number): Promise<number> {
  const t0 = Date.now();
  await page.goto(`${origin}/?lab=${encodeURIComponent(lab)}`);
  await page.waitForFunction(
    (n) => {
      const app = (window as any).__vnetlab;
      return app && app.state.model.machines.length === n && Object.keys(app.state.model.layout).length >= n && app.cy.nodes().length >= n;
    },
    machines,
    { timeout: 120_000, polling: 10 },
  );
  return Date.now() - t0;
}

/** Frame times (ms) while the canvas pans by a few pixels every animation frame for `ms`. */
async function panFrames(page: Page, ms: number): Promise<{ mean: number; p95: number; frames: number }> {
  return page.evaluate(async (duration) => {
    const cy = (window as any).__vnetlab.cy;
    const times: number[] = [];
    await new Promise<void>((done) => {
      let last = performance.now();
      const start = last;
      let dir = 1;
      const step = (now: number) => {
        times.push(now - last);
        last = now;
        if ((now - start) % 1000 < 20) dir = -dir;
        cy.panBy({ x: 6 * dir, y: 3 * dir });
        if (now - start < duration) requestAnimationFrame(step);
        else done();
      };
      requestAnimationFrame(step);
    });
    times.shift();
    const sorted = [...times].sort((a, b) => a - b);
    return { mean: times.reduce((a, b) => a + b, 0) / times.length, p95: sorted[Math.floor(sorted.length * 0.95)]!, frames: times.length };
  }, ms);
}

/** How late a 20 ms timer fires in the page (what a click or keystroke would wait), sampled until stop(). */
async function startLatencyProbe(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as any;
    w.__late = [];
    w.__probe = true;
    const tick = () => {
      const due = performance.now() + 20;
      setTimeout(() => {
        w.__late.push(performance.now() - due);
        if (w.__probe) tick();
      }, 20);
    };
    tick();
  });
}

async function stopLatencyProbe(page: Page): Promise<{ p95: number; max: number }> {
  return page.evaluate(() => {
    const w = window as any;
    w.__probe = false;
    const sorted = [...(w.__late as number[])].sort((a, b) => a - b);
    return { p95: sorted[Math.floor(sorted.length * 0.95)] ?? 0, max: sorted[sorted.length - 1] ?? 0 };
  });
}

async function consoleRun(page: Page, command: string, marker: string, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  await page.keyboard.type(`${command}; echo ${marker.slice(0, 4)}''${marker.slice(4)}\n`);
  await page.waitForFunction((m) => (window as any).__vnetlab.consoleText('pc1').includes(m), marker, { timeout: timeoutMs, polling: 100 });
  return Date.now() - t0;
}

const fmt = (n: number, d = 1) => n.toFixed(d);

/** Whatever happens (error, Ctrl-C), stop the guests, the server and the browser this bench started. */
let cleanup: () => Promise<void> = async () => {};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: stopping the bench's guests and server…\n`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  const big = bigLab();
  const server = await serve();
  const origin = new URL(server.url).origin;
  const browser = await launchBrowser(base);
  let cleaning: Promise<void> | undefined;
  cleanup = () => (cleaning ??= (async () => {
    await browser.close().catch(() => {});
    server.stop();
    spawnSync(process.execPath, [VNETLAB, 'stop', twoHosts], { env, stdio: 'ignore', timeout: 60_000 });
    spawnSync(process.execPath, [VNETLAB, 'clean'], { env, stdio: 'ignore', timeout: 60_000 });
    rmSync(base, { recursive: true, force: true });
  })());
  // tsx compiles this file with esbuild's keepNames: functions sent to the page refer to its __name helper.
  await browser.addInitScript('window.__name = (f) => f;');
  try {
    const page = await browser.newPage();
    await page.goto(server.url); // sets the token cookie
    await page.waitForFunction(() => (window as any).__vnetlab?.cy.nodes().length > 0);

    console.log('vnetlab UI bench (Chromium, headless, software rendering)');
    const smallOpen = await openTime(page, origin, twoHosts, 2);
    const bigOpen = await openTime(page, origin, big, 300);
    console.log(`open + draw + layout: 300 machines ${bigOpen} ms | two-hosts ${smallOpen} ms | ratio ${fmt(bigOpen / smallOpen)}x`);
    const bigPan = await panFrames(page, 3000);
    await openTime(page, origin, twoHosts, 2);
    const smallPan = await panFrames(page, 3000);
    console.log(`pan frame time: 300 machines mean ${fmt(bigPan.mean)} ms p95 ${fmt(bigPan.p95)} ms (${bigPan.frames} frames) | two-hosts mean ${fmt(smallPan.mean)} ms p95 ${fmt(smallPan.p95)} ms | ratio ${fmt(bigPan.mean / smallPan.mean)}x`);

    // Console throughput: boot two-hosts, open pc1's console.
    await page.getByTestId('start').click();
    await page.waitForFunction(() => ['pc1', 'pc2'].every((m) => (window as any).__vnetlab.state.machineStates.get(m) === 'ready'), undefined, { timeout: 180_000 });
    await page.getByRole('button', { name: 'Fit' }).click(); // the pan above may have moved pc1 out of view
    const p = await page.evaluate(() => {
      const n = (window as any).__vnetlab.cy.getElementById('machine:pc1');
      const r = document.getElementById('canvas')!.getBoundingClientRect();
      return { x: r.left + n.renderedPosition().x, y: r.top + n.renderedPosition().y };
    });
    await page.mouse.dblclick(p.x, p.y);
    await page.getByTestId('console-pc1').waitFor();
    await page.getByTestId('console-pc1').click();
    await page.keyboard.press('Enter');
    const bytes = MB * 1_000_000;
    // 99 x's and a newline per line: plain text, like a big `cat`.
    const produce = `yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -c ${bytes}`;
    await startLatencyProbe(page);
    await page.waitForTimeout(2000);
    const idle = await stopLatencyProbe(page);
    const discarded = await consoleRun(page, `${produce} > /dev/null`, 'DISCARDED-DONE', 600_000);
    await startLatencyProbe(page);
    const writtenBefore = await page.evaluate(() => (window as any).__vnetlab.consoleWritten('pc1') as number);
    const shown = await consoleRun(page, produce, 'SHOWN-DONE', 600_000);
    const busy = await stopLatencyProbe(page);
    const written = (await page.evaluate(() => (window as any).__vnetlab.consoleWritten('pc1') as number)) - writtenBefore;
    console.log(`console: ${MB} MB of output shown in ${fmt(shown / 1000)} s = ${fmt(MB / (shown / 1000), 2)} MB/s; xterm parsed ${fmt(written / 1e6)} MB (${fmt((100 * written) / bytes, 0)}% of it: the tty adds a CR per line, output skipped to keep up would lower it) = ${fmt(written / 1e6 / (shown / 1000), 2)} MB/s | produced and discarded in the guest: ${fmt(discarded / 1000)} s | ratio ${fmt(shown / discarded)}x`);
    console.log(`page responsiveness (timer lateness): during the flood p95 ${fmt(busy.p95)} ms max ${fmt(busy.max)} ms | idle p95 ${fmt(idle.p95)} ms max ${fmt(idle.max)} ms`);
  } finally {
    await cleanup();
  }
}

await main().catch((err: Error) => {
  process.stderr.write(`bench failed: ${err.message}\n`);
  process.exitCode = 1;
});
