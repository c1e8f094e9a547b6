// Issue 11, a student's day on two-hosts at 1024×700 with real guests: the instructions stay in view
// while consoles open, consoles come back by themselves after Stop → Start and after a reload, a stop
// from another window is said, per-machine memory shows, and the page says when the server is gone
// and recovers when it is back.
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, nodePoint, removeDir, REPO, serve, stopLab, testEnv, type Served, type TestEnv } from './helpers.ts';

const LAB = join(REPO, 'labs', 'two-hosts');
let t: TestEnv;
let server: Served;
let browser: BrowserContext;
let page: Page;

beforeAll(async () => {
  t = testEnv('journey-student');
  server = await serve(t.env, [LAB]);
  browser = await launchBrowser(t.dir, { width: 1024, height: 700 });
  page = await browser.newPage();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (t) {
    stopLab(LAB, t.env);
    removeDir(t.dir);
  }
});

const consoleText = (machine: string) => page.evaluate((m) => (window as any).__vnetlab.consoleText(m) as string, machine);
async function waitConsole(machine: string, pattern: RegExp, timeout = 60_000): Promise<void> {
  const deadline = Date.now() + timeout;
  let text = '';
  while (Date.now() < deadline) {
    text = await consoleText(machine);
    if (pattern.test(text)) return;
    await page.waitForTimeout(200);
  }
  throw new Error(`the ${machine} console never showed ${pattern}; it shows:\n${text.trim().split('\n').slice(-10).join('\n')}`);
}
const allReady = () => page.waitForFunction(() => (window as any).__vnetlab.state.running && ['pc1', 'pc2'].every((m) => (window as any).__vnetlab.state.machineStates.get(m) === 'ready'), undefined, { timeout: 180_000 });

describe('a student on two-hosts at 1024×700', () => {
  it('starts the lab; a double-click opens the console and the instructions stay', async () => {
    await page.goto(server.url);
    await page.getByTestId('lab-description').locator('h1').waitFor();
    await page.getByTestId('start').click();
    await allReady();
    const p = await nodePoint(page, 'machine:pc1');
    await page.mouse.dblclick(p.x, p.y);
    await page.getByTestId('console-pc1').waitFor();
    await page.waitForTimeout(600); // longer than the single-click delay
    expect(await page.getByTestId('lab-panel').isVisible()).toBe(true);
    await page.getByTestId('console-pc1').click();
    await page.keyboard.type('echo one-$((40+2))\n');
    await waitConsole('pc1', /one-42/);
    // A single click shows the machine's properties, with its memory on the host (the console
    // panel made the canvas smaller: the node moved).
    const q = await nodePoint(page, 'machine:pc1');
    await page.mouse.click(q.x, q.y);
    await page.getByTestId('properties').waitFor({ state: 'visible' });
    await page.getByTestId('prop-runtime').filter({ hasText: /ready · memory \d+ MB on the host/ }).waitFor({ timeout: 15_000 });
  });

  it('after Stop → Start the console tab reconnects by itself and takes typing', async () => {
    await page.getByTestId('stop').click();
    await page.waitForFunction(() => (window as any).__vnetlab.state.running === false, undefined, { timeout: 60_000 });
    await waitConsole('pc1', /console closed/);
    await page.getByTestId('start').click();
    await allReady();
    await waitConsole('pc1', /console reconnected/);
    await page.getByTestId('console-pc1').click();
    await page.keyboard.press('Enter');
    await page.keyboard.type('echo two-$((40+2))\n');
    await waitConsole('pc1', /two-42/);
  });

  it('a reload reopens the console tab; a stop from another window is said in this one', async () => {
    await page.reload();
    await page.getByTestId('console-pc1').waitFor({ timeout: 30_000 });
    await waitConsole('pc1', /two-42/);
    const other = await browser.newPage();
    await other.goto(server.url);
    await other.waitForFunction(() => (window as any).__vnetlab?.state.running === true, undefined, { timeout: 30_000 });
    await other.getByTestId('stop').click();
    await page.getByTestId('status').filter({ hasText: 'The lab was stopped (from another window or the command line)' }).waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('run-state').textContent()).toBe('stopped');
    await other.close();
  });
});
