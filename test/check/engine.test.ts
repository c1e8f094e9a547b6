// The engine's retry loop, parallelism and reports, against a fake LabExecutor whose answers are
// real captured outputs (fixtures/). Time is a fake clock, so retries cost nothing.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Check } from '../../src/shared/checks.ts';
import type { ExecResult } from '../../src/shared/runtime-api.ts';
import { reportOf, runCheckList, type LabExecutor } from '../../src/main/check/engine.ts';
import { csvField, escapeXml, formatJunit, formatSummaryCsv, formatTextReport } from '../../src/main/check/report.ts';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');
const base = { description: 'd', points: 1, timeoutSec: 10, hidden: false, source: { file: 'lab.yaml', line: 1, column: 1 } };
const ok = (stdout: string): ExecResult => ({ stdout, stderr: '', exitCode: 0, timedOut: false });

function fakeClock() {
  let now = 0;
  return { now: () => now, sleep: async (ms: number) => void (now += ms) };
}

class ScriptedExecutor implements LabExecutor {
  readonly calls: { machine: string; command: string; timeoutMs: number }[] = [];
  running = 0;
  maxRunning = 0;
  constructor(private readonly answer: (machine: string, command: string, call: number) => ExecResult | Promise<ExecResult>) {}
  async exec(machine: string, command: string, options: { timeoutMs: number }) {
    this.calls.push({ machine, command, timeoutMs: options.timeoutMs });
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      await new Promise((r) => setTimeout(r, 5));
      return await this.answer(machine, command, this.calls.length);
    } finally {
      this.running--;
    }
  }
}

describe('check engine', () => {
  it('retries until a route appears (convergence), counting attempts', async () => {
    const noRoute = fixture('route.busybox.txt').replace(/^10\.0\.2\.0.*\n/m, '');
    const executor = new ScriptedExecutor((_m, _c, call) => ok(call < 3 ? noRoute : fixture('route.busybox.txt')));
    const check = { ...base, id: 'r', kind: 'route', on: 'pc1', prefix: '10.0.2.0/24', via: '10.0.1.254', expect: 'present' } as Check;
    const [result] = await runCheckList([check], executor, { clock: fakeClock() });
    expect(result).toMatchObject({ id: 'r', passed: true, attempts: 3, earned: 1 });
    expect(result!.reason).toBeUndefined();
  });

  it('gives up at the timeout with the last reason and the hint', async () => {
    const executor = new ScriptedExecutor(() => ok(fixture('route.busybox.txt')));
    const check = { ...base, id: 'r', kind: 'route', on: 'pc1', prefix: '10.0.3.0/24', expect: 'present', hint: 'add it', timeoutSec: 5 } as Check;
    const [result] = await runCheckList([check], executor, { clock: fakeClock() });
    expect(result!.passed).toBe(false);
    expect(result!.attempts).toBeGreaterThan(2);
    expect(result!.durationMs).toBe(5000);
    expect(result!.reason).toMatch(/^pc1 has no route to 10.0.3.0\/24/);
    expect(result!.hint).toBe('add it');
  });

  it('stops at once when a tool is missing or the machine is unknown', async () => {
    const executor = new ScriptedExecutor(() => ({ stdout: '', stderr: 'sh: vtysh: not found', exitCode: 127, timedOut: false }));
    const checks = [
      { ...base, id: 'o', kind: 'frr', on: 'r1', command: 'show ip route', contains: 'O>*' },
      { ...base, id: 'x', kind: 'command', on: 'ghost', run: 'true' },
    ] as Check[];
    const results = await runCheckList(checks, executor, { clock: fakeClock(), machines: ['r1'] });
    expect(results.map((r) => r.attempts)).toEqual([1, 0]);
    expect(results[1]!.reason).toBe('the lab has no machine named ghost');
    expect(executor.calls.map((c) => c.machine)).toEqual(['r1']);
  });

  it('turns an exec error into a failed check, not an exception', async () => {
    const executor = new ScriptedExecutor(() => Promise.reject(new Error('machine pc1 is not running')));
    const check = { ...base, id: 'c', kind: 'command', on: 'pc1', run: 'true', timeoutSec: 0 } as Check;
    const [result] = await runCheckList([check], executor, { clock: fakeClock() });
    expect(result).toMatchObject({ passed: false, reason: 'could not run the check on pc1: machine pc1 is not running', attempts: 1 });
  });

  it('runs machines in parallel up to --jobs, and each machine\'s checks in order', async () => {
    const executor = new ScriptedExecutor((_m, command) => ok(command.replace(/^echo /, '')));
    const checks = ['a', 'b', 'c', 'd'].flatMap((machine) =>
      [1, 2, 3].map((n) => ({ ...base, id: `${machine}${n}`, kind: 'command', on: machine, run: `echo ${machine}${n}`, stdoutContains: `${machine}${n}` }) as Check),
    );
    const seen: string[] = [];
    const results = await runCheckList(checks, executor, { jobs: 2, clock: fakeClock(), onResult: (r) => seen.push(r.id) });
    expect(results.map((r) => r.id)).toEqual(checks.map((c) => c.id));
    expect(results.every((r) => r.passed)).toBe(true);
    expect(executor.maxRunning).toBe(2);
    for (const machine of ['a', 'b', 'c', 'd']) expect(seen.filter((id) => id.startsWith(machine))).toEqual([`${machine}1`, `${machine}2`, `${machine}3`]);
  });
});

