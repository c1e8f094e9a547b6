// The running app, end to end: real UML guests and switches started from the browser through
// `vnetlab serve`; console in xterm.js with a ping read back from the terminal buffer; reload keeps the
// console's output; a flood does not freeze the page; "check my work" grades the running lab.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, nodePoint, REPO, SCREENSHOTS, serve, testEnv, type Served, type TestEnv, consoleText as consoleTextOf, waitConsole as waitConsoleOf, closeJourney } from './helpers.ts';

const LAB = join(REPO, 'labs', 'two-hosts');
let t: TestEnv;
let server: Served;
let browser: BrowserContext;
let page: Page;

beforeAll(async () => {
  t = testEnv('running');
  server = await serve(t.env, [LAB]);
  browser = await launchBrowser(t.dir);
  page = await browser.newPage();
  mkdirSync(SCREENSHOTS, { recursive: true });
});

afterAll(() => closeJourney({ browser, server, t, lab: LAB }));

const consoleText = (machine: string) => consoleTextOf(page, machine);
const waitConsole = (machine: string, pattern: RegExp, timeout = 30_000) => waitConsoleOf(page, machine, pattern, timeout);

/** Page position of the middle of a cable on the canvas. */
async function edgeMidpoint(id: string): Promise<{ x: number; y: number }> {
  return page.evaluate((edgeId) => {
    const e = (window as any).__vnetlab.cy.getElementById(edgeId);
    if (e.empty()) throw new Error(`no edge ${edgeId}`);
    const p = e.renderedMidpoint();
    const rect = document.getElementById('canvas')!.getBoundingClientRect();
    return { x: rect.left + p.x, y: rect.top + p.y };
  }, id);
}

async function machineState(machine: string): Promise<string | undefined> {
  return page.evaluate((m) => (window as any).__vnetlab.state.machineStates.get(m), machine);
}

