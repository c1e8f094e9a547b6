// The esbuild bundles that the `vnetlab` command and the supervisor run from (bin/bundle-cache.mjs):
// built on first use, reused while their sources are unchanged, rebuilt when one changes (a module only
// imported dynamically, as the CLI's commands are, included), and run with V8's code cache.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleCommand, bundledEntry, REPO } from '../../bin/bundle-cache.mjs';

describe('bundledEntry', () => {
  // Sources inside the repository (as ours are), in a folder of their own.
  const src = mkdtempSync(join(REPO, 'node_modules/.cache/vnl-bundle-test-src-'));
  const name = `test-${process.pid}`;
  const made: string[] = [];
  afterAll(() => {
    rmSync(src, { recursive: true, force: true });
    for (const entry of made) rmSync(join(entry, '..'), { recursive: true, force: true });
    for (const entry of made) rmSync(`${join(entry, '..')}.inputs.json`, { force: true });
  });

  /** What the bundle answers, asked by a fresh node (vitest's own module cache would keep the first build). */
  const answerOf = (entry: string) =>
    execFileSync(process.execPath, ['-e', `require(${JSON.stringify(entry)}).answer().then((a) => process.stdout.write(a));`], { encoding: 'utf8' });

  it('builds once, reuses the bundle, and rebuilds after a change to a module it imports dynamically', async () => {
    const main = join(src, 'main.ts');
    writeFileSync(join(src, 'part.ts'), "export const part: string = 'first';\n");
    writeFileSync(main, "export async function answer(): Promise<string> { return (await import('./part.ts')).part; }\n");
    const entry = await bundledEntry(name, main, { external: ['*'] });
    made.push(entry);
    expect(entry.startsWith(join(REPO, 'node_modules/.cache/'))).toBe(true);
    expect(answerOf(entry)).toBe('first');

    const { mtimeMs } = statSync(entry);
    expect(await bundledEntry(name, main, { external: ['*'] })).toBe(entry);
    expect(statSync(entry).mtimeMs).toBe(mtimeMs); // not rebuilt

    writeFileSync(join(src, 'part.ts'), "export const part: string = 'second';\n");
    utimesSync(join(src, 'part.ts'), new Date(), new Date(Date.now() + 5_000)); // a different mtime even on a coarse clock
    await bundledEntry(name, main, { external: ['*'] });
    expect(answerOf(entry)).toBe('second');
  });

  it('bundles CommonJS code that requires node modules, and builds apart what is built another way', async () => {
    const main = join(src, 'cjs-main.ts');
    // As liquidjs does (`require('stream')`).
    writeFileSync(join(src, 'legacy.cjs'), "module.exports = require('stream').Readable.name;\n");
    writeFileSync(main, "import name from './legacy.cjs';\nexport async function answer(): Promise<string> { return name; }\n");
    const bundled = await bundledEntry(name, main, { external: ['node-pty'] });
    made.push(bundled);
    expect(answerOf(bundled)).toBe('Readable');
    const other = await bundledEntry(name, main, { external: ['*'] });
    made.push(other);
    expect(other).not.toBe(bundled);
  });

  it('runs a CommonJS bundle as `node <bundle> args`, with a code cache made once per use and remade when refused', async () => {
    const main = join(src, 'cjs-run.ts');
    // What our modules do: find files from their own place, and read their arguments.
    writeFileSync(main, "console.log(JSON.stringify({ url: import.meta.url, dir: import.meta.dirname, args: process.argv.slice(1) }));\n");
    const argv = await bundleCommand(name, main, ['--standby']);
    made.push(argv[1]!);
    expect(argv[0]).toBe(join(REPO, 'bin/run-bundle.mjs'));
    const bundle = argv[1]!;
    expect(bundle.endsWith('.cjs')).toBe(true);
    const run = () => JSON.parse(execFileSync(process.execPath, argv, { encoding: 'utf8' }));
    expect(run()).toEqual({ url: pathToFileURL(bundle).href, dir: dirname(bundle), args: [bundle, '--standby'] });
    const cache = `${bundle}.${name}.v8cache`;
    const made1 = statSync(cache).mtimeMs;
    run();
    expect(statSync(cache).mtimeMs).toBe(made1); // taken, not made again
    writeFileSync(cache, 'not a code cache');
    run();
    expect(readFileSync(cache).length).toBeGreaterThan(100); // refused by V8, so made again
  });
});
