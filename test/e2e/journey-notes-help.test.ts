// Help, consoles, notes and export (issue 23, section 2), as a new user meets them on two-hosts with a
// third PC: the first-run tour (open a lab, Start, open a console) that moves on as the user does each
// step and is not shown again; the shortcut list on `?`; three consoles side by side and one popped out
// into a window of its own; then an instructor's handout: a rectangle and a note on the canvas, saved in
// lab.yaml with the layout, and the drawing exported as SVG and PNG.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeJourney, nodePoint, openJourney, SCREENSHOTS, type Served, type TestEnv } from './helpers.ts';

let t: TestEnv;
let server: Served;
let browser: BrowserContext;
let page: Page;
let lab: string;

beforeAll(async () => {
  // A third machine, so the canvas has room for a note and a shape between them.
  const addPc3 = (lab: string) => {
    const yaml = readFileSync(join(lab, 'lab.yaml'), 'utf8')
      .replace('\ndomains:', '  pc3:\n    kind: host\n    image: tiny\n    memory: 64\n    interfaces:\n      - {domain: lan, ipv4: 10.0.0.3/24}\n\ndomains:')
      .replace('  pc2: {x: 520, y: 200}', '  pc2: {x: 520, y: 200}\n  pc3: {x: 320, y: 380}');
    writeFileSync(join(lab, 'lab.yaml'), yaml);
  };
  ({ t, server, browser, page, lab } = await openJourney('help', 'two-hosts', { prepare: addPc3, firstRun: true }));
});

afterAll(() => closeJourney({ browser, server, t, lab }));

const tourStep = () => page.getByTestId('tour-step').textContent();
const pointedAt = () => page.evaluate(() => Array.from(document.querySelectorAll('.tour-target')).map((e) => e.id));

describe('first run: the tour', () => {
  it('shows step 1 of 3 on the first visit, pointing at Open…', async () => {
    await page.goto(await server.freshLink());
    await page.goto(`${server.origin}/?lab=${encodeURIComponent(lab)}`);
    await page.waitForFunction((f) => (window as any).__vnetlab?.state.folder === f, lab);
    await page.getByTestId('tour').waitFor();
    expect(await tourStep()).toBe('Step 1 of 3');
    expect(await pointedAt()).toEqual(['open']);
    await page.screenshot({ path: join(SCREENSHOTS, 'tour-step1.png') });
    await page.getByTestId('tour-next').click();
    expect(await tourStep()).toBe('Step 2 of 3');
    expect(await pointedAt()).toEqual(['start']);
  });

  it('moves on by itself when the user starts the lab and opens a console, and is then remembered', async () => {
    await page.getByTestId('start').click();
    await page.getByTestId('run-state').filter({ hasText: /^3\/3 ready/ }).waitFor({ timeout: 120_000 });
    await page.getByTestId('tour-step').filter({ hasText: 'Step 3 of 3' }).waitFor({ timeout: 5_000 });
    expect(await pointedAt()).toEqual(['canvas']);
    const p = await nodePoint(page, 'machine:pc1');
    await page.mouse.dblclick(p.x, p.y);
    await page.getByTestId('console-pc1').waitFor();
    await page.getByTestId('tour').waitFor({ state: 'hidden', timeout: 5_000 });
    expect(await page.evaluate(() => localStorage.getItem('vnetlab.tour'))).toBe('done');
    await page.reload();
    await page.waitForFunction((f) => (window as any).__vnetlab?.state.folder === f, lab);
    await page.waitForTimeout(500);
    expect(await page.getByTestId('tour').isHidden()).toBe(true);
  }, 150_000);

  it('`?` lists the shortcuts (not while typing in a field); Escape closes the list', async () => {
    await page.locator('#canvas').click({ position: { x: 5, y: 300 } });
    await page.keyboard.press('?');
    const list = page.getByTestId('shortcuts');
    await list.waitFor();
    const text = await list.textContent();
    for (const key of ['Ctrl+S', 'Ctrl+Z', 'Delete', 'Double-click a machine', 'Escape']) expect(text).toContain(key);
    await page.screenshot({ path: join(SCREENSHOTS, 'shortcuts.png') });
    await page.keyboard.press('Escape');
    await list.waitFor({ state: 'hidden' });
    await page.getByTestId('side-properties').click();
    await page.getByTestId('console-pc1').click();
    await page.keyboard.type('?');
    expect(await list.isHidden()).toBe(true);
  });
});

