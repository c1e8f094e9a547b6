// A new guest disk is made by createCowDisk (system calls), no longer by running uml_mkcow: the file must be
// the one uml_mkcow makes, byte for byte (UML checks the header's mtime, size and path, and finds its
// data at the aligned offset after the bitmap). Every confined guest in the suite boots on such a disk.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCowDisk, createCowDiskAsync, readCowHeader } from '../../src/main/images/backing.ts';
import { whichTool } from '../../src/main/images/kernel.ts';

const dir = mkdtempSync(join(tmpdir(), 'vcow-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A sparse stand-in for an image: `size` bytes, one block written so it is not all holes. */
function image(name: string, size: number): string {
  const path = join(dir, name);
  const fd = openSync(path, 'w');
  writeSync(fd, Buffer.from('ext4?'), 0, 5, 1024);
  closeSync(fd);
  execFileSync('truncate', ['-s', String(size), path]);
  return path;
}

const mkcow = whichTool('uml_mkcow');

describe('a new guest disk', () => {
  // uml-utilities is a listed dependency (README, .ci/run); without it there is nothing to compare with.
  it.skipIf(!mkcow)('is what uml_mkcow makes: same header, same size, same sparse data area', () => {
    for (const size of [512 * 1024 * 1024, 64 * 1024 * 1024 + 1536]) {
      const backing = image(`img-${size}.ext4`, size);
      const ours = join(dir, `ours-${size}.cow`);
      const theirs = join(dir, `theirs-${size}.cow`);
      createCowDisk(ours, backing);
      execFileSync(mkcow!, [theirs, backing]);
      expect(statSync(ours).size, `size over a ${size}-byte image`).toBe(statSync(theirs).size);
      expect(readFileSync(ours).subarray(0, 8192).equals(readFileSync(theirs).subarray(0, 8192)), 'the first two pages').toBe(true);
      expect(statSync(ours).mode & 0o777).toBe(0o600);
      expect(statSync(ours).blocks * 512, 'sparse').toBeLessThan(64 * 1024);
      expect(readCowHeader(ours)).toEqual({ backingFile: backing, backingMtime: Math.floor(statSync(backing).mtimeMs / 1000), backingSize: size });
    }
  });

  it('never replaces an existing disk', async () => {
    const backing = image('img-x.ext4', 1024 * 1024);
    const disk = join(dir, 'kept.cow');
    createCowDisk(disk, backing);
    expect(() => createCowDisk(disk, backing)).toThrow(/EEXIST/);
    await expect(createCowDiskAsync(disk, backing)).rejects.toThrow(/EEXIST/);
  });

  it('is the same file made through the thread pool (the supervisor, serving consoles meanwhile)', async () => {
    const backing = image('img-async.ext4', 64 * 1024 * 1024 + 1536);
    const sync = join(dir, 'sync.cow');
    const async = join(dir, 'async.cow');
    createCowDisk(sync, backing);
    await createCowDiskAsync(async, backing);
    expect(readFileSync(async).equals(readFileSync(sync))).toBe(true);
    expect(statSync(async).mode & 0o777).toBe(0o600);
    expect(statSync(async).blocks * 512, 'sparse').toBeLessThan(64 * 1024);
  });
});
