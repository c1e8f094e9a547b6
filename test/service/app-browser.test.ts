// `vnetlab app`/`serve` opening the browser (issue 11, item 9): as root Chromium gets --no-sandbox
// without its warning bar (said in the terminal instead), under sudo it opens as the user, sandboxed
// (issue 23, 11), and a browser that exits at once is reported with what it printed, instead of failing silently.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openBrowser } from '../../src/main/cli/commands/app.ts';
import { removeDir } from '../e2e/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'vnl-browser-'));
afterAll(() => removeDir(dir));

/** A fake `chromium` on PATH: records its arguments, prints like Chromium does, exits with `code`. */
function fakeChromium(name: string, code: number, stderr: string): NodeJS.ProcessEnv {
  const bin = join(dir, name);
  mkdirSync(bin, { recursive: true });
  const script = join(bin, 'chromium');
  writeFileSync(script, `#!/bin/sh\necho "$@" > ${join(bin, 'args')}\nid -u > ${join(bin, 'uid')}\necho "$HOME" > ${join(bin, 'home')}\necho '${stderr}' >&2\nexit ${code}\n`);
  chmodSync(script, 0o755);
  chmodSync(bin, 0o777); // the sudo case runs it as another user
  chmodSync(dir, 0o755);
  return { PATH: `${bin}:/usr/bin:/bin`, DISPLAY: ':0' };
}

function logged(env: NodeJS.ProcessEnv, uid: number): Promise<string[]> {
  const lines: string[] = [];
  openBrowser('http://127.0.0.1:1/?token=x', env, (l) => lines.push(l), uid);
  return new Promise((resolve) => setTimeout(() => resolve(lines), 1500));
}

describe('opening the browser', () => {
  it('as root, starts Chromium with --no-sandbox, hides its warning bar and says so here', async () => {
    const env = fakeChromium('root-ok', 0, '');
    const lines = await logged(env, 0);
    const args = readFileSync(join(dir, 'root-ok', 'args'), 'utf8');
    expect(args).toMatch(/--app=http:\/\/127\.0\.0\.1:1\/\?token=x .*--no-sandbox/);
    expect(args).toMatch(/--test-type/);
    expect(lines.join('\n')).toMatch(/running as root: Chromium is started with --no-sandbox .*without its warning bar/);
  });

  it.skipIf(process.getuid?.() !== 0)('as root through sudo, opens the window as that user, with the sandbox', async () => {
    const env = { ...fakeChromium('sudo-ok', 0, ''), SUDO_UID: '65534', SUDO_GID: '65534', SUDO_USER: 'nobody' };
    const lines = await logged(env, 0);
    expect(readFileSync(join(dir, 'sudo-ok', 'uid'), 'utf8').trim()).toBe('65534');
    expect(readFileSync(join(dir, 'sudo-ok', 'args'), 'utf8')).not.toMatch(/--no-sandbox|--test-type/);
    expect(lines.join('\n')).toMatch(/Chromium opens as nobody, with its sandbox/);
  });

  it('as a user, no --no-sandbox', async () => {
    const env = fakeChromium('user-ok', 0, '');
    const lines = await logged(env, 1000);
    expect(readFileSync(join(dir, 'user-ok', 'args'), 'utf8')).not.toMatch(/--no-sandbox/);
    expect(lines).toEqual([]);
  });

  it('reports a browser that exits at once, with what it printed and what to do', async () => {
    const env = fakeChromium('fails', 1, 'Missing X server or $DISPLAY');
    const lines = await logged(env, 1000);
    expect(lines.join('\n')).toMatch(/chromium exited at once \(code 1\):\n {2}Missing X server or \$DISPLAY\nopen the URL above in a browser yourself/);
  });
});
