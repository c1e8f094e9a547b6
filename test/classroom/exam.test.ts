// Issue 19, exam mode, end to end: the real front door and real, supervised `vnetlab classroom worker`
// processes (startRealClass), real UML guests. Three students take a two-minute exam: they start it
// from their home page, boot their own copy (no host NAT: the exam has no internet), type in their
// consoles, press Check my work (limited:2), and every forbidden call is refused by the server; one
// reconnects, the worker is killed and restarted under them, one gets more time, one stops their lab
// before the end, a fourth never starts. The time runs out: consoles go read-only and starts are
// refused; every student is graded with every check, hidden ones too (the stopped lab is started for
// it), the labs are stopped with their disks kept; the recordings (asciicast v2) hold what each typed,
// from the first byte; grades CSV, JUnit and the timelines are there.
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckReport } from '../../src/shared/checks.ts';
import type { LabStatus } from '../../src/shared/runtime-api.ts';
import type { ExamNotice, OpenLabResult, PushMessage } from '../../src/shared/service-api.ts';
import { parseCast } from '../../src/main/runtime/console-record.ts';
import { eventually, waitUntil } from '../support/poll.ts';
import { Browser, type Rpc } from './helpers.ts';
import { hasImage, startRealClass, type RealClass } from './real-class.ts';

// A variant lab: each student's LAN is drawn from their seed (HMAC of the server's secret, their id and
// the exam's id), in their addresses, their instructions and their checks — the hidden one included.
const EXAM_LAB = `lab:
  name: exam-lab
  title: Exam lab
  description: |
    Your LAN is {{ lan }}. Make pc1 and pc2 reach each other, and write your LAN ({{ lan }}) into
    /root/answer.txt on pc1.
params:
  lan: {subnet: 10.0.0.0/8, prefix: 24, description: the LAN of pc1 and pc2}
machines:
  pc1:
    image: tiny
    memory: 64
    interfaces:
      - {domain: lan, ipv4: "{{ lan | address: 1 }}"}
      - {domain: wan, ipv4: 10.0.2.15/24}
  pc2:
    image: tiny
    memory: 64
    interfaces:
      - {domain: lan, ipv4: "{{ lan | address: 2 }}"}
domains:
  lan: {kind: switch}
  wan: {kind: switch, host_nat: true}
checks:
  - {id: pc1-reaches-pc2, kind: reach, description: pc1 reaches pc2, from: pc1, to: "{{ lan | host: 2 }}"}
  - {id: pc2-reaches-pc1, kind: reach, description: pc2 reaches pc1, from: pc2, to: "{{ lan | host: 1 }}"}
  - {id: answer, kind: file, description: the LAN is in /root/answer.txt, on: pc1, path: /root/answer.txt, contains: "{{ lan }}", points: 2, hidden: true}
`;

const DURATION_MIN = 2;
// The midterm closes 40 s after its two minutes would end for a student starting right away: the one
// who never starts gets their zero then, within the test.
const iso = (ms: number) => new Date(ms).toISOString();

/** Pids of processes whose command line mentions every needle (to prove what runs; never to kill). */
function processesMentioning(...needles: string[]): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (needles.every((n) => cmd.includes(n))) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** What a console showed this socket so far. */
const consoleText = (rpc: Rpc, consoleId: string) =>
  rpc.pushes
    .filter((p): p is Extract<PushMessage, { kind: 'console-data' }> => p.kind === 'console-data' && p.consoleId === consoleId)
    .map((p) => p.data)
    .join('');
const examNotices = (rpc: Rpc) => rpc.pushes.filter((p): p is Extract<PushMessage, { kind: 'exam' }> => p.kind === 'exam').map((p) => p.exam);

interface Student {
  name: string;
  /** Their LAN, as the dashboard shows the instructor. */
  lan: string;
  browser: Browser;
  id: string;
  lab: string;
  rpc: Rpc;
  consoleId: string;
}

