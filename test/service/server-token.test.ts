// `vnetlab serve --port N` keeps its session cookie's secret from one run to the next (an open page
// reconnects with the cookie it holds), in a file only this user may read; a free port gets a new one
// each run. The secret is never in a link: links carry one-time tokens (app-link.test.ts).
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { serverSessionKey as serverToken } from '../../src/main/server/app-host.ts';

const dir = mkdtempSync(join(tmpdir(), 'vnl-token-'));
const env = { ...process.env, VNETLAB_STATE_DIR: dir };
const file = (port: number) => join(dir, 'serve', `port-${port}.key`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the session secret of a fixed port', () => {
  it('is made once, kept 0600, and the same on the next run; another port has its own', () => {
    const first = serverToken(env, 41001);
    expect(first).toMatch(/^[0-9a-f]{48}$/);
    expect(statSync(file(41001)).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'serve')).mode & 0o077).toBe(0);
    expect(serverToken(env, 41001)).toBe(first);
    expect(serverToken(env, 41002)).not.toBe(first);
  });

  it('is not taken from a file others may read, nor from a file that holds something else', () => {
    const kept = serverToken(env, 41003);
    chmodSync(file(41003), 0o644);
    const renewed = serverToken(env, 41003);
    expect(renewed).not.toBe(kept);
    expect(statSync(file(41003)).mode & 0o777).toBe(0o600);
    writeFileSync(file(41003), 'short\n', { mode: 0o600 });
    expect(serverToken(env, 41003)).toMatch(/^[0-9a-f]{48}$/);
    expect(readFileSync(file(41003), 'utf8')).not.toMatch(/short/);
  });
});
