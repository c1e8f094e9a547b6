// The front door's exam desk: starting a student's exam, the clock that ends it (grading every check
// of the student's variant on their worker, then stopping the lab), the instructor's live table,
// timelines, recordings, extensions, grades CSV and JUnit. The rules during the exam are enforced by
// the worker (worker.ts examRefusal); the times are decided here and kept in ExamBook.
import { loadLab } from '../lab/index.ts';
import type { CheckReport } from '../../shared/checks.ts';
import type { PushMessage, ServiceMethod } from '../../shared/service-api.ts';
import { csvField, formatJunit } from '../check/report.ts';
import { UserError } from '../errors.ts';
import type { Account, AccountStore } from './accounts.ts';
import type { ClassroomConfig, ClassroomExam } from './config.ts';
import { ExamBook, type TimelineKind } from './exams.ts';
import type { ExamEndResult, ExamInfo, ExamStartResult, RecordingChunk, StudentUsage } from './protocol.ts';
import type { WorkerClient } from './worker-client.ts';

export interface ExamDeskContext {
  config: ClassroomConfig;
  accounts: AccountStore;
  workerOf(account: Account): WorkerClient;
  usage(): Promise<StudentUsage[]>;
  /** The student's lab is no longer running (the reservation of the quota goes). */
  released(student: string, path: string): void;
  log(line: string): void;
}

/** How often the clock looks for ends (ms). */
const TICK_MS = 500;
/** A grading whose worker cannot be reached is tried again this often, this many times in all. */
const RETRY_MS = 10_000;
const RETRIES = 30;

export class ExamDesk {
  readonly book: ExamBook;
  private readonly timer: NodeJS.Timeout;
  private readonly ending = new Set<string>();
  /** The student's open app sockets: told about their exam (countdown, end). */
  private readonly listeners = new Map<string, Set<(push: PushMessage) => void>>();
  private readonly maxScores = new Map<string, number>();
  /** Gradings that could not reach the worker: how many tries so far, and when to try again. */
  private readonly tries = new Map<string, number>();
  private readonly retryAt = new Map<string, number>();

