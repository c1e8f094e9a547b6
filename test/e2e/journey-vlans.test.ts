// Switches cabled to switches, with VLANs (issue 23, section 2), in the app: a student on labs/vlans
// at 1440×900 with real guests — trunks and access ports drawn, spanning tree's blocked port shown and
// moving when a trunk is pulled, Check my work at the lab's starting score — and an instructor at
// 1024×700 drawing two switches cabled together, setting VLANs and spanning tree, saving lab.yaml.
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeJourney, edgePoint, launchBrowser, layoutProblems, nodePoint, REPO, SCREENSHOTS, serve, testEnv, type Served, type TestEnv } from './helpers.ts';

let t: TestEnv;
let server: Served;
let lab: string;

beforeAll(async () => {
  t = testEnv('vlans');
  lab = join(t.dir, 'vlans');
  cpSync(join(REPO, 'labs', 'vlans'), lab, { recursive: true });
  server = await serve(t.env, ['--allow', t.dir]);
  mkdirSync(SCREENSHOTS, { recursive: true });
});

afterAll(() => closeJourney({ server, t, lab }));

/** Switch links drawn blocked by spanning tree (dashed, "blocked" at an end). */
const blockedLinks = (page: Page) =>
  page.evaluate(() => (window as any).__vnetlab.cy.edges('.stp-blocked').map((e: any) => `${e.id()} ${[e.data('sourceLabel'), e.data('targetLabel')].filter(Boolean).join('/')}`).sort() as string[]);

describe('a student on labs/vlans at 1440×900 (real guests)', () => {
  let browser: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    browser = await launchBrowser(join(t.dir, 'student'), { width: 1440, height: 900 });
    page = await browser.newPage();
    await page.goto(await server.freshLink());
    await page.goto(`${server.origin}/?lab=${encodeURIComponent(lab)}`);
    await page.waitForFunction((f) => (window as any).__vnetlab?.state.folder === f && (window as any).__vnetlab.cy.nodes().length === 8, lab);
  });
  afterAll(() => browser?.close());

  it('draws the trunks between the switches and each port\'s VLAN', async () => {
    const edges = await page.evaluate(() => {
      const cy = (window as any).__vnetlab.cy;
      return cy.edges().map((e: any) => `${e.id()}|${e.data('label') || e.data('targetLabel')}`).sort();
    });
    expect(edges).toEqual([
      'iface:pc1/eth0|VLAN 10', 'iface:pc2/eth0|VLAN 20', 'iface:pc3/eth0|VLAN 10', 'iface:pc4/eth0|VLAN 20', 'iface:r1/eth0|trunk 10,20',
      'link:sw1--sw2|trunk 10,20', 'link:sw1--sw3|trunk 10,20', 'link:sw2--sw3|trunk 10,20',
    ]);
    expect(await layoutProblems(page)).toEqual([]);
  });

  it('starts; spanning tree blocks the sw2–sw3 trunk, and pulling sw1–sw2 opens it', async () => {
    await page.getByTestId('start').click();
    await page.getByTestId('run-state').filter({ hasText: /^5\/5 ready/ }).waitFor({ timeout: 120_000 });
    await expect.poll(() => blockedLinks(page), { timeout: 15_000 }).toEqual(['link:sw2--sw3 blocked/blocked']);
    await page.screenshot({ path: join(SCREENSHOTS, 'vlans-blocked-port.png') });
    // Its properties say why it carries nothing.
    const p = await edgePoint(page, 'link:sw2--sw3');
    await page.mouse.click(p.x, p.y);
    // Polled for its text, so a failure says what the panel showed (nothing: the click missed the link).
    const why = () =>
      page.getByTestId('prop-link-blocked').textContent({ timeout: 500 }).catch(async () => {
        const selected = await page.evaluate(() => (window as any).__vnetlab.cy.$(':selected').map((e: any) => e.id()).join(', '));
        return `no blocked-link line; selected: ${selected || 'nothing'}`;
      });
    await expect.poll(why, { timeout: 10_000 }).toMatch(/Spanning tree blocks this link's port at sw[23] \(default VLAN, VLAN 10, VLAN 20\)/);

    const q = await edgePoint(page, 'link:sw1--sw2');
    await page.mouse.click(q.x, q.y, { button: 'right' });
    await page.getByTestId('context-menu').getByText('Unplug cable').click();
    await expect.poll(() => page.evaluate(() => (window as any).__vnetlab.cy.getElementById('link:sw1--sw2').hasClass('cable-unplugged'))).toBe(true);
    await expect.poll(() => blockedLinks(page), { timeout: 15_000 }).toEqual([]);
    await page.mouse.click(q.x, q.y, { button: 'right' });
    await page.getByTestId('context-menu').getByText('Plug cable in').click();
    await expect.poll(() => blockedLinks(page), { timeout: 15_000 }).toEqual(['link:sw2--sw3 blocked/blocked']);
  }, 200_000);

  it('Check my work scores the starting 4 of 10: same VLAN across switches, isolation and failover hold; routing between VLANs is to do', async () => {
    await page.getByTestId('side-lab').click();
    await page.getByTestId('check-my-work').click();
    await page.getByTestId('check-results').locator('.score').filter({ hasText: /^Score: \d+ \/ \d+$/ }).waitFor({ timeout: 90_000 });
    expect(await page.getByTestId('check-results').locator('.score').textContent()).toBe('Score: 4 / 10');
    expect(await page.getByTestId('check-results').locator('li.pass').allTextContents()).toEqual(expect.arrayContaining([
      expect.stringContaining('pc1 reaches pc3 in VLAN 10'), expect.stringContaining('stay apart'), expect.stringContaining('spanning tree opens the blocked port'),
    ]));
  }, 120_000);
});

