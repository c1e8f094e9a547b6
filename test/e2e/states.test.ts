// The States panel and hand-in in the app (docs/snapshots.md), end to end: real guests (tiny) started
// from the browser through `vnetlab serve`; a state saved with a note and a second one after it (the
// tree); a machine reset to the first state from its context menu, its live route back; Hand in… saves
// a real pack through the browser's download; Wipe deletes a stopped machine's disk. The screenshot of
// the panel is the one in docs/snapshots.md (VNETLAB_SCREENSHOTS=docs/screenshots refreshes it).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeJourney, launchBrowser, nodePoint, REPO, SCREENSHOTS, serve, testEnv, VNETLAB, type Served, type TestEnv } from './helpers.ts';

let t: TestEnv;
let lab: string;
let server: Served;
let browser: BrowserContext;
let page: Page;

beforeAll(async () => {
  t = testEnv('states');
  lab = join(t.dir, 'static-routing');
  cpSync(join(REPO, 'labs', 'static-routing'), lab, { recursive: true });
  server = await serve(t.env, [lab]);
  browser = await launchBrowser(t.dir);
  page = await browser.newPage();
  page.on('dialog', (d) => void d.accept());
  mkdirSync(SCREENSHOTS, { recursive: true });
});

afterAll(() => closeJourney({ browser, server, t, lab }));

const sh = (machine: string, command: string) => spawnSync(process.execPath, [VNETLAB, 'exec', '-l', lab, machine, '--', command], { env: t.env, encoding: 'utf8', timeout: 60_000 }).stdout;
const status = () => page.getByTestId('status');

async function menu(machine: string, action: string): Promise<void> {
  const p = await nodePoint(page, `machine:${machine}`);
  await page.mouse.click(p.x, p.y, { button: 'right' });
  await page.getByTestId('context-menu').locator(`[data-action="${action}"]`).click();
}

describe('the States panel', () => {
  it('saves states with notes, shows them as a tree, and resets a machine from its context menu', async () => {
    await page.goto(await server.freshLink());
    await page.waitForFunction(() => (window as any).__vnetlab?.cy.nodes().length > 4);
    await page.getByTestId('start').click();
    await page.waitForFunction(() => ['pc1', 'pc2', 'r1', 'r2'].every((m) => (window as any).__vnetlab.cy.getElementById(`machine:${m}`).hasClass('state-ready')), undefined, { timeout: 180_000 });
    sh('pc1', 'ip route add default via 10.0.1.1');
    sh('r1', 'ip route add 10.0.2.0/24 via 10.0.12.2');

    await page.getByTestId('states').click();
    await page.getByTestId('states-empty').waitFor();
    await page.getByTestId('state-name').fill('routes-done');
    await page.getByTestId('state-note').fill('pc1 and r1 routed, pc2 and r2 not yet');
    await page.getByTestId('state-save').click();
    await status().filter({ hasText: /Saved state routes-done \(4 machines/ }).waitFor({ timeout: 60_000 });
    sh('pc1', 'ip route del default');
    await page.getByTestId('state-name').fill('after-mistake');
    await page.getByTestId('state-save').click();
    await status().filter({ hasText: /Saved state after-mistake/ }).waitFor({ timeout: 60_000 });
    // The tree: after-mistake is the child of routes-done, and the current state.
    await page.locator('[data-testid="state-routes-done"] + ul [data-testid="state-after-mistake"].current').waitFor();
    expect(await page.getByTestId('state-routes-done').textContent()).toContain('pc1 and r1 routed, pc2 and r2 not yet');
    await page.screenshot({ path: join(SCREENSHOTS, 'states-panel.png') });

    // pc1's context menu: Reset to state… → the panel restores that machine only.
    await page.getByTestId('states-close').click();
    await menu('pc1', 'reset-to-state…');
    await page.getByTestId('states-machine-mode').filter({ hasText: 'Reset pc1 to a saved state' }).waitFor();
    await page.getByTestId('state-restore-routes-done').click();
    await status().filter({ hasText: /Restored pc1 to routes-done\. The machines as they were are saved as before-restore-1/ }).waitFor({ timeout: 120_000 });
    expect(sh('pc1', 'ip route')).toMatch(/default via 10\.0\.1\.1/);
    await page.locator('[data-testid="state-before-restore-1"]').waitFor();
    await page.waitForFunction(() => (window as any).__vnetlab.cy.getElementById('machine:pc1').hasClass('state-ready'));
  }, 300_000);

  it('Hand in… saves a pack through the browser', async () => {
    const download = page.waitForEvent('download', { timeout: 120_000 });
    await page.getByTestId('hand-in').click();
    const file = join(t.dir, 'handed-in.vnlpack');
    const d = await download;
    expect(d.suggestedFilename()).toBe('static-routing.vnlpack');
    await d.saveAs(file);
    const bytes = readFileSync(file);
    expect(bytes.subarray(0, 8).toString()).toBe('VNLPACK1');
    expect(bytes.subarray(bytes.length - 8).toString()).toBe('VNLPEND1');
    await status().filter({ hasText: /Hand-in pack static-routing\.vnlpack/ }).waitFor();
  }, 180_000);

  it('Wipe refuses a running machine and deletes a stopped one\'s disk', async () => {
    // The context menu opens above the panel (pc2's menu reaches under it).
    await menu('pc2', 'wipe');
    await expect.poll(() => status().textContent(), { timeout: 30_000 }).toMatch(/cannot wipe running machines: pc2/);
    await menu('pc2', 'stop');
    await page.waitForFunction(() => (window as any).__vnetlab.state.machineStates.get('pc2') === 'stopped', undefined, { timeout: 60_000 });
    const disks = join(t.env.VNETLAB_STATE_DIR!, 'labs', readdirSync(join(t.env.VNETLAB_STATE_DIR!, 'labs'))[0]!, 'disks');
    expect(existsSync(join(disks, 'pc2.cow'))).toBe(true);
    await menu('pc2', 'wipe');
    await expect.poll(() => status().textContent(), { timeout: 30_000 }).toMatch(/pc2 wiped/);
    expect(existsSync(join(disks, 'pc2.cow'))).toBe(false);
  }, 180_000);
});
