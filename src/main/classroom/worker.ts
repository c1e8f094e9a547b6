// A classroom worker: owns the labs of the students assigned to it. Each student gets a folder of
// their own on the worker — their copies of the class's labs (hidden checks removed), their guest
// disks (VNETLAB_STATE_DIR) and their supervisors' sockets (VNETLAB_RUNTIME_DIR) — and a Service
// whose only root is their labs folder, so every path a browser sends is confined to it by the same
// allowedPath check the single-user app uses. Grading with hidden checks reads the instructor's lab,
// which no student call can name. On one host the front door spawns this process on a Unix socket;
// in a cluster it is a StatefulSet pod listening on TCP: the same code and frames (worker-socket.ts).
//
// Over 500 lines because WorkerCore is one class: a student's folder, copies, exam times and sessions
// are the same state for preparing, grading, exams, stopping and every call; what does not need it is
// beside it (copies.ts, the socket in worker-socket.ts, the front door's side in exam-desk.ts).
import { UNCONFINED_ENV } from '../runtime/confinement.ts';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Check, CheckReport } from '../../shared/checks.ts';
import { classroomRule, isServiceMethod, type PackFile, type ServiceMethod } from '../../shared/service-api.ts';
import { gradeLab } from '../check/grade.ts';
import { UserError } from '../errors.ts';
import { loadLab } from '../lab/index.ts';
import type { Backends } from '../service/backends.ts';
import { dispatch } from '../service/dispatch.ts';
import { toErrorInfo } from '../service/errors.ts';
import { realBackends } from '../service/real-backends.ts';
import { Service, type ClientSession } from '../service/service.ts';
import type { ClassroomExam, ClassroomLab } from './config.ts';
import { labHasParams, refuseHostNat, renderCopy, seedOf, studentCopy, valuesOf } from './copies.ts';
import type { ExamEndResult, ExamInfo, ExamStartResult, LabRequirements, Notice, RecordingChunk, StudentLab, StudentUsage } from './protocol.ts';

export { stripGradingData } from './copies.ts';
export { serveWorker, type WorkerServer } from './worker-socket.ts';

export const STUDENT_ID_RE = /^s[0-9a-f]{10}$/;


export type Grader = (labRoot: string, checks: Check[], env: NodeJS.ProcessEnv) => Promise<CheckReport>;

export interface WorkerCoreOptions {
  name: string;
  labs: ClassroomLab[];
  /** This worker's own folder (a PVC in the cluster). */
  dataDir: string;
  /** Short folder for supervisor sockets (Unix socket paths stay under 108 bytes). */
  runtimeBase: string;
  env: NodeJS.ProcessEnv;
  idleStopMs: number;
  startTimeoutMs: number;
  /** The Backends seam (tests); real ones by default. */
  backendsFor?: (env: NodeJS.ProcessEnv) => Backends;
  grader?: Grader;
  onNotice?(notice: Notice): void;
  /** Timed exams (docs/exams.md); their labs are given to students only through the exam. */
  exams?: ClassroomExam[];
  /** Key of the students' variant seeds (HMAC(key, student, copy id)); derived from the worker secret. */
  variantKey?: string;
}

/** An exam as this worker keeps it for one student (the front door decides the times; the worker enforces them). */
export interface StudentExam {
  startedAt: number;
  endsAt: number;
  /** The front door ended it (time up): the copy is read-only from then on. */
  ended: boolean;
  /** "Check my work" runs used (check_my_work: limited:N). */
  checksUsed: number;
}

/** One folder in a student's labs: a class lab's copy (id = lab id) or an exam's (id = exam id). */
interface CopySpec {
  id: string;
  lab: ClassroomLab;
  exam?: ClassroomExam;
}

/** Bytes of a recording sent per request (the frame limit is 8 MiB, JSON escaping can double a text). */
const RECORDING_CHUNK = 1024 * 1024;
const MACHINE_FILE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;

