// Shared helpers of the lab reader tests: temp lab folders, model comparison. The Netkit/Kathará labs
// they read are test/support/fixtures.ts (and, for the tests about the corpus itself, test/support/corpus.ts).
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Diagnostic } from '../../src/shared/diagnostics.ts';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SHIPPED_LABS = ['two-hosts', 'static-routing', 'ospf'].map((n) => join(REPO, 'labs', n));

const made: string[] = [];

/** A temp folder holding `files` (path → content); removed by cleanupTempLabs. */
export function tempLab(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'vnetlab-labtest-'));
  made.push(dir);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

export function cleanupTempLabs(): void {
  while (made.length) rmSync(made.pop()!, { recursive: true, force: true });
}

export function errorsOf(list: Diagnostic[]): Diagnostic[] {
  return list.filter((d) => d.severity === 'error');
}

export function byCode(list: Diagnostic[], code: string): Diagnostic[] {
  return list.filter((d) => d.code === code);
}

/** A model as plain data without what legitimately differs between two readings (positions, where, which format). */
export function comparable(model: unknown): unknown {
  return JSON.parse(JSON.stringify(model, (key, value) => (['source', 'root', 'sourceFile', 'format'].includes(key) ? undefined : value)));
}
