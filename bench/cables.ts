// What the cable layer costs (a port hub + a wirefilter per interface, src/main/runtime/network/), each
// figure against the same lab in the same run with every guest NIC attached straight to its domain's
// switch (the layout before cables existed):
//  - start of a lab of N tiny guests on one hub (supervisor.start(): network up + every guest ready);
//  - host memory of the network processes (PSS of switches, ports and wires);
//  - on two debian guests: ping round trip (median of 20) and iperf3 TCP throughput (5 s);
//  - capture: frames per second delivered while iperf3 runs;
//  - unplug: how long `link --down` takes, and where the first lost ping falls (pings every 20 ms).
// Run: npx tsx bench/cables.ts [--size N] [--runs N]   (default 10 guests, 3 alternating rounds)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Plan } from '../src/shared/plan.ts';
import { hostPaths } from '../src/main/paths.ts';
import { cleanAll } from '../src/main/runtime/clean.ts';
import { prepareLab } from '../src/main/runtime/prepare.ts';
import { groupRssBytes } from '../src/main/runtime/proc-memory.ts';
import { RealLauncher } from '../src/main/runtime/real-launcher.ts';
import { readRecords } from '../src/main/runtime/records.ts';
import { Supervisor } from '../src/main/runtime/supervisor.ts';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const SIZE = flag('--size', 10);
const RUNS = flag('--runs', 3);
const IPERF_SECONDS = 5;

const base = mkdtempSync(join(tmpdir(), 'vcab-'));
const imageDir = hostPaths(process.env).imageDir;
process.env.HOME = join(base, 'home');
process.env.VNETLAB_RUNTIME_DIR = join(base, 'r');
process.env.VNETLAB_STATE_DIR = join(base, 'state');
process.env.VNETLAB_IMAGE_DIR = imageDir;

type Variant = 'cables' | 'direct';
interface Figures {
  startMs: number;
  networkMiB: number;
  rttMs: number;
  mbitPerSec: number;
  captureFps?: number;
  /** iperf3 with an impairment set on the cable. */
  filterMbitPerSec?: number;
  captureDropped?: number;
  unplugMs?: number;
  /** Pings (20 ms apart) still answered after the unplug was asked. */
  lostAfterPings?: number;
}

/** The same plan with every NIC on its domain's switch and no cables: the baseline. */
function direct(plan: Plan): Plan {
  const ctl = new Map(plan.switches.map((s) => [s.domain, s.ctlDir]));
  return {
    ...plan,
    cables: [],
    guests: plan.guests.map((g) => {
      // The launcher gives each NIC its interface's port: here, the domain's switch itself.
      return { ...g, interfaces: g.interfaces.map((i) => ({ ...i, ctlDir: ctl.get(i.domain)! })) };
    }),
  };
}

async function runLab(variant: Variant, name: string, yaml: string, body: (sup: Supervisor, plan: Plan, startMs: number) => Promise<void>): Promise<void> {
  const lab = join(base, name);
  rmSync(lab, { recursive: true, force: true });
  mkdirSync(lab, { recursive: true });
  writeFileSync(join(lab, 'lab.yaml'), yaml);
  const prepared = await prepareLab(lab);
  const plan = variant === 'cables' ? prepared.plan : direct(prepared.plan);
  const sup = new Supervisor(plan, new RealLauncher(), { recordsRunDir: plan.runDir });
  try {
    const t0 = performance.now();
    const started = await sup.start();
    const startMs = performance.now() - t0;
    if (!started.ok) throw new Error(`${variant}: ${started.failed.map((f) => `${f.machine}: ${f.error}`).join('; ')}`);
    await body(sup, plan, startMs);
  } finally {
    await sup.shutdown('crash');
  }
}

