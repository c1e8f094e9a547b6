// Issue 11 journeys without guests, at 1440×900 and 1024×700: an instructor draws a lab from scratch
// (palette clicks, addresses, a typo'd image, a deleted cable, checks) and saves it; the file dialog;
// a Kathará folder laid out the same way on two opens. Assertions are on what the user sees.
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyWritable } from '../support/host.ts';
import { fixtureLab } from '../support/fixtures.ts';
import { graphIds, launchBrowser, nodePoint, removeDir, SCREENSHOTS, serve, testEnv, type Served, type TestEnv } from './helpers.ts';

let t: TestEnv;
let server: Served;
let allowed: string;

beforeAll(async () => {
  t = testEnv('journey-instr');
  allowed = join(t.dir, 'course');
  mkdirSync(join(allowed, 'week1'), { recursive: true });
  server = await serve(t.env, ['--allow', allowed]);
  mkdirSync(SCREENSHOTS, { recursive: true });
});

afterAll(async () => {
  await server?.stop();
  if (t) removeDir(t.dir);
});

/** Nothing scrolls sideways, and the toolbar is one line with nothing cut off. */
async function expectFitsWidth(page: Page): Promise<void> {
  const m = await page.evaluate(() => {
    const tb = document.getElementById('toolbar')!;
    const buttons = Array.from(tb.querySelectorAll('button:not([hidden])')).map((b) => b.getBoundingClientRect());
    return {
      page: [document.documentElement.scrollWidth, window.innerWidth],
      toolbar: [tb.scrollWidth, tb.clientWidth],
      tops: [...new Set(buttons.map((r) => Math.round(r.top)))],
      maxButtonHeight: Math.max(...buttons.map((r) => r.height)),
      canvas: document.getElementById('canvas')!.getBoundingClientRect(),
    };
  });
  expect(m.page[0], 'the page scrolls sideways').toBeLessThanOrEqual(m.page[1]!);
  expect(m.toolbar[0], 'the toolbar is cut off').toBeLessThanOrEqual(m.toolbar[1]!);
  expect(m.tops.length, 'toolbar buttons on more than one line').toBe(1);
  expect(m.maxButtonHeight, 'a toolbar button wraps its text').toBeLessThan(32);
  expect(m.canvas.width).toBeGreaterThanOrEqual(360);
  expect(m.canvas.height).toBeGreaterThanOrEqual(220);
}

