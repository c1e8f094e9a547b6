// Every lab in labs/ on real UML guests, through `vnetlab check` (issue 19, part 2; issue 23, 1.1):
// a fresh copy scores exactly the starting score its author declares (lab.starting_score, default 0),
// and with its intended solution (`--with-solution`, the lab's solution: section) every point. A lab
// with params: is tried under two seeds, each graded against its own variant. A lab whose solution adds
// nothing (it is about using tools, or ships solved) must score every point fresh, and is booted once.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CheckReport } from '../../src/shared/checks.ts';
import { loadLab } from '../../src/main/lab/index.ts';
import { hostPaths } from '../../src/main/paths.ts';
import { cleanupTempLabs, REPO, tempLab } from './helpers.ts';

afterAll(cleanupTempLabs);

// Images are shared (building them is slow); everything else is private to this test file.
const imageDir = hostPaths(process.env).imageDir;
const debianBuilt = existsSync(join(imageDir, 'debian.ext4'));
const LABS = readdirSync(join(REPO, 'labs')).filter((n) => existsSync(join(REPO, 'labs', n, 'lab.yaml'))).sort();

function check(lab: string, extra: string[]): { code: number | null; report: CheckReport; stderr: string } {
  const home = tempLab();
  const result = spawnSync(process.execPath, [join(REPO, 'bin/vnetlab.mjs'), 'check', join(REPO, 'labs', lab), '--include-hidden', '--json', ...extra], {
    encoding: 'utf8',
    env: { ...process.env, HOME: home, VNETLAB_IMAGE_DIR: imageDir, VNETLAB_RUNTIME_DIR: join(home, 'run'), VNETLAB_STATE_DIR: join(home, 'state') },
    timeout: 500_000,
  });
  if (!result.stdout.trim()) throw new Error(`vnetlab check printed no report (exit ${result.status}):\n${result.stderr}`);
  expect(result.stderr).not.toMatch(/internal error|\n\s+at .*:\d+:\d+/);
  return { code: result.status, report: JSON.parse(result.stdout) as CheckReport, stderr: result.stderr };
}

const failures = (r: CheckReport) => r.results.filter((x) => !x.passed).map((x) => `${x.id}: ${x.reason}`);

describe('labs/ on real guests: starting score fresh, 100 % with the solution', () => {
  it('labs/ holds the labs this test is about', () => {
    expect(LABS).toEqual(expect.arrayContaining(['ospf', 'static-routing', 'static-routing-variant', 'two-hosts', 'vlans']));
  });

  it.each(LABS)('%s', async (lab) => {
    const dir = join(REPO, 'labs', lab);
    const plain = await loadLab(dir);
    expect(plain.hasSolution, `${lab} declares no solution:`).toBe(true);
    if (plain.model!.machines.some((m) => m.image === 'debian') && !debianBuilt) {
      console.warn(`${lab}: skipped, the debian image is not built (sudo vnetlab image build debian)`);
      return;
    }
    const starting = plain.model!.meta.startingScore ?? 0;
    const solved = await loadLab(dir, { withSolution: true });
    const solutionAddsNothing = JSON.stringify(solved.model!.machines) === JSON.stringify(plain.model!.machines);
    const seeds = plain.variant ? ['0', 'student-7'] : [undefined];
    for (const seed of seeds) {
      const seedArgs = seed === undefined ? [] : ['--seed', seed];
      // Nothing converges in a fresh lab: where no routing daemon runs, a failing check stops after 5 s.
      const fresh = check(lab, [...seedArgs, '--fail-fast']);
      expect(fresh.report.error, fresh.stderr).toBeUndefined();
      expect(fresh.report.score, `${lab}${seed ? ` seed ${seed}` : ''} fresh: ${failures(fresh.report).join('; ')}`).toBe(starting);
      if (solutionAddsNothing) {
        expect(starting, `${lab}: its solution adds nothing, so a fresh copy must score every point`).toBe(fresh.report.maxScore);
        continue;
      }
      const withSolution = check(lab, [...seedArgs, '--with-solution']);
      expect(failures(withSolution.report), `${lab}${seed ? ` seed ${seed}` : ''} with its solution`).toEqual([]);
      expect(withSolution.report.score).toBe(withSolution.report.maxScore);
      expect(withSolution.code).toBe(0);
      if (plain.variant) {
        // Graded against that seed's own variant: its checks name that seed's networks.
        const variant = await loadLab(dir, { seed: seed! });
        expect(withSolution.report.results.map((r) => r.description)).toEqual(variant.model!.checks.map((c) => c.description));
      }
    }
  }, 900_000);
});