async function round(variant: Variant, n: number, index: number): Promise<Figures> {
  const figures = {} as Figures;
  const machines = Array.from({ length: n }, (_, i) => `  h${i}:\n    image: tiny\n    memory: 64\n    interfaces:\n      - {domain: lan, ipv4: 10.1.0.${i + 1}/24}\n`).join('');
  await runLab(variant, `${variant}-${index}`, `lab:\n  name: cab${variant[0]}${index}\nmachines:\n${machines}domains:\n  lan: {kind: hub}\n`, async (_sup, plan, startMs) => {
    figures.startMs = startMs;
    await new Promise((r) => setTimeout(r, 2000));
    const network = readRecords(plan.runDir).filter((r) => ['switch', 'port', 'wire'].includes(r.kind));
    figures.networkMiB = network.reduce((sum, r) => sum + (groupRssBytes(r.pgid) ?? 0), 0) / 1024 / 1024;
  });
  const pair = ['d0', 'd1'].map((m, i) => `  ${m}:\n    image: debian\n    interfaces:\n      - {domain: lan, ipv4: 10.2.0.${i + 1}/24}\n`).join('');
  await runLab(variant, `${variant}-net-${index}`, `lab:\n  name: net${variant[0]}${index}\nmachines:\n${pair}domains:\n  lan: {kind: hub}\n`, async (sup) => {
    const ping = await sup.exec('d0', 'ping -c 21 -i 0.2 10.2.0.2', { timeoutMs: 30_000 });
    const rtts = [...ping.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).slice(1);
    figures.rttMs = median(rtts);
    await sup.exec('d1', 'iperf3 -s -D -1', { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 500));
    let frames = 0;
    const capture = variant === 'cables' ? await sup.capture('d0:eth0', () => frames++, () => {}) : undefined;
    const t1 = performance.now();
    const iperf = await sup.exec('d0', `iperf3 -c 10.2.0.2 -t ${IPERF_SECONDS} -J`, { timeoutMs: 60_000 });
    const seconds = (performance.now() - t1) / 1000;
    await capture?.stop();
    const bps = (JSON.parse(iperf.stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second;
    figures.mbitPerSec = bps / 1e6;
    if (capture) figures.captureFps = frames / seconds;
    if (variant === 'cables') {
      // The same transfer with an impairment set (a negligible loss): what the wirefilter's filtering adds.
      await sup.changeLink('d0:eth0', { impair: { direction: 'both', values: { lossPct: 0.0001 } } });
      await sup.exec('d1', 'iperf3 -s -D -1', { timeoutMs: 10_000 });
      await new Promise((r) => setTimeout(r, 500));
      const filtered = await sup.exec('d0', `iperf3 -c 10.2.0.2 -t ${IPERF_SECONDS} -J`, { timeoutMs: 60_000 });
      figures.filterMbitPerSec = (JSON.parse(filtered.stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second / 1e6;
      await sup.changeLink('d0:eth0', { reset: true });
      const replies: number[] = [];
      const pinging = sup.exec('d0', 'ping -c 150 -i 0.02 -W 1 10.2.0.2', {
        timeoutMs: 20_000,
        onStdout: (chunk) => {
          for (const m of chunk.matchAll(/icmp_seq=(\d+)/g)) replies.push(Number(m[1]));
        },
      });
      await new Promise((r) => setTimeout(r, 1000));
      const seqAtUnplug = Math.max(0, ...replies);
      const t2 = performance.now();
      await sup.changeLink('d0:eth0', { plugged: false });
      figures.unplugMs = performance.now() - t2;
      await pinging;
      // Pings are 20 ms apart: the first sequence number after the last reply is the first lost ping.
      figures.lostAfterPings = Math.max(0, ...replies) - seqAtUnplug;
    }
  });
  return figures;
}

function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

async function main(): Promise<void> {
  const results: Record<Variant, Figures[]> = { cables: [], direct: [] };
  for (let i = 0; i < RUNS; i++) {
    for (const variant of (i % 2 ? ['direct', 'cables'] : ['cables', 'direct']) as Variant[]) {
      results[variant].push(await round(variant, SIZE, i));
      process.stderr.write(`round ${i + 1}/${RUNS} ${variant} done\n`);
    }
  }
  const m = (v: Variant, key: keyof Figures) => median(results[v].map((f) => f[key] ?? NaN));
  const row = (label: string, key: keyof Figures, unit: string, digits = 1) => {
    const c = m('cables', key);
    const d = m('direct', key);
    console.log(`${label.padEnd(34)} ${`${c.toFixed(digits)} ${unit}`.padStart(14)} ${`${d.toFixed(digits)} ${unit}`.padStart(14)}   ${(c / d).toFixed(2)}×`);
  };
  console.log(`cable layer vs NICs straight on the switch, ${SIZE} tiny guests on one hub, median of ${RUNS} rounds`);
  console.log(`${''.padEnd(34)} ${'with cables'.padStart(14)} ${'direct'.padStart(14)}   ratio`);
  row('start (network + all ready)', 'startMs', 'ms', 0);
  row('network processes, PSS', 'networkMiB', 'MiB');
  row('ping RTT d0 → d1 (median, debian)', 'rttMs', 'ms', 2);
  row(`iperf3 TCP d0 → d1 (${IPERF_SECONDS} s)`, 'mbitPerSec', 'Mbit/s');
  console.log(`iperf3 with an impairment set (loss 0.0001 %): ${m('cables', 'filterMbitPerSec').toFixed(1)} Mbit/s (${(m('cables', 'filterMbitPerSec') / m('direct', 'mbitPerSec')).toFixed(2)}× direct)`);
  console.log(`capture on d0:eth0 during iperf3: ${m('cables', 'captureFps').toFixed(0)} frames/s delivered to the supervisor's client`);
  console.log(`unplug: link --down returns in ${m('cables', 'unplugMs').toFixed(0)} ms; ${m('cables', 'lostAfterPings').toFixed(0)} ping(s) of 20 ms answered after it was asked`);
}

main()
  .catch((err: Error) => {
    console.error(err.stack ?? err.message);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanAll(hostPaths(process.env));
    rmSync(base, { recursive: true, force: true });
  });