describe('consoles: more than two side by side, one in a window of its own', () => {
  /** Opens a machine's console from its context menu. */
  async function openConsole(machine: string): Promise<void> {
    const p = await nodePoint(page, `machine:${machine}`);
    await page.mouse.click(p.x, p.y, { button: 'right' });
    await page.getByTestId('context-menu').locator('[data-action="open-console"]').click();
    await page.getByTestId(`console-${machine}`).waitFor();
  }

  it('Split shows 2, then 3 consoles at once (two rows), then 4 panes at most', async () => {
    await openConsole('pc2');
    await openConsole('pc3');
    const split = page.getByTestId('console-split');
    await split.click();
    await split.click();
    expect(await split.textContent()).toBe('Split: 3');
    const boxes = await Promise.all(['pc1', 'pc2', 'pc3'].map(async (m) => (await page.getByTestId(`console-${m}`).boundingBox())!));
    for (const b of boxes) expect(b.width * b.height).toBeGreaterThan(0);
    // No two overlap; two on the top row, the third below them.
    for (let i = 0; i < 3; i++) for (let j = i + 1; j < 3; j++) {
      const [a, b] = [boxes[i]!, boxes[j]!];
      expect(a.x + a.width <= b.x + 1 || b.x + b.width <= a.x + 1 || a.y + a.height <= b.y + 1 || b.y + b.height <= a.y + 1).toBe(true);
    }
    expect(new Set(boxes.map((b) => Math.round(b.y))).size).toBe(2);
    for (const m of ['pc3', 'pc2']) {
      await page.getByTestId(`console-${m}`).click();
      await page.keyboard.type(`echo pane-${m}-$((20+1))\n`);
      await page.waitForFunction((mm) => (window as any).__vnetlab.consoleText(mm).includes(`pane-${mm}-21`), m, { timeout: 10_000 });
    }
    await page.screenshot({ path: join(SCREENSHOTS, 'consoles-three.png') });
    await split.click();
    expect(await split.textContent()).toBe('Split: 4');
    await split.click();
    expect(await split.textContent()).toBe('Split');
  });

  it('pops a console out into its own window, which needs the session like the app', async () => {
    await page.getByTestId('console-tab-pc2').click();
    const [popup] = await Promise.all([browser.waitForEvent('page'), page.getByTestId('console-pop-out').click()]);
    await popup.getByTestId('console-pc2').waitFor();
    expect(new URL(popup.url()).pathname).toBe('/console.html');
    // The replay shows what the console showed before; what is typed runs in the guest.
    await popup.waitForFunction(() => (window as any).__vnetlab.consoleText('pc2').includes('pane-pc2-21'), undefined, { timeout: 10_000 });
    await popup.getByTestId('console-pc2').click();
    await popup.keyboard.type('echo popped-$((2*3))\n');
    await popup.waitForFunction(() => (window as any).__vnetlab.consoleText('pc2').includes('popped-6'), undefined, { timeout: 10_000 });
    await popup.screenshot({ path: join(SCREENSHOTS, 'console-window.png') });
    expect(await page.getByTestId('console-tab-pc2').count()).toBe(0);
    // Without the app's session cookie the window's page is refused, as the app's is.
    expect((await fetch(`${server.origin}/console.html?lab=x&machine=pc2`)).status).toBe(401);
    await popup.close();
  });
});

