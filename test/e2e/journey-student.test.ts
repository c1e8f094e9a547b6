// Issue 11, a student's day on two-hosts with real guests, at 1440×900 and at 1024×700: the page fits
// (no sideways scroll, one-line toolbar, canvas and buttons not squeezed), the instructions stay in view
// while consoles open, consoles come back by themselves after Stop → Start and after a reload, Check my
// work scores the running lab, a stop from another window is said, per-machine memory shows.
// (The server going away and coming back: disconnected.test.ts.)
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, layoutProblems, nodePoint, REPO, SCREENSHOTS, serve, testEnv, type Served, type TestEnv, consoleText as consoleTextOf, waitConsole as waitConsoleOf, closeJourney } from './helpers.ts';

const LAB = join(REPO, 'labs', 'two-hosts');

for (const viewport of [{ width: 1440, height: 900 }, { width: 1024, height: 700 }]) {
  const size = `${viewport.width}×${viewport.height}`;
  describe(`a student on two-hosts at ${size}`, () => {
    let t: TestEnv;
    let server: Served;
    let browser: BrowserContext;
    let page: Page;

    beforeAll(async () => {
      t = testEnv(`journey-student-${viewport.width}`);
      server = await serve(t.env, [LAB]);
      browser = await launchBrowser(t.dir, viewport);
      page = await browser.newPage();
      mkdirSync(SCREENSHOTS, { recursive: true });
    });

    afterAll(() => closeJourney({ browser, server, t, lab: LAB }));

    const consoleText = (machine: string) => consoleTextOf(page, machine);
    const waitConsole = (machine: string, pattern: RegExp, timeout = 60_000) => waitConsoleOf(page, machine, pattern, timeout);
    /** Both machines ready, as the status bar says it; on a timeout, says what the page showed. */
    async function allReady(timeout = 90_000): Promise<void> {
      const deadline = Date.now() + timeout;
      let seen = '';
      while (Date.now() < deadline) {
        seen = await page.evaluate(() => {
          const app = (window as any).__vnetlab;
          const status = document.querySelector('[data-testid=status]')?.textContent;
          return JSON.stringify({ running: app.state.running, machines: [...app.state.machineStates], runState: document.querySelector('[data-testid=run-state]')?.textContent, status });
        });
        const s = JSON.parse(seen);
        if (s.running && /^2\/2 ready/.test(s.runState) && s.machines.every(([, st]: [string, string]) => st === 'ready')) return;
        await page.waitForTimeout(250);
      }
      throw new Error(`the lab never showed 2/2 ready in ${timeout / 1000} s; the page shows ${seen}`);
    }
    const expectFits = async (when: string) => expect(await layoutProblems(page), when).toEqual([]);

    it('opens on the rendered instructions, and the page fits the window', async () => {
      await page.goto(await server.freshLink());
      await page.getByTestId('lab-description').locator('h1').waitFor();
      expect(await page.getByTestId('lab-panel').isVisible()).toBe(true);
      expect(await page.getByTestId('lab-title').textContent()).toMatch(/\S/);
      expect(await page.getByTestId('run-state').textContent()).toBe('stopped');
      expect(await page.getByTestId('check-why').textContent()).toMatch(/Start the lab to check your work/);
      await expectFits('before Start');
    });

    it('starts the lab; a double-click opens the console and the instructions stay', async () => {
      await page.getByTestId('start').click();
      await allReady();
      const p = await nodePoint(page, 'machine:pc1');
      await page.mouse.dblclick(p.x, p.y);
      await page.getByTestId('console-pc1').waitFor();
      await page.waitForTimeout(600); // longer than the single-click delay
      expect(await page.getByTestId('lab-panel').isVisible()).toBe(true);
      await page.getByTestId('console-pc1').click();
      await page.keyboard.type('echo one-$((40+2))\n');
      await waitConsole('pc1', /one-42/);
      await expectFits('with a console open');
      // A single click shows the machine's properties, with its memory on the host (the console
      // panel made the canvas smaller: the node moved).
      const q = await nodePoint(page, 'machine:pc1');
      await page.mouse.click(q.x, q.y);
      await page.getByTestId('properties').waitFor({ state: 'visible' });
      await page.getByTestId('prop-runtime').filter({ hasText: /ready · memory \d+ MB on the host/ }).waitFor({ timeout: 15_000 });
    });

    it('after Stop → Start the console tab reconnects by itself and takes typing', async () => {
      await page.getByTestId('stop').click();
      await page.getByTestId('run-state').filter({ hasText: /^stopped$/ }).waitFor({ timeout: 60_000 });
      await waitConsole('pc1', /console closed/);
      await page.getByTestId('start').click();
      await allReady();
      await waitConsole('pc1', /console reconnected/);
      await page.getByTestId('console-pc1').click();
      await page.keyboard.press('Enter');
      await page.keyboard.type('echo two-$((40+2))\n');
      await waitConsole('pc1', /two-42/);
    }, 240_000); // longer than its waits together, so that the one that times out says what the page showed

    it('Check my work scores the running lab, in view', async () => {
      await page.getByTestId('side-lab').click();
      const button = page.getByTestId('check-my-work');
      await button.scrollIntoViewIfNeeded();
      await button.click();
      await page.getByTestId('check-results').locator('.score').filter({ hasText: /^Score: \d+ \/ \d+$/ }).waitFor({ timeout: 60_000 });
      const score = await page.getByTestId('check-results').locator('.score').textContent();
      const [, got, max] = /Score: (\d+) \/ (\d+)/.exec(score!)!;
      expect(Number(max)).toBeGreaterThan(0);
      expect(got).toBe(max); // two-hosts is configured at boot: every check passes
      expect(await page.getByTestId('check-results').locator('li.pass').count()).toBeGreaterThan(0);
      expect(await page.getByTestId('check-results').isVisible()).toBe(true);
      await expectFits('with the check results');
      await page.screenshot({ path: join(SCREENSHOTS, `journey-student-${viewport.width}.png`) });
    });

    it('a reload reopens the console tab; a stop from another window is said in this one', async () => {
      await page.reload();
      await page.getByTestId('console-pc1').waitFor({ timeout: 30_000 });
      await waitConsole('pc1', /two-42/);
      const other = await browser.newPage();
      await other.goto(server.url); // same browser: it holds the cookie
      await other.getByTestId('run-state').filter({ hasText: /^2\/2 ready/ }).waitFor({ timeout: 30_000 });
      await other.getByTestId('stop').click();
      await page.getByTestId('status').filter({ hasText: 'The lab was stopped (from another window or the command line)' }).waitFor({ timeout: 60_000 });
      expect(await page.getByTestId('run-state').textContent()).toBe('stopped');
      await other.close();
    });
  });
}
