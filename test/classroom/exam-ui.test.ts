// Issue 19, exam mode in the browser (Debian's Chromium, playwright-core) on the real front door, a real
// worker process and real guests: a student starts the exam from their home page, the app shows the
// countdown (clearly in the last 5 minutes) with the editing tools gone, they start the lab and type in
// a console; the instructor follows the live table, opens the student's timeline and replays the
// recorded console (seek, 16×) and sees what was typed. Screenshots: exam-countdown.png,
// exam-countdown-final.png, exam-dashboard.png, exam-replay.png (docs/screenshots with
// VNETLAB_SCREENSHOTS=docs/screenshots).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureRenderer } from '../../src/main/server/app-host.ts';
import { nodePoint, SCREENSHOTS } from '../e2e/helpers.ts';
import { hasImage, startRealClass, type RealClass } from './real-class.ts';

const CHROMIUM = '/usr/bin/chromium';
const cmdline = (pid: string) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
};
const PW = 'a good long password';
const LAB = `lab:
  name: exam-lab
  title: Midterm lab
  description: |
    # Midterm

    Your LAN is **{{ lan }}**: pc1 is {{ lan | host: 1 }}, pc2 is {{ lan | host: 2 }}.
    Make them reach each other, and write your LAN into /root/answer.txt on pc1.
params:
  lan: {subnet: 10.0.0.0/8, prefix: 24}
machines:
  pc1: {image: tiny, memory: 64, interfaces: [{domain: lan, ipv4: "{{ lan | address: 1 }}"}]}
  pc2: {image: tiny, memory: 64, interfaces: [{domain: lan, ipv4: "{{ lan | address: 2 }}"}]}
domains:
  lan: {kind: switch}
layout:
  pc1: {x: 120, y: 160}
  lan: {x: 320, y: 160}
  pc2: {x: 520, y: 160}
checks:
  - {id: pc1-reaches-pc2, kind: reach, description: pc1 reaches pc2, from: pc1, to: "{{ lan | host: 2 }}"}
  - {id: answer, kind: file, description: the LAN is in /root/answer.txt, on: pc1, path: /root/answer.txt, contains: "{{ lan }}", points: 2, hidden: true}
`;

