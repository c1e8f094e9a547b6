// Starting a lab from the warm pool, on real UML guests (issue 12): a 10-machine Netkit lab
// (`h0..h9` on one hub, image tiny, default memory), started
//   cold      VNETLAB_POOL=0: every guest boots its kernel (the baseline, same run)
//   pooled    with `vnetlab pool up --size 10` running: every machine takes a booted guest
// measured two ways: the API call (launchLab, what the app's Start and `vnetlab check` use) until
// every machine is ready AND every console answers a keystroke, and the CLI's wall time (`vnetlab
// start` as a new process, Node's start included). Between rounds the lab is stopped and wiped (fresh
// disks, as a new student's) and the pool is left to refill.
// Run: npx tsx bench/pool.ts [--runs N] [--machines N]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { hostPaths } from '../src/main/paths.ts';
import { launchLab } from '../src/main/runtime/launch.ts';
import { connectPool } from '../src/main/runtime/pool/pool-client.ts';
import { runBench } from './harness.ts';

const flag = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const RUNS = flag('runs', 3);
const MACHINES = flag('machines', 10);
const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, '..', 'bin', 'vnetlab.mjs');

const base = mkdtempSync(join(tmpdir(), 'vnl-bpool-'));
const env: NodeJS.ProcessEnv = { ...process.env, VNETLAB_RUNTIME_DIR: join(base, 'r'), VNETLAB_STATE_DIR: join(base, 's'), VNETLAB_IMAGE_DIR: hostPaths().imageDir };
const lab = join(base, 'lab');
mkdirSync(lab, { recursive: true });
const machines = Array.from({ length: MACHINES }, (_, i) => `h${i}`);
writeFileSync(join(lab, 'lab.conf'), machines.map((m) => `${m}[0]=lan\n${m}[image]=tiny\n`).join(''));
for (const [i, m] of machines.entries()) writeFileSync(join(lab, `${m}.startup`), `ip addr add 10.9.0.${i + 1}/24 dev eth0\n`);

function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}): { ms: number; stdout: string } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...env, ...extraEnv }, encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`vnetlab ${args.join(' ')} failed: ${r.stderr}`);
  return { ms, stdout: r.stdout };
}

/** API call → every machine ready and every console echoing a keystroke. */
async function apiStart(): Promise<{ ready: number; consoles: number; pooled: number }> {
  const t0 = performance.now();
  const { client, result } = await launchLab(lab, { env, timeoutMs: 120_000 });
  const ready = performance.now() - t0;
  if (!result.ok) throw new Error(`the lab did not start: ${JSON.stringify(result.failed)}`);
  await Promise.all(
    machines.map(async (m) => {
      let seen = '';
      const viewer = await client.attachConsole(m, { onData: (d) => (seen += d), replay: false });
      const deadline = Date.now() + 30_000;
      // A fresh console shell may still be starting: type until it echoes.
      while (!seen.includes('q') && Date.now() < deadline) {
        viewer.write('q');
        await new Promise((r) => setTimeout(r, 20));
      }
      viewer.write('\x15');
      viewer.detach();
    }),
  );
  const consoles = performance.now() - t0;
  const pooled = Object.values(result.timings?.machines ?? {}).filter((t) => t.pooled).length;
  client.close();
  return { ready, consoles, pooled };
}

async function waitPoolFull(): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const pool = await connectPool(hostPaths(env));
    const status = await pool?.call('status', {});
    pool?.close();
    if (status && status.images.every((i) => i.ready >= i.size)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('the pool did not refill within 2 minutes');
}

function reset(): void {
  cli(['stop', lab]);
  cli(['wipe', '--yes', lab]);
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  console.log(`vnetlab pool bench: ${MACHINES} tiny machines (Netkit lab.conf, default memory), ${RUNS} rounds each`);
  const cold = { api: [] as number[], consoles: [] as number[], cli: [] as number[] };
  const warm = { api: [] as number[], consoles: [] as number[], cli: [] as number[] };
  cli(['start', lab], { VNETLAB_POOL: '0' }); // builds the lab-fs and warms the caches once
  reset();
  for (let round = 0; round < RUNS; round++) {
    const { ready, consoles } = await withPool(false, apiStart);
    cold.api.push(ready);
    cold.consoles.push(consoles);
    reset();
    cold.cli.push(cli(['start', lab], { VNETLAB_POOL: '0' }).ms);
    reset();
  }
  const up = cli(['pool', 'up', '--size', String(MACHINES)]);
  console.log(`pool up --size ${MACHINES}: ${fmt(up.ms)}; ${up.stdout.trim()}`);
  for (let round = 0; round < RUNS; round++) {
    await waitPoolFull();
    const { ready, consoles, pooled } = await apiStart();
    if (pooled !== MACHINES) console.log(`  (round ${round + 1}: only ${pooled} of ${MACHINES} machines came from the pool)`);
    warm.api.push(ready);
    warm.consoles.push(consoles);
    reset();
    await waitPoolFull();
    warm.cli.push(cli(['start', lab]).ms);
    reset();
  }
  const status = JSON.parse(cli(['pool', 'status', '--json']).stdout);
  cli(['pool', 'down']);
  const line = (what: string, c: number[], w: number[], target: string) =>
    console.log(`${what.padEnd(44)} cold ${fmt(median(c))}  pooled ${fmt(median(w))}  ratio ${(median(w) / median(c)).toFixed(2)}  ${target}`);
  line('API call → all ready', cold.api, warm.api, '');
  line('API call → all ready and every console echoes', cold.consoles, warm.consoles, '(target pooled ≤ 1 s)');
  line('vnetlab start, wall (Node start included)', cold.cli, warm.cli, '(target pooled ≤ 1.5 s)');
  console.log(`pool of ${MACHINES} idle guests: ${(status.rssBytes / 2 ** 20).toFixed(0)} MiB resident`);
}

/** Cold rounds run with no pool at all (the supervisor never asks). */
async function withPool<T>(on: boolean, task: () => Promise<T>): Promise<T> {
  const saved = env.VNETLAB_POOL;
  if (!on) env.VNETLAB_POOL = '0';
  try {
    return await task();
  } finally {
    if (saved === undefined) delete env.VNETLAB_POOL;
    else env.VNETLAB_POOL = saved;
  }
}

runBench(main, env, base);
