// The fast YAML path (js-yaml + a positional tree) must report exactly the positions the `yaml`
// package reports, or step aside. Compared here path by path on the shipped labs and on tricky files.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { YamlSource, type YamlPath } from '../../src/main/lab/yaml-source.ts';

const repo = resolve(__dirname, '../..');

function paths(value: unknown, prefix: YamlPath = []): YamlPath[] {
  const out: YamlPath[] = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  return out;
}

function compareBothPaths(text: string): number {
  const fast = new YamlSource(text, 'lab.yaml');
  const slow = new YamlSource(text, 'lab.yaml', { fastPath: false });
  expect(fast.usedFastPath).toBe(true);
  expect(slow.usedFastPath).toBe(false);
  expect(fast.data).toEqual(slow.data);
  const all = paths(slow.data);
  for (const p of all) {
    expect({ path: p, at: fast.at(p) }).toEqual({ path: p, at: slow.at(p) });
    expect({ path: p, key: fast.keyAt(p) }).toEqual({ path: p, key: slow.keyAt(p) });
    expect({ path: p, raw: fast.rawScalarAt(p) }).toEqual({ path: p, raw: slow.rawScalarAt(p) });
  }
  // A path that does not exist points at its nearest existing parent in both.
  expect(fast.at(['machines', 'nope', 'interfaces'])).toEqual(slow.at(['machines', 'nope', 'interfaces']));
  return all.length;
}

describe('fast YAML path', () => {
  const labs = readdirSync(join(repo, 'labs'));

  it.each(labs)('labs/%s: same data and positions as the yaml package', (lab) => {
    expect(compareBothPaths(readFileSync(join(repo, 'labs', lab, 'lab.yaml'), 'utf8'))).toBeGreaterThan(20);
  });

  it('same positions with comments, quotes, flow and block styles, CRLF-free multi-line scalars', () => {
    const text = [
      '# yaml-language-server: $schema=x.json',
      '',
      'lab:   # the lab',
      '  name: "quoted"',
      "  version: 1.0   # a float to YAML",
      '  authors: [a, "b c", \'d\']',
      '  description: >',
      '    folded',
      '    text',
      'machines:',
      '  pc1:',
      '',
      '    # a comment line',
      '    interfaces:',
      '      - {domain: A, ipv4: 10.0.0.1/24}',
      '      -   domain: B',
      '          ipv6: [2001:db8::1/64]',
      '      - C',
      '    startup: |',
      '      ip route add default via 10.0.0.254 && echo ok',
      '      ls *.conf & wait',
      '    empty:',
      '    sysctls: {}',
      'domains: {A: {kind: hub}, B: {kind: switch}}',
      '',
    ].join('\n');
    expect(compareBothPaths(text)).toBeGreaterThan(15);
  });

  it('steps aside for anchors, aliases, tags, duplicate keys and syntax errors', () => {
    for (const text of [
      'a: &x {b: 1}\nc: *x\n',
      'a: !!str 1\n',
      'a: 1\na: 2\n',
      'a: [1, 2\n',
      'a:\n  - b\n c: d\n',
    ]) {
      expect(new YamlSource(text, 'lab.yaml').usedFastPath).toBe(false);
    }
  });
});

describe('fast YAML path on mutated labs', () => {
  it('whenever it accepts a mutated file, it agrees with the yaml package on data and every position', () => {
    // Deterministic PRNG (mulberry32) so a failure can be replayed.
    let seed = 0x5eed;
    const random = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const originals = readdirSync(join(repo, 'labs')).map((lab) => readFileSync(join(repo, 'labs', lab, 'lab.yaml'), 'utf8'));
    const snippets = [' ', '  ', '\n', ':', '- ', '#', '"', "'", '{', '}', '[', ']', ',', 'x', '0', '|', '>', '\t'];
    let accepted = 0;
    for (let i = 0; i < 400; i++) {
      let text = pick(originals);
      for (let m = 0; m < 1 + Math.floor(random() * 3); m++) {
        const at = Math.floor(random() * text.length);
        const lines = text.split('\n');
        switch (Math.floor(random() * 4)) {
          case 0: text = text.slice(0, at) + pick(snippets) + text.slice(at); break;
          case 1: text = text.slice(0, at) + text.slice(at + 1 + Math.floor(random() * 3)); break;
          case 2: lines.splice(Math.floor(random() * lines.length), 1); text = lines.join('\n'); break;
          default: { const l = Math.floor(random() * lines.length); lines.splice(l, 0, lines[l]!); text = lines.join('\n'); }
        }
      }
      const fast = new YamlSource(text, 'lab.yaml');
      if (!fast.usedFastPath) continue;
      accepted++;
      const slow = new YamlSource(text, 'lab.yaml', { fastPath: false });
      expect({ i, broken: slow.broken }).toEqual({ i, broken: false });
      expect(fast.data).toEqual(slow.data);
      for (const p of paths(slow.data)) {
        expect({ i, p, at: fast.at(p), key: fast.keyAt(p) }).toEqual({ i, p, at: slow.at(p), key: slow.keyAt(p) });
      }
    }
    expect(accepted).toBeGreaterThan(50);
  });
});
