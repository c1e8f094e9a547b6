// UI figures in Debian's Chromium against a real `vnetlab serve`, each against a baseline measured in
// the same run:
//  - open → drawn and laid out: a generated 300-machine lab without positions (automatic layout) vs
//    the shipped two-hosts lab;
//  - frame time while panning the 300-machine canvas vs panning two-hosts;
//  - console throughput into xterm.js for 20 MB of guest output (with flow control), vs the same output
//    thrown away inside the guest (what the guest and its console can produce at all), and how late
//    the page's input handling runs meanwhile vs idle;
//  - packet flow: the page's frame rate, the animation's own frame rate and click latency while a
//    capture on the switch lists a ~1,000 frames/s ping flood (two busybox `ping -i 0.002` at once,
//    echo requests and replies; busybox has no -f) and the dots animate it, vs the same page with the
//    capture open and nothing flowing, and vs the same flood with no capture.
// Run: npx tsx bench/ui.ts [--mb N] [--flow-only]   (boots two tiny guests; ~2-3 min)
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
/** Only the packet-flow figures (the lab still boots; the 300-machine and console figures are skipped). */
const FLOW_ONLY = process.argv.includes('--flow-only');

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

/**
 * For `ms`: the page's frames per second (requestAnimationFrame callbacks), the packet flow's own drawn
 * frames per second, frames listed per second, and the click latency of `clicks` clicks on a harmless
 * button (from the click event's creation to the next frame painted after its handler ran).
 */
/** The page's main thread over a stretch of time (Chromium's Performance metrics): ms per second of each kind of work. */
async function mainThread(page: Page): Promise<() => Promise<string>> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const read = async () => Object.fromEntries(((await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] }).metrics.map((m) => [m.name, m.value]));
  const before = await read();
  const t0 = Date.now();
  return async () => {
    const after = await read();
    const perS = (k: string) => fmt(((after[k]! - before[k]!) * 1000) / ((Date.now() - t0) / 1000), 0);
    await cdp.detach();
    return `main thread per second: tasks ${perS('TaskDuration')} ms, script ${perS('ScriptDuration')} ms, layout ${perS('LayoutDuration')} ms, style ${perS('RecalcStyleDuration')} ms`;
  };
}

async function flowFigures(page: Page, ms: number, clicks: number): Promise<{ fps: number; p95FrameMs: number; flowFps: number; framesPerS: number; every: number; clickP50: number; clickMax: number; busyPct: number; work: string }> {
  await page.evaluate(() => {
    const w = window as any;
    w.__clicks = [];
    w.__clickHandler ??= (e: Event) => {
      const at = e.timeStamp;
      requestAnimationFrame(() => setTimeout(() => w.__clicks.push(performance.now() - at), 0));
    };
    document.querySelector('[data-testid="side-lab"]')!.addEventListener('click', w.__clickHandler);
  });
  const work = await mainThread(page);
  const probe = page.evaluate(async (duration) => {
    const w = window as any;
    const before = w.__vnetlab.packetFlow();
    // Time the page's main thread spent in tasks over 50 ms (the browser's long tasks).
    let long = 0;
    const observer = new PerformanceObserver((list) => list.getEntries().forEach((e) => (long += e.duration)));
    observer.observe({ type: 'longtask' });
    const times: number[] = [];
    await new Promise<void>((done) => {
      let last = performance.now();
      const start = last;
      const step = (now: number) => {
        times.push(now - last);
        last = now;
        if (now - start < duration) requestAnimationFrame(step);
        else done();
      };
      requestAnimationFrame(step);
    });
    times.shift();
    observer.disconnect();
    const after = w.__vnetlab.packetFlow();
    const sorted = [...times].sort((a, b) => a - b);
    const seconds = times.reduce((a, b) => a + b, 0) / 1000;
    return { fps: times.length / seconds, p95FrameMs: sorted[Math.floor(sorted.length * 0.95)]!, flowFps: (after.drawn - before.drawn) / seconds, framesPerS: (after.frames - before.frames) / seconds, every: after.every, busyPct: long / 10 / seconds };
  }, ms);
  const box = (await page.getByTestId('side-lab').boundingBox())!;
  for (let i = 0; i < clicks; i++) {
    await page.waitForTimeout(ms / (clicks + 1));
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  }
  const figures = await probe;
  const workText = await work();
  await page.waitForTimeout(200);
  const latencies = (await page.evaluate(() => (window as any).__clicks as number[])).sort((a, b) => a - b);
  return { ...figures, clickP50: latencies[Math.floor(latencies.length / 2)] ?? NaN, clickMax: latencies[latencies.length - 1] ?? NaN, work: workText };
}

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
    if (FLOW_ONLY) await openTime(page, origin, twoHosts, 2);
    else await figuresBeforeTheLab(page, origin, big);
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
    if (!FLOW_ONLY) await consoleFigures(page);
    await flowBench(page);
  } finally {
    await cleanup();
  }
}

