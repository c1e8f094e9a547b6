// Classroom load: a real `vnetlab classroom serve` (front door + its local worker process) and a class
// of simulated students. Each student sets their password from the invitation link, logs in, opens
// two-hosts on `tiny`, presses Start, types a command in pc1's console (every keystroke timed until
// its echo comes back), and presses Check my work. Most students are WebSocket clients speaking the
// app's protocol (/rpc, the same frames as the renderer); a few are Chromium pages driving the real
// app. One more student presses Start when the server's capacity is full: what they see is printed.
// Then everyone goes idle, the idle timer stops every lab, and each student starts again and reads
// the file they wrote: nothing of their work may be lost.
//
//   npx tsx bench/classroom.ts [--students N] [--browsers B] [--keys K] [--idle-minutes M] [--keep]
//
// Capacity is set to exactly N labs, so student N+1 queues. Baseline (same run): one student alone
// on the server, before the class arrives. Cleanup: every lab stopped, the server's process group
// ended, `vnetlab clean --all` with each student's runtime and state dirs, then /proc is scanned for
// anything mentioning the bench's temp folder (exit 1 if something is left).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser as Chromium, type Page } from 'playwright-core';
import { hostPaths } from '../src/main/paths.ts';
import type { LabStatus } from '../src/shared/runtime-api.ts';
import { Browser, type Rpc } from '../test/classroom/helpers.ts';

const REPO = resolve(import.meta.dirname, '..');
const VNETLAB = join(REPO, 'bin', 'vnetlab.mjs');
const PW = 'a long bench password';

function flag(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} needs a number`);
  return v;
}
const N = Math.max(1, Math.floor(flag('students', 20)));
const BROWSERS = Math.min(N, Math.floor(flag('browsers', 2)));
const KEYS = Math.max(1, Math.floor(flag('keys', 30)));
const IDLE_MIN = flag('idle-minutes', 0.5);
const KEEP = process.argv.includes('--keep');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const msf = (ms: number) => `${ms.toFixed(1)} ms`;
const mb = (b: number) => `${(b / 1048576).toFixed(0)} MB`;
const t0 = Date.now();
const log = (line: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}`);

// ---- processes of this bench (by its temp folder), memory -----------------------------------------

function pidsMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(needle)) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

type Kind = 'front door' | 'worker' | 'supervisors' | 'guests' | 'switches' | 'other';
function kindOf(cmd: string): Kind {
  if (cmd.includes('classroom\0serve')) return 'front door';
  if (cmd.includes('classroom\0worker')) return 'worker';
  if (cmd.includes('supervisor')) return 'supervisors';
  if (cmd.includes('vde_switch')) return 'switches';
  if (/linux|\.uml|ubd/.test(cmd)) return 'guests';
  return 'other';
}

/** PSS per kind of process; UML's CLONE_VM helpers share one address space: counted once. */
function memoryByKind(needle: string): Record<Kind, { bytes: number; count: number }> {
  const out = Object.fromEntries((['front door', 'worker', 'supervisors', 'guests', 'switches', 'other'] as Kind[]).map((k) => [k, { bytes: 0, count: 0 }])) as Record<Kind, { bytes: number; count: number }>;
  const seen = new Set<string>();
  for (const pid of pidsMentioning(needle)) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      if (seen.has(rollup)) continue;
      seen.add(rollup);
      const pss = Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0) * 1024;
      const k = kindOf(cmd);
      out[k].bytes += pss;
      out[k].count++;
    } catch {
      /* gone */
    }
  }
  return out;
}

const serverBytes = (m: ReturnType<typeof memoryByKind>) => m['front door'].bytes + m.worker.bytes + m.supervisors.bytes;

// ---- a WebSocket student -------------------------------------------------------------------------

interface Result {
  name: string;
  via: 'ws' | 'chromium';
  startMs?: number;
  rttMs: number[];
  checkMs?: number;
  score?: string;
  token: string;
  restartMs?: number;
  workKept?: boolean;
  error?: string;
}