describe.skipIf(!existsSync(CHROMIUM) || !hasImage('tiny'))('exam mode in the browser (real guests)', () => {
  let rc: RealClass;
  let holder: string;
  let browser: Browser;
  let student: Page;
  let teacher: Page;

  const login = async (page: Page, email: string) => {
    await page.goto(`${rc.base}/login`);
    await page.fill('input[name=email]', email);
    await page.fill('input[name=password]', PW);
    await Promise.all([page.waitForURL(/\/(dashboard)?$/), page.click('button[type=submit]')]);
  };

  beforeAll(async () => {
    holder = mkdtempSync(join(tmpdir(), 'vexu-'));
    mkdirSync(join(holder, 'exam-lab'));
    writeFileSync(join(holder, 'exam-lab', 'lab.yaml'), LAB);
    const now = Date.now();
    rc = await startRealClass({
      staticDir: ensureRenderer(() => {}),
      labs: [`  - {id: exam-lab, path: ${join(holder, 'exam-lab')}, title: Midterm lab}`],
      // 5 minutes and 6 seconds: the countdown starts plain, and turns into the last minutes soon.
      yaml: ['exams:', `  - {id: midterm, lab: exam-lab, title: Networks midterm, opens: ${new Date(now - 60_000).toISOString()}, closes: ${new Date(now + 3_600_000).toISOString()}, duration_minutes: 5.1, check_my_work: "limited:3"}`],
    });
    await rc.enrol('Ada Lovelace', 'ada@uni.edu');
    const { token } = rc.classroom.server.accounts.invite('Grace Hopper', 'grace@uni.edu', 'instructor');
    const { Browser: Client } = await import('./helpers.ts');
    expect((await new Client(rc.base).setPassword(`${rc.base}/invite?token=${token}`, PW)).status).toBe(303);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    student = await (await browser.newContext({ viewport: { width: 1280, height: 760 } })).newPage();
    teacher = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await rc?.close();
    rmSync(holder, { recursive: true, force: true });
    // Nothing of the student's lab is left running.
    const left = rc ? readdirSync('/proc').filter((d) => /^\d+$/.test(d) && cmdline(d).includes(rc.root)) : [];
    if (left.length) throw new Error(`processes left behind: ${left.join(' ')}`);
  }, 120_000);

  it('the student starts the exam: a countdown from the server, the editing tools gone; they boot the lab and type', async () => {
    await login(student, 'ada@uni.edu');
    await expect.poll(() => student.locator('ul.exams li').textContent()).toMatch(/Networks midterm: 5\.1 minutes/);
    await Promise.all([student.waitForURL(/\/app\/\?lab=/), student.getByTestId('start-exam-midterm').click()]);
    const clock = student.getByTestId('exam-clock');
    await expect.poll(() => clock.textContent(), { timeout: 20_000 }).toMatch(/^Networks midterm: 5:0\d left$/);
    expect((await clock.getAttribute('class')) ?? '').not.toContain('final');
    // What the server refuses anyway is not offered.
    for (const id of ['save', 'save-as', 'open', 'new']) expect(await student.locator(`#${id}`).isVisible()).toBe(false);
    expect(await student.locator('#palette').isVisible()).toBe(false);
    await expect.poll(() => student.getByTestId('lab-description').textContent(), { timeout: 10_000 }).toMatch(/Your LAN is 10\.\d+\.\d+\.0\/24/);

    await student.getByTestId('start').click();
    await expect.poll(() => student.getByTestId('run-state').textContent(), { timeout: 180_000 }).toMatch(/^2\/2 ready/);
    const p = await nodePoint(student, 'machine:pc1');
    await student.mouse.dblclick(p.x, p.y);
    await student.getByTestId('console-pc1').waitFor();
    await student.getByTestId('console-pc1').click();
    await student.keyboard.press('Enter');
    await student.keyboard.type('ip -4 addr show eth0 | grep inet\n');
    await student.keyboard.type('echo hello-from-the-exam-$((6*7))\n');
    await expect.poll(() => student.evaluate(() => (window as any).__vnetlab.consoleText('pc1') as string), { timeout: 30_000 }).toContain('hello-from-the-exam-42');
    await student.screenshot({ path: join(SCREENSHOTS, 'exam-countdown.png') });

    // The last 5 minutes: said clearly.
    await expect.poll(async () => (await clock.getAttribute('class')) ?? '', { timeout: 30_000 }).toContain('final');
    expect(await clock.textContent()).toMatch(/^Networks midterm: [45]:\d\d left — last minutes!$/);
    await student.screenshot({ path: join(SCREENSHOTS, 'exam-countdown-final.png') });
  }, 300_000);

  it('the instructor sees the live table, the timeline, and replays the console: seek, 16×, what was typed', async () => {
    const errors: string[] = [];
    teacher.on('pageerror', (e) => errors.push(e.message));
    await login(teacher, 'grace@uni.edu');
    await teacher.getByTestId('exam-midterm').click();
    const row = teacher.locator('tr', { hasText: 'ada@uni.edu' });
    await expect.poll(() => row.getByTestId('phase').textContent(), { timeout: 10_000 }).toBe('running');
    // The student already saw the last five minutes, so at most 5:00 is left (a second may not have
    // ticked since: the clock rounds up).
    const left = /^(\d+):(\d\d)$/.exec((await row.getByTestId('time-left').textContent()) ?? '');
    expect(left).not.toBeNull();
    const seconds = Number(left![1]) * 60 + Number(left![2]);
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThanOrEqual(300);
    expect(await row.locator('td').nth(3).textContent()).toBe('2/2');
    expect(await row.locator('td').nth(6).textContent()).toMatch(/^lan=10\.\d+\.\d+\.0\/24$/);
    await teacher.screenshot({ path: join(SCREENSHOTS, 'exam-dashboard.png') });

    await row.locator('a', { hasText: 'Ada Lovelace' }).click();
    await teacher.getByTestId('timeline').waitFor();
    const timeline = await teacher.getByTestId('timeline').textContent();
    expect(timeline).toMatch(/start.*started the exam/);
    expect(timeline).toMatch(/lab.*started the lab/);
    expect(timeline).toMatch(/console.*opened the console of pc1/);

    await teacher.getByTestId('replay-pc1').click();
    await teacher.waitForSelector('#exam[data-ready="1"]');
    const screen = teacher.getByTestId('replay-screen');
    const shown = () => screen.locator('.xterm-rows').textContent();
    const duration = Number(await teacher.locator('#exam').getAttribute('data-duration'));
    // The boot, then what was typed: a recording with time to seek in (a tiny guest boots in well under a second).
    expect(duration).toBeGreaterThan(0.2);
    // Seek to the end: everything typed is there; back to the start: none of it.
    await teacher.getByTestId('replay-seek').fill(String(duration));
    await expect.poll(shown, { timeout: 15_000 }).toContain('hello-from-the-exam-42');
    await teacher.getByTestId('replay-seek').fill('0');
    await expect.poll(shown, { timeout: 15_000 }).not.toContain('hello-from-the-exam-42');
    expect(await teacher.getByTestId('replay-keys').textContent()).toContain('echo hello-from-the-exam-$((6*7))⏎');
    // Played at 16×, it gets there by itself.
    await teacher.getByTestId('replay-speed').selectOption('16');
    await teacher.getByTestId('replay-play').click();
    await expect.poll(shown, { timeout: Math.max(20_000, (duration / 16) * 1000 + 10_000) }).toContain('hello-from-the-exam-42');
    await expect.poll(() => teacher.getByTestId('replay-play').textContent(), { timeout: 30_000 }).toBe('Play');
    await teacher.screenshot({ path: join(SCREENSHOTS, 'exam-replay.png') });
    expect(errors).toEqual([]);
  }, 120_000);
});
