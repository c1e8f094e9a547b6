// An exam's times belong to the server, not to one process: the front door keeps them on disk
// (<data_dir>/exams/<exam>.json), so a restart of the front door changes nothing for the students,
// and an end that passed while it was down is carried out (read-only, graded, stopped) when it is back.
// The worker keeps its own copy of the end time and refuses input past it even with no front door.
// Front door and worker over the real protocol; the runtime behind the worker is the Backends seam.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClassroom, type ClassroomServer } from '../../src/main/classroom/server.ts';
import { eventually } from '../support/poll.ts';
import { enrol, startTestClass, type Browser, type TestClass } from './helpers.ts';

const PW = 'correct horse battery';

describe('exam across a restart of the front door', () => {
  let cls: TestClass;
  let again: ClassroomServer | undefined;
  let ada: Browser;
  let teacher: Browser;

  beforeAll(async () => {
    const now = Date.now();
    cls = await startTestClass(['exams:', `  - {id: quiz, lab: quiz-lab, opens: ${new Date(now - 60_000).toISOString()}, closes: ${new Date(now + 3_600_000).toISOString()}, duration_minutes: 0.1}`], { moreLabs: ['quiz-lab'] });
    teacher = await enrol(cls, 'Teacher', 'teacher@uni.edu', PW, 'instructor');
    ada = await enrol(cls, 'Ada', 'ada@uni.edu', PW);
  }, 60_000);
  afterAll(async () => {
    await again?.close();
    await cls?.close();
  });

  it('an end that passed while the front door was down (or that it left half-done) is carried out when it is back', async () => {
    const csrf = /name="csrf" value="([^"]+)"/.exec(await (await ada.fetch('/')).text())![1]!;
    const res = await ada.post('/exams/quiz/start', { csrf });
    expect(res.status, await res.clone().text()).toBe(303);
    const lab = decodeURIComponent(/lab=([^&]+)/.exec(res.headers.get('location')!)![1]!);
    const rpc = await ada.rpc();
    await rpc.call('startLab', lab);
    const { consoleId } = await rpc.call<{ consoleId: string }>('attachConsole', lab, 'pc1');
    await rpc.call('consoleInput', consoleId, 'ls\r');
    const saved = JSON.parse(readFileSync(join(cls.config.dataDir, 'exams', 'quiz.json'), 'utf8'));
    const id = cls.server.accounts.list().find((a) => a.email === 'ada@uni.edu')!.id;
    const startedAt = saved.students[id].startedAt as number;
    expect(startedAt).toBeGreaterThan(Date.now() - 10_000);

    // The front door goes away; the worker alone refuses her keystrokes once her 6 s are over.
    await cls.server.close();
    const worker = cls.core.student(id);
    const client = worker.service.connect(() => {});
    const att = (await cls.core.call(id, client, false, 'attachConsole', [lab, 'pc1'])) as { result: { consoleId: string } };
    await new Promise((r) => setTimeout(r, Math.max(0, startedAt + 6_000 - Date.now() + 200)));
    expect(await cls.core.call(id, client, false, 'consoleInput', [att.result.consoleId, 'x'])).toEqual({ error: { code: 'unauthorized', message: 'the exam quiz has ended: its consoles are read-only' } });
    client.close();
    expect(cls.runtime.running.has(lab)).toBe(true); // nobody has ended it yet

    // As if the front door had died half-way through her end: marked ended, not graded yet.
    const file = join(cls.config.dataDir, 'exams', 'quiz.json');
    const book = JSON.parse(readFileSync(file, 'utf8'));
    book.students[id].ended = true;
    book.students[id].endedAt = Date.now();
    writeFileSync(file, JSON.stringify(book));

    // Back: the same data; the end is carried out, with her original start time.
    again = await startClassroom({ config: cls.config, workers: [`unix:${join(cls.root, 'w0.sock')}`], workerSecret: 'x'.repeat(40) });
    const table = async () => ((await (await teacher.fetch('/api/exams/quiz')).json()) as { students: { email: string; phase: string; startedAt: string; grade: { score: number; maxScore: number } | null }[] }).students.find((s) => s.email === 'ada@uni.edu')!;
    // A restart logs everyone out: log in again.
    expect((await teacher.login('teacher@uni.edu', PW)).status).toBe(303);
    const row = await eventually(table, (r) => !!r.grade, 10_000);
    expect(row.phase).toBe('ended');
    expect(Date.parse(row.startedAt)).toBe(startedAt);
    expect(row.grade).toEqual({ score: 3, maxScore: 4, reason: null, startedForGrading: false });
    expect(cls.runtime.running.has(lab)).toBe(false);
    expect(cls.runtime.stops).toContain(lab);
    expect(existsSync(lab)).toBe(true);
  }, 60_000);
});
