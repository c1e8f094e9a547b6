// The instructor's API behind the dashboard and exam pages: the class at a glance, exams (tables,
// details, recordings, grades), grades and JUnit reports, the roster, and actions on a student's lab.
import type { ServerResponse } from 'node:http';
import type { CheckReport } from '../../../shared/checks.ts';
import { csvField, formatJunit } from '../../check/report.ts';
import { UserError } from '../../errors.ts';
import { toErrorInfo } from '../../service/errors.ts';
import type { Account } from '../accounts.ts';
import { type FrontDoor, NEXT } from '../front-door.ts';
import { STUDENT_ID_RE } from '../worker.ts';
import { sendPack } from './packs.ts';

/** GET /api/… for instructors. */
export async function instructorApi(door: FrontDoor, res: ServerResponse, path: string): Promise<void | typeof NEXT> {
  const { config, accounts, scores, exams, send, json } = door;
  if (path === '/api/class') return json(res, 200, await classView(door));
  const examApi = /^\/api\/exams(?:\/([a-z0-9-]{1,32})(?:\/(grades\.csv|junit\.xml)|\/students\/([^/]{1,40})(?:\/recordings\/([A-Za-z0-9][A-Za-z0-9._-]{0,79})\.cast)?)?)?$/.exec(path);
  if (examApi) {
    const [, examId, file, studentId, machine] = examApi;
    try {
      if (!examId) return json(res, 200, exams.list());
      if (file === 'grades.csv') return send(res, 200, exams.gradesCsv(examId), 'text/csv; charset=utf-8', { 'Content-Disposition': `attachment; filename="${examId}-grades.csv"` });
      if (file === 'junit.xml') return send(res, 200, exams.junit(examId), 'application/xml; charset=utf-8', { 'Content-Disposition': `attachment; filename="${examId}-junit.xml"` });
      if (!studentId) return json(res, 200, await exams.table(examId));
      if (!machine) return json(res, 200, await exams.detail(examId, studentId));
      const chunks: Buffer[] = [];
      await exams.recording(examId, studentId, machine, (c) => chunks.push(c));
      return send(res, 200, Buffer.concat(chunks).toString('utf8'), 'application/x-asciicast; charset=utf-8', { 'Content-Disposition': `attachment; filename="${examId}-${machine}.cast"` });
    } catch (err) {
      return json(res, err instanceof UserError ? 404 : 500, toErrorInfo(err));
    }
  }
  if (path === '/api/grades.csv') {
    const rows = [['name', 'email', ...config.labs.map((l) => `${l.id} score`), ...config.labs.map((l) => `${l.id} max`)].map(csvField).join(',')];
    for (const a of accounts.list().filter((x) => x.role === 'student')) {
      const m = scores.get(a.id);
      rows.push([a.name, a.email, ...config.labs.map((l) => (m?.get(l.id) ? m.get(l.id)!.score : '')), ...config.labs.map((l) => (m?.get(l.id) ? m.get(l.id)!.maxScore : ''))].map((v) => csvField(v)).join(','));
    }
    return send(res, 200, `${rows.join('\r\n')}\r\n`, 'text/csv; charset=utf-8', { 'Content-Disposition': 'attachment; filename="grades.csv"' });
  }
  const pack = /^\/api\/students\/([^/]{1,40})\/labs\/([a-z0-9-]{1,32})\/pack$/.exec(path);
  if (pack) return sendPack(door, res, accounts.byId(pack[1]), pack[2]!);
  const junit = /^\/api\/students\/([^/]+)\/labs\/([^/]+)\/junit\.xml$/.exec(path);
  if (junit) {
    const last = scores.get(junit[1]!)?.get(junit[2]!);
    if (!last) return json(res, 404, { error: 'no check result for this student and lab yet' });
    return send(res, 200, formatJunit({ ...last.report, submission: accounts.byId(junit[1])?.email ?? junit[1]! }), 'application/xml; charset=utf-8');
  }
  return NEXT;
}

