// How fast a graceful stop of N guests goes with different bounds on how many stop at once
// (VNETLAB_MAX_PARALLEL_STOPS; the default is stop-slots.ts's), measured in the same run: for each
// bound, N tiny guests (10 per hub) are started, left to settle, and `vnetlab stop` is timed; the
// guests that needed `halt` after their `cad` timeout (not synced by their own shutdown) are counted
// from the stop's progress lines.
// Run: npx tsx bench/stop.ts [N] [--bounds a,b,…]   (default N 100, bounds "default,all")
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { hostPaths } from '../src/main/paths.ts';
import { launchLab } from '../src/main/runtime/launch.ts';
import { runBench } from './harness.ts';

const args = process.argv.slice(2);
const boundsAt = args.indexOf('--bounds');
const BOUNDS = boundsAt >= 0 ? args.splice(boundsAt, 2)[1]!.split(',') : ['default', 'all'];
const N = Number(args[0] ?? 100);
const VNETLAB = resolve(import.meta.dirname, '..', 'bin', 'vnetlab.mjs');
const base = mkdtempSync(join(tmpdir(), 'vbench-stop-'));
const imageDir = hostPaths(process.env).imageDir;
process.env.HOME = join(base, 'home');
process.env.VNETLAB_RUNTIME_DIR = join(base, 'r');
process.env.VNETLAB_STATE_DIR = join(base, 'state');
process.env.VNETLAB_IMAGE_DIR = imageDir;

function labYaml(n: number, name: string): string {
  const machines = Array.from({ length: n }, (_, i) => `  h${i}:\n    image: tiny\n    memory: 64\n    interfaces:\n      - {domain: d${Math.floor(i / 10)}, ipv4: 10.1.${Math.floor(i / 10)}.${(i % 10) + 1}/24}\n`).join('');
  const domains = Array.from({ length: Math.ceil(n / 10) }, (_, d) => `  d${d}: {kind: hub}\n`).join('');
  return `lab:\n  name: ${name}\nmachines:\n${machines}domains:\n${domains}`;
}

function stop(lab: string): Promise<{ ms: number; out: string }> {
  const t0 = performance.now();
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [VNETLAB, 'stop', lab], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('exit', (code) => (code === 0 ? ok({ ms: performance.now() - t0, out }) : fail(new Error(`vnetlab stop exited with ${code}: ${out}`))));
  });
}

async function main(): Promise<void> {
  console.log(`stop bench: ${N} tiny guests, bounds ${BOUNDS.join(', ')}`);
  for (const bound of BOUNDS) {
    const lab = join(base, `stop-${bound}`);
    mkdirSync(lab, { recursive: true });
    writeFileSync(join(lab, 'lab.yaml'), labYaml(N, `stop${N}${bound.slice(0, 3)}`));
    if (bound === 'default') delete process.env.VNETLAB_MAX_PARALLEL_STOPS;
    else process.env.VNETLAB_MAX_PARALLEL_STOPS = bound === 'all' ? String(N) : bound;
    const { client, result } = await launchLab(lab, { timeoutMs: 600_000 });
    client.close();
    if (!result.ok) throw new Error(`the lab did not start: ${result.failed.map((f) => f.machine).join(', ')}`);
    await new Promise((r) => setTimeout(r, 5_000));
    const { ms, out } = await stop(lab);
    const halted = (out.match(/did not stop after/g) ?? []).length;
    const killed = (out.match(/did not halt/g) ?? []).length;
    console.log(`  bound ${bound.padEnd(7)}: vnetlab stop ${(ms / 1000).toFixed(1)} s; halted after the cad timeout: ${halted}, killed: ${killed}`);
  }
}

runBench(main, process.env, base);
