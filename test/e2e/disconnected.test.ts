// Issue 11, item 2: the server goes away under an open page. The page says so (a banner; Start and Stop
// wait instead of doing nothing), and when `vnetlab serve --port N` is started again it reconnects by
// itself (the session secret of a fixed port is kept): the banner goes, Start works, a console that was open
// comes back with its output and takes typing, and the lab kept running all along. A server started
// with a new token is recognised and the banner says to open its new link.
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostPaths } from '../../src/main/paths.ts';
import { launchBrowser, nodePoint, REPO, serve, testEnv, type Served, type TestEnv, consoleText as consoleTextOf, waitConsole as waitConsoleOf, closeJourney } from './helpers.ts';

const LAB = join(REPO, 'labs', 'two-hosts');
let t: TestEnv;
let port: number;
let server: Served | undefined;
let browser: BrowserContext;
let page: Page;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return p;
}

beforeAll(async () => {
  t = testEnv('disconnected');
  port = await freePort();
  server = await serve(t.env, [LAB, '--port', String(port)]);
  browser = await launchBrowser(t.dir, { width: 1024, height: 700 });
  page = await browser.newPage();
});

afterAll(() => closeJourney({ browser, server, t, lab: LAB }));

/** What the student sees of the connection and of the run controls. */
const view = () =>
  page.evaluate(() => {
    const q = (id: string) => document.querySelector(`[data-testid=${id}]`) as HTMLElement;
    return {
      banner: q('banner').hidden ? '' : q('banner').textContent ?? '',
      start: (q('start') as HTMLButtonElement).disabled ? 'disabled' : 'enabled',
      stop: (q('stop') as HTMLButtonElement).disabled ? 'disabled' : 'enabled',
      status: q('status').textContent ?? '',
      runState: q('run-state').textContent ?? '',
    };
  });
async function until(what: string, ok: (v: Awaited<ReturnType<typeof view>>) => boolean, timeout = 30_000): Promise<void> {
  const deadline = Date.now() + timeout;
  let v = await view();
  while (!ok(v)) {
    if (Date.now() > deadline) throw new Error(`${what}: never seen in ${timeout / 1000} s; the page shows ${JSON.stringify(v)}`);
    await page.waitForTimeout(200);
    v = await view();
  }
}
const consoleText = (machine: string) => consoleTextOf(page, machine);
const waitConsole = (machine: string, pattern: RegExp, timeout = 30_000) => waitConsoleOf(page, machine, pattern, timeout);
const restart = async () => {
  server = await serve(t.env, [LAB, '--port', String(port)]);
};

describe('the server goes away and comes back', () => {
  it('while the lab is stopped: a banner, Start waits; back on the same port: banner gone, Start starts', async () => {
    await page.goto(await server!.freshLink());
    await page.getByTestId('lab-description').locator('h1').waitFor();
    // The lab opened all the way: its "Opened …" line, said late, would cover the disconnection's own.
    await until('Start enabled, no banner, the lab opened', (v) => v.start === 'enabled' && v.banner === '' && /^Opened /.test(v.status));
    await server!.stop();
    await until('the disconnected banner', (v) => /Disconnected from the vnetlab server/.test(v.banner));
    const down = await view();
    expect(down.start).toBe('disabled'); // not a button that silently does nothing
    expect(down.status).toMatch(/Disconnected .*wait until it is back/);
    await page.waitForTimeout(1500); // a few failed reconnection attempts: still the same banner
    expect((await view()).banner).toMatch(/reconnecting/);

    await restart();
    await until('reconnected: banner gone, Start enabled', (v) => v.banner === '' && v.start === 'enabled' && /Reconnected/.test(v.status), 20_000);
    await page.getByTestId('start').click();
    await until('2/2 ready', (v) => /^2\/2 ready/.test(v.runState), 180_000);
  });

  it('while the lab runs with a console open: the lab keeps running, the console comes back and takes typing', async () => {
    const p = await nodePoint(page, 'machine:pc1');
    await page.mouse.dblclick(p.x, p.y);
    await page.getByTestId('console-pc1').waitFor();
    await page.getByTestId('console-pc1').click();
    await page.keyboard.press('Enter');
    await page.keyboard.type('echo before-$((40+2))\n');
    await waitConsole('pc1', /before-42/);

    await server!.stop();
    await until('the disconnected banner', (v) => /Disconnected/.test(v.banner));
    expect((await view()).stop).toBe('disabled');
    await waitConsole('pc1', /connection to the vnetlab server lost/);

    await restart();
    await until('reconnected', (v) => v.banner === '' && /^2\/2 ready/.test(v.runState) && v.stop === 'enabled', 20_000);
    await waitConsole('pc1', /before-42/); // output replayed: the guest kept running meanwhile
    await page.getByTestId('console-pc1').click();
    await page.keyboard.type('echo after-$((40+2)) $(cat /proc/uptime)\n');
    await waitConsole('pc1', /after-42 \d+/);
  });

  it('a server started with a new token: the banner says to open its new link, which works', async () => {
    await server!.stop();
    await until('the disconnected banner', (v) => /Disconnected/.test(v.banner));
    // Forget the kept secret: the next server on this port makes a new one the page's cookie does not hold.
    rmSync(join(hostPaths(t.env).stateRoot, 'serve', `port-${port}.key`));
    await restart();
    await until('the banner about the new link', (v) => /does not accept this page.*open the link it printed/.test(v.banner), 20_000);
    expect((await view()).start).toBe('disabled');
    await page.goto(await server!.freshLink());
    await until('the lab still running, no banner', (v) => v.banner === '' && /^2\/2 ready/.test(v.runState) && v.stop === 'enabled', 20_000);
    await page.getByTestId('stop').click();
    await until('stopped', (v) => v.runState === 'stopped', 60_000);
  });

  it('the server goes away while a lab opens: the status line keeps saying so, not "Opened …"', async () => {
    // The open's subscription is held, and the server stopped then: the open's last steps fail (quietly, the
    // banner says why) after the page knows it is disconnected, and it used to end saying "Opened …".
    let holdSubscription = true;
    let stopping: Promise<void> | undefined;
    await page.routeWebSocket(/\/rpc$/, (ws) => {
      const toServer = ws.connectToServer();
      ws.onMessage((message) => {
        if (holdSubscription && typeof message === 'string' && (JSON.parse(message) as { method?: string }).method === 'subscribe') {
          holdSubscription = false;
          stopping = server!.stop();
          return;
        }
        toServer.send(message);
      });
    });
    await page.reload();
    await until('the disconnected banner', (v) => /Disconnected from the vnetlab server/.test(v.banner));
    await stopping;
    // The open has nothing left to wait for (each call fails at once while disconnected): what it would say, it has said.
    await page.waitForTimeout(2_000);
    const down = await view();
    expect(down.status).toMatch(/Disconnected .*wait until it is back/);
    expect(down.status).not.toMatch(/^Opened /);
    await restart();
    await until('reconnected', (v) => v.banner === '' && /Reconnected/.test(v.status), 20_000);
  });
});
