// Issue 19, "done when": the same params lab (labs/static-routing-variant) booted under two seeds on
// real guests, through the real CLI. The variants differ — other addresses in the guests and in the
// instructions — and each passes its own checks with its own intended solution and fails the other's.
// Then batch grading with --seed-from file: each submission against its own variant, so a student who
// hands in a classmate's solved lab scores nothing.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { CheckReport } from '../../src/shared/checks.ts';
import { renderVariant, SEED_FILE } from '../../src/main/lab/variants.ts';
import { connectSupervisor } from '../../src/main/runtime/client.ts';
import { REPO, parseCsv, runCli, testHost, type TestHost } from './helpers.ts';

const LAB = join(REPO, 'labs/static-routing-variant');
let host: TestHost;

beforeAll(() => {
  host = testHost('var');
});
afterAll(async () => {
  await host?.cleanup();
});

function noTrace(run: { stderr: string }) {
  expect(run.stderr).not.toMatch(/internal error|\n\s+at .*:\d+:\d+/);
}

describe('two seeds of one params lab, on real guests', () => {
  it('differ in guests and instructions; each passes its own checks with its own solution and fails the other\'s', async () => {
    const seeds = ['alice', 'bob'] as const;
    const values: Record<string, Record<string, string>> = {};
    for (const seed of seeds) {
      const shown = await runCli(['variant', LAB, '--seed', seed, '--show', '--json'], host.env);
      noTrace(shown);
      expect(shown.code).toBe(0);
      values[seed] = (JSON.parse(shown.stdout) as { params: Record<string, string> }).params;
    }
    expect(values.alice!.lan1).not.toBe(values.bob!.lan1);
    expect(values.alice!.lan2).not.toBe(values.bob!.lan2);

    // Each student's lab with its intended solution, in its own folder (own lab id, guests, disks),
    // and each one's checks as a separate checks file, as an instructor would keep them.
    const dirs: Record<string, string> = {};
    const checkFiles: Record<string, string> = {};
    for (const seed of seeds) {
      dirs[seed] = join(host.root, seed, 'static-routing-variant');
      await renderVariant(LAB, seed, dirs[seed], { withSolution: true });
      const lab = parse(readFileSync(join(dirs[seed], 'lab.yaml'), 'utf8')) as { checks: unknown[]; lab: { description: string } };
      checkFiles[seed] = join(host.root, `${seed}-checks.yaml`);
      writeFileSync(checkFiles[seed], stringify({ checks: lab.checks }));
      // The instructions name this variant's networks, never the other's.
      const other = seed === 'alice' ? 'bob' : 'alice';
      expect(lab.lab.description).toContain(`[lan1 ${values[seed]!.lan1}]`);
      expect(lab.lab.description).not.toContain(values[other]!.lan1);
    }

    const started = await Promise.all(seeds.map((seed) => runCli(['start', dirs[seed]!], host.env)));
    for (const run of started) {
      noTrace(run);
      expect(run.code, run.stderr).toBe(0);
    }

    for (const seed of seeds) {
      const other = seed === 'alice' ? 'bob' : 'alice';
      // In the guest: this variant's address.
      const addr = await runCli(['exec', '-l', dirs[seed]!, 'pc1', '--', 'ip', '-4', 'address', 'show', 'eth0'], host.env);
      expect(addr.code, addr.stderr).toBe(0);
      const pcHost = (cidr: string) => cidr.replace(/\.0\/24$/, `.${values[seed]!.pc}/24`);
      expect(addr.stdout).toContain(`inet ${pcHost(values[seed]!.lan1!)}`);
      expect(addr.stdout).not.toContain(values[other]!.lan1!.replace(/\.0\/24$/, '.'));

      const own = await runCli(['check', dirs[seed]!, '--running', '--json'], host.env);
      noTrace(own);
      const ownReport = JSON.parse(own.stdout) as CheckReport;
      expect(ownReport.results.filter((r) => !r.passed).map((r) => `${r.id}: ${r.reason}`)).toEqual([]);
      expect(ownReport.score).toBe(8);
      expect(own.code).toBe(0);

      const theirs = await runCli(['check', dirs[seed]!, '--running', '--checks', checkFiles[other]!, '--json'], host.env);
      noTrace(theirs);
      const theirReport = JSON.parse(theirs.stdout) as CheckReport;
      expect(theirs.code).toBe(1);
      // Routes and pings to the other variant's networks: none holds here.
      expect(theirReport.score).toBe(0);
      expect(theirReport.results.find((r) => r.id === 'r1-route-to-lan2')!.reason).toContain(`r1 has no route to ${values[other]!.lan2}`);
    }

    for (const seed of seeds) expect((await runCli(['stop', dirs[seed]!], host.env)).code).toBe(0);
    for (const seed of seeds) expect(await connectSupervisor(dirs[seed]!, host.env)).toBeUndefined();
  }, 300_000);

  it('--submissions --seed-from file grades each against its own variant; a copied solution scores 0', async () => {
    const subs = join(host.root, 'subs');
    // carol hands in her own solved variant; mallory hands in carol's solved lab.yaml with her own seed file.
    const carolSolved = join(host.root, 'carol-solved');
    await renderVariant(LAB, 'carol', carolSolved, { withSolution: true });
    for (const [student, seed] of [['carol', 'carol'], ['mallory', 'mallory']] as const) {
      mkdirSync(join(subs, student), { recursive: true });
      copyFileSync(join(carolSolved, 'lab.yaml'), join(subs, student, 'lab.yaml'));
      writeFileSync(join(subs, student, SEED_FILE), `${seed}\n`);
    }
    const out = join(host.root, 'grades');
    const run = await runCli(['check', LAB, '--submissions', subs, '--seed-from', 'file', '--out', out, '--jobs', '2'], host.env);
    noTrace(run);
    expect(run.stdout).toContain('carol: 8/8');
    expect(run.stdout).toContain('mallory: 0/8');
    expect(run.code).toBe(1);
    const rows = parseCsv(readFileSync(join(out, 'summary.csv'), 'utf8'));
    expect(rows.slice(1).map((r) => [r[0], r[1]])).toEqual([['carol', '8'], ['mallory', '0']]);
    // Graded against mallory's own variant: her checks name her networks, not carol's.
    const mallory = JSON.parse(readFileSync(join(out, 'mallory.json'), 'utf8')) as CheckReport;
    const shown = await runCli(['variant', LAB, '--seed', 'mallory', '--show', '--json'], host.env);
    const lan2 = (JSON.parse(shown.stdout) as { params: Record<string, string> }).params.lan2!;
    expect(mallory.results.find((r) => r.id === 'r1-route-to-lan2')!.description).toContain(lan2);

    // Without a seed file, a submission is not graded, with the reason.
    mkdirSync(join(subs, 'nobody'), { recursive: true });
    writeFileSync(join(subs, 'nobody', 'README'), 'no seed\n');
    const missing = await runCli(['check', LAB, '--submissions', join(subs, 'nobody'), '--seed-from', 'file', '--out', out], host.env);
    noTrace(missing);
    expect(missing.stdout).toContain(`nobody: 0/8 (not graded: the submission has no ${SEED_FILE} file, so its variant is unknown)`);
  }, 300_000);

  it('bad seeds and flags are clear errors (exit 2)', async () => {
    const both = await runCli(['check', LAB, '--seed', 'x', '--running'], host.env);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--seed grades a fresh copy of the lab');
    const from = await runCli(['check', LAB, '--seed-from', 'hat', '--submissions', host.root], host.env);
    expect(from.code).toBe(2);
    expect(from.stderr).toContain("--seed-from must be name or file, not 'hat'");
    const variant = await runCli(['variant', LAB], host.env);
    expect(variant.code).toBe(2);
    expect(variant.stderr).toContain('give --show to print the values, or -o DIR to write the lab');
    const noSolution = await runCli(['check', join(REPO, 'test/fixtures/kathara-static-routing'), '--with-solution'], host.env);
    noTrace(noSolution);
    expect(noSolution.code).toBe(2);
    expect(noSolution.stderr).toContain('this lab has no solution: section to apply');
  });
});
