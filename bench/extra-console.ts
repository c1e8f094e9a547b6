// An extra console (issue 23: a shell on a pty inside the guest, carried over the exec channel,
// runtime/extra-console.ts) against the guest's own console (UML's con0 on a host pty) as the baseline,
// on one tiny guest in the same run:
//  - keystroke → echo round trip, one key at a time (p50/p99/max);
//  - output throughput: `seq 1 N` (about 6.9 MB for N = 1,000,000) until its last line arrives;
//  - opening: first attach of console 2 until its prompt.
// Run: npx tsx bench/extra-console.ts [--keys K] [--lines N]   (default K 200, N 1000000)
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { hostPaths } from '../src/main/paths.ts';
import { launchLab } from '../src/main/runtime/launch.ts';
import type { SupervisorClient } from '../src/main/runtime/client.ts';
import { runBench } from './harness.ts';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const KEYS = flag('--keys', 200);
const LINES = flag('--lines', 1_000_000);

const base = mkdtempSync(join(tmpdir(), 'vbench-xcons-'));
const imageDir = hostPaths(process.env).imageDir;
process.env.HOME = join(base, 'home');
process.env.VNETLAB_RUNTIME_DIR = join(base, 'r');
process.env.VNETLAB_STATE_DIR = join(base, 'state');
process.env.VNETLAB_IMAGE_DIR = imageDir;

function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
const summary = (v: number[]) => `p50 ${fmt(quantile(v, 0.5))}  p99 ${fmt(quantile(v, 0.99))}  max ${fmt(Math.max(...v))}`;
const tick = () => new Promise((r) => setImmediate(r));

async function until(read: () => string, pattern: RegExp | string, what: string, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(typeof pattern === 'string' ? read().includes(pattern) : pattern.test(read()))) {
    if (Date.now() > deadline) throw new Error(`${what}: nothing after ${ms / 1000} s`);
    await tick();
  }
}

async function measure(sup: SupervisorClient, index: number): Promise<{ keys: number[]; seqMs: number; open: number }> {
  let out = '';
  const t0 = performance.now();
  const view = await sup.attachConsole('pc1', { console: index, onData: (d) => (out += d), cols: 120, rows: 40 });
  view.write('\x15echo open-$((1+1))\r');
  await until(() => out, 'open-2', 'the prompt');
  const open = performance.now() - t0;
  const keys: number[] = [];
  for (let i = 0; i < KEYS; i++) {
    if (i % 40 === 39) {
      view.write('\x15');
      await new Promise((r) => setTimeout(r, 50));
    }
    const key = String.fromCharCode(97 + (i % 26));
    const before = out.length;
    const k0 = performance.now();
    view.write(key);
    await until(() => out.slice(before), key, `the echo of keystroke ${i}`, 30_000);
    keys.push(performance.now() - k0);
    await new Promise((r) => setTimeout(r, 10));
  }
  view.write('\x15');
  await new Promise((r) => setTimeout(r, 200));
  out = '';
  const s0 = performance.now();
  view.write(`seq 1 ${LINES}; echo seq-done-$((6*7))\r`);
  await until(() => out.slice(-200), 'seq-done-42\r\n', 'the end of seq', 600_000);
  const seqMs = performance.now() - s0;
  view.detach();
  return { keys, seqMs, open };
}

async function main(): Promise<void> {
  const lab = join(base, 'lab');
  mkdirSync(lab, { recursive: true });
  writeFileSync(join(lab, 'lab.yaml'), 'lab:\n  name: xcons\nmachines:\n  pc1:\n    image: tiny\n    memory: 64\n');
  const { client: sup, result } = await launchLab(lab, { timeoutMs: 120_000 });
  if (!result.ok) throw new Error('the lab did not start');
  console.log(`extra console bench: one tiny guest, ${KEYS} keystrokes, seq 1 ${LINES}`);
  const own = await measure(sup, 0);
  const extra = await measure(sup, 1);
  const bytes = Array.from({ length: LINES }, (_, i) => String(i + 1).length + 1).reduce((a, b) => a + b, 0);
  const rate = (ms: number) => `${(bytes / 1e6 / (ms / 1000)).toFixed(2)} MB/s`;
  console.log(`  keystroke echo, console 1 (UML con0): ${summary(own.keys)}`);
  console.log(`  keystroke echo, console 2 (exec channel): ${summary(extra.keys)}  (p50 ${(quantile(extra.keys, 0.5) / quantile(own.keys, 0.5)).toFixed(2)}× console 1)`);
  console.log(`  seq 1 ${LINES} (${(bytes / 1e6).toFixed(1)} MB): console 1 ${fmt(own.seqMs)} (${rate(own.seqMs)}), console 2 ${fmt(extra.seqMs)} (${rate(extra.seqMs)}), ${(extra.seqMs / own.seqMs).toFixed(2)}× console 1's time`);
  console.log(`  first attach → prompt answered: console 1 ${fmt(own.open)}, console 2 ${fmt(extra.open)}`);
  sup.close();
}

runBench(main, process.env, base);
