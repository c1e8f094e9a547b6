// Issue 23, section 1, defects 2–11: each one as the class met it, in Chromium against `vnetlab serve`.
// Layout defects are checked at 1440×900 and 1024×700 on a copy of labs/static-routing (no guests);
// the others on a small lab of three tiny guests (pc1 and pc2 on a switch, pc2 cabled straight to pc3).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeJourney, consoleText, edgePoint, launchBrowser, nodePoint, REPO, SCREENSHOTS, serve, testEnv, VNETLAB, waitConsole, type Served, type TestEnv } from './helpers.ts';

const VIEWPORTS = [{ width: 1440, height: 900 }, { width: 1024, height: 700 }];

/** The smallest label on the canvas as drawn (CSS px): font size × zoom. */
async function smallestLabelPx(page: Page): Promise<number> {
  return page.evaluate(() => {
    const cy = (window as any).__vnetlab.cy;
    const sizes: number[] = [];
    cy.elements().forEach((e: any) => {
      const shown = e.isNode() ? e.data('display') || e.data('label') : e.data('sourceLabel') || e.data('targetLabel');
      if (shown) sizes.push(Number.parseFloat(e.style('font-size')) * cy.zoom());
    });
    return Math.min(...sizes);
  });
}

/** Cable-end labels that overlap a node's shape: `edge end → node`. */
async function labelsOverNodes(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const cy = (window as any).__vnetlab.cy;
    const hits: string[] = [];
    const overlap = (a: any, b: any) => a.w > 0 && b.w > 0 && a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2;
    const bodies = cy.nodes().map((n: any) => ({ id: n.id(), bb: n.boundingBox({ includeLabels: false, includeOverlays: false }) }));
    cy.edges().forEach((e: any) => {
      for (const end of ['source', 'target'] as const) {
        if (!e.data(`${end}Label`)) continue;
        const bb = e.boundingBox({ includeNodes: false, includeEdges: false, includeLabels: true, includeMainLabels: false, includeSourceLabels: end === 'source', includeTargetLabels: end === 'target', includeOverlays: false });
        for (const n of bodies) if (overlap(bb, n.bb)) hits.push(`${e.id()} ${end} label → ${n.id}`);
      }
    });
    return hits;
  });
}

