// `vnetlab start` and `vnetlab stop` on a lab of more than 20 real guests (issue 22): start prints one
// "N of M ready" summary instead of a line per machine, stop says how far it got ("stopped N of M"),
// and status answers with every machine's memory; nothing is left running.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processesMentioning, testEnv, type TestEnv } from './helpers.ts';

const N = 21;

function labYaml(): string {
  const machines = Array.from({ length: N }, (_, i) => `  h${i}:\n    image: tiny\n    memory: 64\n    interfaces:\n      - {domain: d${Math.floor(i / 10)}, ipv4: 10.0.${Math.floor(i / 10)}.${(i % 10) + 1}/24}\n`).join('');
  return `lab:\n  name: cli21\nmachines:\n${machines}domains:\n  d0: {kind: hub}\n  d1: {kind: hub}\n  d2: {kind: hub}\n`;
}

describe(`a lab of ${N} guests from the CLI (real UML)`, () => {
  let t: TestEnv;
  let lab: string;

  beforeAll(() => {
    t = testEnv();
    lab = t.lab('cli21', { 'lab.yaml': labYaml() });
  });

  afterAll(async () => {
    await t?.dispose();
  });

  it('start prints "N of M ready" lines, not a line per machine', async () => {
    const started = await t.cli(['start', lab]);
    expect(started.code).toBe(0);
    const lines = started.stdout.trim().split('\n');
    expect(lines).toContain(`${N} of ${N} ready`);
    expect(lines.some((l) => /^h\d+: /.test(l))).toBe(false);
    expect(lines.at(-1)).toMatch(new RegExp(`${N} machine\\(s\\) ready`));
  }, 300_000);

  it('status shows every machine ready with its memory', async () => {
    const status = JSON.parse((await t.cli(['status', lab, '--json'])).stdout) as { machines: { state: string; rssBytes?: number }[] };
    expect(status.machines.filter((m) => m.state === 'ready' && (m.rssBytes ?? 0) > 1_000_000)).toHaveLength(N);
  });

  it('stop says how far it got, and leaves nothing running', async () => {
    const stopped = await t.cli(['stop', lab]);
    expect(stopped.code).toBe(0);
    const progress = stopped.stdout.split('\n').filter((l) => /^stopped \d+ of \d+$/.test(l));
    expect(progress.at(-1)).toBe(`stopped ${N} of ${N}`);
    expect(stopped.stdout).toMatch(/every machine: stopped/);
    expect(processesMentioning(lab).length + processesMentioning('cli21-').length).toBe(0);
  }, 180_000);
});
