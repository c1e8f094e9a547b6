// Malformed input never ends in an exception: seeded, deterministic mutations of real lab files
// (the shipped lab.yaml files, the lab.conf and lab.dep files of test/fixtures/) fed to both readers.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../src/shared/diagnostics.ts';
import { loadLab, parseLabYaml, validateLab } from '../../src/main/lab/index.ts';
import { fixtureLab, fixtureLabs } from '../support/fixtures.ts';
import { cleanupTempLabs, SHIPPED_LABS, tempLab } from './helpers.ts';

afterAll(cleanupTempLabs);

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Tokens that mean something to YAML, lab.conf or lab.dep, plus hostile bytes. */
const TOKENS = [':', '-', '[', ']', '{', '}', '"', "'", '\n', ' ', '  ', '\t', '=', '/', '#', '&a ', '*a', '!!binary ', '..', '../', '\\', '|', '>', '%', '@', '`', ',', '?', '\0', '\r\n', 'é', '💥', '99999999999999999999', '-1', '0x', '1e999', 'eth', '[0]', '[mem]=', '[image]=', 'machines:', 'interfaces:', '  - ', 'null', '~', '<<: *a', '/etc/passwd', 'LAB_', ':\n  '];

function mutate(text: string, random: () => number): string {
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const at = () => Math.floor(random() * (text.length + 1));
  let out = text;
  const steps = 1 + Math.floor(random() * 4);
  for (let s = 0; s < steps; s++) {
    const i = Math.min(at(), out.length);
    switch (Math.floor(random() * 7)) {
      case 0: // delete a range
        out = out.slice(0, i) + out.slice(i + 1 + Math.floor(random() * 20));
        break;
      case 1: // insert a token
        out = out.slice(0, i) + pick(TOKENS) + out.slice(i);
        break;
      case 2: { // duplicate a line
        const lines = out.split('\n');
        const n = Math.floor(random() * lines.length);
        lines.splice(n, 0, lines[n] ?? '');
        out = lines.join('\n');
        break;
      }
      case 3: { // swap two lines
        const lines = out.split('\n');
        const a = Math.floor(random() * lines.length);
        const b = Math.floor(random() * lines.length);
        [lines[a], lines[b]] = [lines[b]!, lines[a]!];
        out = lines.join('\n');
        break;
      }
      case 4: // truncate
        out = out.slice(0, i);
        break;
      case 5: // change indentation of a line
        out = out.replace(new RegExp(`^(.{0,${Math.floor(random() * 40)}}\\n)( *)`, 's'), (_m, head: string, spaces: string) => head + (random() < 0.5 ? spaces.slice(1) : `${spaces} `));
        break;
      default: // replace a character with a random code point
        out = out.slice(0, i) + String.fromCharCode(Math.floor(random() * 0x3000)) + out.slice(i + 1);
    }
  }
  return out;
}

function expectWellFormed(diagnostics: Diagnostic[], model: unknown): void {
  for (const d of diagnostics) {
    expect(['error', 'warning', 'info']).toContain(d.severity);
    expect(typeof d.message).toBe('string');
    expect(Number.isInteger(d.line) && d.line >= 0).toBe(true);
    expect(Number.isInteger(d.column) && d.column >= 0).toBe(true);
  }
  if (model === undefined) expect(diagnostics.some((d) => d.severity === 'error')).toBe(true);
}

describe('fuzz', () => {
  it('600 mutations of the shipped lab.yaml files: diagnostics, never an exception', async () => {
    const random = prng(20261122);
    const seeds = SHIPPED_LABS.map((dir) => readFileSync(join(dir, 'lab.yaml'), 'utf8'));
    const dir = tempLab();
    let withErrors = 0;
    for (let n = 0; n < 600; n++) {
      const text = mutate(seeds[n % seeds.length]!, random);
      let result: ReturnType<typeof parseLabYaml>;
      let semantic: Diagnostic[] = [];
      try {
        result = parseLabYaml(text, 'lab.yaml', dir);
        if (result.model) semantic = validateLab(result.model);
        // Every tenth one goes through the whole loader, disk checks included.
        if (n % 10 === 0) {
          writeFileSync(join(dir, 'lab.yaml'), text);
          const loaded = await loadLab(dir);
          expectWellFormed(loaded.diagnostics, loaded.model);
        }
      } catch (e) {
        throw new Error(`mutation ${n} threw ${(e as Error).stack}\n--- input ---\n${text}`);
      }
      expectWellFormed([...result.diagnostics, ...semantic], result.model);
      if ([...result.diagnostics, ...semantic].some((d) => d.severity === 'error')) withErrors++;
    }
    // The mutations really do break things (the fuzzer is not feeding valid labs only).
    expect(withErrors).toBeGreaterThan(200);
  });

  it('600 mutations of Netkit and Kathará lab.conf and lab.dep files: diagnostics, never an exception', async () => {
    const random = prng(1234567);
    const confs = fixtureLabs().map((dir) => readFileSync(join(dir, 'lab.conf'), 'utf8'));
    expect(confs.length).toBeGreaterThanOrEqual(5);
    const deps = [readFileSync(join(fixtureLab('netkit-arp'), 'lab.dep'), 'utf8'), 'r2: r1\nr3: r1 r2 \\\n  r4\n# comment\nr5: r4\n'];
    const dir = tempLab();
    let withErrors = 0;
    for (let n = 0; n < 600; n++) {
      const conf = mutate(confs[n % confs.length]!, random);
      const labDep = mutate(deps[n % deps.length]!, random);
      writeFileSync(join(dir, 'lab.conf'), conf);
      writeFileSync(join(dir, 'lab.dep'), labDep);
      let loaded: Awaited<ReturnType<typeof loadLab>>;
      try {
        loaded = await loadLab(dir);
      } catch (e) {
        throw new Error(`mutation ${n} threw ${(e as Error).stack}\n--- lab.conf ---\n${conf}\n--- lab.dep ---\n${labDep}`);
      }
      expectWellFormed(loaded.diagnostics, loaded.model);
      if (loaded.diagnostics.some((d) => d.severity === 'error')) withErrors++;
    }
    expect(withErrors).toBeGreaterThan(100);
  });
});
