// The data flows one way (docs/ARCHITECTURE.md): lab files → model → plan → running lab → views.
// This test reads every source file's imports and fails when a layer reaches "upwards" or the renderer
// touches Node, so the layering stays true as the code grows.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = resolve(__dirname, '..');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|mts|cts|mjs|cjs|js)$/.test(name)) out.push(p);
  }
  return out;
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs: string[] = [];
  const re = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const m of text.matchAll(re)) specs.push((m[1] ?? m[2] ?? m[3])!);
  return specs;
}

/** Which top-level layer a repo-relative path belongs to. */
function layerOf(rel: string): string {
  if (rel.startsWith('src/shared/')) return 'shared';
  if (rel.startsWith('src/renderer/')) return 'renderer';
  const m = /^src\/main\/([^/]+)\//.exec(rel);
  if (m) return m[1]!;
  if (rel.startsWith('src/main/')) return 'main-root';
  return 'other';
}

// What each layer may import (besides itself). Mirrors the import arrows in docs/ARCHITECTURE.md.
const ALLOWED: Record<string, string[]> = {
  shared: [],
  'main-root': ['shared'],
  lab: ['shared', 'main-root'],
  compiler: ['shared', 'main-root', 'lab'],
  images: ['shared', 'main-root'],
  guest: ['shared', 'main-root', 'images'],
  runtime: ['shared', 'main-root', 'lab', 'compiler', 'images', 'guest'],
  check: ['shared', 'main-root', 'lab', 'compiler', 'images', 'guest', 'runtime'],
  service: ['shared', 'main-root', 'lab', 'compiler', 'images', 'guest', 'runtime', 'check'],
  server: ['shared', 'main-root', 'lab', 'compiler', 'images', 'guest', 'runtime', 'check', 'service'],
  electron: ['shared', 'main-root', 'service', 'lab', 'compiler', 'runtime', 'check', 'images', 'guest', 'server'],
  // The classroom serves many students' labs: the service and server per student, behind its own front door.
  classroom: ['shared', 'main-root', 'lab', 'compiler', 'images', 'guest', 'runtime', 'check', 'service', 'server'],
  cli: ['shared', 'main-root', 'lab', 'compiler', 'images', 'guest', 'runtime', 'check', 'service', 'server', 'classroom'],
  renderer: ['shared'],
};

describe('architecture', () => {
  const files = sourceFiles(join(repo, 'src'));

  it('finds the sources', () => {
    expect(files.length).toBeGreaterThan(5);
  });

  it('every import points down the data flow', () => {
    const violations: string[] = [];
    for (const file of files) {
      const rel = relative(repo, file);
      const from = layerOf(rel);
      for (const spec of importsOf(file)) {
        if (!spec.startsWith('.')) continue;
        const target = relative(repo, resolve(dirname(file), spec));
        const to = layerOf(target);
        if (to === from || to === 'other') continue;
        if (to === 'electron') violations.push(`${rel} imports ${target}: nothing may import the Electron shell`);
        else if (!(ALLOWED[from] ?? []).includes(to)) violations.push(`${rel} (${from}) imports ${target} (${to})`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('the renderer and shared code never use Node APIs', () => {
    const violations: string[] = [];
    for (const file of files) {
      const rel = relative(repo, file);
      const layer = layerOf(rel);
      if (layer !== 'renderer' && layer !== 'shared') continue;
      if (rel.endsWith('build.mjs')) continue; // the renderer's bundler script runs in Node by design
      for (const spec of importsOf(file)) {
        if (spec.startsWith('node:') || ['fs', 'path', 'child_process', 'os', 'net', 'electron', 'node-pty'].includes(spec)) {
          violations.push(`${rel} imports ${spec}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it("the supervisor's and the pool's bundles take no lab reader (its CommonJS packages do not bundle as ESM)", () => {
    const closure = (entry: string) => {
      const seen = new Set<string>();
      const visit = (file: string) => {
        if (seen.has(file)) return;
        seen.add(file);
        for (const spec of importsOf(file)) if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      };
      visit(join(repo, entry));
      return [...seen].map((f) => relative(repo, f));
    };
    for (const entry of ['src/main/runtime/supervisor-main.ts', 'src/main/runtime/pool/pool-main.ts']) {
      expect(closure(entry).filter((f) => f.startsWith('src/main/lab/')), entry).toEqual([]);
    }
  });
});
