// findKernel() runs for every guest a lab boots, so it remembers the launch wrapper it made (hashing the
// AMX fix's source each time cost ~1 ms a guest) — but never past the wrapper's removal: a wrapper
// deleted under a running supervisor (a cleaned cache) is written again, not handed out missing.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
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
