// The schemas' validators kept as Ajv standalone code between runs (src/main/lab/schema.ts loadValidators):
// the cached module must judge every document exactly as a fresh Ajv compile does, errors included.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { loadValidators } from '../../src/main/lab/schema.ts';

const cacheDir = mkdtempSync(join(tmpdir(), 'vnl-schemas-'));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

const shipped = parse(readFileSync(join(import.meta.dirname, '../../labs/two-hosts/lab.yaml'), 'utf8'));
const labs: [string, unknown][] = [
  ['a shipped lab', shipped],
  ['a misspelt top-level key', { ...shipped, machnes: {} }],
  ['a machine of the wrong type', { ...shipped, machines: { pc1: 'tiny' } }],
  ['an interface with a bad field', { ...shipped, machines: { pc1: { interfaces: [{ domain: 'A', ipv4: 7, colour: 'red' }] } } }],
  ['not an object at all', ['lab']],
];
const checks: [string, unknown][] = [
  ['a ping check', [{ name: 'reach', ping: { from: 'pc1', to: '10.0.0.2' } }]],
  ['a check of no known kind', [{ name: 'x', frobnicate: true }]],
  ['checks that are not a list', { ping: 1 }],
];

describe('schema validators from the cache', () => {
  const first = loadValidators(cacheDir);
  const second = loadValidators(cacheDir);

  it('are compiled once, written as a module, then loaded from it', () => {
    expect(first.from).toBe('compiled');
    expect(readdirSync(cacheDir).filter((f) => /^vnetlab-schemas-[0-9a-f]{16}\.cjs$/.test(f))).toHaveLength(1);
    expect(readdirSync(cacheDir).some((f) => f.endsWith('.partial'))).toBe(false);
    expect(second.from).toBe('cache');
  });

  it.each(labs)('judge %s as Ajv does, with the same errors', (_what, doc) => {
    const fresh = first.validators.lab;
    const kept = second.validators.lab;
    expect(kept(doc)).toBe(fresh(doc));
    expect(kept.errors ?? null).toEqual(fresh.errors ?? null);
  });

  it.each(checks)('judge %s as Ajv does, with the same errors', (_what, doc) => {
    const fresh = first.validators.checks;
    const kept = second.validators.checks;
    expect(kept(doc)).toBe(fresh(doc));
    expect(kept.errors ?? null).toEqual(fresh.errors ?? null);
  });

  it('tell a bad document from a good one (the comparison above is not between two blind validators)', () => {
    expect(second.validators.lab(shipped)).toBe(true);
    expect(second.validators.lab({ ...shipped, machnes: {} })).toBe(false);
    expect(second.validators.check({ name: 'x', frobnicate: true })).toBe(false);
  });
});
