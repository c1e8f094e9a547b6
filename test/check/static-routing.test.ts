// Real UML: the shipped labs/static-routing graded as a teacher and a student would. The solution
// (its solution: section, applied to a copy) scores 100% (through the API, against the running lab, as
// "check my work" does); a solved copy with one missing route fails exactly the checks that need that
// route (through `vnetlab check`, JUnit read back).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gradeLab, runChecks } from '../../src/main/check/index.ts';
import { renderVariant } from '../../src/main/lab/variants.ts';
import { connectSupervisor } from '../../src/main/runtime/client.ts';
import { REPO, runCli, testHost, xmlElements, type TestHost } from './helpers.ts';

const LAB = join(REPO, 'labs/static-routing');
let host: TestHost;

beforeAll(() => {
  host = testHost('sr');
});
afterAll(async () => {
  await host?.cleanup();
});

describe('labs/static-routing', () => {
  it('the intended solution scores 100% on the running lab, which stays running', async () => {
    const solved = join(host.root, 'solved', 'static-routing');
    await renderVariant(LAB, '0', solved, { withSolution: true });
    const started = await runCli(['start', solved], host.env);
    expect(started.stderr + started.stdout).toMatch(/ready/);
    expect(started.code).toBe(0);
    const visible = await runChecks(solved, { env: host.env });
    expect(visible.results.map((r) => [r.id, r.passed, r.reason])).toEqual(visible.results.map((r) => [r.id, true, undefined]));
    expect(visible.results).toHaveLength(6);
    expect(visible.score).toBe(visible.maxScore);
    expect(visible.maxScore).toBe(8);
    // Without --running, a lab that already runs is graded as it is and left running (the GUI's case).
    const all = await gradeLab(solved, { env: host.env });
    expect(all.score).toBe(all.maxScore);
    const client = await connectSupervisor(solved, host.env);
    expect(client).toBeDefined();
    const status = await client!.status();
    client!.close();
    expect(status.machines.map((m) => m.state)).toEqual(['ready', 'ready', 'ready', 'ready']);
    expect((await runCli(['stop', solved], host.env)).code).toBe(0);
  });

  it('a missing route on r1 fails exactly the checks that need it, naming the route', async () => {
    const copy = join(host.root, 'static-routing');
    await renderVariant(LAB, '0', copy, { withSolution: true });
    const yaml = readFileSync(join(copy, 'lab.yaml'), 'utf8');
    const broken = yaml.replace('      ip route add 10.0.2.0/24 via 10.0.12.2\n', '');
    expect(broken).not.toBe(yaml);
    writeFileSync(join(copy, 'lab.yaml'), broken);

    const junitFile = join(host.root, 'broken.junit.xml');
    const run = await runCli(['check', copy, '--include-hidden', '--junit', junitFile], host.env);
    expect(run.stderr).not.toMatch(/internal error|at .*\.ts:\d+/);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('Score: 3/8 (38%), 3 of 6 checks passed');
    expect(run.stdout).toContain('✘ r1-route-to-lan2: r1 routes lan2 (10.0.2.0/24) through r2 (10.0.12.2) (0/1)\n    r1 has no route to 10.0.2.0/24 (routes: 10.0.1.0/24 dev eth0, 10.0.12.0/30 dev eth1)');
    expect(run.stdout).toContain("    hint: On r1: ip route add 10.0.2.0/24 via <r2's address on the transit link>");

    const xml = readFileSync(junitFile, 'utf8');
    const cases = xmlElements(xml, 'testcase').map((c) => c.name!.split(':')[0]);
    expect(cases).toEqual(['pc1-reaches-pc2', 'pc2-reaches-pc1', 'pc1-default-route', 'pc2-default-route', 'r1-route-to-lan2', 'r2-route-to-lan1']);
    const failures = xmlElements(xml, 'failure').map((f) => f.message);
    expect(failures).toEqual([
      'pc1 cannot reach 10.0.2.10: 0 of 1 pings answered',
      'pc2 cannot reach 10.0.1.10: 0 of 1 pings answered',
      'r1 has no route to 10.0.2.0/24 (routes: 10.0.1.0/24 dev eth0, 10.0.12.0/30 dev eth1)',
    ]);
    expect(xmlElements(xml, 'testsuite')[0]).toMatchObject({ name: 'static-routing', tests: '6', failures: '3' });
    expect(Object.fromEntries(xmlElements(xml, 'property').map((p) => [p.name, p.value]))).toEqual({ score: '3', maxScore: '8' });

    // `check` stopped what it booted: the supervisor is gone.
    expect(await connectSupervisor(copy, host.env)).toBeUndefined();
  });
});
