// vnetlab's mconsole client (kernels/host/vnetlab-mconsole.c, src/main/runtime/mconsole.ts), without a
// guest: a command too long for one mconsole request is refused, not copied past the request's end.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mconsoleCommands } from '../../src/main/runtime/mconsole.ts';

describe('the mconsole client', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vnetlab-mconsole-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a command longer than a request holds (512 bytes), saying so', async () => {
    await expect(mconsoleCommands(join(dir, 'no-guest'), [`config eth0=vde,${'x'.repeat(600)}`])).rejects.toThrow(/answered 0 of 1 commands \(vnetlab-mconsole: a command longer than 512 bytes\)/);
  });

  it('says when no guest answers', async () => {
    await expect(mconsoleCommands(join(dir, 'no-guest'), ['version'])).rejects.toThrow(/answered 0 of 1 commands \(vnetlab-mconsole: .*no-guest/);
  });
});