/** Elements that scroll sideways inside themselves (more content than width). */
async function sidewaysScrollers(page: Page, selector: string): Promise<string[]> {
  return page.evaluate((sel) => Array.from(document.querySelectorAll<HTMLElement>(sel))
    .filter((el) => el.offsetParent !== null && el.scrollWidth > el.clientWidth + 1)
    .map((el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''} (${el.scrollWidth} px of content in ${el.clientWidth} px)`), selector);
}

let t: TestEnv;
let server: Served;

beforeAll(async () => {
  t = testEnv('defects');
  server = await serve(t.env, ['--allow', t.dir]);
  mkdirSync(SCREENSHOTS, { recursive: true });
});

afterAll(() => closeJourney({ server, t }));

for (const viewport of VIEWPORTS) {
  describe(`layout at ${viewport.width}×${viewport.height} (a copy of labs/static-routing, no guests)`, () => {
    let browser: BrowserContext;
    let page: Page;
    let lab: string;

    beforeAll(async () => {
      lab = join(t.dir, `static-routing-${viewport.width}`);
      cpSync(join(REPO, 'labs', 'static-routing'), lab, { recursive: true });
      browser = await launchBrowser(join(t.dir, `layout-${viewport.width}`), viewport);
      page = await browser.newPage();
      page.on('dialog', (d) => void d.accept());
      await page.goto(await server.freshLink());
      await page.goto(`${server.origin}/?lab=${encodeURIComponent(lab)}`);
      await page.waitForFunction((f) => (window as any).__vnetlab?.state.folder === f && (window as any).__vnetlab.cy.nodes().length === 7, lab);
      await page.getByTestId('lab-description').locator('h1').waitFor();
    });
    afterAll(() => browser?.close());

    it('7: labels of a 7-node lab are readable, address labels stay off the nodes, the canvas re-fits when the window grows', async () => {
      expect(await smallestLabelPx(page), 'the smallest label, in px on screen').toBeGreaterThanOrEqual(10);
      await page.getByTestId('show-addresses').check();
      await page.waitForTimeout(100);
      expect(await labelsOverNodes(page)).toEqual([]);
      await page.screenshot({ path: join(SCREENSHOTS, `defects-addresses-${viewport.width}.png`) });
      await page.getByTestId('show-addresses').uncheck();
      const zoomAt = () => page.evaluate(() => (window as any).__vnetlab.cy.zoom() as number);
      const fitted = await zoomAt();
      await page.setViewportSize({ width: viewport.width - 200, height: viewport.height - 150 });
      await page.waitForTimeout(300);
      expect(await zoomAt(), 'the lab was fitted into the smaller window').toBeLessThan(fitted);
      await page.setViewportSize(viewport);
      await page.waitForTimeout(300);
      // (Labels grow when the lab is zoomed out, and the fit counts them: within a few percent.)
      expect((await zoomAt()) / fitted, 'after the window grew back, the lab fills it again').toBeGreaterThan(0.97);
    });

    it('9: neither the palette nor the instructions scroll sideways', async () => {
      expect(await sidewaysScrollers(page, '#palette')).toEqual([]);
      await page.getByTestId('side-lab').click();
      expect(await sidewaysScrollers(page, '[data-testid=lab-description], [data-testid=lab-description] pre, [data-testid=lab-description] table')).toEqual([]);
    });

    it('11: "(unsaved)" is shown whole', async () => {
      // Move r1 a little: the drawing has unsaved changes.
      const p = await nodePoint(page, 'machine:r1');
      await page.mouse.move(p.x, p.y);
      await page.mouse.down();
      await page.mouse.move(p.x + 30, p.y + 45, { steps: 5 });
      await page.mouse.up();
      const marker = await page.evaluate(() => {
        const el = Array.from(document.querySelectorAll<HTMLElement>('#toolbar *')).find((e) => e.children.length === 0 && /\(unsaved\)\s*$/.test(e.textContent ?? ''));
        if (!el) return undefined;
        const r = el.getBoundingClientRect();
        return { cut: el.scrollWidth > el.clientWidth + 1, right: r.right, width: window.innerWidth, visible: el.offsetParent !== null };
      });
      expect(marker, 'no "(unsaved)" in the toolbar').toBeDefined();
      expect(marker!.visible).toBe(true);
      expect(marker!.cut, '"(unsaved)" is cut off').toBe(false);
      expect(marker!.right).toBeLessThanOrEqual(marker!.width);
    });

    it('6: Ctrl+S saves from a Properties field; Escape closes the context menu; paste then undo keeps Properties', async () => {
      // Nothing selected: the lab's properties. Type a title and save without leaving the field.
      await page.getByTestId('canvas').click({ position: { x: 5, y: 5 } });
      await page.getByTestId('side-properties').click();
      await page.getByTestId('prop-lab-title').fill(`Saved with Ctrl+S ${viewport.width}`);
      await page.keyboard.press('Control+s');
      await expect.poll(() => readFileSync(join(lab, 'lab.yaml'), 'utf8'), { timeout: 5000 }).toMatch(new RegExp(`title: Saved with Ctrl\\+S ${viewport.width}`));
      await expect.poll(() => page.evaluate(() => (window as any).__vnetlab.state.dirty)).toBe(false);

      const r1 = await nodePoint(page, 'machine:r1');
      await page.mouse.click(r1.x, r1.y, { button: 'right' });
      await page.getByTestId('context-menu').waitFor({ state: 'visible' });
      await page.keyboard.press('Escape');
      await page.getByTestId('context-menu').waitFor({ state: 'hidden', timeout: 2000 });

      await page.mouse.click(r1.x, r1.y);
      await page.getByTestId('prop-name').waitFor();
      await page.getByTestId('canvas').focus();
      await page.keyboard.press('Control+c');
      await page.keyboard.press('Control+v');
      await page.waitForFunction(() => (window as any).__vnetlab.state.model.machines.length === 5);
      await page.keyboard.press('Control+z');
      await page.waitForFunction(() => (window as any).__vnetlab.state.model.machines.length === 4);
      await page.waitForTimeout(100);
      const panel = await page.getByTestId('properties').innerText();
      expect(panel.trim(), 'the Properties panel after the undo').not.toBe('');
    });
  });
}

describe('a running lab (three tiny guests)', () => {
  let browser: BrowserContext;
  let page: Page;
  let lab: string;
  const viewport = { width: 1440, height: 900 };
  const exec = (machine: string, command: string) =>
    spawnSync(process.execPath, [VNETLAB, 'exec', '-l', lab, machine, '--', 'sh', '-c', command], { env: t.env, encoding: 'utf8', timeout: 60_000 });
  const runState = () => page.getByTestId('run-state').textContent();
  const status = () => page.getByTestId('status').textContent();
  async function allReady(n: number, timeout = 120_000): Promise<void> {
    await page.waitForFunction((count) => {
      const app = (window as any).__vnetlab;
      const states = [...app.state.machineStates.values()];
      return app.state.running && states.length >= count && states.filter((s: string) => s === 'ready').length === count;
    }, n, { timeout });
  }
  async function menu(target: { x: number; y: number }): Promise<string[]> {
    await page.mouse.click(target.x, target.y, { button: 'right' });
    await page.getByTestId('context-menu').waitFor({ state: 'visible' });
    return page.getByTestId('context-menu').locator('button').allTextContents();
  }

  beforeAll(async () => {
    lab = join(t.dir, 'three');
    mkdirSync(lab, { recursive: true });
    writeFileSync(join(lab, 'lab.yaml'), `lab:
  name: three
  title: Three tiny machines
machines:
  pc1:
    image: tiny
    memory: 64
    interfaces: [{domain: lan, ipv4: 10.0.0.1/24}]
    startup: echo v1 > /tmp/version
  pc2:
    image: tiny
    memory: 64
    interfaces: [{domain: lan, ipv4: 10.0.0.2/24}, {domain: p2p, ipv4: 10.0.9.1/30}]
  pc3:
    image: tiny
    memory: 64
    interfaces: [{domain: p2p, ipv4: 10.0.9.2/30}]
domains:
  lan: {kind: switch}
  p2p: {kind: hub}
layout:
  pc1: {x: 100, y: 200}
  lan: {x: 260, y: 200}
  pc2: {x: 420, y: 200}
  pc3: {x: 640, y: 200}
`);
    browser = await launchBrowser(join(t.dir, 'running'), viewport);
    page = await browser.newPage();
    await page.goto(await server.freshLink());
    await page.goto(`${server.origin}/?lab=${encodeURIComponent(lab)}`);
    await page.waitForFunction((f) => (window as any).__vnetlab?.state.folder === f, lab);
    await page.getByTestId('start').click();
    await allReady(3);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    if (lab) spawnSync(process.execPath, [VNETLAB, 'stop', lab], { env: t.env, timeout: 60_000 });
  });

  it('2 and 10: a reload brings back every console tab, without the kernel boot log', async () => {
    for (const m of ['pc1', 'pc2']) {
      const p = await nodePoint(page, `machine:${m}`);
      await page.mouse.dblclick(p.x, p.y);
      await page.getByTestId(`console-${m}`).waitFor();
      await page.getByTestId(`console-${m}`).click();
      await page.keyboard.type(`echo here-${m}-$((6*7))\n`);
      await waitConsole(page, m, new RegExp(`here-${m}-42`));
    }
    await page.reload();
    await page.getByTestId('console-tab-pc1').waitFor({ timeout: 30_000 });
    await page.getByTestId('console-tab-pc2').waitFor({ timeout: 30_000 });
    const remembered = await page.evaluate((f) => JSON.parse(sessionStorage.getItem(`vnetlab.consoles:${f}`) ?? '[]'), lab);
    expect(remembered.sort()).toEqual(['pc1', 'pc2']);
    const text = await waitConsole(page, 'pc1', /here-pc1-42/);
    expect(text).not.toMatch(/Linux version|Kernel command line|Calibrating delay loop|NET: Registered/);
  }, 120_000);

  it('3 and 8: a machine-to-machine cable has Unplug and Impair; the delay says each way and the round trip', async () => {
    const mid = await edgePoint(page, 'domain:p2p');
    const items = await menu(mid);
    expect(items).toEqual(expect.arrayContaining([expect.stringMatching(/^Unplug/), expect.stringMatching(/^Impair/), expect.stringMatching(/^Capture/)]));
    await page.getByTestId('context-menu').getByText(/^Impair/).click();
    await page.getByTestId('impair-dialog').waitFor({ state: 'visible' });
    await page.getByTestId('impair-delay').fill('200');
    expect(await page.getByTestId('impair-dialog').innerText()).toMatch(/each way/);
    expect(await page.getByTestId('impair-effect').innerText()).toMatch(/round trip[^0-9]*\+?400 ms/);
    await page.getByTestId('impair-ok').click();
    await page.getByTestId('impair-dialog').waitFor({ state: 'hidden' });
    await expect.poll(() => page.evaluate(() => (window as any).__vnetlab.cy.getElementById('domain:p2p').data('cableLabel') as string)).toMatch(/200 ms each way.*round trip \+400 ms/s);
    const ping = exec('pc2', 'ping -c 2 -W 3 10.0.9.2');
    const rtts = [...ping.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
    expect(rtts.length, ping.stdout + ping.stderr).toBeGreaterThan(0);
    expect(Math.min(...rtts)).toBeGreaterThanOrEqual(390); // the label's round trip is what a ping sees
    await page.screenshot({ path: join(SCREENSHOTS, 'defects-impaired-p2p.png') });

    await menu(await edgePoint(page, 'domain:p2p'));
    await page.getByTestId('context-menu').getByText(/^Unplug/).click();
    await expect.poll(() => page.evaluate(() => (window as any).__vnetlab.cy.getElementById('domain:p2p').hasClass('cable-unplugged'))).toBe(true);
    expect(exec('pc2', 'ping -c 1 -W 1 10.0.9.2').status).not.toBe(0);
    await menu(await edgePoint(page, 'domain:p2p'));
    await page.getByTestId('context-menu').getByText(/^Plug/).click();
    await menu(await edgePoint(page, 'domain:p2p'));
    await page.getByTestId('context-menu').getByText(/^Remove impairments/).click();
    await expect.poll(() => exec('pc2', 'ping -c 1 -W 1 10.0.9.2').status, { timeout: 10_000 }).toBe(0);
  }, 120_000);

  it('11: the packet view counts the frames it captured', async () => {
    await menu(await edgePoint(page, 'iface:pc1/eth0'));
    await page.getByTestId('context-menu').getByText(/^Capture/).click();
    await page.getByTestId('packets').waitFor({ state: 'visible' });
    exec('pc1', 'ping -c 3 -i 0.2 10.0.0.2');
    await expect.poll(() => page.getByTestId('packet-status').textContent(), { timeout: 15_000 }).toMatch(/capturing.*\b([6-9]|\d\d+) (frames|packets)/);
    await page.getByTestId('packet-close').click();
  }, 60_000);

  it('4: Apply restarts a machine whose startup changed; Restart boots with the saved files', async () => {
    const pc1 = await nodePoint(page, 'machine:pc1');
    await page.mouse.click(pc1.x, pc1.y);
    await page.getByTestId('side-properties').click();
    await page.getByTestId('prop-startup').fill('echo v2 > /tmp/version');
    await page.getByTestId('prop-name').click(); // leave the field: the edit is made
    await page.getByTestId('apply').click();
    // (Later messages may replace it in the status line: keep the one that says what was applied.)
    let applied = '';
    await expect.poll(async () => (applied = /Applied|Nothing to apply/.test((await status()) ?? '') ? ((await status()) ?? '') : applied), { timeout: 90_000 }).toMatch(/Applied|Nothing to apply/);
    expect(applied).not.toMatch(/Nothing to apply/);
    expect(applied).toMatch(/pc1/);
    expect(applied, 'the message names a GUI action, not a command').not.toMatch(/vnetlab \w+/);
    await allReady(3);
    expect(exec('pc1', 'cat /tmp/version').stdout.trim()).toBe('v2');

    // Edit, save, and Restart from the context menu: the machine boots with what was saved.
    const again = await nodePoint(page, 'machine:pc1');
    await page.mouse.click(again.x, again.y);
    await page.getByTestId('side-properties').click();
    await page.getByTestId('prop-startup').fill('echo v3 > /tmp/version');
    await page.keyboard.press('Control+s');
    await expect.poll(() => readFileSync(join(lab, 'lab.yaml'), 'utf8')).toMatch(/v3/);
    await menu(await nodePoint(page, 'machine:pc1'));
    await page.getByTestId('context-menu').getByText('Restart').click();
    await expect.poll(() => exec('pc1', 'cat /tmp/version').stdout.trim(), { timeout: 90_000, interval: 1000 }).toBe('v3');
    await allReady(3);
  }, 240_000);

  it('5: Backspace on a running machine asks first; the run status never counts more machines than exist', async () => {
    const seen: string[] = [];
    const pc3 = await nodePoint(page, 'machine:pc3');
    await page.mouse.click(pc3.x, pc3.y);
    await page.getByTestId('canvas').focus();
    let asked = '';
    page.once('dialog', (d) => {
      asked = d.message();
      void d.dismiss();
    });
    await page.keyboard.press('Backspace');
    await expect.poll(() => asked).toMatch(/pc3.*running/s);
    expect(await page.evaluate(() => (window as any).__vnetlab.state.model.machines.map((m: any) => m.name))).toContain('pc3');

    page.once('dialog', (d) => void d.accept());
    await page.keyboard.press('Backspace');
    await page.waitForFunction(() => !(window as any).__vnetlab.state.model.machines.some((m: any) => m.name === 'pc3'));
    seen.push((await runState()) ?? '');
    expect(await status()).toMatch(/pc3.*Apply/s);
    await page.getByTestId('apply').click();
    await expect.poll(() => page.evaluate(() => [...(window as any).__vnetlab.state.machineStates.keys()].includes('pc3')), { timeout: 60_000 }).toBe(false);
    seen.push((await runState()) ?? '');
    for (const s of seen) {
      const m = /^(\d+)\/(\d+) ready/.exec(s);
      expect(m, s).not.toBeNull();
      expect(Number(m![1])).toBeLessThanOrEqual(Number(m![2]));
    }
    await expect.poll(runState, { timeout: 30_000 }).toMatch(/^2\/2 ready/);
    expect(await consoleText(page, 'pc1')).toBeDefined();
  }, 120_000);
});
