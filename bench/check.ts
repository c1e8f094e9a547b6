// How fast grading is, on real UML guests: a 4-machine lab (tiny image) with 10 checks.
//   1. bare start: files → every guest ready (what `vnetlab start` waits for), then stop; the baseline
//   2. one `check`: boot, run the 10 checks, stop, as `vnetlab check LAB` does; ratio against 1
//   3. batch: N submissions graded one at a time and then with the default --jobs: submissions per
//      minute, and the speed-up of parallel grading over one at a time
//   4. the same batch with a warm pool (vnetlab pool up): submissions per minute, speed-up over 3
// Everything runs under a temp HOME/run/state dir; images come from the usual cache.
// Run: npx tsx bench/check.ts [--runs N] [--submissions N]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { defaultBatchJobs, findSubmissions, gradeSubmissions } from '../src/main/check/batch.ts';
import { gradeLab } from '../src/main/check/grade.ts';
import { hostPaths } from '../src/main/paths.ts';
import { cleanAll } from '../src/main/runtime/clean.ts';
import { ensureSupervisor } from '../src/main/runtime/client.ts';
import { waitSupervisorGone } from '../src/main/runtime/client.ts';
import { prepareLab } from '../src/main/runtime/prepare.ts';
import { ensurePool, poolTarget } from '../src/main/runtime/pool/pool-client.ts';

const flag = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const RUNS = flag('runs', 3);
const SUBMISSIONS = flag('submissions', 6);

