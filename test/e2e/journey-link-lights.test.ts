// Link lights (issue 23, section 2): each cable's machine end shows the NIC's state inside the guest —
// green up, red down, amber no carrier — within a second of it changing, from events the guests send
// (one watcher per guest asleep on netlink link events, runtime/link-watch.ts), not from the host polling them.
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeJourney, nodePoint, openJourney, SCREENSHOTS, waitConsole, type Served, type TestEnv } from './helpers.ts';

let t: TestEnv;
let server: Served;
let browser: BrowserContext;
let page: Page;
let lab: string;

beforeAll(async () => {
  ({ t, server, browser, page, lab } = await openJourney('lights', 'two-hosts'));
});

afterAll(() => closeJourney({ browser, server, t, lab }));

/** The light at pc1's end of its cable: its state and the colour drawn. */
const light = () =>
  page.evaluate(() => {
    const e = (window as any).__vnetlab.cy.getElementById('iface:pc1/eth0');
    return { state: e.data('sourceLight') as string | undefined, shape: e.style('source-arrow-shape') as string, colour: e.style('source-arrow-color') as string };
  });

/** Milliseconds until pc1's light shows `state`. */
async function msUntil(state: string, since: number): Promise<number> {
  await page.waitForFunction((s) => (window as any).__vnetlab.cy.getElementById('iface:pc1/eth0').data('sourceLight') === s, state, { timeout: 10_000, polling: 20 });
  return Date.now() - since;
}

describe('link lights on two-hosts', () => {
  it('starts: both cable ends are green', async () => {
    await page.goto(await server.freshLink());
    await page.goto(`${server.origin}/?lab=${encodeURIComponent(lab)}`);
    await page.waitForFunction((f) => (window as any).__vnetlab?.state.folder === f, lab);
    await page.getByTestId('start').click();
    await page.getByTestId('run-state').filter({ hasText: /^2\/2 ready/ }).waitFor({ timeout: 120_000 });
    await page.waitForFunction(() => ['pc1', 'pc2'].every((m) => (window as any).__vnetlab.cy.getElementById(`iface:${m}/eth0`).data('sourceLight') === 'up'), undefined, { timeout: 10_000 });
    expect(await light()).toEqual({ state: 'up', shape: 'circle', colour: 'rgb(47,158,68)' });
  }, 180_000);

  it('`ip link set eth0 down` in pc1 turns its end red within a second; up turns it green again', async () => {
    const p = await nodePoint(page, 'machine:pc1');
    await page.mouse.dblclick(p.x, p.y);
    await page.getByTestId('console-pc1').waitFor();
    await page.getByTestId('console-pc1').click();
    await page.keyboard.type('ip link set eth0 down; echo down-$((1+1))');
    let since = Date.now();
    await page.keyboard.press('Enter');
    expect(await msUntil('down', since)).toBeLessThan(1000);
    await waitConsole(page, 'pc1', /down-2/);
    expect((await light()).colour).toBe('rgb(214,69,69)');
    await page.screenshot({ path: join(SCREENSHOTS, 'link-lights.png') });
    await page.keyboard.type('ip link set eth0 up');
    since = Date.now();
    await page.keyboard.press('Enter');
    expect(await msUntil('up', since)).toBeLessThan(1000);
  });

  it('a pulled cable shows no carrier (amber) at the machine end, and green when plugged back', async () => {
    const mid = await page.evaluate(() => {
      const e = (window as any).__vnetlab.cy.getElementById('iface:pc1/eth0');
      const q = e.renderedMidpoint();
      const rect = document.getElementById('canvas')!.getBoundingClientRect();
      return { x: rect.left + q.x, y: rect.top + q.y };
    });
    await page.mouse.click(mid.x, mid.y, { button: 'right' });
    await page.getByTestId('context-menu').getByText('Unplug cable').click();
    await msUntil('no-carrier', Date.now());
    expect((await light()).colour).toBe('rgb(240,180,41)');
    await page.mouse.click(mid.x, mid.y, { button: 'right' });
    await page.getByTestId('context-menu').getByText('Plug cable in').click();
    await msUntil('up', Date.now());
  });
});
