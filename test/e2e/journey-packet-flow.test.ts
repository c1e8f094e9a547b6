// Watch packets move (issue 23, section 2): while a capture runs, the frames it lists travel as dots
// along the cables they cross, coloured by protocol; Pause holds them, Step moves them one cable on, a
// click on a dot opens its frame in the packet view; a flood is sampled and the bar says "1 in N", and
// the packet list keeps only the rows in view in the page.
// Real guests (two-hosts, tiny image), real capture, tshark's dissection.
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeJourney, nodePoint, openJourney, SCREENSHOTS, waitConsole, type Served, type TestEnv } from './helpers.ts';

let t: TestEnv;
let server: Served;
let browser: BrowserContext;
let page: Page;
let lab: string;

interface Flow {
  dots: { number: number; x: number; y: number; colour: string }[];
  every: number;
  paused: boolean;
  queued: number;
  drawn: number;
}
const flow = (): Promise<Flow> => page.evaluate(() => (window as any).__vnetlab.packetFlow());

beforeAll(async () => {
  ({ t, server, browser, page, lab } = await openJourney('flow', 'two-hosts'));
});

afterAll(() => closeJourney({ browser, server, t, lab }));

/** Distance (px) from point p to the segment a–b. */
function toSegment(p: { x: number; y: number }, a: { x: number; y: number }, b: { x: number; y: number }): number {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const f = Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(p.x - (a.x + f * dx), p.y - (a.y + f * dy));
}