/** pc1's console over the app protocol: acknowledges output (flow control) like the renderer. */
class Console {
  text = '';
  private waiters: (() => void)[] = [];
  constructor(
    readonly rpc: Rpc,
    readonly id: string,
  ) {
    rpc.ws.on('message', (raw) => {
      const f = JSON.parse(String(raw));
      if (f.push?.kind === 'console-data' && f.push.consoleId === id) {
        this.text += f.push.data;
        void rpc.call('consoleAck', id, f.push.data.length).catch(() => {});
        for (const w of this.waiters.splice(0)) w();
      }
    });
  }
  static async attach(rpc: Rpc, lab: string): Promise<Console> {
    const att = await rpc.call<{ consoleId: string; replay: string }>('attachConsole', lab, 'pc1');
    const c = new Console(rpc, att.consoleId);
    c.text = att.replay;
    return c;
  }
  /** Resolves when the output after `from` matches. */
  async until(test: (added: string) => boolean, from: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!test(this.text.slice(from))) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return true;
  }
  async prompt(): Promise<void> {
    const from = this.text.length;
    await this.rpc.call('consoleInput', this.id, '\r');
    await this.until((s) => /[#$] $/.test(s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')), from, 30_000);
  }
  /** Types a line one key at a time; each key is timed until its echo. */
  async type(line: string, rtts: number[]): Promise<void> {
    for (const ch of line) {
      const from = this.text.length;
      const t = performance.now();
      await this.rpc.call('consoleInput', this.id, ch);
      if (await this.until((s) => s.includes(ch), from, 10_000)) rtts.push(performance.now() - t);
    }
    const from = this.text.length;
    await this.rpc.call('consoleInput', this.id, '\r');
    await this.until((s) => /[#$] $/.test(s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')), from, 20_000);
  }
}

async function openLab(b: Browser): Promise<string> {
  const loc = (await b.fetch('/open/two-hosts')).headers.get('location') ?? '';
  const m = /lab=([^&]+)/.exec(loc);
  if (!m) throw new Error(`/open/two-hosts did not lead to the app (${loc})`);
  return decodeURIComponent(m[1]!);
}

/** The command a student types: it writes their work file (the file's text is never typed as such). */
const workCommand = (token: string) => {
  const [a, b] = token.split('-');
  return `printf '%s-%s\\n' ${a} ${b} > /root/work.txt`;
};

async function wsStudent(b: Browser, r: Result, email: string, keys: number, onStartSent: () => void, onStarted: () => void = () => {}): Promise<void> {
  if ((await b.login(email, PW)).status !== 303) throw new Error('login failed');
  const lab = await openLab(b);
  const rpc = await b.rpc();
  try {
    await rpc.call('openLab', lab);
    await rpc.call('subscribe', lab);
    const t = performance.now();
    const start = rpc.call<LabStatus>('startLab', lab);
    onStartSent();
    const st = await start;
    r.startMs = performance.now() - t;
    onStarted();
    if (!st.machines.every((m) => m.state === 'ready')) throw new Error(`machines not ready: ${st.machines.map((m) => m.state)}`);
    const con = await Console.attach(rpc, lab);
    await con.prompt();
    const cmd = workCommand(r.token);
    // `keys` keystrokes: the work command, padded with a harmless comment to reach the count.
    const pad = keys > cmd.length ? ` #${'x'.repeat(keys - cmd.length - 2)}` : '';
    await con.type(cmd + pad, r.rttMs);
    const tc = performance.now();
    const report = await rpc.call<{ score: number; maxScore: number }>('runChecks', lab);
    r.checkMs = performance.now() - tc;
    r.score = `${report.score}/${report.maxScore}`;
  } finally {
    rpc.close();
  }
}

// ---- a Chromium student ------------------------------------------------------------------------

async function chromiumStudent(browser: Chromium, base: string, r: Result, email: string, onStartSent: () => void, onStarted: () => void): Promise<void> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page: Page = await ctx.newPage();
  try {
    await page.goto(`${base}/login`);
    await page.fill('input[name=email]', email);
    await page.fill('input[name=password]', PW);
    await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
    await page.click('ul.labs a');
    await page.getByTestId('lab-description').locator('h1').waitFor({ timeout: 60_000 });
    const t = performance.now();
    await page.getByTestId('start').click();
    onStartSent();
    await page.waitForFunction(() => (window as any).__vnetlab.state.running && ['pc1', 'pc2'].every((m) => (window as any).__vnetlab.state.machineStates.get(m) === 'ready'), undefined, { timeout: 600_000, polling: 250 });
    r.startMs = performance.now() - t;
    onStarted();
    // Double-click pc1 to open its console, type the work command.
    const p = await page.evaluate(() => {
      const n = (window as any).__vnetlab.cy.getElementById('machine:pc1').renderedPosition();
      const rect = document.getElementById('canvas')!.getBoundingClientRect();
      return { x: rect.left + n.x, y: rect.top + n.y };
    });
    await page.mouse.dblclick(p.x, p.y);
    await page.getByTestId('console-pc1').waitFor({ timeout: 30_000 });
    await page.getByTestId('console-pc1').click();
    await page.keyboard.press('Enter');
    await page.keyboard.type(`${workCommand(r.token)}\n`, { delay: 30 });
    await page.waitForFunction(() => /work\.txt[\s\S]*[#$] *$/.test(((window as any).__vnetlab.consoleText('pc1') as string).trimEnd() + ' '), undefined, { timeout: 30_000, polling: 250 });
    const tc = performance.now();
    await page.getByTestId('check-my-work').click();
    const score = page.getByTestId('check-results').locator('p.score');
    await score.waitFor({ timeout: 120_000 });
    r.checkMs = performance.now() - tc;
    r.score = (await score.textContent())?.replace(/^Score:\s*/, '').replace(/\s+/g, '') ?? '?';
  } catch (err) {
    const body = await page.evaluate(() => document.body?.innerText ?? '').catch(() => '');
    throw new Error(`${(err as Error).message.split('\n')[0]} at ${page.url()}: ${body.slice(0, 200).replace(/\s+/g, ' ')}`);
  } finally {
    await ctx.close();
  }
}

/** After the idle stop: start again, read the work file, stop. */
async function verifyWork(b: Browser, r: Result): Promise<void> {
  const lab = await openLab(b);
  const rpc = await b.rpc();
  try {
    const t = performance.now();
    const st = await rpc.call<LabStatus>('startLab', lab);
    r.restartMs = performance.now() - t;
    const con = await Console.attach(rpc, lab).catch((err: Error) => {
      throw new Error(`${err.message} (startLab said: ${st.machines.map((m) => `${m.name} ${m.state}`).join(', ')})`);
    });
    await con.prompt();
    const from = con.text.length;
    await rpc.call('consoleInput', con.id, 'cat /root/work.txt\r');
    r.workKept = await con.until((s) => s.includes(r.token), from, 20_000);
    await rpc.call('stopLab', lab);
  } finally {
    rpc.close();
  }
}

// ---- main -----------------------------------------------------------------------------------------

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function main(): Promise<number> {
  const root = mkdtempSync(join(tmpdir(), 'vcb-'));
  const data = join(root, 'data');
  for (const d of ['t', 'home']) mkdirSync(join(root, d));
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: join(root, 'home'), TMPDIR: join(root, 't'), VNETLAB_IMAGE_DIR: process.env.VNETLAB_IMAGE_DIR || hostPaths(process.env).imageDir, VNETLAB_IMAGE_OVERRIDE: 'tiny' };
  for (const k of ['XDG_RUNTIME_DIR', 'XDG_STATE_HOME', 'VNETLAB_STATE_DIR', 'VNETLAB_RUNTIME_DIR']) delete env[k];
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const config = join(root, 'classroom.yaml');
  writeFileSync(
    config,
    [
      'name: Bench class',
      `data_dir: ${data}`,
      `listen: {host: 127.0.0.1, port: ${port}}`,
      `labs: [{id: two-hosts, path: ${join(REPO, 'labs', 'two-hosts')}, title: Two hosts on a switch}]`,
      'quota: {machines: 2, memory_mb: 256}',
      `capacity: {machines: ${2 * N}, memory_mb: ${128 * N}}`,
      `idle_stop_minutes: ${IDLE_MIN}`,
      'workers: {local: 1}',
      'start_timeout_sec: 900',
      '',
    ].join('\n'),
  );
  console.log(`classroom bench: ${N} students (${BROWSERS} in Chromium), ${KEYS} keystrokes each, capacity ${N} labs (${2 * N} tiny guests), idle stop after ${IDLE_MIN} min; ${root}`);

  let server: ChildProcess | undefined;
  let chromiumBrowser: Chromium | undefined;
  let serverLog = '';
  const results: Result[] = [];
  let failed = false;
  // Ctrl-C: the same cleanup (no guest may outlive the bench).
  process.once('SIGINT', () => {
    void chromiumBrowser?.close().catch(() => {});
    void cleanup(root, data, env, server).then(() => process.exit(130));
  });
  try {
    // Accounts: the baseline student, N students, the one who finds the server full, an instructor.
    const names = ['baseline', ...Array.from({ length: N }, (_, i) => `student${i + 1}`), 'late', 'teacher'];
    writeFileSync(join(root, 'roster.csv'), names.slice(0, -1).map((n) => `${n},${n}@bench.test`).join('\n'));
    const roster = spawnSync(process.execPath, [VNETLAB, 'classroom', 'roster', '--config', config, join(root, 'roster.csv')], { env, encoding: 'utf8' });
    const inv = spawnSync(process.execPath, [VNETLAB, 'classroom', 'invite', '--config', config, '--name', 'teacher', '--email', 'teacher@bench.test', '--role', 'instructor'], { env, encoding: 'utf8' });
    const links = new Map([...`${roster.stdout}${inv.stdout}`.matchAll(/<([^>]+)>.*?(http\S+)/g)].map((m) => [m[1]!, m[2]!]));
    if (links.size !== names.length) throw new Error(`roster: ${roster.stderr}${inv.stderr}`);

    const ts = Date.now();
    server = spawn(process.execPath, [VNETLAB, 'classroom', 'serve', '--config', config], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout!.on('data', (d) => (serverLog += d));
    server.stderr!.on('data', (d) => (serverLog += d));
    while (!serverLog.includes(`at ${base}`)) {
      if (server.exitCode !== null) throw new Error(`classroom serve exited:\n${serverLog}`);
      if (Date.now() - ts > 120_000) throw new Error(`classroom serve did not start:\n${serverLog}`);
      await sleep(100);
    }
    log(`server up in ${sec(Date.now() - ts)} (front door pid ${server.pid})`);

    const browsers = new Map<string, Browser>();
    await Promise.all(
      names.map(async (n) => {
        const b = new Browser(base);
        const res = await b.setPassword(links.get(`${n}@bench.test`)!, PW);
        if (res.status !== 303) throw new Error(`${n}: invitation ${res.status}`);
        browsers.set(n, b);
      }),
    );
    const teacher = browsers.get('teacher')!;
    log(`${names.length} accounts set their passwords`);
    const idleMem = memoryByKind(root);

    // Baseline: one student alone on the server.
    const baseline: Result = { name: 'baseline', via: 'ws', rttMs: [], token: 'B0-0000' };
    await wsStudent(browsers.get('baseline')!, baseline, 'baseline@bench.test', KEYS, () => {});
    {
      const rpc = await browsers.get('baseline')!.rpc();
      await rpc.call('stopLab', await openLab(browsers.get('baseline')!));
      rpc.close();
    }
    log(`baseline: start ${sec(baseline.startMs!)}, keystroke p50 ${msf(pct(baseline.rttMs, 50))}, check ${baseline.score} in ${sec(baseline.checkMs!)}`);

    // The class: everyone at once.
    if (BROWSERS) chromiumBrowser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    let sent = 0;
    let allSent!: () => void;
    const allStartsSent = new Promise<void>((r) => (allSent = r));
    const onStartSent = () => {
      if (++sent === N) allSent();
    };
    // Memory: when all N labs are up, and the peak of the server's processes during the class.
    let up = 0;
    let allUpMem: ReturnType<typeof memoryByKind> | undefined;
    const onStarted = () => {
      if (++up === N) allUpMem = memoryByKind(root);
    };
    let peak = memoryByKind(root);
    const sampler = setInterval(() => {
      const m = memoryByKind(root);
      if (serverBytes(m) > serverBytes(peak)) peak = m;
    }, 2000);
    const tLoad = Date.now();
    const runs = Array.from({ length: N }, async (_, i) => {
      const name = `student${i + 1}`;
      const r: Result = { name, via: i < BROWSERS ? 'chromium' : 'ws', rttMs: [], token: `S${i + 1}-${Math.random().toString(16).slice(2, 8)}` };
      results.push(r);
      try {
        if (r.via === 'chromium') await chromiumStudent(chromiumBrowser!, base, r, `${name}@bench.test`, onStartSent, onStarted);
        else await wsStudent(browsers.get(name)!, r, `${name}@bench.test`, KEYS, onStartSent, onStarted);
      } catch (err) {
        r.error = (err as Error).message.split('\n')[0];
        if (r.startMs === undefined) {
          onStartSent();
          onStarted();
        }
      }
    });

    // Student N+1 presses Start once the N starts are in: the server is full.
    await allStartsSent;
    const used = async () => ((await (await teacher.fetch('/api/class')).json()) as { used: { machines: number } }).used.machines;
    for (let i = 0; i < 100 && (await used()) < 2 * (N - results.filter((r) => r.error).length); i++) await sleep(200);
    const late = browsers.get('late')!;
    if ((await late.login('late@bench.test', PW)).status !== 303) throw new Error('late: login failed');
    const lateLab = await openLab(late);
    const lateRpc = await late.rpc();
    const tq = Date.now();
    let lateDone = 0;
    const lateStart = lateRpc.call<LabStatus>('startLab', lateLab).then(
      () => (lateDone = Date.now()),
      (err: Error) => log(`late student's start failed: ${err.message}`),
    );
    let seen = '';
    for (let i = 0; i < 50 && !seen; i++) {
      await sleep(100);
      const p = lateRpc.pushes.find((x) => x.kind === 'event' && x.event.type === 'progress' && /queue/.test(x.event.message));
      if (p && p.kind === 'event' && p.event.type === 'progress') seen = p.event.message;
    }
    const home = (await (await late.fetch('/')).text()).match(/<p class="queue">([^<]*)<\/p>/)?.[1] ?? '(no queue line on the home page)';
    const classView = (await (await teacher.fetch('/api/class')).json()) as { used: { machines: number; memoryMb: number }; capacity: { machines: number; memoryMb: number }; queue: unknown[] };
    log(`student ${N + 1} pressed Start on a full server (${classView.used.machines}/${classView.capacity.machines} machines reserved):`);
    log(`  the app says: "${seen || '(nothing yet)'}"`);
    log(`  the home page says: "${home}"; the dashboard lists ${classView.queue.length} waiting`);

    await Promise.all(runs);
    clearInterval(sampler);
    const loadMs = Date.now() - tLoad;
    const upMem = allUpMem ?? memoryByKind(root);
    const dash = (await (await teacher.fetch('/api/class')).json()) as { students: { running: { memoryBytes: number }[]; scores: Record<string, { score: number }> }[] };
    const guestPerStudent = dash.students.map((s) => s.running.reduce((a, l) => a + l.memoryBytes, 0)).filter((x) => x > 0);
    const withScore = dash.students.filter((s) => s.scores['two-hosts']).length;
    log(`class done in ${sec(loadMs)}; errors: ${results.filter((r) => r.error).map((r) => `${r.name}: ${r.error}`).join('; ') || 'none'}`);

    // Idle: nobody does anything; the idle timer stops every lab (the late student's start waited for that).
    const tIdle = Date.now();
    const running = async () => ((await (await teacher.fetch('/api/class')).json()) as { students: { running: unknown[] }[] }).students.reduce((a, s) => a + s.running.length, 0);
    const idleDeadline = Date.now() + IDLE_MIN * 60_000 * 3 + 120_000;
    let lateWait = '';
    while (Date.now() < idleDeadline) {
      if (lateDone && !lateWait) {
        lateWait = `${sec(lateDone - tq)} in the queue, admitted when the first idle lab was stopped`;
        log(`student ${N + 1}: ${lateWait}`);
        // Their lab is idle too from now on; it is stopped with the others.
      }
      if (lateDone && (await running()) === 0) break;
      await sleep(1000);
    }
    await lateStart;
    lateRpc.close();
    const stillRunning = await running();
    const upAfterIdle = (await teacher.fetch('/api/class')).status === 200 && server.exitCode === null;
    const idleStops = (serverLog.match(/idle: stopped/g) ?? []).length;
    log(`idle: ${idleStops} labs stopped by the idle timer; ${stillRunning} still running ${sec(Date.now() - tIdle)} after the class went idle; server up: ${upAfterIdle}`);

    // Work kept: everyone starts again and reads the file they wrote before the idle stop.
    const tv = Date.now();
    await Promise.all(
      results.filter((r) => !r.error).map((r) =>
        verifyWork(browsers.get(r.name)!, r).catch((err) => {
          r.error = `verify: ${(err as Error).message.split('\n')[0]}`;
        }),
      ),
    );
    log(`restart + read work file: ${sec(Date.now() - tv)}`);

    // ---- figures ----
    const ok = results.filter((r) => !r.error);
    const starts = ok.map((r) => r.startMs!).filter(Number.isFinite);
    const rtts = ok.flatMap((r) => r.rttMs);
    const checks = ok.map((r) => r.checkMs!).filter(Number.isFinite);
    const restarts = ok.map((r) => r.restartMs!).filter(Number.isFinite);
    const kept = ok.filter((r) => r.workKept).length;
    console.log('\n== classroom bench ==');
    console.log(`students: ${N} (${BROWSERS} Chromium, ${N - BROWSERS} WebSocket), ${ok.length} completed; scores: ${[...new Set(ok.map((r) => r.score))].join(', ')} (${withScore} on the dashboard)`);
    console.log(`start two-hosts, alone (baseline):    ${sec(baseline.startMs!)}`);
    console.log(`start two-hosts, ${N} at once:         p50 ${sec(pct(starts, 50))}  p95 ${sec(pct(starts, 95))}  max ${sec(Math.max(...starts))}  (p50 ${(pct(starts, 50) / baseline.startMs!).toFixed(2)}× baseline)`);
    console.log(`keystroke round trip, alone:          p50 ${msf(pct(baseline.rttMs, 50))}  p95 ${msf(pct(baseline.rttMs, 95))}  (${baseline.rttMs.length} keys)`);
    console.log(`keystroke round trip, class:          p50 ${msf(pct(rtts, 50))}  p95 ${msf(pct(rtts, 95))}  (${rtts.length} keys, ${(pct(rtts, 50) / pct(baseline.rttMs, 50)).toFixed(2)}× baseline p50)`);
    console.log(`check my work:                        alone ${sec(baseline.checkMs!)}; class p50 ${sec(pct(checks, 50))}  p95 ${sec(pct(checks, 95))}`);
    const row = (label: string, m: ReturnType<typeof memoryByKind>) =>
      console.log(`${label} server ${mb(serverBytes(m))} (front door ${mb(m['front door'].bytes)}, worker ${mb(m.worker.bytes)}, ${m.supervisors.count} supervisors ${mb(m.supervisors.bytes)}); guests ${m.guests.count} procs ${mb(m.guests.bytes)}, switches ${mb(m.switches.bytes)}, other ${mb(m.other.bytes)}`);
    row('memory (PSS), no lab running:       ', idleMem);
    row(`memory (PSS), all ${N} labs up:        `, upMem);
    row('memory (PSS), server peak (2 s):    ', peak);
    console.log(`guest memory per student (dashboard): p50 ${mb(pct(guestPerStudent, 50))} for 2 tiny guests`);
    console.log(`student ${N + 1} on a full server: app: "${seen}"; home page: "${home}"; ${lateWait || 'not admitted'}`);
    console.log(`idle stop (${IDLE_MIN} min): ${idleStops} labs stopped, server up: ${upAfterIdle}; work file read back after restart: ${kept}/${ok.length}; restart p50 ${sec(pct(restarts, 50))} p95 ${sec(pct(restarts, 95))}`);
    if (results.some((r) => r.error)) for (const r of results.filter((x) => x.error)) console.log(`  ${r.name} (${r.via}): ${r.error}`);
    failed = ok.length !== N || kept !== ok.length || !upAfterIdle || stillRunning > 0;
  } catch (err) {
    failed = true;
    console.error(`bench failed: ${(err as Error).stack}\n--- server log (tail) ---\n${serverLog.split('\n').slice(-30).join('\n')}`);
  } finally {
    await chromiumBrowser?.close().catch(() => {});
    const logFile = KEEP ? join(root, 'server.log') : join(tmpdir(), `vnetlab-classroom-bench-${process.pid}.log`);
    if (KEEP || failed) {
      writeFileSync(logFile, serverLog);
      console.log(`server log: ${logFile}`);
    }
    if (KEEP) console.log(`--keep: the server still runs (pid ${server?.pid}), ${root}`);
    else failed = (await cleanup(root, data, env, server)) || failed;
  }
  return failed ? 1 : 0;
}

/** Ends what the bench started and proves nothing is left. True when something was. */
async function cleanup(root: string, data: string, env: NodeJS.ProcessEnv, server: ChildProcess | undefined): Promise<boolean> {
  if (server?.pid && server.exitCode === null) {
    try {
      process.kill(-server.pid, 'SIGTERM'); // the front door and its worker (its own process group)
    } catch {
      /* gone */
    }
    const deadline = Date.now() + 20_000;
    while (server.exitCode === null && Date.now() < deadline) await sleep(100);
  }
  // Each student's labs have their own runtime and state dirs: clean every one.
  const students = join(data, 'worker-0', 'students');
  const runtimeBases = readdirSync(join(root, 't')).filter((d) => d.startsWith('vncr-'));
  let ids: string[] = [];
  try {
    ids = readdirSync(students);
  } catch {
    /* no student got that far */
  }
  for (const id of ids)
    for (const rb of runtimeBases) {
      const r = spawnSync(process.execPath, [VNETLAB, 'clean', '--all'], { env: { ...env, VNETLAB_RUNTIME_DIR: join(root, 't', rb, 'r0', id), VNETLAB_STATE_DIR: join(students, id, 'state') }, encoding: 'utf8', timeout: 60_000 });
      const killed = r.stdout.split('\n').filter((l) => l.startsWith('killed'));
      if (killed.length) console.log(`clean ${id}: ${killed.join('; ')}`);
    }
  const deadline = Date.now() + 20_000;
  while (pidsMentioning(root).length && Date.now() < deadline) await sleep(200);
  const left = pidsMentioning(root);
  console.log(left.length ? `LEFT BEHIND: processes ${left.join(' ')} mention ${root}` : `cleanup: no process mentions ${root}`);
  if (!left.length) rmSync(root, { recursive: true, force: true });
  return left.length > 0;
}

process.exitCode = await main();