describe('running a lab from the app', () => {
  it('starts the lab and shows both machines ready on the canvas', async () => {
    await page.goto(await server.freshLink());
    await page.waitForFunction(() => (window as any).__vnetlab?.cy.nodes().length === 3);
    await page.getByTestId('start').click();
    await page.waitForFunction(() => {
      const app = (window as any).__vnetlab;
      return ['pc1', 'pc2'].every((m) => app.cy.getElementById(`machine:${m}`).hasClass('state-ready'));
    }, undefined, { timeout: 180_000 });
    expect(await page.getByTestId('run-state').textContent()).toMatch(/^2\/2 ready/);
    await page.screenshot({ path: join(SCREENSHOTS, 'running-two-hosts.png') });
  });

  it("opens pc1's console by double-click and pings pc2 from it", async () => {
    const p = await nodePoint(page, 'machine:pc1');
    await page.mouse.dblclick(p.x, p.y);
    await page.getByTestId('console-pc1').waitFor();
    await page.getByTestId('console-pc1').click();
    await page.keyboard.press('Enter');
    await waitConsole('pc1', /[#$] *$/m);
    await page.keyboard.type('ping -c 2 10.0.0.2\n');
    const text = await waitConsole('pc1', /bytes from 10\.0\.0\.2/);
    expect(text).toMatch(/ping -c 2 10\.0\.0\.2/);
    await waitConsole('pc1', /2 packets received|2 received/);
    await page.screenshot({ path: join(SCREENSHOTS, 'console-ping.png') });
  });

  it('keeps the page responsive during an output flood and shows all of it', async () => {
    // ~190 kB: well past the 100 kB flow-control watermark, small enough for a loaded 2-core machine.
    await page.keyboard.type('seq 1 33333\n');
    // While the guest floods the console, the page still handles a click on another panel.
    await page.getByTestId('side-problems').click();
    await page.getByTestId('problems').waitFor({ state: 'visible', timeout: 5000 });
    await waitConsole('pc1', /^33333$/m, 100_000);
  });

  it('shows the earlier console output again after a reload, with the lab still running', async () => {
    await page.reload();
    await page.waitForFunction(() => (window as any).__vnetlab?.state.running === true, undefined, { timeout: 30_000 });
    await page.getByTestId('console-pc1').waitFor();
    await waitConsole('pc1', /^33333$/m);
    expect(await machineState('pc1')).toBe('ready');
    // The terminal keeps working after re-attaching.
    await page.getByTestId('console-pc1').click();
    await page.keyboard.type('echo reattached-$((6*7))\n');
    await waitConsole('pc1', /reattached-42/);
  });

  it('shows two consoles side by side, and finds text in the scrollback', async () => {
    const p = await nodePoint(page, 'machine:pc2');
    await page.mouse.click(p.x, p.y, { button: 'right' });
    await page.getByTestId('context-menu').locator('[data-action="open-console"]').click();
    await page.getByTestId('console-pc2').waitFor();
    await page.getByTestId('console-split').click();
    await page.getByTestId('console-pc1').waitFor({ state: 'visible' });
    await page.getByTestId('console-pc2').waitFor({ state: 'visible' });
    const [a, b] = [(await page.getByTestId('console-pc1').boundingBox())!, (await page.getByTestId('console-pc2').boundingBox())!];
    expect(a.x + a.width <= b.x + 1 || b.x + b.width <= a.x + 1).toBe(true);
    await page.getByTestId('console-pc2').click();
    await page.keyboard.press('Enter');
    await waitConsole('pc2', /pc2:.*[#$] *$/m);
    await page.screenshot({ path: join(SCREENSHOTS, 'consoles-split.png') });
    // Search highlights a match in the active console's scrollback.
    await page.getByTestId('console-tab-pc1').click();
    await page.getByTestId('console-search').fill('reattached-42');
    await page.getByTestId('console-search').press('Enter');
    await page.waitForFunction(() => (window as any).__vnetlab.consoleSelection('pc1') === 'reattached-42', undefined, { timeout: 10_000 });
  });

  it('restarts a machine from its context menu', async () => {
    const p = await nodePoint(page, 'machine:pc2');
    await page.mouse.click(p.x, p.y, { button: 'right' });
    await page.getByTestId('context-menu').locator('[data-action="restart"]').click();
    await page.waitForFunction(() => (window as any).__vnetlab.state.machineStates.get('pc2') !== 'ready', undefined, { timeout: 30_000 });
    await page.waitForFunction(() => (window as any).__vnetlab.state.machineStates.get('pc2') === 'ready', undefined, { timeout: 120_000 });
  });

  it('"check my work" runs the visible checks and lists the results', async () => {
    await page.getByTestId('side-lab').click();
    await page.getByTestId('check-my-work').click();
    await page.getByTestId('check-results').locator('.score').waitFor({ timeout: 120_000 });
    const score = await page.getByTestId('check-results').locator('.score').textContent();
    expect(score).toBe('Score: 3 / 3');
    expect(await page.getByTestId('check-results').locator('li.pass').count()).toBe(3);
    await page.screenshot({ path: join(SCREENSHOTS, 'check-my-work.png') });
  });

  it('unplugs a cable from its context menu: the canvas shows it and the ping stops; plugged back, it works', async () => {
    const mid = await edgeMidpoint('iface:pc1/eth0');
    await page.mouse.click(mid.x, mid.y, { button: 'right' });
    await page.getByTestId('context-menu').locator('[data-action="unplug-cable"]').click();
    await page.waitForFunction(() => (window as any).__vnetlab.cy.getElementById('iface:pc1/eth0').hasClass('cable-unplugged'), undefined, { timeout: 10_000 });
    await page.getByTestId('console-tab-pc1').click();
    await page.getByTestId('console-pc1').click();
    await page.keyboard.type('clear; ping -c 2 -W 1 10.0.0.2\n');
    await waitConsole('pc1', /100% packet loss/);
    await page.screenshot({ path: join(SCREENSHOTS, 'cable-unplugged.png') });
    const again = await edgeMidpoint('iface:pc1/eth0');
    await page.mouse.click(again.x, again.y, { button: 'right' });
    await page.getByTestId('context-menu').locator('[data-action="plug-cable-in"]').click();
    await page.waitForFunction(() => !(window as any).__vnetlab.cy.getElementById('iface:pc1/eth0').hasClass('cable-unplugged'), undefined, { timeout: 10_000 });
    await page.getByTestId('console-pc1').click();
    await page.keyboard.type('clear; ping -c 1 -W 2 10.0.0.2\n');
    await waitConsole('pc1', /1 packets received/);
  });

  it('captures on a cable: the packet view lists ARP and shows its fields from the dissector', async () => {
    const mid = await edgeMidpoint('iface:pc1/eth0');
    await page.mouse.click(mid.x, mid.y, { button: 'right' });
    await page.getByTestId('context-menu').locator('[data-action="capture-packets"]').click();
    await page.getByTestId('packet-list').waitFor();
    // A fresh ARP exchange: forget pc2's address, then ping it.
    await page.getByTestId('console-pc1').click();
    await page.keyboard.type('ip neigh flush all; ping -c 1 -W 2 10.0.0.2\n');
    const arp = page.getByTestId('packet-list').locator('tbody tr.proto-arp').first();
    await arp.waitFor({ timeout: 30_000 });
    await arp.click();
    const tree = page.getByTestId('packet-tree');
    await tree.waitFor();
    const text = await tree.textContent();
    expect(text).toMatch(/Address Resolution Protocol \((request|reply)\)/);
    expect(text).toMatch(/Sender IP address: 10\.0\.0\.[12]/);
    expect(await page.getByTestId('packet-hex').textContent()).toMatch(/^0000 {2}/);
    // A display filter narrows the list to what it names.
    await page.getByTestId('packet-filter').fill('icmp');
    await page.getByTestId('packet-filter').press('Enter');
    await page.waitForFunction(() => {
      const rows = Array.from(document.querySelectorAll('[data-testid="packet-list"] tbody tr'));
      return rows.length > 0 && rows.every((r) => r.className.includes('proto-icmp'));
    }, undefined, { timeout: 20_000 });
    await page.screenshot({ path: join(SCREENSHOTS, 'packet-view.png') });
    await page.getByTestId('packet-close').click();
  });

  it('stops the lab', async () => {
    await page.getByTestId('stop').click();
    await page.waitForFunction(() => (window as any).__vnetlab.state.running === false, undefined, { timeout: 60_000 });
    expect(await page.getByTestId('run-state').textContent()).toBe('stopped');
  });
});