describe('packets moving on two-hosts', () => {
  it('starts the lab and captures on the switch: the flow bar appears', async () => {
    await page.goto(await server.freshLink());
    await page.goto(`${server.origin}/?lab=${encodeURIComponent(lab)}`);
    await page.waitForFunction((f) => (window as any).__vnetlab?.state.folder === f, lab);
    await page.getByTestId('start').click();
    await page.getByTestId('run-state').filter({ hasText: /^2\/2 ready/ }).waitFor({ timeout: 120_000 });
    const sw = await nodePoint(page, 'domain:lan');
    await page.mouse.click(sw.x, sw.y, { button: 'right' });
    await page.getByTestId('context-menu').locator('[data-action="capture-packets-on-lan"]').click();
    await page.getByTestId('packet-list').waitFor();
    await page.getByTestId('flow-bar').waitFor();
    expect(await page.getByTestId('flow-rate').textContent()).toMatch(/waiting for frames/);
  }, 180_000);

  it('a ping is dots on the cables between pc1 and pc2, coloured by protocol, that move', async () => {
    const p = await nodePoint(page, 'machine:pc1');
    await page.mouse.dblclick(p.x, p.y);
    await page.getByTestId('console-pc1').waitFor();
    await page.getByTestId('console-pc1').click();
    await page.keyboard.type('ip neigh flush all; ping -c 30 -i 0.5 10.0.0.2\n');
    await page.waitForFunction(() => (window as any).__vnetlab.packetFlow().dots.length > 0, undefined, { timeout: 20_000, polling: 20 });
    const [pc1, sw, pc2] = [await nodePoint(page, 'machine:pc1'), await nodePoint(page, 'domain:lan'), await nodePoint(page, 'machine:pc2')];
    const first = await flow();
    for (const d of first.dots) expect(Math.min(toSegment(d, pc1, sw), toSegment(d, sw, pc2))).toBeLessThan(3);
    // ICMP orange or ARP yellow: the legend's colours.
    await page.waitForFunction(() => (window as any).__vnetlab.packetFlow().dots.some((d: { colour: string }) => d.colour === '#e8590c'), undefined, { timeout: 10_000, polling: 20 });
    await page.screenshot({ path: join(SCREENSHOTS, 'packet-flow.png') });
    const a = (await flow()).dots[0]!;
    await page.waitForTimeout(120);
    const b = (await flow()).dots.find((d) => d.number === a.number);
    if (b) expect(Math.hypot(b.x - a.x, b.y - a.y)).toBeGreaterThan(2);
    expect(await page.getByTestId('flow-rate').textContent()).toBe('showing every frame');
  });

  it('Pause holds the dots; Step moves them one cable on; a click on a dot opens its frame', async () => {
    await page.waitForFunction(() => (window as any).__vnetlab.packetFlow().dots.length > 0, undefined, { timeout: 10_000, polling: 20 });
    await page.getByTestId('flow-pause').click();
    expect(await page.getByTestId('flow-pause').textContent()).toBe('Resume');
    const held = await flow();
    expect(held.paused).toBe(true);
    await page.waitForTimeout(400);
    const still = await flow();
    expect(still.dots).toEqual(held.dots);
    // Frames that arrive while paused wait their turn (the ping goes on: two frames a second).
    await page.waitForFunction(() => (window as any).__vnetlab.packetFlow().queued > 0, undefined, { timeout: 10_000, polling: 50 });
    expect(await page.getByTestId('flow-rate').textContent()).toMatch(/paused, \d+ waiting/);
    if (!held.dots.length) await page.getByTestId('flow-step').click(); // the last one arrived as we paused
    const before = await flow();
    expect(before.dots.length).toBeGreaterThan(0);
    await page.waitForFunction(() => (window as any).__vnetlab.packetFlow().queued > 0, undefined, { timeout: 10_000, polling: 50 });
    await page.getByTestId('flow-step').click();
    const after = await flow();
    // Every dot went one cable on (half the way pc1→pc2) or arrived and the next frame came in.
    const moved = after.dots.filter((d) => before.dots.some((o) => o.number === d.number && Math.hypot(d.x - o.x, d.y - o.y) > 50));
    const fresh = after.dots.filter((d) => !before.dots.some((o) => o.number === d.number));
    expect(moved.length + fresh.length).toBeGreaterThan(0);
    const dot = after.dots[0] ?? (await (async () => (await page.getByTestId('flow-step').click(), (await flow()).dots[0]!))());
    await page.mouse.click(dot.x, dot.y);
    await page.locator(`#packet-rows tr.selected[data-number="${dot.number}"]`).waitFor({ timeout: 10_000 });
    await page.getByTestId('packet-tree').waitFor();
    expect(await page.getByTestId('packet-tree').textContent()).toMatch(/Internet Control Message Protocol|Address Resolution Protocol/);
    await page.getByTestId('flow-pause').click();
    expect((await flow()).paused).toBe(false);
  });

  it('a flood is sampled: the bar says "showing 1 in N frames", and dots stay few', async () => {
    await page.getByTestId('console-pc1').click();
    await page.keyboard.press('Control+C');
    await waitConsole(page, 'pc1', /packet loss/);
    await page.keyboard.type('ping -q -i 0.002 -c 2500 10.0.0.2; echo flood-$((1+1))\n');
    await page.getByTestId('flow-rate').filter({ hasText: /showing 1 in (\d+) frames/ }).waitFor({ timeout: 15_000 });
    // The rate the flood reaches: hundreds of frames a second, 1 in 10 or fewer shown.
    await page.waitForFunction(() => (window as any).__vnetlab.packetFlow().every >= 10, undefined, { timeout: 15_000, polling: 100 });
    const sampled = await flow();
    expect(sampled.dots.length).toBeLessThanOrEqual(48);
    // The list draws the rows in view only: its DOM stays small however many frames it holds.
    await page.waitForFunction(() => (window as any).__vnetlab.packetFlow().frames > 1000, undefined, { timeout: 20_000 });
    expect(await page.locator('#packet-rows tr').count()).toBeLessThan(100);
    await page.screenshot({ path: join(SCREENSHOTS, 'packet-flow-sampled.png') });
    await waitConsole(page, 'pc1', /flood-2/, 30_000);
    await page.getByTestId('packet-close').click();
    await page.getByTestId('flow-bar').waitFor({ state: 'hidden' });
    expect((await flow()).dots).toEqual([]);
  });
});
