// A lab.yaml nested thousands of levels deep (issue 18) is a lab error at file:line:col, not a stack
// overflow: `vnetlab validate` and `vnetlab start` run as a user runs them (a real process, the default
// stack), and YamlSource on both of its paths (js-yaml and the yaml package), aliases included.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseLabYaml } from '../../src/main/lab/lab-yaml.ts';
import { MAX_YAML_NESTING, YamlSource } from '../../src/main/lab/yaml-source.ts';
import { cleanupTempLabs, REPO, tempLab } from './helpers.ts';

afterAll(cleanupTempLabs);

const home = tempLab();

function vnetlab(args: string[]) {
  const result = spawnSync(process.execPath, [join(REPO, 'bin/vnetlab.mjs'), ...args], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, HOME: home, VNETLAB_RUNTIME_DIR: join(home, 'run'), VNETLAB_STATE_DIR: join(home, 'state') },
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const HEAD = 'lab:\n  name: deep\n';
const flowSeqs = (n: number, inner = '') => '['.repeat(n) + inner + ']'.repeat(n);
const flowMaps = (n: number) => '{a: '.repeat(n) + '1' + '}'.repeat(n);
function blockMaps(n: number): string {
  const lines = ['x:'];
  for (let i = 1; i < n; i++) lines.push(`${' '.repeat(i)}a:`);
  lines.push(`${' '.repeat(n)}1`);
  return `${lines.join('\n')}\n`;
}
const TOO_DEEP = `error: mappings and lists are nested more than ${MAX_YAML_NESTING} levels deep here`;

describe('deeply nested YAML', () => {
  it('validate: 20,000 nested lists are one error at the 101st level, exit 2, no stack overflow', () => {
    const dir = tempLab({ 'lab.yaml': `${HEAD}machines: ${flowSeqs(20_000)}\n` });
    const r = vnetlab(['validate', dir]);
    expect(r.code).toBe(2);
    // The root mapping is level 1, `machines: [` level 2: the 100th bracket (column 11 + 99) is level 101.
    expect(r.stdout).toContain(`${dir}/lab.yaml:3:110: ${TOO_DEEP}`);
    expect(r.stdout).toContain('1 error');
    expect(r.stdout + r.stderr).not.toMatch(/call stack|RangeError|at .*\.[jt]s:\d+/);
  });

  it('validate: 20,000 nested flow mappings, and 150 nested block mappings', () => {
    const flow = tempLab({ 'lab.yaml': `${HEAD}x: ${flowMaps(20_000)}\n` });
    const r = vnetlab(['validate', flow]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(`${flow}/lab.yaml:3:400: ${TOO_DEEP}`);
    expect(r.stdout + r.stderr).not.toMatch(/call stack|RangeError/);
    const block = tempLab({ 'lab.yaml': `${HEAD}${blockMaps(150)}` });
    const b = vnetlab(['validate', block]);
    expect(b.code).toBe(2);
    // x:'s mapping (line 4, indented 1) is level 2; level 101 starts on line 103, indented 100.
    expect(b.stdout).toContain(`${block}/lab.yaml:103:101: ${TOO_DEEP}`);
  });

  it('start refuses it the same way (exit 2, the diagnostic, no stack trace)', () => {
    const dir = tempLab({ 'lab.yaml': `${HEAD}machines: ${flowSeqs(20_000)}\n` });
    const r = vnetlab(['start', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`lab.yaml:3:110: ${TOO_DEEP}`);
    expect(r.stdout + r.stderr).not.toMatch(/call stack|RangeError|at .*\.[jt]s:\d+/);
  });

  it('100 levels are fine, 101 are not, on both parsing paths', () => {
    for (const fastPath of [true, false]) {
      const ok = new YamlSource(`x: ${flowSeqs(MAX_YAML_NESTING - 1, '1')}\n`, 'lab.yaml', { fastPath });
      expect(ok.broken).toBe(false);
      expect(ok.diagnostics).toEqual([]);
      const deep = new YamlSource(`x: ${flowSeqs(MAX_YAML_NESTING, '1')}\n`, 'lab.yaml', { fastPath });
      expect(deep.broken).toBe(true);
      expect(deep.data).toBeUndefined();
      expect(deep.diagnostics).toEqual([expect.objectContaining({ code: 'yaml-too-deep', line: 1, column: 4 + MAX_YAML_NESTING - 1 })]);
    }
  });

  it('aliases that nest deeper than the text does are refused too, at the alias', () => {
    let text = HEAD;
    text += `a0: &a0 ${flowSeqs(60, '1')}\n`;
    for (let i = 1; i < 5; i++) text += `a${i}: &a${i} ${flowSeqs(60, `*a${i - 1}`)}\n`;
    const { model, diagnostics } = parseLabYaml(text, 'lab.yaml', '/nowhere');
    expect(model).toBeUndefined();
    // a1 (line 4) holds 60 levels and then *a0 (column 9 + 60), 60 more: past 100 at the alias.
    expect(diagnostics).toEqual([expect.objectContaining({ code: 'yaml-too-deep', line: 4, column: 9 + 60 })]);
    // An alias of its own anchor is endless nesting.
    expect(parseLabYaml('a: &a [1, *a]\n', 'lab.yaml', '/nowhere').diagnostics).toEqual([expect.objectContaining({ code: 'yaml-too-deep', line: 1 })]);
  });
});
