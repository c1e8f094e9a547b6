// findKernel() runs for every guest a lab boots, so it remembers the launch wrapper it made (hashing the
// AMX fix's source each time cost ~1 ms a guest) — but never past the wrapper's removal: a wrapper
// deleted under a running supervisor (a cleaned cache) is written again, not handed out missing.
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findKernel, needsNoRandomize } from '../../src/main/images/kernel.ts';

const dir = mkdtempSync(join(tmpdir(), 'vkwrap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { ...process.env, VNETLAB_IMAGE_DIR: join(dir, 'images'), VNETLAB_UML_XSTATE_FIX: '0', VNETLAB_UML_NORANDMAPS: '1' };
const hasKernel = existsSync('/usr/bin/linux.uml');

describe('the kernel launch wrapper', () => {
  const runs = hasKernel && needsNoRandomize(env);
  it.skipIf(!runs)(
    `is remembered while it exists and written again once removed${runs ? '' : ' (skipped: needs /usr/bin/linux.uml and setarch, which make a wrapper)'}`,
    () => {
      const first = findKernel({ env });
      expect(first.path).toMatch(/\/images\/host\/linux\.uml-[0-9a-f]{12}$/);
      expect(existsSync(first.path)).toBe(true);
      expect(findKernel({ env }).path).toBe(first.path);
      rmSync(first.path);
      const again = findKernel({ env });
      expect(again.path).toBe(first.path);
      expect(existsSync(again.path)).toBe(true);
    },
  );
});

// Its version (`--version`) and VDE transports (read from the whole binary) cost every command and every
// supervisor ~30 ms: kept in the image folder for the binary's exact size, mtime and inode.
describe('the kernel facts kept in the image folder', () => {
  const factsEnv = { ...env, VNETLAB_UML_NORANDMAPS: '0', VNETLAB_KERNEL: join(dir, 'linux.uml') };
  const facts = join(dir, 'images', 'host', 'kernel-facts.json');
  let edits = 0;
  const fakeKernel = (version: string) => {
    // A stand-in that answers --version as UML does and carries the old VDE transport's description.
    writeFileSync(factsEnv.VNETLAB_KERNEL, `#!/bin/sh\n# UML vde_transport\necho "Linux version ${version} (fake)"\n`, { mode: 0o755 });
    // Each edit a different mtime, as a package upgrade gives (the same second could hide a change).
    const mtime = new Date(Date.UTC(2026, 0, 1, 0, 0, ++edits));
    utimesSync(factsEnv.VNETLAB_KERNEL, mtime, mtime);
  };

  const versionInANewProcess = () =>
    execFileSync(process.execPath, ['--import', 'tsx', '-e', `import('${join(import.meta.dirname, '../../src/main/images/kernel.ts')}').then((k) => console.log(k.findKernel().version))`], {
      env: factsEnv,
      encoding: 'utf8',
    }).trim();

  it('are read from the kernel once, then from the file, and again when the kernel changes', () => {
    fakeKernel('6.1.1');
    const first = findKernel({ env: factsEnv });
    expect(first.version).toBe('6.1.1');
    expect(first.networking).toEqual({ legacyVde: true, vectorVde: false });
    const kept = JSON.parse(readFileSync(facts, 'utf8'));
    expect(kept[factsEnv.VNETLAB_KERNEL]).toMatchObject({ version: '6.1.1' });
    // What the file says is what the next command uses while the binary is the same one (this process
    // remembers what it read: a command of its own is what reads the file)…
    kept[factsEnv.VNETLAB_KERNEL].version = '6.1.1-from-the-file';
    writeFileSync(facts, JSON.stringify(kept));
    expect(versionInANewProcess()).toBe('6.1.1-from-the-file');
    // …and a new kernel (another size and mtime) is asked again.
    fakeKernel('6.12.10');
    expect(findKernel({ env: factsEnv }).version).toBe('6.12.10');
    expect(JSON.parse(readFileSync(facts, 'utf8'))[factsEnv.VNETLAB_KERNEL]).toMatchObject({ version: '6.12.10' });
  });

  it('are looked at again when the file is unreadable, and the file is mended', () => {
    fakeKernel('6.1.3');
    writeFileSync(facts, '{ not json');
    expect(findKernel({ env: factsEnv }).version).toBe('6.1.3');
    expect(JSON.parse(readFileSync(facts, 'utf8'))[factsEnv.VNETLAB_KERNEL]).toMatchObject({ version: '6.1.3' });
  });
});