interface Student {
  id: string;
  env: NodeJS.ProcessEnv;
  labsDir: string;
  stateDir: string;
  backends: Backends;
  /** The same runtime with consoles recorded (VNETLAB_CONSOLE_RECORD): exam labs start through it. */
  examBackends: Backends;
  service: Service;
  /** `<student>/grading/<copy id>`: a variant's full rendering, hidden checks included (never the student's). */
  gradingDir: string;
  exams: Map<string, StudentExam>;
  examsFile: string;
  /** Per browser session: its console ids → the lab folder they belong to. */
  consoleLabs: WeakMap<ClientSession, Map<string, string>>;
  lastActivity: number;
  /** Calls of the student's in progress (a start can outlast a short idle time: it is activity until it ends). */
  busy: number;
}

function readExams(file: string): Map<string, StudentExam> {
  try {
    const raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, StudentExam>;
    return new Map(Object.entries(raw).filter(([, e]) => e && typeof e.endsAt === 'number'));
  } catch {
    return new Map();
  }
}

function privateDir(path: string): string {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  chmodSync(path, 0o700);
  return path;
}

export class WorkerCore {
  private readonly students = new Map<string, Student>();
  private readonly timer: NodeJS.Timeout;
  private idlePass = false;

  constructor(readonly options: WorkerCoreOptions) {
    privateDir(join(options.dataDir, 'students'));
    privateDir(options.runtimeBase);
    const every = Math.max(250, Math.min(60_000, options.idleStopMs / 4));
    this.timer = setInterval(() => void this.stopIdle(), every);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  student(id: unknown): Student {
    if (typeof id !== 'string' || !STUDENT_ID_RE.test(id)) throw new UserError('unknown student');
    let s = this.students.get(id);
    if (s) return s;
    const base = privateDir(join(this.options.dataDir, 'students', id));
    const labsDir = privateDir(join(base, 'labs'));
    const stateDir = privateDir(join(base, 'state'));
    const env: NodeJS.ProcessEnv = { ...this.options.env, HOME: base, VNETLAB_STATE_DIR: stateDir, VNETLAB_RUNTIME_DIR: join(this.options.runtimeBase, id) };
    delete env.XDG_RUNTIME_DIR;
    delete env.XDG_STATE_HOME;
    // Never let a worker's environment switch the guests' sandbox off (src/main/runtime/confinement.ts).
    delete env[UNCONFINED_ENV];
    delete env.VNETLAB_CONSOLE_RECORD;
    const make = this.options.backendsFor ?? ((e) => realBackends({ env: e, startTimeoutMs: this.options.startTimeoutMs }));
    const backends = make(env);
    const examBackends = make({ ...env, VNETLAB_CONSOLE_RECORD: '1' });
    const examsFile = join(base, 'exams.json');
    const student: Student = { id, env, labsDir, stateDir, backends, examBackends, service: undefined as unknown as Service, gradingDir: join(base, 'grading'), exams: readExams(examsFile), examsFile, consoleLabs: new WeakMap(), lastActivity: Date.now(), busy: 0 };
    // An exam's lab starts with its consoles recorded, and never with a way out when its exam has no internet.
    const routed: Backends = {
      ...backends,
      startLab: async (root) => {
        const exam = this.examOfPath(student, root);
        if (!exam) return backends.startLab(root);
        if (!exam.internet) await refuseHostNat(root);
        return examBackends.startLab(root);
      },
    };
    student.service = new Service({ backends: routed, labsDir, home: labsDir });
    this.students.set(id, student);
    return student;
  }

  private saveExams(s: Student): void {
    const tmp = `${s.examsFile}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(Object.fromEntries(s.exams), null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, s.examsFile);
  }

  private exam(id: unknown): ClassroomExam {
    const exam = this.options.exams?.find((e) => e.id === id);
    if (!exam) throw new UserError(`no exam ${String(id).slice(0, 40)} in this class`);
    return exam;
  }

  /** The exam whose copy this folder of the student's is, if any. */
  examOfPath(s: Student, path: string): ClassroomExam | undefined {
    return this.options.exams?.find((e) => resolve(this.copyPath(s, e.id)) === resolve(path));
  }

  /** Labs handed out only through an exam. */
  private isExamLab(labId: string): boolean {
    return !!this.options.exams?.some((e) => e.lab === labId);
  }

  private specOf(id: string): CopySpec {
    const exam = this.options.exams?.find((e) => e.id === id);
    if (exam) return { id: exam.id, lab: this.lab(exam.lab), exam };
    return { id, lab: this.lab(id) };
  }

  /** Makes the student's copy (their variant when the lab has params) unless it exists. */
  private async ensureCopy(s: Student, spec: CopySpec): Promise<string> {
    const dest = this.copyPath(s, spec.id);
    if (existsSync(dest)) return dest;
    await this.makeCopy(s, spec, dest);
    return dest;
  }

  private async makeCopy(s: Student, spec: CopySpec, dest: string): Promise<void> {
    const grading = join(s.gradingDir, spec.id);
    rmSync(grading, { recursive: true, force: true });
    let source = spec.lab.path;
    if (labHasParams(spec.lab.path)) {
      privateDir(s.gradingDir);
      const seed = seedOf(this.options.variantKey ?? 'vnetlab', s.id, spec.id);
      await renderCopy(spec.lab.path, grading, seed);
      source = grading;
    }
    studentCopy(source, dest, { internet: spec.exam ? spec.exam.internet : true });
  }

  /** Where the checks of a student's copy come from: their variant's full rendering, or the instructor's lab. */
  private gradingSource(s: Student, spec: CopySpec): string {
    const grading = join(s.gradingDir, spec.id);
    return existsSync(grading) ? grading : spec.lab.path;
  }

  private lab(id: unknown): ClassroomLab {
    const lab = this.options.labs.find((l) => l.id === id);
    if (!lab) throw new UserError(`no lab ${String(id).slice(0, 40)} in this class`);
    return lab;
  }

  copyPath(student: Student, labId: string): string {
    return join(student.labsDir, labId);
  }

  /** The student's copies of the class's labs (not the exams'), made on first use. */
  async prepare(studentId: string): Promise<StudentLab[]> {
    const s = this.student(studentId);
    const out: StudentLab[] = [];
    for (const lab of this.options.labs.filter((l) => !this.isExamLab(l.id))) {
      out.push({ id: lab.id, title: lab.title ?? lab.id, path: await this.ensureCopy(s, { id: lab.id, lab }) });
    }
    return out;
  }

  /** Which class lab or exam a folder of this student is, if any. */
  private labOfPath(s: Student, path: string): CopySpec | undefined {
    const exam = this.examOfPath(s, path);
    if (exam) return { id: exam.id, lab: this.lab(exam.lab), exam };
    const lab = this.options.labs.find((l) => resolve(this.copyPath(s, l.id)) === resolve(path));
    return lab && { id: lab.id, lab };
  }

  async requirements(studentId: string, labRoot: unknown): Promise<LabRequirements> {
    const s = this.student(studentId);
    const root = s.service.allowedPath(String(labRoot), 'lab path');
    const { model } = await s.backends.loadLab(root);
    if (!model) throw new UserError('the lab cannot be read', 2, 'open it in the editor to see what is wrong');
    const perMachine: Record<string, number> = {};
    for (const m of model.machines) perMachine[m.name] = Math.max(64, m.memoryMiB || 64);
    return { machines: model.machines.length, memoryMb: Object.values(perMachine).reduce((a, b) => a + b, 0), perMachine };
  }

  private grader(): Grader {
    return this.options.grader ?? ((root, checks, env) => gradeLab(root, { checks, useRunning: true, env }));
  }

  /**
   * Grades the student's running copy (of a class lab, or an exam's: `labId` is then the exam id) with
   * the instructor's checks of that student's variant (hidden ones too when asked).
   */
  async grade(studentId: string, labId: string, hidden: boolean): Promise<CheckReport> {
    const s = this.student(studentId);
    const spec = this.specOf(String(labId));
    const root = this.copyPath(s, spec.id);
    if (!existsSync(root)) throw new UserError('the student has not opened this lab yet');
    if (!(await s.backends.status(root))) throw new UserError('the lab is not running: start the lab first', 1, 'press Start, wait until the machines are green, then Check my work');
    const { model } = await loadLab(this.gradingSource(s, spec));
    const checks = (model?.checks ?? []).filter((c) => hidden || !c.hidden);
    if (!checks.length) throw new UserError(`the lab ${spec.lab.id} has no checks${hidden ? '' : ' visible to students'}`);
    const report = await this.grader()(root, checks, s.env);
    this.options.onNotice?.({ kind: 'checked', student: s.id, lab: spec.id, report });
    return report;
  }

  /** The student's copy of a lab, packed as it is now (saved on the spot): what `vnetlab pack` writes. */
  async pack(studentId: string, labId: string): Promise<PackFile> {
    const s = this.student(studentId);
    const spec = this.specOf(String(labId));
    const root = this.copyPath(s, spec.id);
    if (!existsSync(root)) throw new UserError('the student has not opened this lab yet');
    return s.backends.packLab(root);
  }

  // ---- exams ---------------------------------------------------------------------------------

  /** The student opened the exam: their copy is made (variant, no grading data, no host NAT without internet). */
  async examStart(studentId: string, examId: string, endsAt: unknown): Promise<ExamStartResult> {
    const s = this.student(studentId);
    const exam = this.exam(examId);
    if (typeof endsAt !== 'number' || !Number.isFinite(endsAt)) throw new UserError('bad end time');
    const known = s.exams.get(exam.id);
    if (known?.ended) throw new UserError(`the exam ${exam.id} has ended for this student`);
    const path = await this.ensureCopy(s, { id: exam.id, lab: this.lab(exam.lab), exam });
    s.exams.set(exam.id, { startedAt: known?.startedAt ?? Date.now(), endsAt, ended: false, checksUsed: known?.checksUsed ?? 0 });
    this.saveExams(s);
    return { path, values: this.valuesOf(s, exam.id) };
  }

  /** A new end time (the instructor extended it). */
  examExtend(studentId: string, examId: string, endsAt: unknown): void {
    const s = this.student(studentId);
    const exam = this.exam(examId);
    const e = s.exams.get(exam.id);
    if (!e) throw new UserError('the student has not started this exam');
    if (e.ended) throw new UserError('the exam has ended for this student: the grade is final');
    if (typeof endsAt !== 'number' || !Number.isFinite(endsAt)) throw new UserError('bad end time');
    e.endsAt = endsAt;
    this.saveExams(s);
  }

  /**
   * Time is up: the copy becomes read-only (at once, before anything else), the lab is graded as it is
   * with every check (hidden ones too) of the student's variant — started first when it was stopped —
   * and stopped; its disks and recordings are kept.
   */
  async examEnd(studentId: string, examId: string): Promise<ExamEndResult> {
    const s = this.student(studentId);
    const exam = this.exam(examId);
    const spec: CopySpec = { id: exam.id, lab: this.lab(exam.lab), exam };
    const e = s.exams.get(exam.id);
    if (!e) {
      s.exams.set(exam.id, { startedAt: 0, endsAt: 0, ended: true, checksUsed: 0 });
      this.saveExams(s);
      return { report: null, reason: 'never started the exam' };
    }
    e.ended = true;
    e.endsAt = Math.min(e.endsAt, Date.now());
    this.saveExams(s);
    const root = this.copyPath(s, exam.id);
    let startedForGrading = false;
    let failure = '';
    try {
      // Twice at most: a start or a grading that failed for a passing reason must not cost a grade.
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          // A lab (or a machine of it) that is not running is started: its disks hold the work.
          const status = await s.backends.status(root).catch(() => null);
          if (!status || status.machines.some((m) => m.state !== 'ready')) {
            startedForGrading ||= !status?.machines.some((m) => m.state === 'ready');
            if (!exam.internet) await refuseHostNat(root);
            const started = await s.examBackends.startLab(root);
            // No machine came up: say why (a student's grade must carry the reason, not "not running").
            if (!started.machines.some((m) => m.state === 'ready')) throw new UserError(`the lab did not start for grading: ${started.machines.map((m) => `${m.name} ${m.state}${m.error ? ` (${m.error.split('\n')[0]})` : ''}`).join(', ')}`);
          }
          const { model } = await loadLab(this.gradingSource(s, spec));
          const checks = model?.checks ?? [];
          const report = await this.grader()(root, checks, s.env);
          return { report, startedForGrading };
        } catch (err) {
          failure = (err as Error).message;
          if (attempt === 0) await new Promise((r) => setTimeout(r, 2000));
        }
      }
      return { report: null, startedForGrading, reason: `could not be graded: ${failure}` };
    } finally {
      await s.backends.stopLab(root).catch(() => undefined);
    }
  }

  private valuesOf(s: Student, copyId: string): Record<string, unknown> {
    const grading = join(s.gradingDir, copyId);
    return existsSync(grading) ? valuesOf(grading) : {};
  }

  /** The recordings folder of a copy's lab (in the student's state folder, beside its disks). */
  private recordingsDir(s: Student, copyId: string): string | undefined {
    const root = this.copyPath(s, copyId);
    const hash = createHash('sha256').update(resolve(root)).digest('hex').slice(0, 8);
    const labsState = join(s.stateDir, 'labs');
    const d = existsSync(labsState) ? readdirSync(labsState).find((x) => x.endsWith(`-${hash}`)) : undefined;
    return d ? join(labsState, d, 'recordings') : undefined;
  }

  /** What the dashboard shows of one student's exam: times, values drawn, recordings. */
  examInfo(studentId: string, examId: string): ExamInfo {
    const s = this.student(studentId);
    const exam = this.exam(examId);
    const dir = this.recordingsDir(s, exam.id);
    const recordings = dir && existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.cast')).sort().map((f) => ({ machine: f.slice(0, -5), bytes: statSync(join(dir, f)).size })) : [];
    return { state: s.exams.get(exam.id) ?? null, values: this.valuesOf(s, exam.id), recordings };
  }

  /** A piece of one machine's recording (asciicast v2 text), from a byte offset. */
  recording(studentId: string, examId: string, machine: unknown, offset: unknown): RecordingChunk {
    const s = this.student(studentId);
    const exam = this.exam(examId);
    if (typeof machine !== 'string' || !MACHINE_FILE_RE.test(machine)) throw new UserError('no such recording');
    const from = typeof offset === 'number' && Number.isInteger(offset) && offset >= 0 ? offset : 0;
    const dir = this.recordingsDir(s, exam.id);
    const file = dir && join(dir, `${machine}.cast`);
    if (!file || !existsSync(file)) throw new UserError('no such recording');
    const fd = openSync(file, 'r');
    try {
      const size = statSync(file).size;
      const buf = Buffer.alloc(Math.max(0, Math.min(RECORDING_CHUNK, size - from)));
      const n = buf.length ? readSync(fd, buf, 0, buf.length, from) : 0;
      return { data: buf.subarray(0, n).toString('base64'), size, next: from + n };
    } finally {
      closeSync(fd);
    }
  }

  /** The exam running for this student now, if any (started, not ended, time left). */
  private runningExam(s: Student, now = Date.now()): ClassroomExam | undefined {
    for (const [id, e] of s.exams) if (!e.ended && now < e.endsAt) return this.options.exams?.find((x) => x.id === id);
    return undefined;
  }

  /** An exam of this student whose time is up (ended by the front door, or past its end time). */
  private isOver(s: Student, examId: string, now = Date.now()): boolean {
    const e = s.exams.get(examId);
    return !!e && (e.ended || now >= e.endsAt);
  }

  /** The lab folder a call is about: its first parameter, or the lab of the console it names. */
  private targetOf(s: Student, client: ClientSession, method: ServiceMethod, params: unknown[]): string | undefined {
    if (method === 'consoleInput' || method === 'consoleResize' || method === 'consoleAck' || method === 'detachConsole') return s.consoleLabs.get(client)?.get(String(params[0]));
    if (method === 'saveCapture') return typeof params[1] === 'string' ? params[1] : undefined;
    if (typeof params[0] !== 'string' || method === 'setCaptureFilter' || method === 'packetDetail' || method === 'stopCapture' || method === 'closeCapture' || method === 'openInWireshark') return undefined;
    return params[0];
  }

  /**
   * What an exam forbids, decided here on the worker whatever the browser shows: while an exam runs,
   * no lab file is written (edit, convert, save as), nothing is applied live and no other lab starts;
   * once its time is up, its lab is read-only (no keystrokes, no start, no check, no cable change).
   */
  private examRefusal(s: Student, client: ClientSession, method: ServiceMethod, params: unknown[]): string | undefined {
    if (!s.exams.size) return undefined;
    const now = Date.now();
    const running = this.runningExam(s, now);
    let target: string | undefined;
    try {
      const t = this.targetOf(s, client, method, params);
      target = t === undefined ? undefined : s.service.allowedPath(t, 'path');
    } catch {
      target = undefined; // the call itself refuses a path outside the student's folders
    }
    const exam = target ? this.options.exams?.find((e) => { const copy = resolve(this.copyPath(s, e.id)); return target === copy || target!.startsWith(`${copy}/`); }) : undefined;
    if (exam && this.isOver(s, exam.id, now) && !classroomRule(method, 'watch') && method !== 'openLab') {
      if (method === 'consoleInput') return `the exam ${exam.title ?? exam.id} has ended: its consoles are read-only`;
      return `the exam ${exam.title ?? exam.id} has ended: its lab is read-only (${method} is not allowed)`;
    }
    if (exam && method === 'saveCapture') return 'a capture cannot be saved into the exam\'s lab folder';
    if (!running) return undefined;
    if (classroomRule(method, 'edits')) return `the lab and its checks are locked during the exam ${running.title ?? running.id}: saving, converting or "save as" is not allowed`;
    if (method === 'packLab' && exam?.id === running.id) return `the exam's lab cannot be packed to take away during the exam ${running.title ?? running.id}`;
    if (method === 'applyLab' && params[1] !== true) return `the lab's topology is locked during the exam ${running.title ?? running.id}: nothing is applied to the running lab`;
    if (classroomRule(method, 'starts') && exam?.id !== running.id) return `during the exam ${running.title ?? running.id} only its lab may run`;
    return undefined;
  }

  /** "Check my work" on an exam's lab, as its check_my_work says. */
  private async examCheck(s: Student, exam: ClassroomExam): Promise<CheckReport> {
    const policy = exam.checkMyWork;
    if (policy.mode === 'off') throw new UserError(`"Check my work" is off during the exam ${exam.title ?? exam.id}`);
    const e = s.exams.get(exam.id);
    if (policy.mode === 'limited') {
      if (!e) throw new UserError('the exam has not started');
      if (e.checksUsed >= policy.count) throw new UserError(`you have used your ${policy.count} "Check my work" run${policy.count === 1 ? '' : 's'} for this exam`);
      // Counted before it runs (two at once cannot both take the last one), given back when it could not run.
      e.checksUsed++;
      this.saveExams(s);
      try {
        return await this.grade(s.id, exam.id, false);
      } catch (err) {
        e.checksUsed = Math.max(0, e.checksUsed - 1);
        this.saveExams(s);
        throw err;
      }
    }
    return this.grade(s.id, exam.id, false);
  }

  async stop(studentId: string, labRoot: string): Promise<void> {
    const s = this.student(studentId);
    await s.backends.stopLab(s.service.allowedPath(labRoot, 'lab path'));
  }

  /** Back to the instructor's lab: stop it, delete the copy and its guest disks, copy again. */
  async reset(studentId: string, labId: string): Promise<StudentLab> {
    const s = this.student(studentId);
    const lab = this.lab(labId);
    if (this.isExamLab(lab.id)) throw new UserError(`${lab.id} is an exam's lab: it is not reset`);
    const root = this.copyPath(s, lab.id);
    await s.backends.stopLab(root).catch(() => undefined);
    const hash = createHash('sha256').update(resolve(root)).digest('hex').slice(0, 8);
    const labsState = join(s.stateDir, 'labs');
    if (existsSync(labsState)) for (const d of readdirSync(labsState)) if (d.endsWith(`-${hash}`)) rmSync(join(labsState, d), { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
    await this.makeCopy(s, { id: lab.id, lab }, root);
    return { id: lab.id, title: lab.title ?? lab.id, path: root };
  }

  private labFolders(s: Student): string[] {
    return readdirSync(s.labsDir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.endsWith('.tmp'))
      .map((e) => join(s.labsDir, e.name));
  }

  async usage(): Promise<StudentUsage[]> {
    const dir = join(this.options.dataDir, 'students');
    const out: StudentUsage[] = [];
    for (const id of readdirSync(dir).filter((d) => STUDENT_ID_RE.test(d))) {
      const s = this.student(id);
      const labs = [];
      for (const path of this.labFolders(s)) {
        const st = await s.backends.status(path).catch(() => null);
        if (!st) continue;
        labs.push({ id: this.labOfPath(s, path)?.id ?? path.slice(s.labsDir.length + 1), path, machines: st.machines.map((m) => ({ name: m.name, state: m.state, ...(m.rssBytes ? { rssBytes: m.rssBytes } : {}) })) });
      }
      const values: Record<string, Record<string, unknown>> = {};
      if (existsSync(s.gradingDir)) for (const copy of readdirSync(s.gradingDir)) if (!copy.includes('.')) values[copy] = valuesOf(join(s.gradingDir, copy));
      out.push({ student: id, lastActivity: s.lastActivity, labs, ...(Object.keys(values).length ? { values } : {}) });
    }
    return out;
  }

  /** Stops the running labs of students idle for longer than idleStopMs. Disks are kept. */
  async stopIdle(now = Date.now()): Promise<void> {
    // One pass at a time: a pass stopping many labs can outlast the timer's period, and a second pass
    // would stop (and announce) the same labs again.
    if (this.options.idleStopMs <= 0 || this.idlePass) return;
    this.idlePass = true;
    try {
      await this.stopIdleNow(now);
    } finally {
      this.idlePass = false;
    }
  }

  private async stopIdleNow(now: number): Promise<void> {
    for (const s of this.students.values()) {
      if (s.busy > 0 || now - s.lastActivity < this.options.idleStopMs) continue;
      for (const path of this.labFolders(s)) {
        // An exam's lab is not stopped for idleness while its time runs: the student may be thinking.
        const exam = this.examOfPath(s, path);
        if (exam && !this.isOver(s, exam.id, now)) continue;
        if (!(await s.backends.status(path).catch(() => null))) continue;
        await s.backends.stopLab(path).catch(() => undefined);
        this.options.onNotice?.({ kind: 'idle-stopped', student: s.id, lab: this.labOfPath(s, path)?.id ?? path, path });
      }
    }
  }

  /** One call of a student's (or a watching instructor's) browser session. */
  async call(studentId: string, client: ClientSession, readOnly: boolean, method: unknown, params: unknown): Promise<{ result: unknown } | { error: ReturnType<typeof toErrorInfo> }> {
    const s = this.student(studentId);
    if (!isServiceMethod(method) || !Array.isArray(params)) return { error: { code: 'bad-input', message: `unknown method ${String(method).slice(0, 40)}` } };
    if (readOnly && !classroomRule(method, 'watch')) return { error: { code: 'unauthorized', message: `watching is read-only: ${method} is not allowed` } };
    // A machine's second console is a shell its first viewer starts in the guest: a watcher starts nothing.
    if (readOnly && method === 'attachConsole' && Number(params[2] ?? 0) !== 0) return { error: { code: 'unauthorized', message: "watching shows a machine's own console, not its extra ones" } };
    const refused = readOnly ? undefined : this.examRefusal(s, client, method, params);
    if (refused) return { error: { code: 'unauthorized', message: refused } };
    if (readOnly || classroomRule(method, 'passive')) return this.callNow(s, client, method, params);
    s.lastActivity = Date.now();
    s.busy++;
    try {
      return await this.callNow(s, client, method, params);
    } finally {
      s.busy--;
      s.lastActivity = Date.now();
    }
  }

  private async callNow(s: Student, client: ClientSession, method: ServiceMethod, params: unknown[]): Promise<{ result: unknown } | { error: ReturnType<typeof toErrorInfo> }> {
    if (method === 'runChecks') {
      // "Check my work" on a class lab grades with the instructor's visible checks, not the copy's
      // (a student could have edited those); on a lab of their own, with its own.
      try {
        const root = s.service.allowedPath(String(params[0]), 'lab path');
        const spec = this.labOfPath(s, root);
        if (spec?.exam) return { result: await this.examCheck(s, spec.exam) };
        if (spec) return { result: await this.grade(s.id, spec.id, false) };
      } catch (err) {
        return { error: toErrorInfo(err) };
      }
    }
    const out = await dispatch(() => client, method, params);
    // Which lab each console belongs to, for the exam's rules on keystrokes.
    if (method === 'attachConsole' && 'result' in out) {
      const map = s.consoleLabs.get(client) ?? new Map<string, string>();
      s.consoleLabs.set(client, map);
      try {
        map.set((out.result as { consoleId: string }).consoleId, s.service.allowedPath(String(params[0]), 'lab path'));
      } catch {
        /* attached, so the path was allowed */
      }
    }
    return out;
  }
}

/** The key of the students' variant seeds: derived from the worker secret, which no student sees. */
export function variantKeyOf(workerSecret: string): string {
  return createHmac('sha256', workerSecret).update('vnetlab variant seeds').digest('hex');
}