for (const viewport of [{ width: 1440, height: 900 }, { width: 1024, height: 700 }]) {
  describe(`instructor at ${viewport.width}×${viewport.height}`, () => {
    let browser: BrowserContext;
    let page: Page;
    const folder = () => join(allowed, `drawn-${viewport.width}`);
    beforeAll(async () => {
      browser = await launchBrowser(join(t.dir, `b${viewport.width}`), viewport);
      page = await browser.newPage();
      page.on('dialog', (d) => void d.accept());
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('opens on the rendered instructions, fits the width', async () => {
      await page.goto(await server.freshLink()); // a browser of its own: a link of its own
      await page.waitForFunction(() => (window as any).__vnetlab?.cy.nodes().length === 3);
      await page.getByTestId('lab-description').locator('h1').waitFor();
      expect(await page.getByTestId('lab-panel').isVisible()).toBe(true);
      expect(await page.getByTestId('properties').isVisible()).toBe(false);
      await expectFitsWidth(page);
    });

    it('draws a lab with palette clicks; Tab keeps focus and text; no fake address; typo flagged; renumber', async () => {
      await page.getByRole('button', { name: 'New' }).click();
      await page.waitForFunction(() => (window as any).__vnetlab.cy.nodes().length === 0);
      // Lab title: Tab to the next field, keep typing: nothing is lost.
      await page.getByTestId('side-properties').click();
      await page.getByTestId('prop-lab-title').fill('Routing 101');
      await page.keyboard.press('Tab');
      await page.keyboard.type('Ping across.');
      await page.getByTestId('lab-name').click(); // Tab in the description indents (it is a code editor)
      await page.waitForTimeout(400); // validation round trip redraws nothing under the cursor
      expect(await page.getByTestId('prop-lab-title').inputValue()).toBe('Routing 101');
      expect(await page.getByTestId('prop-lab-description').inputValue()).toBe('Ping across.');
      expect(await page.getByTestId('lab-title').textContent()).toMatch(/Routing 101/);

      // Click (not drag) palette items: each lands on the canvas, none on top of another.
      for (const kind of ['router', 'host', 'switch', 'switch']) await page.getByTestId(`palette-${kind}`).click();
      expect((await graphIds(page)).nodes).toEqual(['domain:A', 'domain:B', 'machine:pc1', 'machine:r1']);
      await page.getByTestId('tool-cable').click();
      for (const [a, b] of [['machine:r1', 'domain:A'], ['machine:r1', 'domain:B'], ['machine:pc1', 'domain:B']]) {
        const p = await nodePoint(page, a!);
        const q = await nodePoint(page, b!);
        await page.mouse.move(p.x, p.y);
        await page.mouse.down();
        await page.mouse.move(q.x, q.y, { steps: 6 });
        await page.mouse.up();
      }
      await page.getByTestId('tool-select').click();
      expect((await graphIds(page)).edges).toEqual(['iface:pc1/eth0', 'iface:r1/eth0', 'iface:r1/eth1']);

      const r1 = await nodePoint(page, 'machine:r1');
      await page.mouse.click(r1.x, r1.y);
      await page.getByTestId('prop-eth1-ipv4').waitFor();
      expect(await page.getByTestId('prop-eth1-ipv4').getAttribute('placeholder')).toBeNull();
      await page.getByTestId('prop-eth1-ipv4').fill('10.0.2.1/24');
      await page.keyboard.press('Tab');
      await page.keyboard.type('2001:db8:2::1/64');
      await page.keyboard.press('Tab');
      await page.waitForTimeout(400);
      expect(await page.getByTestId('prop-eth1-ipv6').inputValue()).toBe('2001:db8:2::1/64');
      // An image name with a typo is flagged in the editor, as `vnetlab validate` flags it.
      await page.getByTestId('prop-image').fill('debain');
      await page.keyboard.press('Tab');
      await page.getByTestId('properties').getByText("uses image 'debain', which vnetlab does not build").waitFor({ timeout: 10_000 });
      await page.getByTestId('prop-image').fill('tiny');
      await page.keyboard.press('Enter');

      // Delete r1's eth0 cable: "eth1 but no eth0" can be renumbered from the panel.
      await page.evaluate(() => (window as any).__vnetlab.state.select(['iface:r1/eth0']));
      await page.keyboard.press('Delete');
      await page.mouse.click(r1.x, r1.y);
      await page.getByTestId('prop-renumber').click();
      await page.getByTestId('prop-eth0-ipv4').waitFor();
      expect(await page.getByTestId('prop-eth0-ipv4').inputValue()).toBe('10.0.2.1/24');
      expect(await page.getByTestId('prop-renumber').count()).toBe(0);

      // Addresses at the cable ends, on request.
      await page.getByTestId('show-addresses').check();
      expect(await page.evaluate(() => (window as any).__vnetlab.cy.getElementById('iface:r1/eth0').data('sourceLabel'))).toBe('eth0\n10.0.2.1/24\n2001:db8:2::1/64');
      await page.getByTestId('show-addresses').uncheck();
      await expectFitsWidth(page);
    });

    it('adds checks in the lab properties and saves them to lab.yaml; the Lab tab can check with them', async () => {
      await page.getByTestId('canvas').click({ position: { x: 5, y: 5 } }); // nothing selected: the lab's properties
      await page.getByTestId('side-properties').click();
      await page.getByTestId('check-kind').selectOption('reach');
      await page.getByTestId('check-on').selectOption('pc1');
      await page.getByTestId('check-a').fill('10.0.2.1');
      await page.getByTestId('check-add').click();
      await page.getByTestId('check-kind').selectOption('daemon');
      await page.getByTestId('check-on').selectOption('r1');
      await page.getByTestId('check-a').fill('zebra');
      await page.getByTestId('check-description').fill('zebra runs on r1');
      await page.getByTestId('check-add').click();
      expect(await page.getByTestId('checks-list').locator('li').allTextContents()).toEqual([
        expect.stringContaining('pc1 reaches 10.0.2.1'),
        expect.stringContaining('zebra runs on r1'),
      ]);
      await page.getByTestId('side-lab').click();
      expect(await page.getByTestId('check-why').textContent()).toMatch(/Save the lab first|Start the lab/);

      // Save as: the allowed folder is a shortcut that opens it (the dialog stays open), a refused
      // path is said beside the field with the typed text kept.
      await page.getByRole('button', { name: 'Save as…' }).click();
      await page.getByTestId('dialog-roots').getByRole('button', { name: allowed }).click();
      await page.getByTestId('dialog-list').getByText('week1/').waitFor();
      expect(await page.getByTestId('file-dialog').isVisible()).toBe(true);
      expect(await page.getByTestId('dialog-path').inputValue()).toBe(allowed);
      await page.getByTestId('dialog-path').fill('/etc/nope');
      await page.getByTestId('dialog-ok').click();
      await page.getByTestId('dialog-error').filter({ hasText: 'outside the folders the app may use' }).waitFor();
      expect(await page.getByTestId('dialog-path').inputValue()).toBe('/etc/nope');
      await page.getByTestId('dialog-path').fill(folder());
      await page.getByTestId('dialog-ok').click();
      await page.getByTestId('file-dialog').waitFor({ state: 'hidden' });
      const yaml = readFileSync(join(folder(), 'lab.yaml'), 'utf8');
      expect(yaml).toMatch(/title: Routing 101/);
      expect(yaml).toMatch(/kind: reach[\s\S]*from: pc1[\s\S]*to: 10\.0\.2\.1/);
      expect(yaml).toMatch(/run: pidof zebra/);
      await page.screenshot({ path: join(SCREENSHOTS, `instructor-${viewport.width}.png`) });
    });

    it('opens a Kathará folder with the same layout every time', async () => {
      const lab = join(allowed, `kathara-${viewport.width}`);
      copyWritable(fixtureLab('kathara-static-routing'), lab);
      const positions = async () => {
        await page.goto(`${server.origin}/?lab=${encodeURIComponent(lab)}`);
        await page.waitForFunction((f) => (window as any).__vnetlab?.state.folder === f && Object.keys((window as any).__vnetlab.state.model.layout).length >= 4, lab);
        return page.evaluate(() => JSON.stringify((window as any).__vnetlab.state.model.layout));
      };
      const first = await positions();
      expect(await positions()).toBe(first);
      await expectFitsWidth(page);
    });
  });
}
