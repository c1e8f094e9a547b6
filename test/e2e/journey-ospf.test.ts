// Issue 11, a student on the shipped OSPF lab (three FRR routers on the debian image), real guests
// booted once: Start, five machines ready on the canvas, r1's console by double-click, `vtysh` shows
// the adjacencies reach Full, and the console stays the student's (item 8): FRR's daemon lines and
// kernel messages never land between the prompt and the output — not while OSPF converges, not when
// FRR is restarted from the console — while `/var/log/syslog` and `dmesg` have them. Then Check my work
// grades the lab, and Stop.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderVariant } from '../../src/main/lab/variants.ts';
import { debianForTests } from '../support/debian.ts';
import { launchBrowser, layoutProblems, nodePoint, REPO, SCREENSHOTS, serve, testEnv, type Served, type TestEnv, closeJourney, consoleText as consoleTextOf } from './helpers.ts';

// The shipped lab keeps its solution apart (issue 19): this student's copy has it applied, so OSPF converges.
let LAB = join(REPO, 'labs', 'ospf');
const skip = debianForTests().skipNote;

/**
 * What a daemon or the kernel would print on the console: FRR's log lines (`watchfrr[724]: [QDG3Y-BY5TN]
 * zebra state -> up`, `OSPF: [..]`, `%ADJCHG`), syslog's priority prefix, kernel timestamps.
 */
const NOISE = /\[[A-Z0-9]{5}-[A-Z0-9]{5}\]|\b(watchfrr|zebra|ospfd|staticd|mgmtd)\[\d+\]|ADJCHG|^<\d+>|^\[ *\d+\.\d+\]|OSPF: |ZEBRA: |WATCHFRR: /m;