async function figuresBeforeTheLab(page: Page, origin: string, big: string): Promise<void> {
  const smallOpen = await openTime(page, origin, twoHosts, 2);
  const bigOpen = await openTime(page, origin, big, 300);
  console.log(`open + draw + layout: 300 machines ${bigOpen} ms | two-hosts ${smallOpen} ms | ratio ${fmt(bigOpen / smallOpen)}x`);
  const bigPan = await panFrames(page, 3000);
  await openTime(page, origin, twoHosts, 2);
  const smallPan = await panFrames(page, 3000);
  console.log(`pan frame time: 300 machines mean ${fmt(bigPan.mean)} ms p95 ${fmt(bigPan.p95)} ms (${bigPan.frames} frames) | two-hosts mean ${fmt(smallPan.mean)} ms p95 ${fmt(smallPan.p95)} ms | ratio ${fmt(bigPan.mean / smallPan.mean)}x`);
}

async function consoleFigures(page: Page): Promise<void> {
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
}

async function flowBench(page: Page): Promise<void> {
  // Packet flow: capture on the switch, then a ~1,000 frames/s ping flood from pc1 to pc2.
  await page.keyboard.type('clear\n');
  await page.getByRole('button', { name: 'Fit' }).click();
  const sw = await page.evaluate(() => {
    const n = (window as any).__vnetlab.cy.getElementById('domain:lan');
    const r = document.getElementById('canvas')!.getBoundingClientRect();
    return { x: r.left + n.renderedPosition().x, y: r.top + n.renderedPosition().y };
  });
  await page.mouse.click(sw.x, sw.y, { button: 'right' });
  await page.getByTestId('context-menu').locator('[data-action="capture-packets-on-lan"]').click();
  await page.getByTestId('flow-bar').waitFor();
  await page.waitForTimeout(1000);
  const quiet = await flowFigures(page, 5000, 10);
  await page.getByTestId('console-pc1').click();
  // Two pings at once: the guests' timers let one `ping -i 0.002` send ~270 a second, not 500.
  await page.keyboard.type('ping -q -i 0.002 -w 30 10.0.0.2 & ping -q -i 0.002 -w 30 10.0.0.2\n');
  await page.waitForFunction(() => (window as any).__vnetlab.packetFlow().every > 1, undefined, { timeout: 20_000 });
  const flood = await flowFigures(page, 8000, 16);
  console.log(`packet flow during a ping flood: ${fmt(flood.framesPerS, 0)} frames/s listed, shown 1 in ${flood.every} | page ${fmt(flood.fps)} fps (p95 frame ${fmt(flood.p95FrameMs)} ms), animation ${fmt(flood.flowFps)} fps (target >= 30) | click latency p50 ${fmt(flood.clickP50)} ms max ${fmt(flood.clickMax)} ms | ${flood.work}`);
  console.log(`packet flow, capture open and nothing flowing (baseline): page ${fmt(quiet.fps)} fps (p95 frame ${fmt(quiet.p95FrameMs)} ms) | click latency p50 ${fmt(quiet.clickP50)} ms max ${fmt(quiet.clickMax)} ms | page fps ratio ${fmt(flood.fps / quiet.fps, 2)}x | ${quiet.work}`);
  // The same flood with the capture closed: what the guests, switches and server cost the host (2 cores) by themselves.
  await page.getByTestId('packet-close').click();
  await page.waitForTimeout(1500);
  const bare = await flowFigures(page, 5000, 10);
  console.log(`the flood without a capture (baseline): page ${fmt(bare.fps)} fps (p95 frame ${fmt(bare.p95FrameMs)} ms) | click latency p50 ${fmt(bare.clickP50)} ms max ${fmt(bare.clickMax)} ms | main thread busy ${fmt(bare.busyPct, 0)} % (with the capture: ${fmt(flood.busyPct, 0)} %, quiet: ${fmt(quiet.busyPct, 0)} %) | ${bare.work}`);
}

await main().catch((err: Error) => {
  process.stderr.write(`bench failed: ${err.message}\n`);
  process.exitCode = 1;
});