const LAB_YAML = `lab:
  name: bench-grading
machines:
  pc1: {image: tiny, memory: 64, interfaces: [{domain: lan1, ipv4: 10.0.1.10/24}], startup: "ip route add default via 10.0.1.1"}
  r1:
    image: tiny
    memory: 64
    sysctls: {net.ipv4.ip_forward: "1"}
    interfaces: [{domain: lan1, ipv4: 10.0.1.1/24}, {domain: transit, ipv4: 10.0.12.1/30}]
    startup: "ip route add 10.0.2.0/24 via 10.0.12.2"
  r2:
    image: tiny
    memory: 64
    sysctls: {net.ipv4.ip_forward: "1"}
    interfaces: [{domain: lan2, ipv4: 10.0.2.1/24}, {domain: transit, ipv4: 10.0.12.2/30}]
    startup: "ip route add 10.0.1.0/24 via 10.0.12.1"
  pc2: {image: tiny, memory: 64, interfaces: [{domain: lan2, ipv4: 10.0.2.10/24}], startup: "ip route add default via 10.0.2.1"}
checks:
  - {id: pc1-pc2, kind: reach, from: pc1, to: 10.0.2.10}
  - {id: pc2-pc1, kind: reach, from: pc2, to: 10.0.1.10}
  - {id: r1-r2, kind: reach, from: r1, to: 10.0.12.2}
  - {id: pc1-r2, kind: reach, from: pc1, to: 10.0.2.1}
  - {id: pc1-default, kind: route, on: pc1, prefix: default, via: 10.0.1.1}
  - {id: pc2-default, kind: route, on: pc2, prefix: default, via: 10.0.2.1}
  - {id: r1-lan2, kind: route, on: r1, prefix: 10.0.2.0/24, via: 10.0.12.2}
  - {id: r2-lan1, kind: route, on: r2, prefix: 10.0.1.0/24, via: 10.0.12.1}
  - {id: r1-eth1, kind: interface, on: r1, name: eth1, address: 10.0.12.1/30, state: up}
  - {id: r2-forwards, kind: command, on: r2, run: "cat /proc/sys/net/ipv4/ip_forward", stdout_contains: "1"}
`;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'vnl-bench-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: join(root, 'home'),
    VNETLAB_RUNTIME_DIR: join(root, 'run'),
    VNETLAB_STATE_DIR: join(root, 'state'),
    VNETLAB_IMAGE_DIR: hostPaths(process.env).imageDir,
  };
  const lab = join(root, 'lab');
  mkdirSync(lab);
  writeFileSync(join(lab, 'lab.yaml'), LAB_YAML);
  console.log(`vnetlab grading bench: 4 machines (tiny), 10 checks; ${cpus().length} cores, ${(freemem() / 2 ** 30).toFixed(1)} GiB free, load ${loadavg()[0]!.toFixed(2)}`);
  try {
    // Build the image (if needed) outside the timings.
    await prepareLab(lab, { env });

    // Start and check runs alternate, so load from other work on the machine weighs on both alike.
    const startTimes: number[] = [];
    const checkTimes: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      let t0 = performance.now();
      const { plan } = await prepareLab(lab, { env });
      const client = await ensureSupervisor(plan, env);
      const result = await client.start();
      startTimes.push(performance.now() - t0);
      if (!result.ok) throw new Error(`the bench lab did not boot: ${JSON.stringify(result.failed)}`);
      await client.shutdown('stop');
      client.close();
      await waitSupervisorGone(plan.runDir);

      t0 = performance.now();
      const report = await gradeLab(lab, { env });
      checkTimes.push(performance.now() - t0);
      if (report.score !== report.maxScore) throw new Error(`the bench lab should score 100%: ${JSON.stringify(report.results.filter((r) => !r.passed))}`);
    }

    const subsDir = join(root, 'submissions');
    for (let i = 1; i <= SUBMISSIONS; i++) {
      mkdirSync(join(subsDir, `student${i}`), { recursive: true });
      writeFileSync(join(subsDir, `student${i}`, 'notes.txt'), `submission ${i}\n`);
    }
    const submissions = findSubmissions([subsDir], root, ['pc1', 'pc2', 'r1', 'r2']);
    const batch = async (jobs: number, label = '') => {
      const t0 = performance.now();
      const result = await gradeSubmissions(lab, submissions, { env, outDir: join(root, `grades-${jobs}${label}`), jobs });
      const ms = performance.now() - t0;
      const full = result.rows.filter((r) => r.report.score === r.report.maxScore).length;
      if (full !== submissions.length) throw new Error(`only ${full} of ${submissions.length} bench submissions scored 100%`);
      return ms;
    };
    const serialMs = await batch(1);
    const jobs = defaultBatchJobs(4 * 64);
    const parallelMs = await batch(jobs);

    // The same batch with the warm pool (issue 12): two submissions' worth of booted guests, refilled
    // while the grading goes on.
    const pool = await ensurePool(env);
    await pool.call('up', { targets: [poolTarget('tiny', 8, 64, env)] });
    const pooledMs = await batch(jobs, '-pool');
    const claimed = (await pool.call('status', {})).claimed;
    await pool.call('down', {});
    pool.close();

    const start = median(startTimes);
    const check = median(checkTimes);
    console.log(`bare start (files → 4 guests ready), median of ${RUNS}: ${(start / 1000).toFixed(2)} s   [${startTimes.map((t) => (t / 1000).toFixed(2)).join(', ')}]`);
    console.log(`one check (boot + 10 checks + stop), median of ${RUNS}: ${(check / 1000).toFixed(2)} s   [${checkTimes.map((t) => (t / 1000).toFixed(2)).join(', ')}]`);
    console.log(`  ratio check / bare start: ${(check / start).toFixed(2)}×`);
    console.log(`batch of ${SUBMISSIONS}, --jobs 1: ${(serialMs / 1000).toFixed(1)} s = ${((SUBMISSIONS * 60_000) / serialMs).toFixed(1)} submissions/minute`);
    console.log(`batch of ${SUBMISSIONS}, --jobs ${jobs} (default here): ${(parallelMs / 1000).toFixed(1)} s = ${((SUBMISSIONS * 60_000) / parallelMs).toFixed(1)} submissions/minute`);
    console.log(`  speed-up of --jobs ${jobs} over --jobs 1: ${(serialMs / parallelMs).toFixed(2)}×`);
    console.log(`batch of ${SUBMISSIONS}, --jobs ${jobs}, warm pool of 8: ${(pooledMs / 1000).toFixed(1)} s = ${((SUBMISSIONS * 60_000) / pooledMs).toFixed(1)} submissions/minute (${claimed} of ${SUBMISSIONS * 4} machines from the pool)`);
    console.log(`  speed-up of the pool over cold boots, same --jobs: ${(parallelMs / pooledMs).toFixed(2)}× (target ≥ 2)`);
  } finally {
    await cleanAll(hostPaths(env));
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
