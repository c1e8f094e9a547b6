// Does anything the supervisor does stall a console? (issue 22: keystroke echo went from 31 ms to
// 0.4–12.7 s while `vnetlab status` walked /proc at 100 machines.) With N tiny guests running, the
// keystroke → echo round trip on one console through the supervisor, measured twice in the same run:
//  - baseline: nothing else asks the supervisor anything;
//  - loaded: a `vnetlab status` loop from the CLI (one after another, alternating `--json`) and an
//    app-like client asking status once a second, for as long as the keystrokes take.
// Prints p50/p99/max of both, and how long each status took (CLI wall time, and over the socket).
// Target: p99 ≤ 50 ms loaded, at 100 and at 500 machines.
// Run: npx tsx bench/console-stall.ts [N] [--keys K]   (default N 100, K 300; N guests boot first)
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { hostPaths } from '../src/main/paths.ts';
import { launchLab } from '../src/main/runtime/launch.ts';
import { connectRunDir, type SupervisorClient } from '../src/main/runtime/client.ts';
import { runBench } from './harness.ts';

const args = process.argv.slice(2);
const keysAt = args.indexOf('--keys');
const KEYS = keysAt >= 0 ? Number(args.splice(keysAt, 2)[1]) : 300;
const N = Number(args[0] ?? 100);
const VNETLAB = resolve(import.meta.dirname, '..', 'bin', 'vnetlab.mjs');

const base = mkdtempSync(join(tmpdir(), 'vbench-stall-'));
const imageDir = hostPaths(process.env).imageDir;
process.env.HOME = join(base, 'home');
process.env.VNETLAB_RUNTIME_DIR = join(base, 'r');
process.env.VNETLAB_STATE_DIR = join(base, 'state');
process.env.VNETLAB_IMAGE_DIR = imageDir;

/** N tiny guests, 10 per collision domain (a hub each), as in the big lab. */
export function bigLabYaml(n: number, name = `stall${n}`): string {
  const machines = Array.from({ length: n }, (_, i) => `  h${i}:\n    image: tiny\n    memory: 64\n    interfaces:\n      - {domain: d${Math.floor(i / 10)}, ipv4: 10.${Math.floor(i / 10) >> 8}.${Math.floor(i / 10) & 255}.${(i % 10) + 1}/24}\n`).join('');
  const domains = Array.from({ length: Math.ceil(n / 10) }, (_, d) => `  d${d}: {kind: hub}\n`).join('');
  return `lab:\n  name: ${name}\nmachines:\n${machines}domains:\n${domains}`;
}

/** Busy and total jiffies of all cores (/proc/stat). */
function cpuTimes(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - fields[3]! - (fields[4] ?? 0), total };
}

function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
const summary = (v: number[]) => `p50 ${fmt(quantile(v, 0.5))}  p99 ${fmt(quantile(v, 0.99))}  max ${fmt(Math.max(...v))}  (${v.length})`;

/** Round trips of `count` keystrokes on h0's console, one at a time, 10 ms apart. */
async function keystrokes(sup: SupervisorClient, count: number): Promise<number[]> {
  let out = '';
  const view = await sup.attachConsole('h0', { onData: (d) => (out += d) });
  view.write('\x15\r');
  await new Promise((r) => setTimeout(r, 500));
  const times: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      if (i % 40 === 39) {
        view.write('\x15'); // Ctrl-U: keep the line short
        await new Promise((r) => setTimeout(r, 50));
      }
      const key = String.fromCharCode(97 + (i % 26));
      const before = out.length;
      const t0 = performance.now();
      view.write(key);
      const deadline = Date.now() + 30_000;
      while (!out.slice(before).includes(key)) {
        if (Date.now() > deadline) throw new Error(`no echo of keystroke ${i} after 30 s`);
        await new Promise((r) => setImmediate(r));
      }
      times.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    view.write('\x15');
    view.detach();
  }
  return times;
}

function cliStatus(lab: string, json: boolean): Promise<number> {
  const t0 = performance.now();
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [VNETLAB, 'status', lab, ...(json ? ['--json'] : [])], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.once('exit', (code) => (code === 0 ? ok(performance.now() - t0) : fail(new Error(`vnetlab status exited with ${code}: ${err}`))));
  });
}

async function main(): Promise<void> {
  const lab = join(base, `lab-${N}`);
  mkdirSync(lab, { recursive: true });
  writeFileSync(join(lab, 'lab.yaml'), bigLabYaml(N));
  console.log(`console stall bench: ${N} tiny guests (10 per hub), ${KEYS} keystrokes per phase`);
  const t0 = performance.now();
  const { client: sup, result } = await launchLab(lab, { timeoutMs: 600_000 });
  if (!result.ok) throw new Error(`the lab did not start: ${result.failed.map((f) => f.machine).join(', ')}`);
  console.log(`  started in ${((performance.now() - t0) / 1000).toFixed(1)} s; letting the guests settle`);
  await new Promise((r) => setTimeout(r, 5_000));
  // What the idle guests (and whatever else runs) take of the host: busy share of all cores over 5 s.
  const before = cpuTimes();
  await new Promise((r) => setTimeout(r, 5_000));
  const after = cpuTimes();
  console.log(`  host CPU busy with ${N} idle guests (and whatever else runs): ${((100 * (after.busy - before.busy)) / (after.total - before.total)).toFixed(0)} % of all cores`);

  const idle = await keystrokes(sup, KEYS);

  let polling = true;
  const cliTimes: { text: number[]; json: number[] } = { text: [], json: [] };
  const cliLoop = (async () => {
    for (let i = 0; polling; i++) {
      const json = i % 2 === 1;
      cliTimes[json ? 'json' : 'text'].push(await cliStatus(lab, json));
    }
  })();
  const app = (await connectRunDir(sup.runDir))!;
  const appTimes: number[] = [];
  const appLoop = (async () => {
    while (polling) {
      const a = performance.now();
      await app.status();
      appTimes.push(performance.now() - a);
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  await new Promise((r) => setTimeout(r, 1_000));
  const loaded = await keystrokes(sup, KEYS);
  polling = false;
  await Promise.all([cliLoop, appLoop]);
  app.close();

  console.log(`keystroke echo through the supervisor, ${N} guests running:`);
  console.log(`  loaded (CLI status loop + app polling): ${summary(loaded)}   target p99 ≤ 50 ms`);
  console.log(`  baseline (nothing else asking):          ${summary(idle)}`);
  console.log(`  ratio p99 loaded/baseline ${(quantile(loaded, 0.99) / quantile(idle, 0.99)).toFixed(2)}`);
  console.log(`vnetlab status from the CLI (process start to exit): ${summary(cliTimes.text)}   target ≤ 1 s`);
  console.log(`vnetlab status --json from the CLI:                   ${summary(cliTimes.json)}`);
  console.log(`status over the socket (the app's call):              ${summary(appTimes)}`);
  await sup.shutdown('crash');
  await sup.waitClosed();
}

runBench(main, process.env, base);
