// A 500-machine lab in the app (issue 22), without booting it: drawn grouped by collision domain
// (each hub with its machines around it, short cables), a machine's state event touches that
// machine's node only (no restyle of all 500, no serialising the whole model), the search box finds
// and centres a machine, a domain group folds and unfolds (all, or one by a double-click on its hub),
// Arrange gives the same layout.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeJourney, launchBrowser, nodePoint, SCREENSHOTS, serve, testEnv, type Served, type TestEnv } from './helpers.ts';

let t: TestEnv;
let server: Served;
let browser: BrowserContext;
let page: Page;
let lab: string;

/** The lab: 500 tiny machines, 10 per hub, no positions. */
/**
 * Waits until the canvas shows `count` nodes: a click's effect is read once it is drawn. (A CI run under
 * load read 60 right after the "Unfold groups" click, where 550 were due; it never came back in six runs
 * here, idle or with four busy loops.) Fails with what the canvas and the button show.
 */
async function visibleNodes(page: Page, count: number): Promise<void> {
  const visible = () => page.evaluate(() => (window as any).__vnetlab.cy.nodes(':visible').length as number);
  try {
    await page.waitForFunction((n) => (window as any).__vnetlab.cy.nodes(':visible').length === n, count, { timeout: 5_000, polling: 50 });
  } catch {
    const button = await page.getByTestId('fold-groups').textContent();
    expect({ visible: await visible(), button }).toEqual({ visible: count, button: expect.any(String) });
  }
}

function bigLab(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const machines = Array.from({ length: 500 }, (_, i) => `  h${i}:\n    image: tiny\n    memory: 64\n    interfaces:\n      - {domain: d${Math.floor(i / 10)}, ipv4: 10.0.${Math.floor(i / 10)}.${(i % 10) + 1}/24}\n`).join('');
  const domains = Array.from({ length: 50 }, (_, d) => `  d${d}: {kind: hub}\n`).join('');
  writeFileSync(join(dir, 'lab.yaml'), `lab:\n  name: big500\nmachines:\n${machines}domains:\n${domains}`);
  return dir;
}

beforeAll(async () => {
  t = testEnv('biglab');
  lab = bigLab(join(t.dir, 'big500'));
  server = await serve(t.env, ['--allow', t.dir]);
  browser = await launchBrowser(t.dir, { width: 1440, height: 900 });
  page = await browser.newPage();
  await page.goto(await server.freshLink());
  await page.goto(`${server.origin}/?lab=${encodeURIComponent(lab)}`);
  await page.waitForFunction(() => {
    const app = (window as any).__vnetlab;
    return app && app.state.model.machines.length === 500 && Object.keys(app.state.model.layout).length >= 550 && app.cy.nodes().length === 550;
  }, undefined, { timeout: 60_000, polling: 50 });
  mkdirSync(SCREENSHOTS, { recursive: true });
});

afterAll(() => closeJourney({ browser, server, t }));

/** Positions and cable lengths as drawn. */
const drawing = (p: Page) =>
  p.evaluate(async () => {
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))); // label sizes follow the zoom a frame later
    const cy = (window as any).__vnetlab.cy;
    const at = (id: string) => cy.getElementById(id).position();
    const lengths = cy.edges().map((e: any) => Math.hypot(e.source().position().x - e.target().position().x, e.source().position().y - e.target().position().y));
    const bb = cy.elements().boundingBox();
    const px = (id: string) => parseFloat(cy.getElementById(id).style('font-size')) * cy.zoom();
    return { h73: at('machine:h73'), d7: at('domain:d7'), longest: Math.max(...lengths), width: bb.w, machinePx: px('machine:h0'), machineLabel: cy.getElementById('machine:h0').style('label') as string, domainPx: px('domain:d0') };
  });

