// Time to a full failing report in "check my work": labs/ospf with OSPF not configured (ospfd=no in
// /etc/frr/daemons, no `router ospf`), its 7 student-visible checks run against the running lab
//   1. as "check my work" runs them (failFast: no routing daemon in the lab → a 5 s grace)
//   2. as the grader runs them by default (every retry until each check's timeout, on one shared clock);
//      the baseline, measured in the same run (skip it with --no-baseline: it takes minutes)
// printing when each result arrived. Target (issue 12): the full report in ≤ 30 s.
// Needs the debian image (vnetlab image build debian). Run: npx tsx bench/check-fail.ts [--no-baseline]
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { CheckResult } from '../src/shared/checks.ts';
import { runCheckList } from '../src/main/check/engine.ts';
import { openGradedLab } from '../src/main/check/session.ts';
import { hostPaths } from '../src/main/paths.ts';
import { runBench } from './harness.ts';

const baseline = !process.argv.includes('--no-baseline');
const base = mkdtempSync(join(tmpdir(), 'vbench-fail-'));
const imageDir = hostPaths(process.env).imageDir;
process.env.HOME = join(base, 'home');
process.env.VNETLAB_RUNTIME_DIR = join(base, 'r');
process.env.VNETLAB_STATE_DIR = join(base, 'state');
process.env.VNETLAB_IMAGE_DIR = imageDir;

/** labs/ospf as a student gets it before doing the work. */
function unconfiguredOspf(): string {
  const lab = join(base, 'ospf');
  cpSync(resolve(import.meta.dirname, '../labs/ospf'), lab, { recursive: true });
  const daemons = join(lab, 'frr/daemons');
  writeFileSync(daemons, readFileSync(daemons, 'utf8').replace(/^ospfd=yes/m, 'ospfd=no'));
  const yaml = join(lab, 'lab.yaml');
  writeFileSync(yaml, readFileSync(yaml, 'utf8').replace(/ {10}router ospf\n( {11}.*\n)+ {10}!\n/g, ''));
  return lab;
}

async function grade(lab: Awaited<ReturnType<typeof openGradedLab>>, failFast: boolean): Promise<{ ms: number; arrivals: string[] }> {
  const checks = lab.model.checks.filter((c) => !c.hidden);
  const t0 = performance.now();
  const arrivals: string[] = [];
  const onResult = (r: CheckResult) => arrivals.push(`${((performance.now() - t0) / 1000).toFixed(1)} s ${r.passed ? 'pass' : 'FAIL'} ${r.id}`);
  await runCheckList(checks, lab.executor, { failFast, onResult, machines: lab.model.machines.map((m) => m.name), hosts: lab.hosts });
  return { ms: performance.now() - t0, arrivals };
}

async function main(): Promise<void> {
  const lab = await openGradedLab(unconfiguredOspf(), { env: process.env });
  try {
    const fast = await grade(lab, true);
    console.log(`unconfigured OSPF lab, check my work (failFast): full report in ${(fast.ms / 1000).toFixed(1)} s (target ≤ 30 s)`);
    for (const a of fast.arrivals) console.log(`  ${a}`);
    if (baseline) {
      const slow = await grade(lab, false);
      console.log(`  vs the grader's default retries, same lab, same run: ${(slow.ms / 1000).toFixed(1)} s  ratio ${(fast.ms / slow.ms).toFixed(2)}`);
      for (const a of slow.arrivals) console.log(`    ${a}`);
    }
  } finally {
    await lab.close();
  }
}

runBench(main, process.env, base);
