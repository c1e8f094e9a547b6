// Issue 18, item 1: `vnetlab app` starts the browser with the app's link on its command line, which
// every local user can read in /proc/<pid>/cmdline. That link must be useless once the browser has
// loaded it: its token opens the app once (trading it for an HttpOnly cookie that is in no argv), and
// the same link then opens nothing — neither a page nor the WebSocket. `vnetlab serve`'s printed link
// works the same way, once, and a fresh link is printed for another browser.
// Real processes: `vnetlab app` and `vnetlab serve` (bin/vnetlab.mjs); the "browser" is a stand-in
// `chromium` on PATH that loads its --app URL like a browser's first page load, then stays open.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { electronBinary } from '../../src/main/cli/commands/app.ts';
import { REPO, removeDir, serve, type Served, testEnv, type TestEnv } from '../e2e/helpers.ts';
import { eventually } from '../support/poll.ts';

const VNETLAB = join(REPO, 'bin', 'vnetlab.mjs');
const LAB = join(REPO, 'labs', 'two-hosts');

/** Plain GET without following redirects. */
const get = (url: string, cookie?: string) => fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });

/** What a WebSocket to /rpc gets: 'open' or the HTTP status of the refusal. */
function rpcOutcome(origin: string, headers: Record<string, string>, path = '/rpc'): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${origin.replace('http', 'ws')}${path}`, { headers: { origin, ...headers } });
    ws.on('open', () => {
      ws.close();
      resolve('open');
    });
    ws.on('unexpected-response', (_req, res) => resolve(String(res.statusCode)));
    ws.on('error', (e) => resolve(`error ${e.message}`));
  });
}

describe.skipIf(!!electronBinary())('the link on the browser\'s command line', () => {
  let t: TestEnv;
  let app: ChildProcess | undefined;
  let out = '';
  const browserDir = () => join(t.dir, 'browser');

  beforeAll(() => {
    t = testEnv('applink');
    mkdirSync(browserDir());
    // The stand-in browser: records its pid, loads its --app URL once (as a browser's first page load
    // does), keeps the cookie it got, and stays open like a browser window.
    const script = join(browserDir(), 'chromium');
    writeFileSync(
      script,
      `#!${process.execPath}
const fs = require('node:fs');
const dir = ${JSON.stringify(browserDir())};
fs.writeFileSync(dir + '/pid.partial', String(process.pid));
fs.renameSync(dir + '/pid.partial', dir + '/pid');
const url = process.argv.find((a) => a.startsWith('--app=')).slice(6);
// Written whole, then renamed: the test polls for this file and must never read it half-written.
fetch(url, { redirect: 'manual' }).then((r) => {
  fs.writeFileSync(dir + '/loaded.json.partial', JSON.stringify({ status: r.status, cookie: (r.headers.get('set-cookie') || '').split(';')[0], location: r.headers.get('location') }));
  fs.renameSync(dir + '/loaded.json.partial', dir + '/loaded.json');
});
setInterval(() => {}, 1000);
`,
    );
    chmodSync(script, 0o755);
  });

  afterAll(async () => {
    // Only what this test started: the stand-in browser (by its pid) and `vnetlab app` (its own group).
    const pidFile = join(browserDir(), 'pid');
    if (existsSync(pidFile)) {
      try {
        process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
      } catch {
        // gone already
      }
    }
    if (app && app.exitCode === null) {
      const exited = new Promise((r) => app!.once('exit', r));
      process.kill(-app.pid!, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (app.exitCode === null) process.kill(-app.pid!, 'SIGKILL');
    }
    removeDir(t.dir);
  });

  it('cannot open a second session once the browser has used it', async () => {
    const env = { ...t.env, DISPLAY: ':99', PATH: `${browserDir()}:${process.env.PATH}` };
    app = spawn(process.execPath, [VNETLAB, 'app', '--pool', '0', LAB], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    app.stdout!.on('data', (d) => (out += d));
    app.stderr!.on('data', (d) => (out += d));

    // What any local user reads: the browser's argv, from /proc.
    const pid = await eventually(() => (existsSync(join(browserDir(), 'pid')) ? Number(readFileSync(join(browserDir(), 'pid'), 'utf8')) : 0), (p) => p > 0, 60_000, 100);
    if (!pid) throw new Error(`vnetlab app started no browser in 60 s:\n${out}`);
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const link = argv.find((a) => a.startsWith('--app='))!.slice('--app='.length);
    expect(link).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+&lab=/);
    const origin = new URL(link).origin;

    // The browser's first page load got the session cookie and a clean URL.
    const loaded = await eventually(() => (existsSync(join(browserDir(), 'loaded.json')) ? JSON.parse(readFileSync(join(browserDir(), 'loaded.json'), 'utf8')) : undefined), (v) => !!v, 10_000, 50);
    if (!loaded) throw new Error(`the browser never loaded its link:\n${out}`);
    expect(loaded.status).toBe(303);
    expect(loaded.location).toMatch(/^\/\?lab=/);
    expect(loaded.cookie).toMatch(/^vnetlab_\d+=[0-9a-f]+$/);
    expect(argv.join(' ')).not.toContain(loaded.cookie.split('=')[1]); // the cookie's secret is in no argv

    // Another local user with the link from argv: no page, no session, with or without the link's token.
    const stolen = await get(link);
    expect(stolen.status).toBe(401);
    expect(stolen.headers.get('set-cookie')).toBeNull();
    expect(await stolen.text()).toMatch(/this link was used already/);
    expect((await get(`${origin}/`)).status).toBe(401);
    expect(await rpcOutcome(origin, {})).toBe('401');
    expect(await rpcOutcome(origin, {}, `/rpc?token=${new URL(link).searchParams.get('token')}`)).toBe('401');

    // The browser that used it keeps its session: pages and the WebSocket, and reloading the link.
    expect((await get(`${origin}/app.js`, loaded.cookie)).status).toBe(200);
    expect(await rpcOutcome(origin, { cookie: loaded.cookie })).toBe('open');
    expect((await get(link, loaded.cookie)).status).toBe(303);
    // A fresh link for another browser went to the terminal, not to any command line.
    expect(out).toMatch(/that link is used up; another browser can open: http:\/\/127\.0\.0\.1:\d+\/\?token=/);
  }, 120_000);
});

describe('the link `vnetlab serve` prints', () => {
  let t: TestEnv;
  let server: Served | undefined;
  beforeAll(async () => {
    t = testEnv('servelink');
    server = await serve(t.env, [LAB]);
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
    if (t) removeDir(t.dir);
  });

  it('opens the app once; the fresh link it prints then opens it once more', async () => {
    const first = await server!.freshLink();
    const opened = await get(first);
    expect(opened.status).toBe(303);
    const cookie = opened.headers.get('set-cookie')!.split(';')[0]!;
    expect((await get(first)).status).toBe(401);
    expect((await get(`${server!.origin}/app.js`, cookie)).status).toBe(200);

    const second = await server!.freshLink();
    expect(second).not.toBe(first);
    const other = await get(second);
    expect(other.status).toBe(303);
    expect((await get(second)).status).toBe(401);
    expect(await rpcOutcome(server!.origin, { cookie: other.headers.get('set-cookie')!.split(';')[0]! })).toBe('open');
  });
});