async function classView(door: FrontDoor) {
  const { config, accounts, admission, scores, labIdOfPath, usage, workerIndexOf, workerStates } = door;

  const u = await usage();
  const snap = admission.snapshot();
  return {
    name: config.name,
    labs: config.labs.map((l) => ({ id: l.id, title: l.title ?? l.id })),
    quota: config.quota,
    capacity: config.capacity,
    used: snap.used,
    queue: snap.queue.map((q) => ({ student: q.student, lab: labIdOfPath(q.student, q.lab) ?? q.lab, since: q.since })),
    workers: workerStates(),
    students: accounts.list().map((a) => {
      const mine = u.find((x) => x.student === a.id);
      return {
        id: a.id,
        name: a.name,
        email: a.email,
        role: a.role,
        worker: workerIndexOf(a),
        active: !!a.password,
        invited: !!a.invite,
        lastActivity: mine?.lastActivity,
        running: (mine?.labs ?? []).map((l) => ({ lab: l.id, machines: l.machines.map((m) => ({ name: m.name, state: m.state, rssBytes: m.rssBytes ?? 0 })), memoryBytes: l.machines.reduce((s, m) => s + (m.rssBytes ?? 0), 0) })),
        scores: Object.fromEntries([...(scores.get(a.id) ?? new Map()).entries()].map(([lab, s]) => [lab, { score: s.score, maxScore: s.maxScore, at: s.at, hidden: s.hidden }])),
        queuePosition: admission.position(a.id),
        values: mine?.values ?? {},
      };
    }),
  };
}

/** POST /api/… for instructors (the CSRF check is done). */
export async function instructorPost(door: FrontDoor, path: string, body: string, me: Account): Promise<unknown> {
  const { config, log, accounts, admission, labPaths, hiddenRuns, exams, recordScore, workerOf, prepared, admissionKey } = door;

  if (path === '/api/roster') {
    const role = body.startsWith('role=instructor\n') ? 'instructor' : 'student';
    const created = accounts.importRoster(role === 'instructor' ? body.slice('role=instructor\n'.length) : body, role);
    log(`roster: ${me.email} imported ${created.length} ${role}s`);
    return created.map(({ account, token }) => ({ id: account.id, name: account.name, email: account.email, link: `${config.publicUrl}/invite?token=${token}` }));
  }
  const extend = /^\/api\/exams\/([a-z0-9-]{1,32})\/students\/([^/]{1,40})\/extend$/.exec(path);
  if (extend) {
    let minutes: unknown;
    try {
      minutes = (JSON.parse(body || '{}') as { minutes?: unknown }).minutes;
    } catch {
      throw new UserError('send {"minutes": N}');
    }
    return exams.extend(extend[1]!, extend[2]!, minutes, me);
  }
  const m = /^\/api\/students\/([^/]+)\/labs\/([^/]+)\/(reset|grade|stop)$/.exec(path);
  if (m) {
    const student = accounts.byId(m[1]);
    const labId = m[2]!;
    if (!student || !STUDENT_ID_RE.test(student.id)) throw new UserError('no such student');
    if (!config.labs.some((l) => l.id === labId)) throw new UserError('no such lab');
    const worker = workerOf(student);
    const labs = labPaths.get(student.id) ?? (await prepared(student));
    const labPath = labs.find((l) => l.id === labId)!.path;
    if (m[3] === 'reset') {
      await worker.request({ op: 'reset', student: student.id, lab: labId });
      admission.release(student.id, admissionKey(labPath));
      log(`reset: ${me.email} reset ${student.email}'s ${labId}`);
      return { reset: true };
    }
    if (m[3] === 'stop') {
      await worker.request({ op: 'stop', student: student.id, lab: labPath });
      admission.release(student.id, admissionKey(labPath));
      return { stopped: true };
    }
    hiddenRuns.add(`${student.id}/${labId}`);
    try {
      const report = await worker.request<CheckReport>({ op: 'grade', student: student.id, lab: labId, hidden: true });
      recordScore(student.id, labId, report, true);
      return { score: report.score, maxScore: report.maxScore, results: report.results.map((r) => ({ id: r.id, passed: r.passed, earned: r.earned, points: r.points, reason: r.reason })) };
    } finally {
      hiddenRuns.delete(`${student.id}/${labId}`);
    }
  }
  throw new UserError('not found');
}