  constructor(
    private readonly ctx: ExamDeskContext,
    dir: string,
  ) {
    this.book = new ExamBook(dir, ctx.config.exams);
    this.timer = setInterval(() => void this.tick(), TICK_MS);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  exam(id: unknown): ClassroomExam {
    const exam = typeof id === 'string' ? this.book.exam(id) : undefined;
    if (!exam) throw new UserError('no such exam');
    return exam;
  }

  // ---- the student's side --------------------------------------------------------------------

  /** The student opens the exam: their clock starts now (once), their copy is made on their worker. */
  async start(account: Account, examId: string, now = Date.now()): Promise<string> {
    const exam = this.exam(examId);
    const phase = this.book.phase(exam, account.id, now);
    if (phase === 'not-open') throw new UserError(`the exam ${exam.title ?? exam.id} opens at ${new Date(exam.opens).toISOString()}`);
    const never = this.book.get(exam.id, account.id)?.startedAt === undefined;
    if (phase === 'closed' || (never && (phase === 'grading' || phase === 'ended'))) throw new UserError(`the exam ${exam.title ?? exam.id} closed at ${new Date(exam.closes).toISOString()}`);
    if (phase === 'grading' || phase === 'ended') throw new UserError(`your time for the exam ${exam.title ?? exam.id} is over`);
    const r = this.book.of(exam.id, account.id);
    const first = r.startedAt === undefined;
    const startedAt = r.startedAt ?? now;
    const endsAt = Math.min(startedAt + exam.durationMs, exam.closes) + r.extraMs;
    const res = await this.ctx.workerOf(account).request<ExamStartResult>({ op: 'examStart', student: account.id, exam: exam.id, endsAt });
    r.startedAt = startedAt;
    r.path = res.path;
    r.values = res.values;
    this.book.save(exam.id);
    if (first) {
      this.book.log(exam.id, account.id, 'start', `started the exam; ends at ${new Date(endsAt).toISOString()}`, now);
      this.ctx.log(`exam ${exam.id}: ${account.email} started (ends ${new Date(endsAt).toISOString()})`);
    }
    return res.path;
  }

  /** The exams a student sees on their home page, with what they can do now. */
  homeItems(account: Account, now = Date.now()): { exam: ClassroomExam; phase: ReturnType<ExamBook['phase']>; endsAt?: number }[] {
    return this.book.exams.map((exam) => {
      const r = this.book.get(exam.id, account.id);
      const phase = this.book.phase(exam, account.id, now);
      // Never started, and over: for the student it is simply closed.
      return { exam, phase: r?.startedAt === undefined && (phase === 'ended' || phase === 'grading') ? 'closed' : phase, endsAt: this.book.endsAt(exam, r) };
    });
  }

  /** An app socket of this student opened: it hears about their exams from now on. */
  attach(account: Account, push: (message: PushMessage) => void): () => void {
    const set = this.listeners.get(account.id) ?? new Set();
    this.listeners.set(account.id, set);
    set.add(push);
    for (const exam of this.book.exams) {
      const notice = this.book.notice(exam, account.id);
      if (!notice) continue;
      push({ kind: 'exam', exam: notice });
      if (notice.phase === 'running') this.book.log(exam.id, account.id, 'connect', 'the app connected');
    }
    return () => {
      set.delete(push);
      for (const exam of this.book.exams) if (this.book.notice(exam, account.id)?.phase === 'running') this.book.log(exam.id, account.id, 'disconnect', 'the app disconnected');
    };
  }

  private tell(student: string, exam: ClassroomExam): void {
    const notice = this.book.notice(exam, student);
    if (!notice) return;
    for (const l of this.listeners.get(student) ?? []) l({ kind: 'exam', exam: notice });
  }

  /** The exam running now whose lab is this folder, for the timeline. */
  private examAt(student: string, labRoot: string): ClassroomExam | undefined {
    return this.book.exams.find((e) => this.book.get(e.id, student)?.path === labRoot.replace(/\/+$/, ''));
  }

  /** A call of the student's app went through (or was refused): what the timeline keeps of it. */
  observe(student: string, method: ServiceMethod, params: unknown[], outcome: { result?: unknown; error?: { message: string; code?: string } }): void {
    const labRoot = typeof params[0] === 'string' ? params[0] : '';
    const exam = labRoot ? this.examAt(student, labRoot) : this.book.exams.find((e) => this.book.phase(e, student) === 'running');
    if (!exam || this.book.get(exam.id, student)?.startedAt === undefined) return;
    const log = (kind: TimelineKind, text: string) => this.book.log(exam.id, student, kind, text);
    if (outcome.error) {
      if (outcome.error.code === 'unauthorized' && method !== 'consoleInput') log('refused', `${method}: ${outcome.error.message}`);
      else if (method === 'runChecks') log('check', `Check my work: ${outcome.error.message}`);
      return;
    }
    if (method === 'runChecks') {
      const r = outcome.result as CheckReport;
      log('check', `Check my work: ${r.score}/${r.maxScore}`);
    } else if (method === 'changeLink') {
      const change = params[2] as Record<string, unknown> | undefined;
      log('cable', `${String(params[1]).slice(0, 40)}: ${JSON.stringify(change ?? {}).slice(0, 200)}`);
    } else if (method === 'machine') log('machine', `${String(params[2])} ${String(params[1]).slice(0, 64)}`);
    else if (method === 'startLab' || method === 'stopLab') log('lab', method === 'startLab' ? 'started the lab' : 'stopped the lab');
    else if (method === 'attachConsole') {
      const n = Number(params[2] ?? 0);
      log('console', Number.isInteger(n) && n > 0 && n < 8 ? `opened console ${n + 1} of ${String(params[1]).slice(0, 64)}` : `opened the console of ${String(params[1]).slice(0, 64)}`);
    }
    else if (method === 'startCapture') log('capture', `capture on ${String(params[1]).slice(0, 64)}`);
  }

  /** A "Check my work" result reached the front door (a worker notice). */
  checked(student: string, copyId: string, report: CheckReport): void {
    const exam = this.book.exam(copyId);
    if (!exam) return;
    const r = this.book.of(exam.id, student);
    r.lastScore = { score: report.score, maxScore: report.maxScore, at: Date.now() };
    this.book.save(exam.id);
  }

  // ---- the clock -----------------------------------------------------------------------------

  async tick(now = Date.now()): Promise<void> {
    for (const exam of this.book.exams) {
      for (const account of this.ctx.accounts.list()) {
        if (account.role !== 'student') continue;
        const r = this.book.get(exam.id, account.id);
        if (r?.grade) continue;
        // Ended but not graded: the worker could not be reached, or the front door stopped half-way.
        if (r?.ended) {
          if (now >= (this.retryAt.get(`${exam.id}\0${account.id}`) ?? 0)) void this.end(exam, account);
          continue;
        }
        const endsAt = this.book.endsAt(exam, r);
        const due = endsAt !== undefined ? now >= endsAt : now >= exam.closes;
        if (due) void this.end(exam, account);
      }
    }
  }

  /**
   * Time is up for one student: read-only at once, then graded with every check, then stopped. When
   * their worker cannot be reached (restarting), the grading is tried again every RETRY_MS, up to
   * RETRIES times, rather than giving them a zero for the server's trouble.
   */
  async end(exam: ClassroomExam, account: Account): Promise<void> {
    const key = `${exam.id}\0${account.id}`;
    if (this.ending.has(key)) return;
    this.ending.add(key);
    try {
      const r = this.book.of(exam.id, account.id);
      if (r.grade) return;
      const worker = this.ctx.workerOf(account);
      const first = !r.ended;
      if (first) {
        r.ended = true;
        r.endedAt = Date.now();
        this.book.save(exam.id);
      }
      if (r.startedAt === undefined) {
        // Their worker is told too, so a late start is refused there as well.
        await worker.request({ op: 'examEnd', student: account.id, exam: exam.id }).catch(() => undefined);
        r.grade = { score: 0, maxScore: await this.maxScore(exam), report: null, reason: 'never started the exam', at: Date.now() };
        this.book.log(exam.id, account.id, 'grade', `0/${r.grade.maxScore}: never started the exam`);
        this.ctx.log(`exam ${exam.id}: ${account.email} never started: 0`);
        return;
      }
      if (first) {
        this.book.log(exam.id, account.id, 'end', 'time is up: consoles read-only, grading');
        this.tell(account.id, exam);
      }
      let result: ExamEndResult;
      try {
        result = await worker.request<ExamEndResult>({ op: 'examEnd', student: account.id, exam: exam.id });
      } catch (err) {
        const tries = (this.tries.get(key) ?? 0) + 1;
        this.tries.set(key, tries);
        if (tries < RETRIES) {
          this.retryAt.set(key, Date.now() + RETRY_MS);
          this.ctx.log(`exam ${exam.id}: ${account.email} not graded yet (${(err as Error).message}); trying again in ${RETRY_MS / 1000} s`);
          return;
        }
        result = { report: null, reason: `could not be graded: ${(err as Error).message}` };
      }
      this.tries.delete(key);
      this.retryAt.delete(key);
      if (r.path) this.ctx.released(account.id, r.path);
      const report = result.report;
      r.grade = { score: report?.score ?? 0, maxScore: report?.maxScore ?? (await this.maxScore(exam)), report, ...(result.reason ? { reason: result.reason } : {}), ...(result.startedForGrading ? { startedForGrading: true } : {}), at: Date.now() };
      if (report) this.maxScores.set(exam.id, report.maxScore);
      this.book.log(exam.id, account.id, 'grade', `${r.grade.score}/${r.grade.maxScore}${result.startedForGrading ? ' (the lab was stopped: started to be graded)' : ''}${result.reason ? `: ${result.reason}` : ''}`);
      this.ctx.log(`exam ${exam.id}: ${account.email} graded ${r.grade.score}/${r.grade.maxScore}`);
      this.tell(account.id, exam);
    } finally {
      this.ending.delete(key);
    }
  }

  /** The exam's full marks: from a report, else the instructor's lab (all checks). */
  private async maxScore(exam: ClassroomExam): Promise<number> {
    const known = this.maxScores.get(exam.id);
    if (known !== undefined) return known;
    const lab = this.ctx.config.labs.find((l) => l.id === exam.lab)!;
    const { model } = await loadLab(lab.path);
    const max = (model?.checks ?? []).reduce((s, c) => s + c.points, 0);
    this.maxScores.set(exam.id, max);
    return max;
  }

  // ---- the instructor's side -----------------------------------------------------------------

  private student(id: unknown): Account {
    const a = this.ctx.accounts.byId(id);
    if (!a || a.role !== 'student') throw new UserError('no such student');
    return a;
  }

  /** Every exam with its window and settings (the dashboard's list). */
  list(): unknown[] {
    return this.book.exams.map((e) => ({ id: e.id, title: e.title ?? e.id, lab: e.lab, opens: new Date(e.opens).toISOString(), closes: new Date(e.closes).toISOString(), durationMinutes: e.durationMs / 60_000, checkMyWork: e.checkMyWork, internet: e.internet }));
  }

  /** The live table: time left, machines up, last score, grade, variant values. */
  async table(examId: string, now = Date.now()): Promise<unknown> {
    const exam = this.exam(examId);
    const usage = await this.ctx.usage();
    const students = this.ctx.accounts.list().filter((a) => a.role === 'student').map((a) => {
      const r = this.book.get(exam.id, a.id);
      const endsAt = this.book.endsAt(exam, r);
      const lab = usage.find((u) => u.student === a.id)?.labs.find((l) => l.id === exam.id);
      return {
        id: a.id,
        name: a.name,
        email: a.email,
        phase: this.book.phase(exam, a.id, now),
        startedAt: r?.startedAt !== undefined ? new Date(r.startedAt).toISOString() : null,
        endsAt: endsAt !== undefined ? new Date(endsAt).toISOString() : null,
        remainingMs: endsAt !== undefined && !r?.ended ? Math.max(0, endsAt - now) : null,
        extraMinutes: (r?.extraMs ?? 0) / 60_000,
        machinesUp: lab ? lab.machines.filter((m) => m.state === 'ready').length : 0,
        machines: lab ? lab.machines.length : 0,
        lastScore: r?.lastScore ?? null,
        grade: r?.grade ? { score: r.grade.score, maxScore: r.grade.maxScore, reason: r.grade.reason ?? null, startedForGrading: !!r.grade.startedForGrading } : null,
        values: r?.values ?? null,
      };
    });
    return { exam: this.list().find((e) => (e as { id: string }).id === exam.id), now: new Date(now).toISOString(), students };
  }

  /** One student: timeline, grade report (every check), recordings, values. */
  async detail(examId: string, studentId: string): Promise<unknown> {
    const exam = this.exam(examId);
    const a = this.student(studentId);
    const r = this.book.get(exam.id, a.id);
    let info: ExamInfo | undefined;
    if (r?.startedAt !== undefined) info = await this.ctx.workerOf(a).request<ExamInfo>({ op: 'examInfo', student: a.id, exam: exam.id }).catch(() => undefined);
    return {
      exam: { id: exam.id, title: exam.title ?? exam.id },
      student: { id: a.id, name: a.name, email: a.email },
      phase: this.book.phase(exam, a.id),
      values: r?.values ?? info?.values ?? null,
      timeline: (r?.timeline ?? []).map((e) => ({ at: new Date(e.at).toISOString(), kind: e.kind, text: e.text })),
      grade: r?.grade ?? null,
      recordings: info?.recordings ?? [],
    };
  }

  /** A recording, whole (asciicast v2), read from the student's worker piece by piece. */
  async recording(examId: string, studentId: string, machine: string, write: (chunk: Buffer) => void): Promise<void> {
    const exam = this.exam(examId);
    const a = this.student(studentId);
    let offset = 0;
    for (;;) {
      const chunk = await this.ctx.workerOf(a).request<RecordingChunk>({ op: 'recording', student: a.id, exam: exam.id, machine, offset });
      const bytes = Buffer.from(chunk.data, 'base64');
      if (bytes.length) write(bytes);
      offset = chunk.next;
      if (!bytes.length || offset >= chunk.size) return;
    }
  }

  /** More time for one student (minutes, may be fractional); refused once their exam ended. */
  async extend(examId: string, studentId: string, minutes: unknown, by: Account): Promise<{ endsAt: string }> {
    const exam = this.exam(examId);
    const a = this.student(studentId);
    const m = typeof minutes === 'number' ? minutes : Number(minutes);
    if (!Number.isFinite(m) || m <= 0 || m > 24 * 60) throw new UserError('minutes must be a number above 0 and at most 1440');
    const r = this.book.of(exam.id, a.id);
    if (r.ended) throw new UserError(`${a.name}'s exam has ended: the grade is final`);
    r.extraMs += Math.round(m * 60_000);
    const endsAt = this.book.endsAt(exam, r);
    if (endsAt !== undefined) await this.ctx.workerOf(a).request({ op: 'examExtend', student: a.id, exam: exam.id, endsAt });
    this.book.save(exam.id);
    this.book.log(exam.id, a.id, 'extend', `${by.email} gave ${m} more minute${m === 1 ? '' : 's'}${endsAt !== undefined ? `; ends at ${new Date(endsAt).toISOString()}` : ''}`);
    this.ctx.log(`exam ${exam.id}: ${by.email} extended ${a.email} by ${m} min`);
    this.tell(a.id, exam);
    return { endsAt: endsAt !== undefined ? new Date(endsAt).toISOString() : '' };
  }

  /** name, email, score, max, status, reason (RFC 4180, CRLF; formulas defused). */
  gradesCsv(examId: string): string {
    const exam = this.exam(examId);
    const rows = [['name', 'email', 'score', 'max', 'status', 'started', 'ended', 'reason'].join(',')];
    for (const a of this.ctx.accounts.list().filter((x) => x.role === 'student')) {
      const r = this.book.get(exam.id, a.id);
      const g = r?.grade;
      rows.push([a.name, a.email, g ? g.score : '', g ? g.maxScore : '', this.book.phase(exam, a.id), r?.startedAt !== undefined ? new Date(r.startedAt).toISOString() : '', r?.endedAt ? new Date(r.endedAt).toISOString() : '', g?.reason ?? ''].map((v) => csvField(v)).join(','));
    }
    return `${rows.join('\r\n')}\r\n`;
  }

  /** One JUnit document, a testsuite per graded student (as `vnetlab check --junit` writes them). */
  junit(examId: string): string {
    const exam = this.exam(examId);
    const suites: string[] = [];
    let tests = 0;
    let failures = 0;
    for (const a of this.ctx.accounts.list().filter((x) => x.role === 'student')) {
      const g = this.book.get(exam.id, a.id)?.grade;
      if (!g) continue;
      const report: CheckReport = g.report ?? { lab: exam.id, results: [], score: 0, maxScore: g.maxScore, startedAt: new Date(g.at).toISOString(), durationMs: 0, error: g.reason ?? 'not graded' };
      const doc = formatJunit({ ...report, lab: exam.id, submission: a.email, ...(g.reason && !report.error ? { error: g.reason } : {}) }).split('\n');
      const from = doc.findIndex((l) => l.startsWith('  <testsuite '));
      const to = doc.lastIndexOf('  </testsuite>');
      suites.push(...doc.slice(from, to + 1));
      tests += report.results.length;
      failures += report.results.filter((x) => !x.passed).length;
    }
    return ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites name="${exam.id.replace(/[^a-z0-9-]/g, '')}" tests="${tests}" failures="${failures}">`, ...suites, '</testsuites>', ''].join('\n');
  }
}
