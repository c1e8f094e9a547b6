// Check regexes come from lab files and are matched by the grader (in a classroom, in the worker every
// student on it shares): a linear-time engine (src/main/lab/regex.ts, RE2 through re2js), never the
// backtracking RegExp. Catastrophic patterns finish at once; JavaScript syntax keeps its meaning; what
// RE2 cannot do (lookaround, backreferences) is a lab diagnostic at file:line:col and a failed check
// that says why.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Check } from '../../src/shared/checks.ts';
import type { ExecResult } from '../../src/shared/runtime-api.ts';
import { probeFor } from '../../src/main/check/probes.ts';
import { loadLab } from '../../src/main/lab/index.ts';
import { compileLabRegex, labRegexProblem, MAX_REGEX_LENGTH, toRe2Syntax } from '../../src/main/lab/regex.ts';

const ok = (stdout: string): ExecResult => ({ stdout, stderr: '', exitCode: 0, timedOut: false });
const base = { description: 'd', points: 1, timeoutSec: 0, hidden: false, source: { file: 'lab.yaml', line: 1, column: 1 } };
const judge = (check: Check, result: ExecResult) => probeFor(check).judge(check as never, result, { hosts: {} });

describe('check regexes run in linear time', () => {
  it('matches ^(a+)+$ against 40+ characters (and a MiB) at once, as the probes use it', () => {
    for (const n of [40, 64, 1 << 20]) {
      const text = `${'a'.repeat(n)}!`;
      const t0 = performance.now();
      expect(compileLabRegex('^(a+)+$', { multiline: true }).test(text)).toBe(false);
      expect(performance.now() - t0).toBeLessThan(n > 1000 ? 2_000 : 100);
    }
    const t0 = performance.now();
    const verdict = judge({ ...base, id: 'c', kind: 'command', on: 'pc1', run: 'x', stdoutMatches: '^(a+)+$' }, ok(`${'a'.repeat(42)}!`));
    expect(performance.now() - t0).toBeLessThan(100);
    expect(verdict).toMatchObject({ passed: false, reason: expect.stringMatching(/stdout of x does not match \/\^\(a\+\)\+\$\/|does not match/) });
    expect(judge({ ...base, id: 'c', kind: 'file', on: 'pc1', path: '/etc/x', matches: '(x+x+)+y' }, ok(`${'x'.repeat(5000)}`)).passed).toBe(false);
  });

  it('keeps the meaning of JavaScript patterns (multiline, classes, escapes RE2 spells otherwise)', () => {
    const m = (p: string, t: string) => compileLabRegex(p, { multiline: true }).test(t);
    expect(m('Full[\\s\\S]*Full', 'Full\n2-Way\nFull')).toBe(true); // labs/ospf
    expect(m('^6\\.1\\.', 'x\n6.1.0-31')).toBe(true); // multiline ^
    expect(m('^10\\.0\\.0\\.2$', 'a\n10.0.0.2\nb')).toBe(true);
    expect(m('\\u00e9t\\u00e9', 'été')).toBe(true);
    expect(m('\\_x\\z', '_xz')).toBe(true); // identity escapes: the letter, not RE2's \z
    expect(m('[\\b]', '\b')).toBe(true);
    expect(m('\\cA', '\x01')).toBe(true);
    expect(m('[]', 'anything')).toBe(false);
    expect(m('a[^]b', 'a\nb')).toBe(true);
    expect(m('(?<n>ab)c', 'xabc')).toBe(true);
    expect(m('\\d{2,}\\s+\\w+\\b', 'id 42 eth0')).toBe(true);
    expect(toRe2Syntax('[a[]')).toBe('[a\\[]');
  });

  it('refuses lookaround and backreferences, saying why', () => {
    for (const [p, what] of [
      ['a(?=b)', /lookahead \(\?=/],
      ['a(?!b)', /negative lookahead \(\?!/],
      ['(?<=a)b', /lookbehind \(\?<=/],
      ['(?<!a)b', /negative lookbehind \(\?<!/],
      ['(a)\\1', /backreference \\1/],
      ['(?<x>a)\\k<x>', /named backreference/],
    ] as const) {
      const problem = labRegexProblem(p);
      expect(problem?.unsupported, p).toBe(true);
      expect(problem?.message).toMatch(what);
      expect(problem?.message).toMatch(/linear-time regex engine/);
    }
    expect(labRegexProblem('(')).toMatchObject({ unsupported: false, message: expect.stringMatching(/missing closing \)/) });
    expect(labRegexProblem('x'.repeat(MAX_REGEX_LENGTH + 1))?.message).toMatch(/at most 10000/);
    expect(compileLabRegex('[\\1]').test('\x01')).toBe(true); // in a class, \1 is an octal code, not a backreference
    const verdict = judge({ ...base, id: 'c', kind: 'frr', on: 'r1', command: 'show ip ospf neighbor', matches: 'Full(?=/DR)' }, ok('x Full/DR y'));
    expect(verdict).toMatchObject({ passed: false, final: true, reason: expect.stringMatching(/regular expression "Full\(\?=\/DR\)" cannot be used: the lookahead/) });
  });

  it('reports such a pattern in a lab file as a diagnostic at file:line:col', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vre-'));
    try {
      writeFileSync(
        join(dir, 'lab.yaml'),
        [
          'lab: {name: re}',
          'machines:',
          '  pc1: {image: tiny, interfaces: [{domain: A, ipv4: 10.0.0.1/24}]}',
          'checks:',
          '  - {id: ok, kind: command, on: pc1, run: "ip a", stdout_matches: "^(a+)+$"}',
          '  - id: ahead',
          '    kind: frr',
          '    on: pc1',
          '    command: show ip ospf neighbor',
          '    matches: "Full(?=/DR)"',
          '  - {id: back, kind: file, on: pc1, path: /etc/hosts, matches: "(a)\\\\1"}',
          '  - {id: broken, kind: file, on: pc1, path: /etc/hosts, matches: "[unclosed"}',
          '',
        ].join('\n'),
      );
      const { diagnostics } = await loadLab(dir);
      const regex = diagnostics.filter((d) => /regex/.test(d.code)).map((d) => ({ code: d.code, where: `${d.file}:${d.line}:${d.column}`, message: d.message }));
      expect(regex).toEqual([
        { code: 'unsupported-regex', where: `lab.yaml:6:5`, message: expect.stringMatching(/^check 'ahead': matches: the lookahead \(\?=…\) is not supported/) },
        { code: 'unsupported-regex', where: `lab.yaml:11:5`, message: expect.stringMatching(/^check 'back': matches: backreference \\1 is not supported/) },
        { code: 'invalid-regex', where: `lab.yaml:12:5`, message: expect.stringMatching(/^check 'broken': matches is not a valid regular expression: missing closing \]/) },
      ]);
      expect(diagnostics.filter((d) => d.code.endsWith('-regex')).every((d) => d.severity === 'error')).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