describe.skipIf(Boolean(skip))(`a student on the OSPF lab, real FRR routers${skip}`, () => {
  let t: TestEnv;
  let server: Served;
  let browser: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    t = testEnv('journey-ospf');
    LAB = join(t.dir, 'solved', 'ospf');
    await renderVariant(join(REPO, 'labs', 'ospf'), '0', LAB, { withSolution: true });
    server = await serve(t.env, [LAB]);
    browser = await launchBrowser(t.dir, { width: 1440, height: 900 });
    page = await browser.newPage();
    mkdirSync(SCREENSHOTS, { recursive: true });
  });

  afterAll(() => closeJourney({ browser, server, t, lab: LAB }));

  const consoleText = () => consoleTextOf(page, 'r1');
  let marks = 0;
  /**
   * Types a command line into r1's console followed by an end mark the shell computes
   * (`echo M$((100000+n))` prints M10000n, which the typed line itself does not contain), and returns
   * what the console shows between the typed line and the mark: the command's output, and any noise.
   */
  async function run(command: string, timeout = 30_000): Promise<string> {
    const n = ++marks;
    const mark = `M${100000 + n}`;
    await page.keyboard.type(`${command}; echo M$((100000+${n}))\n`);
    const deadline = Date.now() + timeout;
    let text = '';
    while (Date.now() < deadline) {
      text = await consoleText();
      const end = text.search(new RegExp(`^${mark}\\s*$`, 'm'));
      if (end >= 0) {
        const typed = text.lastIndexOf(`echo M$((100000+${n}))`, end);
        return text.slice(text.indexOf('\n', typed) + 1, end);
      }
      await page.waitForTimeout(200);
    }
    throw new Error(`r1's console never finished \`${command}\` in ${timeout / 1000} s; it shows:\n${text.trim().split('\n').slice(-15).join('\n')}`);
  }
  /** `show ip ospf neighbor` on r1 until both neighbours (r2 and r3) are Full. */
  async function untilFull(timeout = 90_000): Promise<string> {
    const deadline = Date.now() + timeout;
    let out = '';
    while (Date.now() < deadline) {
      out = await run("vtysh -c 'show ip ospf neighbor'");
      if (/^2\.2\.2\.2 .* Full\//m.test(out) && /^3\.3\.3\.3 .* Full\//m.test(out)) return out;
      await page.waitForTimeout(2000);
    }
    throw new Error(`r1's adjacencies never reached Full in ${timeout / 1000} s; vtysh said:\n${out}`);
  }

  it('opens on the instructions, fitting the window; Start makes the five machines ready on the canvas', async () => {
    await page.goto(await server.freshLink());
    await page.getByTestId('lab-description').locator('h1').filter({ hasText: 'OSPF in a triangle of routers' }).waitFor();
    expect(await page.getByTestId('lab-description').locator('table').isVisible()).toBe(true);
    expect(await layoutProblems(page)).toEqual([]);
    await page.getByTestId('start').click();
    await page.getByTestId('run-state').filter({ hasText: /^5\/5 ready/ }).waitFor({ timeout: 180_000 });
    const classes = await page.evaluate(() => ['r1', 'r2', 'r3', 'pc1', 'pc2'].map((m) => (window as any).__vnetlab.cy.getElementById(`machine:${m}`).hasClass('state-ready')));
    expect(classes).toEqual([true, true, true, true, true]);
  });

  it("opens r1's console by double-click; vtysh shows both adjacencies Full, with nothing else on the console", async () => {
    const p = await nodePoint(page, 'machine:r1');
    await page.mouse.dblclick(p.x, p.y);
    await page.getByTestId('console-r1').waitFor();
    await page.getByTestId('console-r1').click();
    // Typed at once, as a student does: keys typed while the console attaches are kept, not lost.
    await page.keyboard.press('Enter');
    const neighbours = await untilFull();
    expect(neighbours).toMatch(/^Neighbor ID +Pri State/m);
    expect(neighbours).not.toMatch(NOISE);
    // Full adjacencies come first; the SPF run that installs the routes follows (its delay is a few seconds).
    const deadline = Date.now() + 60_000;
    let routes = await run('ip route');
    while (!/^10\.1\.3\.0\/24 .*proto ospf/m.test(routes) && Date.now() < deadline) {
      await page.waitForTimeout(1000);
      routes = await run('ip route');
    }
    expect(routes).toMatch(/^10\.1\.3\.0\/24 .*proto ospf/m); // pc2's LAN, learned from r3
    expect(routes).not.toMatch(NOISE);
    // OSPF is converged and its daemons keep talking (hellos, LSA refreshes): the console stays quiet.
    const before = (await consoleText()).trimEnd();
    await page.waitForTimeout(3000);
    expect((await consoleText()).trimEnd()).toBe(before);
    expect(await layoutProblems(page)).toEqual([]);
    // The same running lab, console open, in a 1024×700 window (a student's laptop): it still fits.
    await page.setViewportSize({ width: 1024, height: 700 });
    await page.waitForTimeout(500); // the canvas and the terminal refit on the resize
    expect(await layoutProblems(page)).toEqual([]);
    expect(await page.getByTestId('console-r1').isVisible()).toBe(true);
    await page.screenshot({ path: join(SCREENSHOTS, 'journey-ospf-1024.png') });
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.waitForTimeout(500);
    expect(await layoutProblems(page)).toEqual([]);
  });

  it('FRR restarted from the console, a kernel message and a syslog line: none on the console, all in the logs', async () => {
    const linesBefore = Number((await run("grep -c 'state -> up' /var/log/syslog")).trim());
    expect(linesBefore).toBeGreaterThan(0); // the boot's start of FRR logged there already
    const restart = await run('systemctl restart frr');
    expect(restart).toMatch(/Started watchfrr/);
    // A kernel error and a daemon-style syslog line, whose text the typed lines do not contain.
    expect(await run('echo "<3>vnl-kmsg-$((6*7))" > /dev/kmsg')).toBe('');
    expect(await run('logger -p daemon.err "vnl-syslog-$((6*7))"')).toBe('');
    const neighbours = await untilFull();
    expect(neighbours).not.toMatch(NOISE);
    await page.waitForTimeout(2000);
    const shown = await consoleText();
    const sinceRestart = shown.slice(shown.lastIndexOf('systemctl restart frr'));
    expect(sinceRestart).not.toMatch(NOISE);
    expect(sinceRestart).not.toMatch(/vnl-kmsg-42|vnl-syslog-42/);
    // They were written, to where the student can read them.
    expect(Number((await run("grep -c 'state -> up' /var/log/syslog")).trim())).toBeGreaterThan(linesBefore);
    expect((await run('grep -c vnl-syslog-42 /var/log/syslog')).trim()).toBe('1');
    // As rsyslog writes them: no `<pri>` prefix of the datagram.
    expect((await run("grep -c '^<[0-9]' /var/log/syslog")).trim()).toBe('0');
    expect((await run('dmesg | grep -c vnl-kmsg-42')).trim()).toBe('1');
    expect(await run('tail -n 3 /var/log/syslog')).toMatch(/vnl-syslog-42|watchfrr|zebra|ospfd/);
    await page.screenshot({ path: join(SCREENSHOTS, 'journey-ospf-console.png') });
  });

  it('Check my work grades adjacencies, routes and reachability; Stop stops the five machines', async () => {
    await page.getByTestId('side-lab').click();
    const button = page.getByTestId('check-my-work');
    await button.scrollIntoViewIfNeeded();
    await button.click();
    const score = page.getByTestId('check-results').locator('.score');
    await score.filter({ hasText: /^Score: / }).waitFor({ timeout: 150_000 });
    const failed = await page.getByTestId('check-results').locator('li.fail').allTextContents();
    expect(failed).toEqual([]); // the shipped files are the working solution
    expect(await score.textContent()).toMatch(/^Score: (\d+) \/ \1$/);
    expect(await page.getByTestId('check-results').locator('li.pass').count()).toBe(7);
    expect(await layoutProblems(page)).toEqual([]);
    await page.getByTestId('stop').click();
    await page.getByTestId('run-state').filter({ hasText: /^stopped$/ }).waitFor({ timeout: 90_000 });
  });
});
