// A big lab in the app (issue 22), in Debian's Chromium against a real `vnetlab serve`, without
// booting guests (bench/ui.ts does the console figures with real guests; this is its big-lab section):
//  - open → every node drawn and laid out, for 500 machines (10 per hub, no positions) vs two-hosts;
//  - ms per machine-state event at 500 machines: 1,000 events (each machine booting, then ready) fed
//    to the page's run state one at a time, each timed until the views have updated, vs the same at
//    10 machines (target ≤ 1 ms per event at 500, and about flat with the lab's size);
//  - frame time while panning the 500-machine canvas.
// Run: npx tsx bench/ui-big-lab.ts [N]   (default 500; ~1 min)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { launchBrowser, serve } from '../test/e2e/helpers.ts';
import { hostPaths } from '../src/main/paths.ts';

const N = Number(process.argv[2] ?? 500);
const REPO = resolve(import.meta.dirname, '..');
const base = mkdtempSync(join(tmpdir(), 'vbench-uibig-'));
const env: NodeJS.ProcessEnv = {
  ...process.env,
  HOME: join(base, 'home'),
  VNETLAB_RUNTIME_DIR: join(base, 'r'),
  VNETLAB_STATE_DIR: join(base, 'state'),
  VNETLAB_IMAGE_DIR: hostPaths(process.env).imageDir,
  DISPLAY: '',
  WAYLAND_DISPLAY: '',
};

function lab(n: number): string {
  const dir = join(base, `big-${n}`);
  mkdirSync(dir, { recursive: true });
  const machines = Array.from({ length: n }, (_, i) => `  h${i}:\n    image: tiny\n    interfaces:\n      - {domain: d${Math.floor(i / 10)}, ipv4: 10.${Math.floor(i / 2500)}.${Math.floor(i / 10) % 250}.${(i % 10) + 1}/24}\n`).join('');
  const domains = Array.from({ length: Math.ceil(n / 10) }, (_, d) => `  d${d}: {kind: hub}\n`).join('');
  writeFileSync(join(dir, 'lab.yaml'), `lab:\n  name: big${n}\nmachines:\n${machines}domains:\n${domains}`);
  return dir;
}

async function open(page: Page, origin: string, dir: string, machines: number): Promise<number> {
  const t0 = Date.now();
  await page.goto(`${origin}/?lab=${encodeURIComponent(dir)}`);
  await page.waitForFunction(
    (n) => {
      const app = (window as any).__vnetlab;
      return app && app.state.model.machines.length === n && Object.keys(app.state.model.layout).length >= n && app.cy.nodes().length >= n;
    },
    machines,
    { timeout: 120_000, polling: 10 },
  );
  // Drawn: the next frame after the layout.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  return Date.now() - t0;
}

/** Mean and p95 ms per machine-state event, each timed until the views have updated (a microtask later). */
async function eventCost(page: Page, machines: number): Promise<{ mean: number; p95: number; events: number }> {
  return page.evaluate(async (n) => {
    const run = (window as any).__vnetlab.state.run;
    run.apply({ starting: true });
    await new Promise((r) => setTimeout(r, 100));
    const times: number[] = [];
    for (const state of ['booting', 'ready']) {
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        run.apply({ event: { type: 'machine-state', machine: `h${i}`, state } });
        await Promise.resolve(); // the views' update runs in the microtask queued by the change
        await Promise.resolve();
        times.push(performance.now() - t0);
      }
    }
    const sorted = [...times].sort((a, b) => a - b);
    return { mean: times.reduce((a, b) => a + b, 0) / times.length, p95: sorted[Math.floor(sorted.length * 0.95)]!, events: times.length };
  }, machines);
}

async function panFrames(page: Page, ms: number): Promise<{ mean: number; p95: number }> {
  return page.evaluate(async (duration) => {
    const cy = (window as any).__vnetlab.cy;
    const times: number[] = [];
    await new Promise<void>((done) => {
      let last = performance.now();
      const start = last;
      const step = (now: number) => {
        times.push(now - last);
        last = now;
        cy.panBy({ x: 5, y: 2 });
        if (now - start < duration) requestAnimationFrame(step);
        else done();
      };
      requestAnimationFrame(step);
    });
    times.shift();
    const sorted = [...times].sort((a, b) => a - b);
    return { mean: times.reduce((a, b) => a + b, 0) / times.length, p95: sorted[Math.floor(sorted.length * 0.95)]! };
  }, ms);
}

async function main(): Promise<void> {
  const big = lab(N);
  const small = lab(10);
  const server = await serve(env, ['--allow', base]);
  const browser = await launchBrowser(base, { width: 1440, height: 900 });
  await browser.addInitScript('window.__name = (f) => f;'); // tsx's keepNames helper, for functions sent to the page
  try {
    const page = await browser.newPage();
    await page.goto(server.url);
    const twoHosts = await open(page, server.origin, join(REPO, 'labs', 'two-hosts'), 2);
    const bigOpen = await open(page, server.origin, big, N);
    console.log(`vnetlab UI, big lab (Chromium headless, software rendering), ${N} machines, 10 per hub, no positions`);
    console.log(`open → drawn and laid out: ${N} machines ${bigOpen} ms | two-hosts ${twoHosts} ms | target ≤ 2000 ms`);
    const bigEvents = await eventCost(page, N);
    const pan = await panFrames(page, 3000);
    await open(page, server.origin, small, 10);
    const smallEvents = await eventCost(page, 10);
    console.log(`machine-state event → views updated: ${N} machines mean ${bigEvents.mean.toFixed(2)} ms p95 ${bigEvents.p95.toFixed(2)} ms (${bigEvents.events} events) | 10 machines mean ${smallEvents.mean.toFixed(2)} ms | ratio ${(bigEvents.mean / smallEvents.mean).toFixed(1)}x | target ≤ 1 ms at ${N}`);
    console.log(`pan frame time at ${N} machines: mean ${pan.mean.toFixed(1)} ms p95 ${pan.p95.toFixed(1)} ms`);
  } finally {
    await browser.close().catch(() => {});
    await server.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

await main().catch((err: Error) => {
  process.stderr.write(`bench failed: ${err.message}\n`);
  process.exitCode = 1;
});
