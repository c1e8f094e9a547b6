// The editor in a real Chromium against a real `vnetlab serve`: build a lab with the mouse from an
// empty canvas, save it, reopen it, and check the file compiles to the same plan; plus the server's
// access control and the sanitising of lab descriptions. No guest boots here.
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { BrowserContext, Dialog, Page } from 'playwright-core';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyWritable } from '../support/host.ts';
import { fixtureLab } from '../support/fixtures.ts';
import { graphIds, launchBrowser, nodePoint, removeDir, SCREENSHOTS, serve, testEnv, type Served, type TestEnv } from './helpers.ts';

let t: TestEnv;
let server: Served;
let browser: BrowserContext;
let page: Page;
/** How the next browser dialog (confirm, beforeunload) is answered; accepted when unset. */
let answerNextDialog: ((d: Dialog) => Promise<void>) | undefined;

beforeAll(async () => {
  t = testEnv('editor');
  server = await serve(t.env);
  browser = await launchBrowser(t.dir);
  page = await browser.newPage();
  page.on('dialog', (d) => {
    const answer = answerNextDialog ?? ((dialog: Dialog) => dialog.accept());
    answerNextDialog = undefined;
    void answer(d);
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (t) removeDir(t.dir);
});

async function dragFromPalette(kind: string, to: { x: number; y: number }): Promise<void> {
  const box = (await page.getByTestId(`palette-${kind}`).boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move((box.x + to.x) / 2, (box.y + to.y) / 2, { steps: 4 });
  await page.mouse.move(to.x, to.y, { steps: 4 });
  await page.mouse.up();
}

async function cable(from: string, to: string): Promise<void> {
  const a = await nodePoint(page, from);
  const b = await nodePoint(page, to);
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  await page.mouse.move(b.x, b.y, { steps: 8 });
  await page.mouse.up();
}

async function selectNode(id: string): Promise<void> {
  const p = await nodePoint(page, id);
  await page.mouse.click(p.x, p.y);
}

/** The plan of the lab in the editor, compiled by the service as if it lived in `root`. */
async function compileInPage(root: string): Promise<unknown> {
  return page.evaluate(async (labRoot) => {
    const app = (window as any).__vnetlab;
    const r = await app.api.compile({ ...app.state.model, root: labRoot });
    return r.plan;
  }, root);
}

describe('server access control', () => {
  it('refuses requests without the token, with a wrong token, or from another origin/host', async () => {
    const noToken = await fetch(`${server.origin}/`);
    expect(noToken.status).toBe(401);
    const badToken = await fetch(`${server.origin}/?token=nope`, { redirect: 'manual' });
    expect(badToken.status).toBe(401);
    const link = await server.freshLink();
    const good = await fetch(link, { redirect: 'manual' });
    expect(good.status).toBe(303);
    const cookie = good.headers.get('set-cookie')!.split(';')[0]!;
    expect(good.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Strict/);
    expect(cookie).not.toContain(new URL(link).searchParams.get('token')!); // the cookie's secret was in no link
    // The link opens the app once: used again without the cookie it is refused.
    expect((await fetch(link, { redirect: 'manual' })).status).toBe(401);
    const withCookie = await fetch(`${server.origin}/app.js`, { headers: { cookie } });
    expect(withCookie.status).toBe(200);
    // DNS rebinding: a foreign Host name is refused even with the token.
    // (fetch cannot set Host, so plain http.request.)
    const rebound = await new Promise<number>((resolve, reject) => {
      const u = new URL(server.origin);
      request({ host: '127.0.0.1', port: u.port, path: '/app.js', headers: { cookie, host: `evil.example:${u.port}` } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      }).on('error', reject).end();
    });
    expect(rebound).toBe(403);
    const foreignOrigin = await fetch(`${server.origin}/app.js`, { headers: { cookie, origin: 'http://evil.example' } });
    expect(foreignOrigin.status).toBe(403);
    const traversal = await fetch(`${server.origin}/..%2f..%2fpackage.json`, { headers: { cookie } });
    expect(traversal.status).toBe(404);

    const wsUrl = `${server.origin.replace('http', 'ws')}/rpc`;
    const outcome = (headers: Record<string, string>) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(wsUrl, { headers });
        ws.on('open', () => {
          ws.close();
          resolve('open');
        });
        ws.on('unexpected-response', (_req, res) => resolve(String(res.statusCode)));
        ws.on('error', (e) => resolve(`error ${e.message}`));
      });
    expect(await outcome({ origin: server.origin })).toBe('401');
    expect(await outcome({ origin: 'http://evil.example', cookie })).toBe('403');
    expect(await outcome({ cookie })).toBe('403'); // a WebSocket must say where it comes from
    expect(await outcome({ origin: server.origin, cookie })).toBe('open');
  });

  it('answers a bad call with a clear message, not a stack trace', async () => {
    const good = await fetch(await server.freshLink(), { redirect: 'manual' });
    const cookie = good.headers.get('set-cookie')!.split(';')[0]!;
    const ws = new WebSocket(`${server.origin.replace('http', 'ws')}/rpc`, { headers: { origin: server.origin, cookie } });
    await new Promise((r) => ws.once('open', r));
    const reply = (frame: object) =>
      new Promise<any>((resolve) => {
        ws.once('message', (d) => resolve(JSON.parse(String(d))));
        ws.send(JSON.stringify(frame));
      });
    const outside = await reply({ id: 1, method: 'listFolder', params: ['/etc'] });
    expect(outside.error.code).toBe('bad-input');
    expect(outside.error.message).toMatch(/outside the folders the app may use/);
    const unknown = await reply({ id: 2, method: 'rm', params: [] });
    expect(unknown.error.message).toMatch(/unknown method/);
    const badSave = await reply({ id: 3, method: 'saveLab', params: [join(t.home, 'x'), { nope: 1 }, 'yaml'] });
    expect(badSave.error.message).toMatch(/malformed/);
    expect(JSON.stringify([outside, unknown, badSave])).not.toMatch(/\n\s+at /);
    ws.close();
  });
});

describe('editor', () => {
  it('opens the default lab with its layout and pins nothing on a valid lab', async () => {
    await page.goto(await server.freshLink());
    await page.waitForFunction(() => (window as any).__vnetlab?.cy.nodes().length === 3);
    expect(await graphIds(page)).toEqual({ nodes: ['domain:lan', 'machine:pc1', 'machine:pc2'], edges: ['iface:pc1/eth0', 'iface:pc2/eth0'] });
    await page.getByTestId('side-lab').click();
    expect(await page.getByTestId('lab-description').locator('h1').textContent()).toBe('Two hosts on a switch');
    mkdirSync(SCREENSHOTS, { recursive: true }); // a temp dir unless VNETLAB_SCREENSHOTS says otherwise
    await page.screenshot({ path: join(SCREENSHOTS, 'editor-two-hosts.png') });
  });

  it('builds a lab with the mouse, saves it, reopens it, and it compiles to the same plan', async () => {
    await page.getByRole('button', { name: 'New' }).click();
    await page.waitForFunction(() => (window as any).__vnetlab.cy.nodes().length === 0);
    const canvas = (await page.getByTestId('canvas').boundingBox())!;
    const at = (fx: number, fy: number) => ({ x: canvas.x + canvas.width * fx, y: canvas.y + canvas.height * fy });
    await dragFromPalette('host', at(0.25, 0.5));
    await dragFromPalette('host', at(0.75, 0.5));
    await dragFromPalette('switch', at(0.5, 0.3));
    expect((await graphIds(page)).nodes).toEqual(['domain:A', 'machine:pc1', 'machine:pc2']);

    await page.getByTestId('tool-cable').click();
    await cable('machine:pc1', 'domain:A');
    await cable('machine:pc2', 'domain:A');
    await page.getByTestId('tool-select').click();
    expect((await graphIds(page)).edges).toEqual(['iface:pc1/eth0', 'iface:pc2/eth0']);
    // Interface names on the cable ends.
    expect(await page.evaluate(() => (window as any).__vnetlab.cy.getElementById('iface:pc1/eth0').data('sourceLabel'))).toBe('eth0');

    // Live diagnostics: a bad address is pinned on its cable, then fixed.
    await selectNode('machine:pc1');
    await page.getByTestId('prop-eth0-ipv4').fill('10.0.0.300/24');
    await page.getByTestId('prop-eth0-ipv4').press('Enter');
    await page.waitForFunction(() => (window as any).__vnetlab.cy.getElementById('iface:pc1/eth0').hasClass('diag-error'), undefined, { timeout: 10_000 });
    await page.screenshot({ path: join(SCREENSHOTS, 'editor-diagnostic.png') });
    await page.getByTestId('prop-eth0-ipv4').fill('10.0.0.1/24');
    await page.getByTestId('prop-eth0-ipv4').press('Enter');
    await page.waitForFunction(() => !(window as any).__vnetlab.cy.getElementById('iface:pc1/eth0').hasClass('diag-error'), undefined, { timeout: 10_000 });
    await selectNode('machine:pc2');
    await page.getByTestId('prop-eth0-ipv4').fill('10.0.0.2/24');
    await page.getByTestId('prop-eth0-ipv4').press('Enter');
    await selectNode('machine:pc2');
    await page.getByTestId('prop-startup').fill('echo hello from pc2\n');
    await page.getByTestId('prop-name').click(); // commit the script (change on blur)

    // Undo/redo through the keyboard, on the canvas.
    const machinesNow = await page.evaluate(() => (window as any).__vnetlab.state.model.machines.length);
    await selectNode('machine:pc2');
    await page.keyboard.press('Delete');
    await page.waitForFunction(() => (window as any).__vnetlab.state.model.machines.length === 1);
    await page.keyboard.press('Control+z');
    await page.waitForFunction((n) => (window as any).__vnetlab.state.model.machines.length === n, machinesNow);
    // Save as: the dialog takes a folder inside the (temp) home.
    const folder = join(t.home, 'labs', 'my-first-lab');
    const before = (await compileInPage(folder)) as { guests: unknown[] };
    expect(before.guests.length).toBe(2);
    await page.getByRole('button', { name: 'Save as…' }).click();
    await page.getByTestId('dialog-path').fill(folder);
    await page.getByTestId('dialog-ok').click();
    await page.waitForFunction(() => /Saved/.test(document.getElementById('status')!.textContent!));
    const yaml = readFileSync(join(folder, 'lab.yaml'), 'utf8');
    expect(yaml).toMatch(/10\.0\.0\.1\/24/);
    expect(yaml).toMatch(/hello from pc2/);
    await page.screenshot({ path: join(SCREENSHOTS, 'editor-new-lab.png') });

    // Reopen from disk through the Open dialog, in a fresh page.
    await page.goto(server.url); // used already: this browser holds the cookie
    await page.waitForFunction(() => (window as any).__vnetlab?.cy.nodes().length === 3);
    await page.getByRole('button', { name: 'Open…' }).click();
    await page.getByTestId('dialog-path').fill(folder);
    await page.getByTestId('dialog-ok').click();
    await page.waitForFunction((f) => (window as any).__vnetlab.state.folder === f, folder);
    expect(await graphIds(page)).toEqual({ nodes: ['domain:A', 'machine:pc1', 'machine:pc2'], edges: ['iface:pc1/eth0', 'iface:pc2/eth0'] });
    const after = await compileInPage(folder);
    expect(after).toEqual(before);
  });

  it('copies and pastes machines with the cables between them', async () => {
    const ids = await page.evaluate(() => {
      const app = (window as any).__vnetlab;
      app.cy.elements().unselect();
      for (const id of ['machine:pc1', 'machine:pc2', 'domain:A']) app.cy.getElementById(id).select();
      return app.cy.$(':selected').map((e: any) => e.id()).sort();
    });
    expect(ids).toEqual(['domain:A', 'machine:pc1', 'machine:pc2']);
    await page.waitForFunction(() => (window as any).__vnetlab.state.selection.length === 3);
    await page.keyboard.press('Control+c');
    await page.keyboard.press('Control+v');
    await page.waitForFunction(() => (window as any).__vnetlab.cy.nodes().length === 6);
    const g = await graphIds(page);
    expect(g.edges).toEqual(['iface:pc1/eth0', 'iface:pc2/eth0', 'iface:pc3/eth0', 'iface:pc4/eth0']);
    expect(await page.evaluate(() => (window as any).__vnetlab.cy.getElementById('iface:pc3/eth0').target().id())).toBe('domain:B');
  });

  it('asks before "save as" replaces another lab, and keeps it when told no', async () => {
    const folder = join(t.home, 'labs', 'my-first-lab'); // saved by the test above
    const original = readFileSync(join(folder, 'lab.yaml'), 'utf8');
    await page.goto(server.url); // the default lab (two-hosts), clean
    await page.waitForFunction(() => (window as any).__vnetlab?.cy.nodes().length === 3);
    const saveAsInto = async (answer: 'accept' | 'dismiss') => {
      const asked = new Promise<string>((resolve) => {
        answerNextDialog = (d) => {
          resolve(d.message());
          return d[answer]();
        };
      });
      await page.getByRole('button', { name: 'Save as…' }).click();
      await page.getByTestId('dialog-path').fill(folder);
      await page.getByTestId('dialog-ok').click();
      return asked;
    };
    expect(await saveAsInto('dismiss')).toContain('already holds a lab');
    // Told no: the dialog stays open with the folder typed and says why beside it.
    await page.getByTestId('dialog-error').filter({ hasText: 'Not saved: that folder already holds a lab' }).waitFor();
    expect(await page.getByTestId('dialog-path').inputValue()).toBe(folder);
    expect(readFileSync(join(folder, 'lab.yaml'), 'utf8')).toBe(original);
    const asked = new Promise<string>((resolve) => {
      answerNextDialog = (d) => {
        resolve(d.message());
        return d.accept();
      };
    });
    await page.getByTestId('dialog-ok').click();
    expect(await asked).toContain(folder);
    await page.waitForFunction(() => /Saved/.test(document.getElementById('status')!.textContent!));
    expect(readFileSync(join(folder, 'lab.yaml'), 'utf8')).toMatch(/name: two-hosts/);
  });

  it('lays out a Kathará lab that has no positions, and saves it back as lab.conf', async () => {
    // A copy in the temp home (the fixture itself stays untouched).
    const folder = join(t.home, 'labs', 'static-routing');
    copyWritable(fixtureLab('kathara-static-routing'), folder);
    await page.goto(`${server.origin}/?lab=${encodeURIComponent(folder)}`);
    await page.waitForFunction((f) => (window as any).__vnetlab?.state.folder === f, folder);
    await page.waitForFunction(() => Object.keys((window as any).__vnetlab.state.model.layout).length >= 4);
    const boxes = await page.evaluate(() => (window as any).__vnetlab.cy.nodes().map((n: any) => n.boundingBox({ includeLabels: false })));
    // Every node placed, none on top of another.
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const [a, b] = [boxes[i], boxes[j]];
        expect(a.x2 <= b.x1 || b.x2 <= a.x1 || a.y2 <= b.y1 || b.y2 <= a.y1, `nodes ${i} and ${j} overlap`).toBe(true);
      }
    }
    // Point-to-point domains A and C are cables; B (r1-r2) too: three cables between four machines.
    expect((await graphIds(page)).edges).toEqual(['domain:A', 'domain:B', 'domain:C']);
    // The layout alone is not an unsaved change.
    expect(await page.evaluate(() => (window as any).__vnetlab.state.dirty)).toBe(false);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.waitForFunction(() => /Saved .*lab\.conf/.test(document.getElementById('status')!.textContent!));
    expect(readFileSync(join(folder, 'lab.conf'), 'utf8')).toMatch(/r1\[1\]="?B"?/);
    await page.screenshot({ path: join(SCREENSHOTS, 'editor-kathara-layout.png') });
  });

  it('renders a lab description without letting it run script', async () => {
    const folder = join(t.home, 'labs', 'evil');
    mkdirSync(folder, { recursive: true });
    const description = [
      '# Evil lab',
      '<script>window.__pwned = "script"</script>',
      '<img src=x onerror="window.__pwned = \'img\'">',
      '[click](javascript:window.__pwned=1)',
      '<iframe src="javascript:parent.__pwned=1"></iframe>',
      '<a href="https://example.org" onclick="window.__pwned=2">ok link</a>',
    ].join('\n\n');
    writeFileSync(join(folder, 'lab.yaml'), `lab:\n  name: evil\n  description: ${JSON.stringify(description)}\nmachines:\n  pc1: {image: tiny, memory: 64}\n`);
    await page.goto(`${server.origin}/?lab=${encodeURIComponent(folder)}`);
    page.once('dialog', (d) => void d.accept());
    await page.waitForFunction(() => (window as any).__vnetlab?.state.folder.endsWith('/evil'));
    await page.getByTestId('side-lab').click();
    const html = await page.getByTestId('lab-description').innerHTML();
    expect(html).toContain('<h1>Evil lab</h1>');
    expect(html).not.toMatch(/<script|onerror|onclick|javascript:|<iframe/i);
    expect(await page.getByTestId('lab-description').locator('a', { hasText: 'ok link' }).getAttribute('rel')).toBe('noopener noreferrer');
    await page.waitForTimeout(300);
    expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
  });
});