describe("an instructor's handout: notes, a rectangle, export", () => {
  /** Right-click on an empty spot of the canvas (model point x, y; or its top right corner) and pick a menu item. */
  async function canvasMenu(x: number | 'corner', y: number, action: string): Promise<void> {
    const at = await page.evaluate(([mx, my]) => {
      const cy = (window as any).__vnetlab.cy;
      const r = document.getElementById('canvas')!.getBoundingClientRect();
      if (mx === 'corner') return { x: r.right - 30, y: r.top + 30 };
      return { x: r.left + (mx as number) * cy.zoom() + cy.pan().x, y: r.top + my! * cy.zoom() + cy.pan().y };
    }, [x, y] as const);
    await page.mouse.click(at.x, at.y, { button: 'right' });
    await page.getByTestId('context-menu').locator(`[data-action="${action}"]`).click();
  }

  it('adds a rectangle and a note, moves the note, undoes the move, and saves them in lab.yaml', async () => {
    await canvasMenu(150, 290, 'add-a-rectangle-here');
    await page.getByTestId('annotation-text').fill('LAN 10.0.0.0/24');
    await page.keyboard.press('Enter');
    await canvasMenu(420, 300, 'add-a-note-here');
    await page.getByTestId('annotation-text').fill('Ping pc2 from pc1');
    await page.keyboard.press('Enter');
    await page.getByTestId('note-1').filter({ hasText: 'Ping pc2 from pc1' }).waitFor();
    const annotations = () => page.evaluate(() => (window as any).__vnetlab.state.model.annotations);
    expect(await annotations()).toEqual([
      { type: 'rect', x: 150, y: 290, width: 240, height: 160, text: 'LAN 10.0.0.0/24', color: '#cfe3f7' },
      { type: 'note', x: 420, y: 300, text: 'Ping pc2 from pc1' },
    ]);
    // Drag the note 80 px right on screen: it moves by 80 / zoom in the lab's units.
    const box = (await page.getByTestId('note-1').boundingBox())!;
    const zoom = await page.evaluate(() => (window as any).__vnetlab.cy.zoom() as number);
    await page.mouse.move(box.x + 10, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + 50, box.y + box.height / 2, { steps: 4 });
    await page.mouse.move(box.x + 90, box.y + box.height / 2, { steps: 4 });
    await page.mouse.up();
    expect((await annotations())[1].x).toBe(Math.round(420 + 80 / zoom));
    // A machine inside the rectangle stays clickable through it.
    const pc3 = await nodePoint(page, 'machine:pc3');
    await page.mouse.click(pc3.x, pc3.y);
    await page.waitForFunction(() => (window as any).__vnetlab.state.selection.includes('machine:pc3'));
    await page.screenshot({ path: join(SCREENSHOTS, 'notes.png') });
    await page.keyboard.press('Control+z');
    await page.waitForFunction(() => (window as any).__vnetlab.state.model.annotations[1].x === 420);
    await page.keyboard.press('Control+s');
    await page.waitForFunction(() => !(window as any).__vnetlab.state.dirty, undefined, { timeout: 10_000 });
    const yaml = readFileSync(join(lab, 'lab.yaml'), 'utf8');
    expect(yaml).toMatch(/annotations:\n {2}- \{ type: rect, x: 150, y: 290, width: 240, height: 160, text: LAN 10\.0\.0\.0\/24, color: "#cfe3f7" \}/);
    expect(yaml).toContain('text: Ping pc2 from pc1');
  });

  it('exports the drawing as SVG (machines, cables, notes) and PNG', async () => {
    const svgDownload = page.waitForEvent('download');
    await canvasMenu('corner', 0, 'export-drawing-as-svg');
    const svgFile = await (await svgDownload).path();
    const svg = readFileSync(svgFile, 'utf8');
    expect((await svgDownload).suggestedFilename()).toBe('two-hosts.svg');
    expect(svg).toMatch(/^<\?xml[^]*<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    for (const word of ['pc1', 'pc2', 'lan', 'eth0', 'LAN 10.0.0.0/24', 'Ping pc2 from pc1']) expect(svg).toContain(`>${word}<`);
    expect((svg.match(/<line /g) ?? []).length).toBe(3);
    const pngDownload = page.waitForEvent('download');
    await canvasMenu('corner', 0, 'export-drawing-as-png');
    const png = readFileSync(await (await pngDownload).path());
    expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    const [width, height] = [png.readUInt32BE(16), png.readUInt32BE(20)];
    const [sw, sh] = (/width="(\d+)" height="(\d+)"/.exec(svg) ?? []).slice(1).map(Number);
    expect([width, height]).toEqual([2 * sw!, 2 * sh!]);
  });
});
