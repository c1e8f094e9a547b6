// The sandbox's list of a program's files (itself and its shared libraries) is kept in the user's cache
// so a start does not run ldd a dozen times; a kept answer counts only while its files are unchanged.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { forgetProgramFiles, programFiles } from '../../src/main/runtime/program-files.ts';

const base = mkdtempSync(join(tmpdir(), 'vprog-'));
const env = { ...process.env, VNETLAB_CACHE_DIR: join(base, 'cache') };
const cacheFile = join(base, 'cache', 'program-files-v1.json');
const program = join(base, 'true');
copyFileSync('/bin/true', program);
/** A real file that no ldd answer would name. */
const planted = join(base, 'planted.so');
writeFileSync(planted, 'x');

afterAll(() => rmSync(base, { recursive: true, force: true }));
beforeEach(() => forgetProgramFiles());

/** Plant an extra (real, unchanged) file in the kept answer: seeing it back proves the cache answered, not ldd. */
function plantInCache(extra: string): void {
  const cache = JSON.parse(readFileSync(cacheFile, 'utf8'));
  const st = statSync(extra);
  cache[program].files.push(extra);
  cache[program].prints.push(`${st.size}:${st.mtimeMs}:${st.ino}`);
  writeFileSync(cacheFile, JSON.stringify(cache));
}

describe('programFiles', () => {
  it('lists the program and the C library it loads, and keeps the answer in the cache', () => {
    const files = programFiles(program, env);
    expect(files[0]).toBe(program);
    expect(files.some((f) => /\/libc\.so\.6$/.test(f))).toBe(true);
    expect(JSON.parse(readFileSync(cacheFile, 'utf8'))[program].files).toEqual(files);
  });

  it('answers from the cache in a new process while the files are unchanged', () => {
    programFiles(program, env);
    plantInCache(planted);
    forgetProgramFiles();
    expect(programFiles(program, env)).toContain(planted);
  });

  it('asks ldd again once the program changed (an upgrade)', () => {
    programFiles(program, env);
    plantInCache(planted);
    forgetProgramFiles();
    utimesSync(program, new Date(), new Date(Date.now() - 60_000));
    const files = programFiles(program, env);
    expect(files).not.toContain(planted);
    expect(files.some((f) => /\/libc\.so\.6$/.test(f))).toBe(true);
  });

  it('ignores entries with relative paths (the list widens a sandbox)', () => {
    programFiles(program, env);
    const cache = JSON.parse(readFileSync(cacheFile, 'utf8'));
    cache[program].files.push('etc/hostname');
    cache[program].prints.push('1:1:1');
    writeFileSync(cacheFile, JSON.stringify(cache));
    forgetProgramFiles();
    expect(programFiles(program, env)).not.toContain('etc/hostname');
  });
});
