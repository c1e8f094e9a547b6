// Exams on the front door: who started when, each student's end time, extensions, the timeline of
// what they did, and the grades at the end. Kept in `<data_dir>/exams/<exam id>.json` (0600, written
// atomically) so that a restart of the front door changes nothing: a student's time goes on, and an
// end that passed while it was down is carried out when it is back. The worker enforces the rules
// (worker.ts examRefusal); this decides the times and runs the end.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckReport } from '../../shared/checks.ts';
import type { ExamNotice } from '../../shared/service-api.ts';
import type { ClassroomExam } from './config.ts';

export type TimelineKind = 'start' | 'connect' | 'disconnect' | 'check' | 'cable' | 'machine' | 'lab' | 'console' | 'capture' | 'refused' | 'extend' | 'end' | 'grade';

export interface TimelineEvent {
  at: number;
  kind: TimelineKind;
  text: string;
}

export interface ExamGrade {
  score: number;
  maxScore: number;
  /** Every check, hidden ones included; null when there was nothing to grade (reason says why). */
  report: CheckReport | null;
  reason?: string;
  startedForGrading?: boolean;
  at: number;
}

export interface StudentExamRecord {
  startedAt?: number;
  /** Extra time the instructor gave (ms). */
  extraMs: number;
  /** The student's copy on their worker. */
  path?: string;
  values?: Record<string, unknown>;
  ended?: boolean;
  endedAt?: number;
  grade?: ExamGrade;
  lastScore?: { score: number; maxScore: number; at: number };
  timeline: TimelineEvent[];
}

/** Events kept per student (the oldest go first past it). */
export const TIMELINE_LIMIT = 5000;
/** The last minutes the app shows clearly. */
export const FINAL_MINUTES_MS = 5 * 60_000;

export class ExamBook {
  private readonly records = new Map<string, Map<string, StudentExamRecord>>();

  constructor(
    private readonly dir: string,
    readonly exams: ClassroomExam[],
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const exam of exams) {
      const file = this.file(exam.id);
      const map = new Map<string, StudentExamRecord>();
      if (existsSync(file)) {
        try {
          const raw = JSON.parse(readFileSync(file, 'utf8')) as { students?: Record<string, StudentExamRecord> };
          for (const [id, r] of Object.entries(raw.students ?? {})) map.set(id, { ...r, extraMs: r.extraMs ?? 0, timeline: r.timeline ?? [] });
        } catch {
          /* a damaged file: start from nothing rather than refuse to serve */
        }
      }
      this.records.set(exam.id, map);
    }
  }

  private file(examId: string): string {
    return join(this.dir, `${examId}.json`);
  }

  exam(id: string): ClassroomExam | undefined {
    return this.exams.find((e) => e.id === id);
  }

  /** The exams whose copies are this lab id (to hide exam labs from the regular list). */
  isExamLab(labId: string): boolean {
    return this.exams.some((e) => e.lab === labId);
  }

  get(examId: string, student: string): StudentExamRecord | undefined {
    return this.records.get(examId)?.get(student);
  }

  /** The record, made when missing. */
  of(examId: string, student: string): StudentExamRecord {
    const map = this.records.get(examId)!;
    let r = map.get(student);
    if (!r) {
      r = { extraMs: 0, timeline: [] };
      map.set(student, r);
    }
    return r;
  }

  save(examId: string): void {
    const map = this.records.get(examId);
    if (!map) return;
    const file = this.file(examId);
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ exam: examId, students: Object.fromEntries(map) })}\n`, { mode: 0o600 });
    renameSync(tmp, file);
  }

  /** When the student's time ends: min(start + duration, closes), plus what the instructor added. */
  endsAt(exam: ClassroomExam, r: StudentExamRecord | undefined): number | undefined {
    if (r?.startedAt === undefined) return undefined;
    return Math.min(r.startedAt + exam.durationMs, exam.closes) + r.extraMs;
  }

  phase(exam: ClassroomExam, student: string, now = Date.now()): 'not-open' | 'open' | 'running' | 'grading' | 'ended' | 'closed' {
    const r = this.get(exam.id, student);
    if (r?.ended) return r.grade ? 'ended' : 'grading';
    if (r?.startedAt !== undefined) return now < this.endsAt(exam, r)! ? 'running' : 'grading';
    if (now < exam.opens) return 'not-open';
    return now < exam.closes ? 'open' : 'closed';
  }

  log(examId: string, student: string, kind: TimelineKind, text: string, at = Date.now()): void {
    const r = this.of(examId, student);
    r.timeline.push({ at, kind, text: text.slice(0, 500) });
    if (r.timeline.length > TIMELINE_LIMIT) r.timeline.splice(0, r.timeline.length - TIMELINE_LIMIT);
    this.save(examId);
  }

  /** What the student's app is told (a countdown from remainingMs, not from the browser's clock). */
  notice(exam: ClassroomExam, student: string, now = Date.now()): ExamNotice | undefined {
    const r = this.get(exam.id, student);
    if (!r?.path || r.startedAt === undefined) return undefined;
    const endsAt = this.endsAt(exam, r)!;
    const over = r.ended || now >= endsAt;
    const cmw = exam.checkMyWork;
    return {
      id: exam.id,
      title: exam.title ?? exam.id,
      labRoot: r.path,
      endsAt: new Date(endsAt).toISOString(),
      remainingMs: Math.max(0, endsAt - now),
      finalMs: FINAL_MINUTES_MS,
      phase: over ? 'ended' : 'running',
      checkMyWork: cmw.mode === 'limited' ? `limited:${cmw.count}` : cmw.mode,
      message: over ? 'Time is up: the consoles are read-only and your lab is being graded.' : undefined,
    };
  }
}
