// `vnetlab check` on bad input: clear messages with file:line, the documented exit codes, no stack
// traces, and nothing booted.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, runCli, testHost, type TestHost } from './helpers.ts';

let host: TestHost;
const LAB = join(REPO, 'labs/static-routing');

beforeAll(() => {
  host = testHost('cli');
});
afterAll(async () => {
  await host?.cleanup();
});

function expectClean(run: { stderr: string }) {
  expect(run.stderr).not.toMatch(/internal error|\n\s+at .*:\d+:\d+/);
}

describe('vnetlab check, bad input', () => {
  it('names the file and line of a broken checks file (exit 2)', async () => {
    const file = join(host.root, 'bad-checks.yaml');
    writeFileSync(file, 'checks:\n  - id: ping\n    kind: reach\n    from: pc1\n  - id: route\n    kind: rout\n    on: r1\n');
    const run = await runCli(['check', LAB, '--checks', file], host.env);
    expectClean(run);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('vnetlab check: the checks file has errors:');
    expect(run.stderr).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: error: `));
  });

  it('refuses a lab without checks, and conflicting options (exit 2)', async () => {
    const lab = join(host.root, 'no-checks');
    mkdirSync(lab);
    writeFileSync(join(lab, 'lab.yaml'), 'lab:\n  name: no-checks\nmachines:\n  pc1: {image: tiny, memory: 64, interfaces: [{domain: A}]}\n');
    const none = await runCli(['check', lab], host.env);
    expectClean(none);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('the lab no-checks has no checks visible to students');
    expect(none.stderr).toContain('hint: add a `checks:` list to lab.yaml');

    const both = await runCli(['check', LAB, '--json', '--junit', 'x.xml'], host.env);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--json and --junit cannot be used together');
    const signature = await runCli(['check', LAB, '--make-signature'], host.env);
    expect(signature.code).toBe(2);
    const jobs = await runCli(['check', LAB, '--jobs', '0'], host.env);
    expect(jobs.stderr).toContain("--jobs must be a whole number of at least 1, not '0'");
  });

  it('says the lab is not running for --running (exit 3), and ltest needs _test (exit 2)', async () => {
    const running = await runCli(['check', LAB, '--running'], host.env);
    expectClean(running);
    expect(running.code).toBe(3);
    expect(running.stderr).toContain('is not running');
    const ltest = await runCli(['check', LAB, '--ltest'], host.env);
    expectClean(ltest);
    expect(ltest.code).toBe(2);
    expect(ltest.stderr).toContain('the lab static-routing has no _test folder');
  });

  it('refuses a submission that is not a folder (exit 2)', async () => {
    const run = await runCli(['check', LAB, '--submissions', join(host.root, 'nope')], host.env);
    expectClean(run);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('nope is not a folder');
  });
});
