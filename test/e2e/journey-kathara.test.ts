// Issue 11, a student with a Kathará lab folder (test/fixtures/kathara-static-routing, unchanged: lab.conf
// and four .startup files), at 1024×700 with real guests: Open… finds the folder, the canvas shows its
// machines and collision domains, Start makes the four machines ready, pc1's console (double-click)
// shows the address its pc1.startup gave it and reaches r1 on their LAN, and Stop stops it all.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyWritable } from '../support/host.ts';
import { fixtureLab } from '../support/fixtures.ts';
import { debianForTests } from '../support/debian.ts';
import { graphIds, launchBrowser, layoutProblems, nodePoint, SCREENSHOTS, serve, testEnv, type Served, type TestEnv, consoleText as consoleTextOf, waitConsole as waitConsoleOf, closeJourney, dialogClosed } from './helpers.ts';

let t: TestEnv;
let lab: string;
let server: Served;
let browser: BrowserContext;
let page: Page;
/** While set, the server's reply to attachConsole is held back until the test releases it. */
let holdAttach = false;
const held: (() => void)[] = [];

beforeAll(async () => {
  t = testEnv('journey-kathara');
  // kathara/base maps to the debian image; without it the lab's startup files (ip only) run on tiny.
  if (!debianForTests().run) t.env.VNETLAB_IMAGE_OVERRIDE = 'tiny';
  const course = join(t.dir, 'course');
  lab = join(course, 'static-routing');
  copyWritable(fixtureLab('kathara-static-routing'), lab);
  server = await serve(t.env, ['--allow', course]);
  browser = await launchBrowser(t.dir, { width: 1024, height: 700 });
  page = await browser.newPage();
  // The page's WebSocket to the server, passed through; while holdAttach is set, the reply to
  // attachConsole waits for the test (as on a loaded machine, or with a big replay): typing lands mid-attach.
  await page.routeWebSocket(/\/rpc$/, (ws) => {
    const server = ws.connectToServer();
    const attachIds = new Set<number>();
    ws.onMessage((m) => {
      const frame = JSON.parse(String(m));
      if (frame.method === 'attachConsole') attachIds.add(frame.id);
      server.send(m);
    });
    server.onMessage((m) => {
      const frame = JSON.parse(String(m));
      if (holdAttach && attachIds.delete(frame.id)) held.push(() => ws.send(m));
      else ws.send(m);
    });
  });
  mkdirSync(SCREENSHOTS, { recursive: true });
});

afterAll(() => closeJourney({ browser, server, t, lab: lab }));

const consoleText = (machine: string) => consoleTextOf(page, machine);
const waitConsole = (machine: string, pattern: RegExp, timeout = 30_000) => waitConsoleOf(page, machine, pattern, timeout);

describe('a student opens a Kathará folder at 1024×700 (and 1440×900 once it runs)', () => {
  it('Open… takes the folder: its machines and collision domains on the canvas, its description in the Lab panel', async () => {
    await page.goto(await server.freshLink());
    await page.getByTestId('lab-description').locator('h1').waitFor(); // the default lab first
    await page.getByRole('button', { name: 'Open…' }).click();
    await page.getByTestId('dialog-path').fill(lab);
    await page.getByTestId('dialog-ok').click();
    await dialogClosed(page);
    await page.waitForFunction((f) => (window as any).__vnetlab.state.folder === f, lab);
    const graph = await graphIds(page);
    expect(graph.nodes).toEqual(['machine:pc1', 'machine:pc2', 'machine:r1', 'machine:r2']);
    // lab.conf's collision domains A, B, C join two machines each: drawn as cables between them.
    expect(graph.edges).toEqual(['domain:A', 'domain:B', 'domain:C']);
    await page.getByTestId('lab-description').filter({ hasText: 'add the static routes' }).waitFor();
    expect(await page.getByTestId('run-state').textContent()).toBe('stopped');
    expect(await layoutProblems(page)).toEqual([]);
  });

  it('Start makes the four machines ready on the canvas', async () => {
    await page.getByTestId('start').click();
    await page.getByTestId('run-state').filter({ hasText: /^4\/4 ready/ }).waitFor({ timeout: 180_000 });
    const ready = await page.evaluate(() => ['pc1', 'pc2', 'r1', 'r2'].map((m) => (window as any).__vnetlab.cy.getElementById(`machine:${m}`).hasClass('state-ready')));
    expect(ready).toEqual([true, true, true, true]);
  });

  it("pc1's console shows the address pc1.startup gave it, and pc1 reaches r1 on their LAN", async () => {
    const p = await nodePoint(page, 'machine:pc1');
    holdAttach = true;
    await page.mouse.dblclick(p.x, p.y);
    await page.getByTestId('console-pc1').waitFor();
    // Typed at once after the double-click, without clicking into the console, while it is still
    // attaching: it has the focus, and sends what was typed once attached.
    await page.keyboard.type('\nip -4 addr show dev eth0; echo done-$((40+2))\n');
    await expect.poll(() => held.length).toBe(1);
    holdAttach = false;
    held.pop()!();
    const text = await waitConsole('pc1', /^done-42\s*$/m);
    expect(text).toMatch(/inet 10\.1\.0\.10\/24 /); // pc1.startup: ip address add 10.1.0.10/24 dev eth0
    await page.getByTestId('console-pc1').click();
    await page.keyboard.type('ping -c 1 -W 2 10.1.0.1 >/dev/null && echo reached-$((40+2))\n');
    await waitConsole('pc1', /^reached-42\s*$/m);
    expect(await layoutProblems(page)).toEqual([]);
    await page.screenshot({ path: join(SCREENSHOTS, 'journey-kathara-1024.png') });
    // The same view in a 1440×900 window: it fits too, and the console is still there.
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.waitForTimeout(500);
    expect(await layoutProblems(page)).toEqual([]);
    expect(await page.getByTestId('console-pc1').isVisible()).toBe(true);
    await page.setViewportSize({ width: 1024, height: 700 });
    await page.waitForTimeout(500);
  });

  it('Stop stops every machine; the console tab says so', async () => {
    await page.getByTestId('stop').click();
    await page.getByTestId('run-state').filter({ hasText: /^stopped$/ }).waitFor({ timeout: 60_000 });
    await waitConsole('pc1', /console closed/);
    const states = await page.evaluate(() => [...(window as any).__vnetlab.state.machineStates.values()]);
    expect(states.every((s: string) => s === 'stopped')).toBe(true);
  });
});
