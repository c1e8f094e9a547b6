// What the cable layer costs (a port hub + a wirefilter per interface, src/main/runtime/network/), each
// figure against the same lab in the same run with every guest NIC attached straight to its domain's
// switch (the layout before cables existed):
//  - start of a lab of N tiny guests on one hub (supervisor.start(): network up + every guest ready);
//  - host memory of the network processes (PSS of switches, ports and wires);
//  - ping round trip h0 → h1 (median of 20) and TCP throughput h0 → h1 (20 MB through busybox nc);
//  - capture: frames per second delivered while that transfer runs, and how many were dropped;
//  - unplug: how long `link --down` takes, and from it to the last echo reply seen (ping every 20 ms).
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
const TRANSFER_MB = 20;

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
  captureDropped?: number;
  unplugMs?: number;
  unplugToLastReplyMs?: number;
}

/** The same plan with every NIC on its domain's switch and no cables: the baseline. */
function direct(plan: Plan): Plan {
  const ctl = new Map(plan.switches.map((s) => [s.domain, s.ctlDir]));
  return {
    ...plan,
    cables: [],
    guests: plan.guests.map((g) => {
      const interfaces = g.interfaces.map((i) => ({ ...i, ctlDir: ctl.get(i.domain)! }));
      const argv = g.argv.map((a) => {
        const m = /^(eth\d+)=vde,[^,]+,(.*)$/.exec(a);
        return m ? `${m[1]}=vde,${interfaces.find((i) => i.name === m[1])!.ctlDir},${m[2]}` : a;
      });
      return { ...g, interfaces, argv };
    }),
  };
}

async function round(variant: Variant, n: number, index: number): Promise<Figures> {
  const lab = join(base, `${variant}-${index}`);
  const machines = Array.from({ length: n }, (_, i) => `  h${i}:\n    image: tiny\n    memory: 64\n    interfaces:\n      - {domain: lan, ipv4: 10.1.0.${i + 1}/24}\n`).join('');
  rmSync(lab, { recursive: true, force: true });
  mkdirSync(lab, { recursive: true });
  writeFileSync(join(lab, 'lab.yaml'), `lab:\n  name: cab${variant[0]}${index}\nmachines:\n${machines}domains:\n  lan: {kind: hub}\n`);
  const prepared = await prepareLab(lab);
  const plan = variant === 'cables' ? prepared.plan : direct(prepared.plan);
  const sup = new Supervisor(plan, new RealLauncher(), { recordsRunDir: plan.runDir });
  try {
    const t0 = performance.now();
    const started = await sup.start();
    const startMs = performance.now() - t0;
    if (!started.ok) throw new Error(`${variant}: ${started.failed.map((f) => `${f.machine}: ${f.error}`).join('; ')}`);
    await new Promise((r) => setTimeout(r, 2000));
    const network = readRecords(plan.runDir).filter((r) => ['switch', 'port', 'wire'].includes(r.kind));
    const networkMiB = network.reduce((sum, r) => sum + (groupRssBytes(r.pgid) ?? 0), 0) / 1024 / 1024;

    const ping = await sup.exec('h0', 'ping -c 21 -i 0.2 10.1.0.2', { timeoutMs: 30_000 });
    const rtts = [...ping.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).slice(1).sort((a, b) => a - b);
    const rttMs = rtts[Math.floor(rtts.length / 2)] ?? NaN;

    // 20 MB over TCP with busybox nc; the capture (cables only) listens meanwhile.
    await sup.exec('h1', 'nc -l -p 5001 > /dev/null 2>&1 &', { timeoutMs: 5_000 });
    let frames = 0;
    const capture = variant === 'cables' ? await sup.capture('h0:eth0', () => frames++, () => {}) : undefined;
    const t1 = performance.now();
    const sent = await sup.exec('h0', `dd if=/dev/zero bs=64k count=${TRANSFER_MB * 16} 2>/dev/null | nc -w 2 10.1.0.2 5001`, { timeoutMs: 120_000 });
    const seconds = (performance.now() - t1) / 1000;
    if (sent.exitCode !== 0) throw new Error(`${variant}: the transfer failed: ${sent.stderr}`);
    await capture?.stop();
    const figures: Figures = { startMs, networkMiB, rttMs, mbitPerSec: (TRANSFER_MB * 8 * 1.048576) / seconds };
    if (capture) figures.captureFps = frames / seconds;

    if (variant === 'cables') {
      let lastReply = 0;
      const pinging = sup.exec('h0', 'ping -c 150 -i 0.02 -W 1 10.1.0.2', {
        timeoutMs: 20_000,
        onStdout: (chunk) => {
          if (/time=/.test(chunk)) lastReply = performance.now();
        },
      });
      await new Promise((r) => setTimeout(r, 1000));
      const t2 = performance.now();
      await sup.changeLink('h0:eth0', { plugged: false });
      figures.unplugMs = performance.now() - t2;
      await pinging;
      figures.unplugToLastReplyMs = lastReply - t2;
    }
    return figures;
  } finally {
    await sup.shutdown('crash');
  }
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
  row('ping RTT h0 → h1 (median)', 'rttMs', 'ms', 2);
  row(`TCP h0 → h1 (${TRANSFER_MB} MB, nc)`, 'mbitPerSec', 'Mbit/s');
  console.log(`capture on h0:eth0 during the transfer: ${m('cables', 'captureFps').toFixed(0)} frames/s delivered`);
  console.log(`unplug: link --down returns in ${m('cables', 'unplugMs').toFixed(0)} ms; last echo reply seen ${m('cables', 'unplugToLastReplyMs').toFixed(0)} ms after it was asked (pings every 20 ms)`);
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
