// Issue 23, several consoles of one machine, in Chromium with real guests: "New console" in pc1's menu
// opens a second shell of pc1 in a tab of its own (`pc1 (2)`); what is typed in each stays in it; both
// tabs come back after a reload with what they showed; and a Kathará folder with `pc1[num_terms]=2`
// opens both of pc1's consoles at Start.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleText, launchBrowser, nodePoint, removeDir, SCREENSHOTS, serve, stopLab, testEnv, waitConsole, type Served, type TestEnv } from './helpers.ts';

let t: TestEnv;
let server: Served;
let browser: BrowserContext;
let page: Page;
let lab: string;
let kathara: string;

const LAB_YAML = `lab:
  name: two-shells
machines:
  pc1:
    image: tiny
    memory: 64
    interfaces: [{domain: lan, ipv4: 10.0.0.1/24}]
  pc2:
    image: tiny
    memory: 64
    interfaces: [{domain: lan, ipv4: 10.0.0.2/24}]
domains:
  lan: {kind: switch}
layout:
  pc1: {x: 120, y: 200}
  lan: {x: 300, y: 200}
  pc2: {x: 480, y: 200}
`;

beforeAll(async () => {
  t = testEnv('journey-consoles');
  t.env.VNETLAB_IMAGE_OVERRIDE = 'tiny'; // the Kathará folder's kathara/base would be the debian image
  const course = join(t.dir, 'course');
  lab = join(course, 'two-shells');
  mkdirSync(lab, { recursive: true });
  writeFileSync(join(lab, 'lab.yaml'), LAB_YAML);
  kathara = join(course, 'kathara-terms');
  mkdirSync(kathara, { recursive: true });
  writeFileSync(join(kathara, 'lab.conf'), 'pc1[0]="A"\npc1[num_terms]=2\npc2[0]="A"\n');
  server = await serve(t.env, ['--allow', course]);
  browser = await launchBrowser(t.dir, { width: 1440, height: 900 });
  page = await browser.newPage();
  mkdirSync(SCREENSHOTS, { recursive: true });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (t) {
    stopLab(lab, t.env);
    stopLab(kathara, t.env);
    removeDir(t.dir);
  }
});

async function openLab(folder: string): Promise<void> {
  await page.goto(`${server.origin}/?lab=${encodeURIComponent(folder)}`);
  await page.waitForFunction((f) => (window as any).__vnetlab?.state.folder === f, folder);
}

async function typeIn(key: string, text: string): Promise<void> {
  await page.getByTestId(`console-${key}`).click();
  await page.keyboard.type(text);
}

