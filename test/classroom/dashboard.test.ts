// The instructor's dashboard in Chromium: log in through the real login form, see a student's running
// lab, its memory and their last "check my work" score, press reset (and confirm). Worker and front
// door real, runtime faked (Backends seam) as in classroom.test.ts.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser as Chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, enrol, startTestClass, type TestClass } from './helpers.ts';

const PW = 'correct horse battery';
const CHROMIUM = '/usr/bin/chromium';

describe.skipIf(!existsSync(CHROMIUM))('instructor dashboard in Chromium', () => {
  let cls: TestClass;
  let browser: Chromium;
  let page: Page;
  let alice: Browser;

  beforeAll(async () => {
    cls = await startTestClass();
    await enrol(cls, 'Teacher', 'teacher@uni.edu', PW, 'instructor');
    alice = await enrol(cls, 'Alice Liddell', 'alice@uni.edu', PW);
    await enrol(cls, 'Bob', 'bob@uni.edu', PW);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await cls?.close();
  });

  it('logs in, shows the running lab and last score, and resets the student\'s lab', async () => {
    // Alice starts her copy, edits it, and presses Check my work (the visible checks: 3 points).
    const lab = decodeURIComponent(/lab=([^&]+)/.exec((await alice.fetch('/open/two-hosts')).headers.get('location')!)![1]!);
    const rpc = await alice.rpc();
    await rpc.call('startLab', lab);
    writeFileSync(join(lab, 'lab.yaml'), `${readFileSync(join(lab, 'lab.yaml'), 'utf8')}\n# alice was here\n`);
    const report = await rpc.call<{ score: number; maxScore: number }>('runChecks', lab);
    expect([report.score, report.maxScore]).toEqual([3, 3]);

    // The real login form, submitted by the browser (its Origin header, its cookies).
    await page.goto(`${cls.base}/login`);
    await page.fill('input[name=email]', 'teacher@uni.edu');
    await page.fill('input[name=password]', PW);
    await Promise.all([page.waitForURL(`${cls.base}/dashboard`), page.click('button[type=submit]')]);

    const row = page.locator('tr', { hasText: 'alice@uni.edu' });
    // Which worker serves her (one worker here: 0, and it answers).
    expect(await row.locator('td').nth(1).textContent()).toBe('worker 0');
    await expect.poll(() => row.locator('td').nth(2).textContent(), { timeout: 10_000 }).toBe('two-hosts: pc1 ready, pc2 ready');
    expect(await row.locator('td').nth(3).textContent()).toMatch(/^\d+ MB$/);
    expect(await row.locator('td').nth(4).textContent()).toMatch(/^3\/3 grade/);
    expect(await row.locator('a', { hasText: 'watch pc1' }).getAttribute('href')).toMatch(/^\/watch\?student=s[0-9a-f]{10}&lab=two-hosts&machine=pc1$/);
    // Bob has not started anything: no lab, no score.
    const bob = page.locator('tr', { hasText: 'bob@uni.edu' });
    expect(await bob.locator('td').nth(2).textContent()).toBe('—');
    expect(await page.locator('p', { hasText: 'In use:' }).textContent()).toContain('queue: 0');

    // Reset asks first; confirmed, the lab is stopped and the copy is the instructor's again.
    const asked: string[] = [];
    page.once('dialog', (d) => {
      asked.push(d.message());
      void d.accept();
    });
    await row.locator('button', { hasText: 'reset' }).click();
    await page.locator('p.queue', { hasText: 'reset Alice Liddell' }).waitFor({ timeout: 10_000 });
    expect(asked[0]).toBe("Reset Alice Liddell's Two hosts? Their work in it is deleted.");
    expect(await row.locator('td').nth(2).textContent()).toBe('—');
    expect(cls.runtime.running.has(lab)).toBe(false);
    expect(readFileSync(join(lab, 'lab.yaml'), 'utf8')).not.toContain('alice was here');

    // A dismissed confirmation does nothing.
    await rpc.call('startLab', lab);
    await expect.poll(() => row.locator('td').nth(2).textContent(), { timeout: 10_000 }).toContain('pc1 ready');
    page.once('dialog', (d) => void d.dismiss());
    await row.locator('button', { hasText: 'reset' }).click();
    await page.waitForTimeout(300);
    expect(cls.runtime.running.has(lab)).toBe(true);
    await rpc.call('stopLab', lab);
    rpc.close();
  }, 60_000);
});