describe('a 500-machine lab in the app', () => {
  it('draws each domain with its machines around it: short cables, readable names at Fit', async () => {
    await page.screenshot({ path: join(SCREENSHOTS, 'big-lab-500.png') });
    const d = await drawing(page);
    expect(Math.hypot(d.h73.x - d.d7.x, d.h73.y - d.d7.y)).toBeLessThan(160); // h73 sits by its own hub d7
    expect(d.longest).toBeLessThan(d.width / 10); // no cable across the canvas (the grid had 335 of 500 across half)
    // At Fit, names are readable or not drawn (5.6 px before): a machine's name below 8 px gives way
    // to its domain's, drawn at least 12 px.
    expect(d.machinePx >= 9 || d.machineLabel === '').toBe(true);
    expect(d.domainPx).toBeGreaterThanOrEqual(12);
    // Zoomed in, the names come back.
    await page.evaluate(() => void (window as any).__vnetlab.cy.zoom(0.8));
    expect((await drawing(page)).machineLabel).toBe('h0');
  });

  it("one machine's state event touches that machine's node and cable only, and serialises nothing", async () => {
    const touched = await page.evaluate(async () => {
      const app = (window as any).__vnetlab;
      const cy = app.cy;
      const changed = new Set<string>();
      const note = (e: any) => changed.add(e.target.id());
      cy.on('data style class', note);
      let stringified = 0;
      const stringify = JSON.stringify;
      JSON.stringify = ((...args: Parameters<typeof JSON.stringify>) => {
        stringified++;
        return stringify(...args);
      }) as typeof JSON.stringify;
      try {
        app.state.run.apply({ starting: true });
        await new Promise((r) => setTimeout(r, 50));
        changed.clear();
        stringified = 0;
        app.state.run.apply({ event: { type: 'machine-state', machine: 'h123', state: 'booting' } });
        await new Promise((r) => setTimeout(r, 50));
        return { ids: [...changed].sort(), stringified };
      } finally {
        JSON.stringify = stringify;
        cy.off('data style class', note);
      }
    });
    expect(touched.ids.filter((id) => id.startsWith('machine:'))).toEqual(['machine:h123']);
    expect(touched.ids.filter((id) => !['machine:h123', 'iface:h123/eth0'].includes(id))).toEqual([]);
    expect(touched.stringified).toBe(0);
    expect(await page.getByTestId('run-state').textContent()).toMatch(/^0\/500 ready, 1 booting/);
  });

  it('the search box finds a machine and centres it; a domain group folds and unfolds', async () => {
    await page.getByTestId('find-machine').fill('h417');
    await page.getByTestId('find-machine').press('Enter');
    await page.waitForFunction(() => {
      const cy = (window as any).__vnetlab.cy;
      const p = cy.getElementById('machine:h417').renderedPosition();
      return Math.abs(p.x - cy.width() / 2) < 5 && Math.abs(p.y - cy.height() / 2) < 5 && cy.zoom() >= 1;
    }, undefined, { timeout: 5_000, polling: 50 });
    expect(await page.evaluate(() => (window as any).__vnetlab.state.selection)).toEqual(['machine:h417']);
    // Fold every group: only the 50 hubs are left, each saying how many machines it holds.
    await page.getByTestId('fold-groups').click();
    await visibleNodes(page, 50);
    const folded = await page.evaluate(() => {
      const cy = (window as any).__vnetlab.cy;
      return { visible: cy.nodes(':visible').length, label: cy.getElementById('domain:d41').data('display') };
    });
    expect(folded).toEqual({ visible: 50, label: 'd41\n(10 machines)' });
    // Finding a machine in a folded group unfolds that group only.
    await page.getByTestId('find-machine').fill('h55');
    await page.getByTestId('find-machine').press('Enter');
    await visibleNodes(page, 60);
    await page.getByTestId('fold-groups').click(); // "Unfold groups"
    await visibleNodes(page, 550);
    // A double-click on a hub folds its group alone, and again unfolds it.
    await page.getByRole('button', { name: 'Fit' }).click();
    const hub = await nodePoint(page, 'domain:d41');
    // The 550 nodes drawn first: a page still drawing takes the two clicks too far apart to be a double-click.
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    await page.mouse.dblclick(hub.x, hub.y);
    await page.waitForFunction(() => (window as any).__vnetlab.cy.nodes(':visible').length === 540, undefined, { timeout: 5_000 });
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    await page.mouse.dblclick(hub.x, hub.y);
    await page.waitForFunction(() => (window as any).__vnetlab.cy.nodes(':visible').length === 550, undefined, { timeout: 5_000 });
  });

  it('Arrange gives the same grouped layout', async () => {
    const before = await drawing(page);
    await page.getByRole('button', { name: 'Arrange' }).click();
    await page.waitForTimeout(500);
    const after = await drawing(page);
    expect(after.h73).toEqual(before.h73);
    expect(after.d7).toEqual(before.d7);
  });
});
