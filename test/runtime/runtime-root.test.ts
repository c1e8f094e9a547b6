// Where the runtime root goes (src/main/paths.ts): what names one wins; with nothing named, the host's
// tmpfs, where a start's hundreds of small files and sockets cost less than on a disk.
import { accessSync, constants, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { hostPaths } from '../../src/main/paths.ts';

const uid = process.getuid?.() ?? 0;
const base = { HOME: '/home/someone', PATH: process.env.PATH };
const hasTmpfs = (() => {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return statSync('/dev/shm').isDirectory();
  } catch {
    return false;
  }
})();

describe('the runtime root', () => {
  it('is VNETLAB_RUNTIME_DIR, then $XDG_RUNTIME_DIR/vnetlab, then $TMPDIR/vnetlab-<uid>, in that order', () => {
    const all = { ...base, VNETLAB_RUNTIME_DIR: '/r/own', XDG_RUNTIME_DIR: '/run/user/7', TMPDIR: '/scratch' };
    expect(hostPaths(all).runtimeRoot).toBe('/r/own');
    expect(hostPaths({ ...all, VNETLAB_RUNTIME_DIR: '' }).runtimeRoot).toBe('/run/user/7/vnetlab');
    expect(hostPaths({ ...base, TMPDIR: '/scratch' }).runtimeRoot).toBe(`/scratch/vnetlab-${uid}`);
  });

  it(`is on the host's tmpfs when nothing names one${hasTmpfs ? '' : ' (here: no /dev/shm, so the temp folder)'}`, () => {
    expect(hostPaths(base).runtimeRoot).toBe(hasTmpfs ? `/dev/shm/vnetlab-run-${uid}` : `${tmpdir()}/vnetlab-${uid}`);
  });
});