describe('several consoles of one machine', () => {
  it('"New console" opens a second shell of pc1 beside its own console; what is typed stays in each', async () => {
    await page.goto(await server.freshLink());
    await openLab(lab);
    await page.getByTestId('start').click();
    await page.getByTestId('run-state').filter({ hasText: /^2\/2 ready/ }).waitFor({ timeout: 120_000 });

    const p = await nodePoint(page, 'machine:pc1');
    await page.mouse.dblclick(p.x, p.y);
    await page.getByTestId('console-pc1').waitFor();
    // The console panel took room from the canvas: pc1 is drawn elsewhere now.
    const q = await nodePoint(page, 'machine:pc1');
    await page.mouse.click(q.x, q.y, { button: 'right' });
    await page.getByTestId('context-menu').waitFor({ state: 'visible' });
    await page.getByTestId('context-menu').locator('button[data-action="new-console"]').click();
    await page.getByTestId('console-pc1#2').waitFor();
    expect(await page.getByTestId('console-tab-pc1#2').innerText()).toMatch(/^pc1 \(2\)/);
    // Both side by side.
    await page.getByTestId('console-split').click();

    await typeIn('pc1#2', 'echo second-$((40+2)); tty\n');
    const second = await waitConsole(page, 'pc1#2', /second-42\s*\n\/dev\/pts\/\d+/);
    await typeIn('pc1', 'echo first-$((40+1)); tty\n');
    const first = await waitConsole(page, 'pc1', /first-41\s*\n\/dev\/\S+/);
    expect(second).not.toContain('first-41');
    expect(first).not.toContain('second-42');
    // Two shells, not two views of one: each has its own terminal.
    expect(/first-41\s*\n(\/dev\/\S+)/.exec(first)![1]).not.toBe(/second-42\s*\n(\/dev\/\S+)/.exec(second)![1]);
    // The second console has its pane's size inside the guest (its pty is resized as the pane is).
    const size = await page.evaluate(() => (window as any).__vnetlab.consoleSize('pc1#2') as { cols: number; rows: number });
    expect(size.cols).toBeGreaterThan(10);
    await typeIn('pc1#2', 'echo size-$(stty size | tr " " x)\n');
    await waitConsole(page, 'pc1#2', new RegExp(`^size-${size.rows}x${size.cols}\\s*$`, 'm'));
    await page.screenshot({ path: join(SCREENSHOTS, 'consoles-several.png') });
  }, 180_000);

  it('a reload brings both tabs back, each with what it showed', async () => {
    await page.reload();
    await page.getByTestId('console-tab-pc1').waitFor({ timeout: 30_000 });
    await page.getByTestId('console-tab-pc1#2').waitFor({ timeout: 30_000 });
    const remembered = await page.evaluate((f) => JSON.parse(sessionStorage.getItem(`vnetlab.consoles:${f}`) ?? '[]'), lab);
    expect(remembered).toEqual(['pc1', 'pc1#2']);
    await waitConsole(page, 'pc1#2', /second-42/);
    await waitConsole(page, 'pc1', /first-41/);
    expect(await consoleText(page, 'pc1')).not.toContain('second-42');
    // Still a live shell after the reload.
    await typeIn('pc1#2', 'echo after-reload-$((2*3))\n');
    await waitConsole(page, 'pc1#2', /after-reload-6/);
    // Popped out, the second console is the same shell in a window of its own.
    await page.getByTestId('console-tab-pc1#2').click();
    const [popup] = await Promise.all([browser.waitForEvent('page'), page.getByTestId('console-pop-out').click()]);
    await popup.getByTestId('console-pc1#2').waitFor();
    expect(await popup.title()).toMatch(/^pc1 \(2\) — vnetlab console/);
    await popup.waitForFunction(() => (window as any).__vnetlab.consoleText('pc1#2').includes('after-reload-6'), undefined, { timeout: 10_000 });
    await popup.getByTestId('console-pc1#2').click();
    await popup.keyboard.type('echo popped-$((2*3))\n');
    await popup.waitForFunction(() => (window as any).__vnetlab.consoleText('pc1#2').includes('popped-6'), undefined, { timeout: 10_000 });
    expect(await page.getByTestId('console-tab-pc1#2').count()).toBe(0);
    await popup.close();
    await page.getByTestId('stop').click();
    await page.getByTestId('run-state').filter({ hasText: /^stopped$/ }).waitFor({ timeout: 60_000 });
    await waitConsole(page, 'pc1', /console closed/);
  }, 120_000);

  it("a Kathará folder's pc1[num_terms]=2 opens two consoles of pc1 at Start", async () => {
    await openLab(kathara);
    await page.getByTestId('start').click();
    await page.getByTestId('run-state').filter({ hasText: /^2\/2 ready/ }).waitFor({ timeout: 120_000 });
    await page.getByTestId('console-tab-pc1').waitFor({ timeout: 30_000 });
    await page.getByTestId('console-tab-pc1#2').waitFor({ timeout: 30_000 });
    // The app opens the tabs one attach after the other, then splits: read the panes once it has split
    // (a normal-user run read them between pc1#2's tab and the split).
    await page.getByTestId('console-split').filter({ hasText: /^Split: 2$/ }).waitFor({ timeout: 30_000 });
    // Side by side, pc1's own console first, as Kathará shows a terminal window each.
    expect(await page.getByTestId('console-pc1').isVisible()).toBe(true);
    expect(await page.getByTestId('console-pc1#2').isVisible()).toBe(true);
    expect(await page.getByTestId('console-split').innerText()).toBe('Split: 2');
    const left = async (key: string) => (await page.getByTestId(`console-${key}`).boundingBox())!.x;
    expect(await left('pc1')).toBeLessThan(await left('pc1#2'));
    // Only what was asked: pc2 has the default one terminal, which the app opens on a double-click.
    expect(await page.getByTestId('console-tab-pc2').count()).toBe(0);
    await typeIn('pc1#2', 'echo kathara-$((40+2))\n');
    await waitConsole(page, 'pc1#2', /^kathara-42\s*$/m);
  }, 180_000);
});