describe.skipIf(!hasImage('tiny'))('exam mode, end to end (real front door, worker, guests)', () => {
  let rc: RealClass;
  let teacher: Browser;
  let http: Server;
  let httpPort = 0;
  const students: Record<string, Student> = {};
  let dee: Browser;
  let eve: Browser;
  let t0 = 0;
  let holder = '';

  beforeAll(async () => {
    // A web server on the host: with host NAT, pc1 would fetch it as 10.0.2.2:<port>.
    http = createServer((_req, res) => res.end('HOST-SECRET-PAGE\n'));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    httpPort = (http.address() as { port: number }).port;
    const now = Date.now();
    const examLabDir = (root: string) => {
      const dir = join(root, 'course', 'exam-lab');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'lab.yaml'), EXAM_LAB);
      return dir;
    };
    // The class folder is made by startRealClass; the exam's lab goes beside it, before the config is read.
    holder = mkdtempSync(join(tmpdir(), 'vexl-'));
    const dir = examLabDir(holder);
    rc = await startRealClass({
      supervisor: { minBackoffMs: 300, maxBackoffMs: 5_000, stableMs: 60_000 },
      privateImages: ['tiny'],
      labs: [`  - {id: exam-lab, path: ${dir}, title: Exam lab}`, `  - {id: quiz-lab, path: ${dir}}`],
      yaml: [
        'exams:',
        `  - {id: midterm, lab: exam-lab, title: Midterm, opens: ${iso(now - 60_000)}, closes: ${iso(now + DURATION_MIN * 60_000 + 40_000)}, duration_minutes: ${DURATION_MIN}, check_my_work: "limited:2", internet: off}`,
        `  - {id: quiz, lab: quiz-lab, opens: ${iso(now - 60_000)}, closes: ${iso(now + 30 * 60_000)}, duration_minutes: 30, check_my_work: "off"}`,
        `  - {id: final, lab: exam-lab, opens: ${iso(now + 86_400_000)}, closes: ${iso(now + 2 * 86_400_000)}, duration_minutes: 60}`,
        `  - {id: past, lab: exam-lab, opens: ${iso(now - 7_200_000)}, closes: ${iso(now - 3_600_000)}, duration_minutes: 60}`,
      ],
    });
    const { token } = rc.classroom.server.accounts.invite('Teacher', 'teacher@uni.edu', 'instructor');
    teacher = new Browser(rc.base);
    expect((await teacher.setPassword(`${rc.base}/invite?token=${token}`, 'a good long password')).status).toBe(303);
    for (const [name, email] of [['Ada', 'ada@uni.edu'], ['Bob', 'bob@uni.edu'], ['Cy', 'cy@uni.edu']] as const) {
      const browser = await rc.enrol(name, email);
      students[name] = { name, lan: '', browser, id: rc.classroom.server.accounts.list().find((a) => a.email === email)!.id, lab: '', rpc: undefined as unknown as Rpc, consoleId: '' };
    }
    dee = await rc.enrol('Dee', 'dee@uni.edu');
    eve = await rc.enrol('Eve', 'eve@uni.edu');
  }, 120_000);

  afterAll(async () => {
    for (const s of Object.values(students)) s.rpc?.close();
    await rc?.close();
    await new Promise((r) => http?.close(r));
    if (holder) rmSync(holder, { recursive: true, force: true });
    // Nothing of any student's lab is left running (the exam's end stopped them; close cleans the rest).
    const left = rc ? processesMentioning(rc.root) : [];
    if (left.length) throw new Error(`processes left behind: ${left.join(' ')}`);
  }, 120_000);

  it('lists the exams on the student\'s home page; the exam\'s lab is given only through the exam', async () => {
    const ada = students.Ada!.browser;
    const home = await (await ada.fetch('/')).text();
    expect(home).toContain('Midterm: 2 minutes');
    expect(home).toContain('data-testid="start-exam-midterm"');
    expect(home).toMatch(/final: opens \d{4}-\d\d-\d\d/);
    expect(home).toMatch(/past: closed/);
    // Neither exam lab is among the regular labs, nor reachable by /open.
    expect(home).not.toContain('/open/exam-lab');
    expect((await ada.fetch('/open/exam-lab')).status).toBe(404);
    // Outside its window an exam does not start.
    const csrf = /name="csrf" value="([^"]+)"/.exec(home)![1]!;
    const early = await ada.post('/exams/final/start', { csrf });
    expect(early.status).toBe(400);
    expect(await early.text()).toMatch(/opens at/);
    const late = await ada.post('/exams/past/start', { csrf });
    expect(late.status).toBe(400);
    expect(await late.text()).toMatch(/closed at/);
    // A forged start without the form's token is refused.
    expect((await ada.post('/exams/midterm/start', { csrf: 'nope' })).status).toBe(403);
  });

  it('three students start the exam and their labs; the countdown comes from the server; no internet', async () => {
    t0 = Date.now();
    for (const s of Object.values(students)) {
      const home = await (await s.browser.fetch('/')).text();
      const csrf = /name="csrf" value="([^"]+)"/.exec(home)![1]!;
      const res = await s.browser.post('/exams/midterm/start', { csrf });
      expect(res.status).toBe(303);
      s.lab = decodeURIComponent(/lab=([^&]+)/.exec(res.headers.get('location')!)![1]!);
      expect(s.lab).toMatch(/\/students\/s[0-9a-f]{10}\/labs\/midterm$/);
      s.rpc = await s.browser.rpc();
    }
    for (const s of Object.values(students)) {
      const [n] = await eventually(() => examNotices(s.rpc), (x) => x.length > 0, 5_000);
      expect(n).toMatchObject({ id: 'midterm', title: 'Midterm', labRoot: s.lab, phase: 'running', checkMyWork: 'limited:2', finalMs: 300_000 });
      expect(n!.remainingMs).toBeGreaterThan(DURATION_MIN * 60_000 - 15_000);
      expect(n!.remainingMs).toBeLessThanOrEqual(DURATION_MIN * 60_000);
    }
    // Each student has their own variant: the dashboard shows their values, their copies differ.
    const table = (await (await teacher.fetch('/api/exams/midterm')).json()) as { students: { id: string; values: { lan?: string } | null }[] };
    for (const s of Object.values(students)) s.lan = table.students.find((x) => x.id === s.id)!.values!.lan!;
    expect(new Set(Object.values(students).map((s) => s.lan)).size).toBe(3);
    for (const s of Object.values(students)) {
      expect(s.lan).toMatch(/^10\.\d+\.\d+\.0\/24$/);
      const copy = readFileSync(join(s.lab, 'lab.yaml'), 'utf8');
      expect(copy).toContain(`Your LAN is ${s.lan}.`);
      for (const o of Object.values(students)) if (o !== s) expect(copy).not.toContain(o.lan);
      // No host NAT and no hidden check, no params nor seed (the instructor's lab has them).
      expect(copy).not.toMatch(/host_nat|id: answer|hidden|params|\{\{/);
      expect(existsSync(join(s.lab, '.vnetlab-seed'))).toBe(false);
    }
    const statuses = await Promise.all(Object.values(students).map((s) => s.rpc.call<LabStatus>('startLab', s.lab)));
    for (const st of statuses) expect(st.machines.map((m) => m.state)).toEqual(['ready', 'ready']);
    // No slirpvde for any exam lab (it would be the way out to the host).
    for (const s of Object.values(students)) expect(processesMentioning('slirpvde', s.id)).toEqual([]);
    console.log(`exam: three labs started ${((Date.now() - t0) / 1000).toFixed(1)} s after the first student opened the exam`);
  }, 180_000);

  it('the students type in their consoles; pc1 cannot reach the host', async () => {
    for (const s of Object.values(students)) {
      const att = await s.rpc.call<{ consoleId: string }>('attachConsole', s.lab, 'pc1');
      s.consoleId = att.consoleId;
      await s.rpc.call('consoleInput', s.consoleId, `\recho typed-by-${s.name}-$((6*7))\r`);
    }
    for (const s of Object.values(students)) await eventually(() => consoleText(s.rpc, s.consoleId), (t) => t.includes(`typed-by-${s.name}-42`), 20_000);
    for (const s of Object.values(students)) expect(consoleText(s.rpc, s.consoleId)).toContain(`typed-by-${s.name}-42`);
    const ada = students.Ada!;
    await ada.rpc.call('consoleInput', ada.consoleId, `echo ${ada.lan} > /root/answer.txt; echo saved-$((40+2))\r`);
    // Cy writes Ada's LAN: right for Ada's variant, wrong for her own.
    const cy = students.Cy!;
    await cy.rpc.call('consoleInput', cy.consoleId, `echo ${ada.lan} > /root/answer.txt\r`);
    await ada.rpc.call('consoleInput', ada.consoleId, `timeout 5 wget -q -O - http://10.0.2.2:${httpPort}/ ; echo wget-done-$?\r`);
    const text = await eventually(() => consoleText(ada.rpc, ada.consoleId), (t) => /wget-done-\d+/.test(t), 20_000);
    expect(text).toContain('saved-42');
    expect(text).toMatch(/wget-done-[1-9]/);
    expect(text).not.toContain('HOST-SECRET-PAGE');
  }, 60_000);

  it('refuses, on the server, every edit of the lab: file, canvas (apply), convert, save as; and any other lab\'s start', async () => {
    const { rpc, lab } = students.Ada!;
    const before = readFileSync(join(lab, 'lab.yaml'), 'utf8');
    const { model } = await rpc.call<OpenLabResult>('openLab', lab);
    const edited = { ...model!, machines: model!.machines.map((m) => ({ ...m, memoryMiB: 128 })) };
    await expect(rpc.call('saveLab', lab, edited, 'yaml')).rejects.toThrow(/locked during the exam Midterm: saving, converting or "save as" is not allowed/);
    await expect(rpc.call('saveLab', lab, model, 'netkit')).rejects.toThrow(/locked during the exam/);
    const elsewhere = join(lab, '..', 'my-copy');
    await expect(rpc.call('saveLab', elsewhere, model, 'yaml')).rejects.toThrow(/locked during the exam/);
    expect(existsSync(elsewhere)).toBe(false);
    await expect(rpc.call('applyLab', lab, false)).rejects.toThrow(/topology is locked during the exam/);
    await expect(rpc.call('packLab', lab)).rejects.toThrow(/cannot be packed to take away during the exam/);
    await expect(rpc.call('applyLab', lab, true)).resolves.toMatchObject({ applied: false }); // a dry run changes nothing
    const twoHosts = await rc.labOf(students.Ada!.browser, 'two-hosts');
    await expect(rpc.call('startLab', twoHosts)).rejects.toThrow(/only its lab may run/);
    expect(readFileSync(join(lab, 'lab.yaml'), 'utf8')).toBe(before);
    // The refusal is the server's: a raw frame gets the same answer, with the unauthorized code.
    const raw = await new Promise<{ error: { code: string; message: string } }>((res) => {
      const onMessage = (m: unknown) => {
        const frame = JSON.parse(String(m));
        if (frame.id !== 9999) return;
        rpc.ws.off('message', onMessage);
        res(frame);
      };
      rpc.ws.on('message', onMessage);
      rpc.ws.send(JSON.stringify({ id: 9999, method: 'saveLab', params: [lab, edited, 'yaml'] }));
    });
    expect(raw.error.code).toBe('unauthorized');
  });

  it('cables, capture and consoles work during the exam; Check my work is limited to 2, and shows no hidden check', async () => {
    const { rpc, lab } = students.Ada!;
    await expect(rpc.call('changeLink', lab, 'pc2:eth0', { plugged: false })).resolves.toMatchObject({ plugged: false });
    await expect(rpc.call('changeLink', lab, 'pc2:eth0', { plugged: true })).resolves.toMatchObject({ plugged: true });
    expect((await rpc.call<unknown[]>('links', lab)).length).toBe(3);
    const cap = await rpc.call<{ captureId: string }>('startCapture', lab, 'pc1:eth0');
    await rpc.call('stopCapture', cap.captureId);
    await rpc.call('closeCapture', cap.captureId);
    const first = await rpc.call<CheckReport>('runChecks', lab);
    expect(first.results.map((r) => r.id)).toEqual(['pc1-reaches-pc2', 'pc2-reaches-pc1']);
    expect(first.score).toBe(2);
    await rpc.call('runChecks', lab);
    await expect(rpc.call('runChecks', lab)).rejects.toThrow(/used your 2 "Check my work" runs/);
    // With check_my_work: off, not even one.
    const e = await eve.rpc();
    const home = await (await eve.fetch('/')).text();
    const res = await eve.post('/exams/quiz/start', { csrf: /name="csrf" value="([^"]+)"/.exec(home)![1]! });
    const quiz = decodeURIComponent(/lab=([^&]+)/.exec(res.headers.get('location')!)![1]!);
    await expect(e.call('runChecks', quiz)).rejects.toThrow(/"Check my work" is off during the exam quiz/);
    e.close();
  }, 90_000);

  it('the recording goes on across a reconnect and a worker killed and restarted', async () => {
    const ada = students.Ada!;
    ada.rpc.close();
    ada.rpc = await ada.browser.rpc();
    ada.consoleId = (await ada.rpc.call<{ consoleId: string }>('attachConsole', ada.lab, 'pc1')).consoleId;
    await ada.rpc.call('consoleInput', ada.consoleId, 'echo after-reconnect\r');
    await waitUntil(() => consoleText(ada.rpc, ada.consoleId), (t) => t.includes('after-reconnect'), 10_000);

    const pid = rc.classroom.workers.pid(0)!;
    const closed = ada.rpc.closed;
    process.kill(pid, 'SIGKILL');
    await closed;
    await waitUntil(() => rc.classroom.workers.pid(0), (p) => !!p && p !== pid, 30_000);
    for (const s of Object.values(students)) {
      if (s.name !== 'Ada') s.rpc.close();
      s.rpc = await s.browser.rpc();
      s.consoleId = (await s.rpc.call<{ consoleId: string }>('attachConsole', s.lab, 'pc1')).consoleId;
    }
    await ada.rpc.call('consoleInput', ada.consoleId, 'echo after-worker-restart\r');
    await waitUntil(() => consoleText(ada.rpc, ada.consoleId), (t) => t.includes('after-worker-restart'), 10_000);
    // The exam's rules survived the restart too.
    await expect(ada.rpc.call('saveLab', ada.lab, (await ada.rpc.call<OpenLabResult>('openLab', ada.lab)).model, 'yaml')).rejects.toThrow(/locked during the exam/);
  }, 90_000);

  it('the instructor extends one student\'s time; another stops their lab before the end', async () => {
    const cy = students.Cy!;
    const before = (await (await teacher.fetch('/api/exams/midterm')).json()) as { students: { id: string; endsAt: string }[] };
    const was = Date.parse(before.students.find((s) => s.id === cy.id)!.endsAt);
    const res = await teacher.fetch(`/api/exams/midterm/students/${cy.id}/extend`, { method: 'POST', body: JSON.stringify({ minutes: 0.5 }), headers: { 'X-CSRF-Token': teacher.csrf, 'Content-Type': 'application/json' } });
    expect(res.status).toBe(200);
    expect(Date.parse(((await res.json()) as { endsAt: string }).endsAt)).toBe(was + 30_000);
    const n = await eventually(() => examNotices(cy.rpc).at(-1), (x) => !!x && Date.parse(x.endsAt) === was + 30_000, 5_000);
    expect(Date.parse(n!.endsAt)).toBe(was + 30_000);
    // Bad input gets a clear error, never a stack.
    const bad = await teacher.fetch(`/api/exams/midterm/students/${cy.id}/extend`, { method: 'POST', body: '{"minutes": "lots"}', headers: { 'X-CSRF-Token': teacher.csrf, 'Content-Type': 'application/json' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/minutes must be a number/);
    // Students cannot extend themselves.
    const self = await cy.browser.fetch(`/api/exams/midterm/students/${cy.id}/extend`, { method: 'POST', body: '{"minutes": 60}', headers: { 'X-CSRF-Token': cy.browser.csrf, 'Content-Type': 'application/json' } });
    expect(self.status).toBe(403);

    await students.Bob!.rpc.call('stopLab', students.Bob!.lab);
    expect(await students.Bob!.rpc.call('status', students.Bob!.lab)).toBeNull();
  }, 60_000);

  it('time runs out: consoles go read-only, starts are refused; the extended student goes on a little longer', async () => {
    const ada = students.Ada!;
    const endsAt = Date.parse(examNotices(ada.rpc).at(-1)!.endsAt);
    await new Promise((r) => setTimeout(r, Math.max(0, endsAt - Date.now() + 300)));
    await expect(ada.rpc.call('consoleInput', ada.consoleId, 'echo too-late\r')).rejects.toThrow(/the exam Midterm has ended: its consoles are read-only/);
    const ended = await eventually(() => examNotices(ada.rpc).at(-1), (n) => n?.phase === 'ended', 10_000);
    expect(ended).toMatchObject({ phase: 'ended', remainingMs: 0 });
    await expect(ada.rpc.call('startLab', ada.lab)).rejects.toThrow(/has ended: its lab is read-only/);
    await expect(ada.rpc.call('machine', ada.lab, 'pc1', 'start')).rejects.toThrow(/has ended/);
    await expect(ada.rpc.call('runChecks', ada.lab)).rejects.toThrow(/has ended/);
    await expect(ada.rpc.call('changeLink', ada.lab, 'pc1:eth0', { plugged: false })).rejects.toThrow(/has ended/);
    // Cy has 30 s more: her keystrokes still reach her guest.
    const cy = students.Cy!;
    await cy.rpc.call('consoleInput', cy.consoleId, 'echo cy-still-typing\r');
    await waitUntil(() => consoleText(cy.rpc, cy.consoleId), (t) => t.includes('cy-still-typing'), 10_000);
    const home = await (await ada.browser.fetch('/')).text();
    expect(home).toMatch(/Midterm: your time is over/);
  }, 240_000);

  it('grades every student with every check (hidden ones too), starts the stopped lab to grade it, zero for one who never started', async () => {
    type Row = { id: string; email: string; phase: string; grade: { score: number; maxScore: number; reason: string | null; startedForGrading: boolean } | null; machinesUp: number };
    const table = async () => ((await (await teacher.fetch('/api/exams/midterm')).json()) as { students: Row[] }).students;
    const rows = await eventually(table, (r) => r.every((x) => x.grade), 180_000, 1000);
    const by = (email: string) => rows.find((r) => r.email === email)!;
    expect(by('ada@uni.edu').grade).toEqual({ score: 4, maxScore: 4, reason: null, startedForGrading: false });
    expect(by('bob@uni.edu').grade).toEqual({ score: 2, maxScore: 4, reason: null, startedForGrading: true });
    expect(by('cy@uni.edu').grade).toMatchObject({ score: 2, maxScore: 4, startedForGrading: false });
    expect(by('dee@uni.edu').grade).toEqual({ score: 0, maxScore: 4, reason: 'never started the exam', startedForGrading: false });
    expect(by('eve@uni.edu').grade).toMatchObject({ score: 0, reason: 'never started the exam' });
    for (const r of rows) expect(r.phase).toBe('ended');
    // The hidden check, of each student's own variant, is in the reports: passed for Ada, failed for Cy
    // (who wrote Ada's LAN, not hers).
    const detail = async (s: Student) => (await (await teacher.fetch(`/api/exams/midterm/students/${s.id}`)).json()) as { grade: { report: CheckReport }; timeline: { kind: string; text: string }[]; recordings: { machine: string; bytes: number }[] };
    const adaD = await detail(students.Ada!);
    expect(adaD.grade.report.results.find((r) => r.id === 'answer')).toMatchObject({ passed: true, earned: 2 });
    const cyD = await detail(students.Cy!);
    expect(cyD.grade.report.results.find((r) => r.id === 'answer')).toMatchObject({ passed: false, earned: 0 });
    // The labs are stopped; the disks are kept for review.
    for (const s of Object.values(students)) await eventually(() => s.rpc.call('status', s.lab).catch(() => 'refused'), (st) => st === null, 30_000);
    for (const s of Object.values(students)) {
      const labsState = join(rc.root, 'data', 'worker-0', 'students', s.id, 'state', 'labs');
      const disks = readdirSync(labsState).flatMap((d) => (existsSync(join(labsState, d, 'disks')) ? readdirSync(join(labsState, d, 'disks')) : []));
      expect(disks).toEqual(expect.arrayContaining(['pc1.cow', 'pc2.cow']));
    }
    // The timeline.
    const kinds = new Set(adaD.timeline.map((e) => e.kind));
    for (const k of ['start', 'connect', 'disconnect', 'lab', 'console', 'cable', 'capture', 'check', 'refused', 'end', 'grade']) expect(kinds, k).toContain(k);
    expect(adaD.timeline.find((e) => e.kind === 'refused')!.text).toMatch(/^saveLab: .*locked/);
    const bobD = await detail(students.Bob!);
    expect(bobD.timeline.at(-1)!.text).toMatch(/2\/4 \(the lab was stopped: started to be graded\)/);
  }, 240_000);

  it('the recordings (asciicast v2) replay what each student typed, from the first byte of the boot', async () => {
    for (const s of Object.values(students)) {
      const res = await teacher.fetch(`/api/exams/midterm/students/${s.id}/recordings/pc1.cast`);
      expect(res.status).toBe(200);
      const { header, events } = parseCast(await res.text());
      expect(header).toMatchObject({ version: 2, width: expect.any(Number), height: expect.any(Number) });
      expect(header.timestamp * 1000).toBeGreaterThan(t0 - 5_000);
      const input = events.filter((e) => e[1] === 'i').map((e) => e[2]).join('');
      const output = events.filter((e) => e[1] === 'o').map((e) => e[2]).join('');
      expect(input).toContain(`echo typed-by-${s.name}-$((6*7))`);
      expect(output).toContain(`typed-by-${s.name}-42`);
      // From the first byte: the kernel's first line, before anyone attached.
      expect(events[0]![1]).toBe('o');
      expect(output.slice(0, 2000)).toMatch(/Linux version|Booting|Kernel/i);
      for (let i = 1; i < events.length; i++) expect(events[i]![0]).toBeGreaterThanOrEqual(events[i - 1]![0]);
      if (s.name === 'Ada') {
        expect(input).toContain(`echo ${s.lan} > /root/answer.txt`);
        expect(input).toContain('echo after-reconnect');
        expect(input).toContain('echo after-worker-restart');
        expect(input).not.toContain('too-late');
      }
    }
    // A student never sees the recordings.
    expect((await students.Ada!.browser.fetch(`/api/exams/midterm/students/${students.Ada!.id}/recordings/pc1.cast`)).status).toBe(403);
    // Asking for something that is not a recording: a clear 404.
    const bad = await teacher.fetch(`/api/exams/midterm/students/${students.Ada!.id}/recordings/..%2Fetc.cast`);
    expect([400, 404]).toContain(bad.status);
  });

  it('grades CSV and JUnit for the exam', async () => {
    const csv = await (await teacher.fetch('/api/exams/midterm/grades.csv')).text();
    const lines = csv.trim().split('\r\n');
    expect(lines[0]).toBe('name,email,score,max,status,started,ended,reason');
    expect(lines.find((l) => l.startsWith('Ada,'))).toMatch(/^Ada,ada@uni\.edu,4,4,ended,/);
    expect(lines.find((l) => l.startsWith('Dee,'))).toMatch(/^Dee,dee@uni\.edu,0,4,ended,,[^,]+,never started the exam$/);
    const junit = await (await teacher.fetch('/api/exams/midterm/junit.xml')).text();
    expect(junit).toMatch(/^<\?xml/);
    expect((junit.match(/<testsuite /g) ?? []).length).toBe(5);
    expect(junit).toContain('name="midterm/ada@uni.edu"');
    expect(junit).toMatch(/name="answer: the LAN is in \/root\/answer.txt"/);
    expect(junit).toContain('<property name="error" value="never started the exam"/>');
    // Students do not get them.
    expect((await dee.fetch('/api/exams/midterm/grades.csv')).status).toBe(403);
  });
});

export type { ExamNotice };
