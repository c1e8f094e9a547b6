// `npm start` ends with what it started (bin/setup.mjs runLast): the app used to outlive a `kill` or a
// `timeout` of npm, serving on with nobody to stop it, because npm hands SIGTERM to its `sh -c`, which
// dies without passing it on. Real processes: setup.mjs starting the real `vnetlab app` (no pool, no
// display), under a stand-in for npm that goes away.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from '../bin/bundle-cache.mjs';
import { testEnv } from './runtime/helpers.ts';
import { eventually } from './support/poll.ts';

const t = testEnv();
/** Every process this file started (the stand-in npm, setup.mjs, the app): ended by pid whatever happens. */
const started: number[] = [];
afterAll(async () => {
  for (const pid of started) {
    try {
      // Still ours (a pid can be reused once ours is gone): node, running our checkout or the stand-in.
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (argv.startsWith(process.execPath) && (argv.includes(REPO) || argv.includes('\0-e\0'))) process.kill(pid, 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  }
  await t.dispose();
});

/** Starts setup.mjs `start` under a parent process; resolves with both pids once the app printed its link. */
function startUnderParent(): Promise<{ parent: number; setup: number; app: number }> {
  const env = { ...t.env, DISPLAY: '', WAYLAND_DISPLAY: '' };
  // The stand-in npm: starts setup.mjs, says the pids once the app prints its link, then waits.
  const script = `
const { spawn } = require('node:child_process');
const child = spawn(process.execPath, [${JSON.stringify(join(REPO, 'bin/setup.mjs'))}, 'start', '--pool', '0', ${JSON.stringify(join(REPO, 'labs/two-hosts'))}], { stdio: ['ignore', 'pipe', 'pipe'] });
let out = '';
const look = (d) => { out += d; if (/vnetlab app: http/.test(out)) {
  const app = require('node:fs').readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).find((p) => { try { return require('node:fs').readFileSync('/proc/' + p + '/stat', 'utf8').split(') ')[1].split(' ')[1] === String(child.pid); } catch { return false; } });
  process.stdout.write(JSON.stringify({ parent: process.pid, setup: child.pid, app: Number(app) }) + '\\n'); out = ''; } };
child.stdout.on('data', look); child.stderr.on('data', look);
setInterval(() => {}, 1000);
`;
  const parent = spawn(process.execPath, ['-e', script], { env, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  return new Promise((resolve, reject) => {
    started.push(parent.pid!);
    parent.stdout!.once('data', (d) => {
      const pids = JSON.parse(String(d)) as { parent: number; setup: number; app: number };
      started.push(pids.setup, pids.app);
      resolve(pids);
    });
    parent.once('exit', (code) => reject(new Error(`the stand-in npm exited with ${code} before the app printed its link`)));
  });
}

const alive = (pid: number) => existsSync(`/proc/${pid}`);

describe('npm start ends with what it started', () => {
  it('the app goes when npm goes (SIGKILL of the parent, as npm and its shell leave it)', async () => {
    const { parent, setup, app } = await startUnderParent();
    expect(app).toBeGreaterThan(0);
    expect(alive(app)).toBe(true);
    process.kill(parent, 'SIGKILL');
    expect(await eventually(() => alive(app) || alive(setup), (up) => !up, 10_000)).toBe(false);
  });

  it('a SIGTERM to setup.mjs reaches the app', async () => {
    const { parent, setup, app } = await startUnderParent();
    process.kill(setup, 'SIGTERM');
    expect(await eventually(() => alive(app) || alive(setup), (up) => !up, 10_000)).toBe(false);
  });
});
