// A parent folder writable by our own group (a Kubernetes volume mounted with fsGroup) is refused by
// default and accepted only with VNETLAB_TRUST_GROUP_WRITABLE=1; world-writable ones never are.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensurePrivateDir } from '../../src/main/runtime/private-dir.ts';

describe('parents writable by our own group', () => {
  const saved = process.env.VNETLAB_TRUST_GROUP_WRITABLE;
  afterEach(() => {
    if (saved === undefined) delete process.env.VNETLAB_TRUST_GROUP_WRITABLE;
    else process.env.VNETLAB_TRUST_GROUP_WRITABLE = saved;
  });

  it('are refused unless the operator trusts them, and world-writable ones never', () => {
    const volume = mkdtempSync(join(tmpdir(), 'vgrp-'));
    try {
      chmodSync(volume, 0o2770); // what fsGroup makes of a volume: our group may write, setgid
      delete process.env.VNETLAB_TRUST_GROUP_WRITABLE;
      expect(() => ensurePrivateDir(join(volume, 'r', 'lab'), { checkParents: true })).toThrow(/lets other users replace what is in it/);
      process.env.VNETLAB_TRUST_GROUP_WRITABLE = '1';
      expect(() => ensurePrivateDir(join(volume, 'r', 'lab'), { checkParents: true })).not.toThrow();
      chmodSync(volume, 0o777);
      expect(() => ensurePrivateDir(join(volume, 'r2', 'lab'), { checkParents: true })).toThrow(/lets other users replace/);
    } finally {
      rmSync(volume, { recursive: true, force: true });
    }
  });
});