describe('reports', () => {
  const results = [
    { id: 'ok', description: 'pc1 reaches pc2', kind: 'reach' as const, passed: true, points: 2, earned: 2, attempts: 1, durationMs: 1200 },
    {
      id: 'bad<&>',
      description: 'r1 "routes" lan2',
      kind: 'route' as const,
      passed: false,
      points: 3,
      earned: 0,
      reason: "r1 has no route to 10.0.2.0/24 (routes: 10.0.1.0/24 dev eth0) & it's \u0001odd",
      hint: 'ip route add …',
      attempts: 4,
      durationMs: 5000,
    },
  ];
  const report = reportOf('static-routing', results, new Date(Date.now() - 7000), { submission: 'alice, "the" student' });

  it('prints text with marks, reason, hint and score', () => {
    const text = formatTextReport(report);
    expect(text).toContain('✔ ok: pc1 reaches pc2 (2/2)');
    expect(text).toContain('✘ bad<&>: r1 "routes" lan2 (0/3)\n    r1 has no route to 10.0.2.0/24');
    expect(text).toContain('    hint: ip route add …');
    expect(text).toContain('Score: 2/5 (40%), 1 of 2 checks passed');
  });

  it('writes JUnit XML that parses back to the same facts', () => {
    const xml = formatJunit(report);
    expect(xml).not.toMatch(/[\u0001]/);
    // A strict parse: every element and attribute decoded by hand, since the project has no XML library.
    const attributes = (tag: string) =>
      [...xml.matchAll(new RegExp(`<${tag}\\s([^>]*?)/?>`, 'g'))].map((m) =>
        Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((a) => [a[1], unescape(a[2]!)])),
      );
    const unescape = (t: string) => t.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
    expect(attributes('testsuite')[0]).toMatchObject({ name: 'static-routing/alice, "the" student', tests: '2', failures: '1' });
    expect(attributes('testcase').map((t) => t.name)).toEqual(['ok: pc1 reaches pc2', 'bad<&>: r1 "routes" lan2']);
    expect(attributes('failure')[0]!.message).toBe("r1 has no route to 10.0.2.0/24 (routes: 10.0.1.0/24 dev eth0) & it's �odd");
    expect(Object.fromEntries(attributes('property').map((p) => [p.name, p.value]))).toMatchObject({ score: '2', maxScore: '5' });
    expect(escapeXml('<a b="c">&\'')).toBe('&lt;a b=&quot;c&quot;&gt;&amp;&apos;');
  });

  it('writes CSV rows that survive commas, quotes and formulas', () => {
    const csv = formatSummaryCsv([{ student: 'alice, "the" student', report }, { student: '=cmd', report: { ...report, error: 'boot failed:\nkernel panic' } }]);
    expect(csv.split('\r\n')[0]).toBe('student,score,max,failed,error');
    expect(csv.split('\r\n')[1]).toBe('"alice, ""the"" student",2,5,bad<&>,');
    expect(csv).toContain(`'=cmd,2,5,bad<&>,"boot failed:\nkernel panic"`);
    expect(csvField(-3)).toBe('-3');
  });
});

describe('ltest line diff', () => {
  it('shows deletions before insertions, with context, and nothing when equal', async () => {
    const { lineDiff } = await import('../../src/main/check/ltest.ts');
    expect(lineDiff(['a', 'b', 'c'], ['a', 'b', 'c'])).toEqual([]);
    expect(lineDiff(['1', '2', '3', '4', '5', '6', '7', '8'], ['1', '2', '3', '4', 'X', '6', '7', '8'])).toEqual(['  …', '  3', '  4', '- 5', '+ X', '  6', '  7', '  …']);
    expect(lineDiff([], ['new'])).toEqual(['+ new']);
  });
});