describe('an instructor draws switches cabled together, with VLANs, at 1024×700', () => {
  let browser: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    browser = await launchBrowser(join(t.dir, 'instructor'), { width: 1024, height: 700 });
    page = await browser.newPage();
    page.on('dialog', (d) => void d.accept());
    await page.goto(await server.freshLink());
    // The app opens the first shipped lab: wait for it, so New is not undone by it arriving late.
    await page.waitForFunction(() => (window as any).__vnetlab?.state.folder && (window as any).__vnetlab.cy.nodes().length > 0);
  });
  afterAll(() => browser?.close());

  it('cables a switch to a switch, sets a trunk, access ports and spanning tree, and saves them', async () => {
    await page.getByRole('button', { name: 'New' }).click();
    await page.waitForFunction(() => (window as any).__vnetlab.cy.nodes().length === 0 && (window as any).__vnetlab.state.folder === '');
    for (const kind of ['switch', 'switch', 'host', 'host']) await page.getByTestId(`palette-${kind}`).click();
    await page.getByTestId('tool-cable').click();
    for (const [a, b] of [['domain:A', 'domain:B'], ['machine:pc1', 'domain:A'], ['machine:pc2', 'domain:B']]) {
      const p = await nodePoint(page, a!);
      const q = await nodePoint(page, b!);
      await page.mouse.move(p.x, p.y);
      await page.mouse.down();
      await page.mouse.move(q.x, q.y, { steps: 6 });
      await page.mouse.up();
    }
    await page.getByTestId('tool-select').click();
    expect((await page.evaluate(() => (window as any).__vnetlab.cy.edges().map((e: any) => e.id()).sort()))).toEqual(['iface:pc1/eth0', 'iface:pc2/eth0', 'link:A--B']);

    // The switch link: a trunk of VLANs 10 and 20.
    await page.evaluate(() => (window as any).__vnetlab.state.select(['link:A--B']));
    await page.getByTestId('side-properties').click();
    await page.getByTestId('prop-link-vlans').fill('20, 10');
    await page.keyboard.press('Enter');
    // The hosts' ports: VLAN 10 on both switches.
    for (const [machine, sw] of [['pc1', 'A'], ['pc2', 'B']]) {
      await page.evaluate(([m, s]) => {
        const app = (window as any).__vnetlab;
        app.state.select([`domain:${s}`]);
      }, [machine, sw]);
      await page.getByTestId('prop-stp').check();
      const p = await nodePoint(page, `machine:${machine}`);
      await page.mouse.click(p.x, p.y);
      await page.getByTestId('prop-eth0-vlan').fill('10');
      await page.keyboard.press('Enter');
    }
    await expect.poll(() => page.evaluate(() => (window as any).__vnetlab.cy.getElementById('link:A--B').data('label'))).toBe('trunk 10,20');
    expect(await page.evaluate(() => (window as any).__vnetlab.cy.getElementById('iface:pc2/eth0').data('label'))).toBe('VLAN 10');
    expect(await layoutProblems(page)).toEqual([]);
    await page.screenshot({ path: join(SCREENSHOTS, 'vlans-drawn-1024.png') });

    await page.keyboard.press('Control+s');
    await page.getByTestId('dialog-path').fill(join(t.dir, 'drawn'));
    await page.getByTestId('dialog-ok').click();
    await page.getByTestId('file-dialog').waitFor({ state: 'hidden' });
    const yaml = readFileSync(join(t.dir, 'drawn', 'lab.yaml'), 'utf8');
    expect(yaml).toMatch(/switch_links:\n {2}- \{ between: \[ A, B \], vlans: \[ 10, 20 \] \}/);
    expect(yaml).toMatch(/A: \{ kind: switch, stp: true \}/);
    expect(yaml).toMatch(/\{ domain: A, vlan: 10 \}/);
  }, 120_000);
});
