// A classroom worker: owns the labs of the students assigned to it. Each student gets a folder of
// their own on the worker — their copies of the class's labs (hidden checks removed), their guest
// disks (VNETLAB_STATE_DIR) and their supervisors' sockets (VNETLAB_RUNTIME_DIR) — and a Service
// whose only root is their labs folder, so every path a browser sends is confined to it by the same
// allowedPath check the single-user app uses. Grading with hidden checks reads the instructor's lab,
// which no student call can name. On one host the front door spawns this process on a Unix socket;
// in a cluster it is a StatefulSet pod listening on TCP: the same code and frames.
import { UNCONFINED_ENV } from '../runtime/confinement.ts';
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { parseDocument, isSeq, isMap } from 'yaml';
import type { Check, CheckReport } from '../../shared/checks.ts';
import { isServiceMethod, type ServiceMethod } from '../../shared/service-api.ts';
import { gradeLab } from '../check/grade.ts';
import { UserError } from '../errors.ts';
import { loadLab } from '../lab/index.ts';
import type { Backends } from '../service/backends.ts';
import { dispatch } from '../service/dispatch.ts';
import { toErrorInfo } from '../service/errors.ts';
import { realBackends } from '../service/real-backends.ts';
import { Service, type ClientSession } from '../service/service.ts';
import type { ClassroomLab } from './config.ts';
import { encodeFrame, FrameTooLarge, idOfHead, lineReader, MAX_FRAME_BYTES, mib, type LabRequirements, type Notice, type StudentLab, type StudentUsage, type WorkerFrame, type WorkerRequest } from './protocol.ts';

export const STUDENT_ID_RE = /^s[0-9a-f]{10}$/;

/** Methods an instructor watching a student's console may call: nothing that types, resizes or changes. */
export const READ_ONLY_METHODS: ReadonlySet<ServiceMethod> = new Set(['listLabs', 'status', 'subscribe', 'unsubscribe', 'attachConsole', 'consoleAck', 'detachConsole', 'links']);
/** Calls that do not count as a student's activity (the app polls and acknowledges on its own). */
const PASSIVE_METHODS: ReadonlySet<string> = new Set(['environment', 'listLabs', 'status', 'subscribe', 'unsubscribe', 'consoleAck', 'consoleResize', 'detachConsole', 'links', 'packetDetail']);

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
}

interface Student {
  id: string;
  env: NodeJS.ProcessEnv;
  labsDir: string;
  stateDir: string;
  backends: Backends;
  service: Service;
  lastActivity: number;
  /** Calls of the student's in progress (a start can outlast a short idle time: it is activity until it ends). */
  busy: number;
}

function privateDir(path: string): string {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  chmodSync(path, 0o700);
  return path;
}

/** The hidden checks and Netkit's _test signatures are grading data: a student's copy never holds them. */
export function stripGradingData(labDir: string): void {
  for (const file of ['lab.yaml', 'vnetlab.yaml']) {
    const p = join(labDir, file);
    if (!existsSync(p)) continue;
    const doc = parseDocument(readFileSync(p, 'utf8'));
    const checks = doc.get('checks');
    if (isSeq(checks)) {
      checks.items = checks.items.filter((item) => !(isMap(item) && item.get('hidden') === true));
      writeFileSync(p, doc.toString());
    }
  }
  rmSync(join(labDir, '_test'), { recursive: true, force: true });
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
    const backends = (this.options.backendsFor ?? ((e) => realBackends({ env: e, startTimeoutMs: this.options.startTimeoutMs })))(env);
    const service = new Service({ backends, labsDir, home: labsDir });
    s = { id, env, labsDir, stateDir, backends, service, lastActivity: Date.now(), busy: 0 };
    this.students.set(id, s);
    return s;
  }

  private lab(id: unknown): ClassroomLab {
    const lab = this.options.labs.find((l) => l.id === id);
    if (!lab) throw new UserError(`no lab ${String(id).slice(0, 40)} in this class`);
    return lab;
  }

  copyPath(student: Student, labId: string): string {
    return join(student.labsDir, labId);
  }

  /** The student's copies of the class's labs, made on first use. */
  prepare(studentId: string): StudentLab[] {
    const s = this.student(studentId);
    return this.options.labs.map((lab) => {
      const dest = this.copyPath(s, lab.id);
      if (!existsSync(dest)) this.makeCopy(lab, dest);
      return { id: lab.id, title: lab.title ?? lab.id, path: dest };
    });
  }

  private makeCopy(lab: ClassroomLab, dest: string): void {
    const tmp = `${dest}.${randomBytes(4).toString('hex')}.tmp`;
    // Symlinks are copied as they are: the lab reader refuses any that leads out of the lab folder.
    cpSync(lab.path, tmp, { recursive: true, verbatimSymlinks: true });
    stripGradingData(tmp);
    renameSync(tmp, dest);
  }

  /** Which class lab a folder of this student is, if any. */
  private labOfPath(s: Student, path: string): ClassroomLab | undefined {
    return this.options.labs.find((l) => resolve(this.copyPath(s, l.id)) === resolve(path));
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

  /** Grades the student's running copy with the instructor's checks (hidden ones too when asked). */
  async grade(studentId: string, labId: string, hidden: boolean): Promise<CheckReport> {
    const s = this.student(studentId);
    const lab = this.lab(labId);
    const root = this.copyPath(s, lab.id);
    if (!existsSync(root)) throw new UserError('the student has not opened this lab yet');
    if (!(await s.backends.status(root))) throw new UserError('the lab is not running: start the lab first', 1, 'press Start, wait until the machines are green, then Check my work');
    const { model } = await loadLab(lab.path);
    const checks = (model?.checks ?? []).filter((c) => hidden || !c.hidden);
    if (!checks.length) throw new UserError(`the lab ${lab.id} has no checks${hidden ? '' : ' visible to students'}`);
    const report = await this.grader()(root, checks, s.env);
    this.options.onNotice?.({ kind: 'checked', student: s.id, lab: lab.id, report });
    return report;
  }

  async stop(studentId: string, labRoot: string): Promise<void> {
    const s = this.student(studentId);
    await s.backends.stopLab(s.service.allowedPath(labRoot, 'lab path'));
  }

  /** Back to the instructor's lab: stop it, delete the copy and its guest disks, copy again. */
  async reset(studentId: string, labId: string): Promise<StudentLab> {
    const s = this.student(studentId);
    const lab = this.lab(labId);
    const root = this.copyPath(s, lab.id);
    await s.backends.stopLab(root).catch(() => undefined);
    const hash = createHash('sha256').update(resolve(root)).digest('hex').slice(0, 8);
    const labsState = join(s.stateDir, 'labs');
    if (existsSync(labsState)) for (const d of readdirSync(labsState)) if (d.endsWith(`-${hash}`)) rmSync(join(labsState, d), { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
    this.makeCopy(lab, root);
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
      out.push({ student: id, lastActivity: s.lastActivity, labs });
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
    if (readOnly && !READ_ONLY_METHODS.has(method)) return { error: { code: 'unauthorized', message: `watching is read-only: ${method} is not allowed` } };
    if (readOnly || PASSIVE_METHODS.has(method)) return this.callNow(s, client, method, params);
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
        const lab = this.labOfPath(s, root);
        if (lab) return { result: await this.grade(s.id, lab.id, false) };
      } catch (err) {
        return { error: toErrorInfo(err) };
      }
    }
    return dispatch(() => client, method, params);
  }
}

// ---- the socket ------------------------------------------------------------------------------------

export interface WorkerServer {
  address: string;
  close(): Promise<void>;
}

/** `unix:/path` (0600) or `tcp:host:port`. */
export async function serveWorker(core: WorkerCore, listen: string, secret: string): Promise<WorkerServer> {
  const connections = new Set<Socket>();
  const server: Server = createServer((socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    bindConnection(core, socket, secret);
  });
  let address: string;
  if (listen.startsWith('unix:')) {
    const path = listen.slice(5);
    if (existsSync(path)) unlinkSync(path);
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      const old = process.umask(0o177);
      server.listen(path, () => res());
      process.umask(old);
    });
    chmodSync(path, 0o600);
    address = listen;
  } else if (listen.startsWith('tcp:')) {
    const m = /^tcp:([^:]+):(\d{1,5})$/.exec(listen);
    if (!m) throw new UserError(`--listen ${listen}: use unix:/path or tcp:host:port`);
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen(Number(m[2]), m[1], () => res());
    });
    const a = server.address();
    address = `tcp:${m[1]}:${typeof a === 'object' && a ? a.port : m[2]}`;
  } else throw new UserError(`--listen ${listen}: use unix:/path or tcp:host:port`);
  return {
    address,
    close: async () => {
      for (const c of connections) c.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, max)}…` : s);

function bindConnection(core: WorkerCore, socket: Socket, secret: string): void {
  let authed = false;
  const sessions = new Map<string, { student: string; client: ClientSession; readOnly: boolean }>();
  const write = (line: string) => {
    if (!socket.destroyed) socket.write(line);
  };
  /**
   * Every frame is bounded (MAX_FRAME_BYTES): a reply over it becomes an error for that one call, a
   * push over it a short note to that session, a notice over it is dropped; the connection, which
   * every student of this worker shares, stays up.
   */
  const send = (frame: WorkerFrame, what = 'this call') => {
    try {
      return write(encodeFrame(frame));
    } catch (err) {
      const big = err instanceof FrameTooLarge;
      const why = clip((err as Error).message, 2000);
      try {
        if ('id' in frame) {
          const error = big
            ? { code: 'bad-input' as const, message: `the answer to ${what} is too large to send (${mib(err.bytes)} or more; at most ${mib(err.limit)})`, hint: 'nothing else was affected; make the lab (or what the call asks for) smaller' }
            : { code: 'internal' as const, message: `the answer to ${what} could not be sent: ${why}` };
          return write(encodeFrame({ id: frame.id, error }));
        }
        if ('push' in frame) {
          const message = big ? `a message of ${mib(err.bytes)} or more was too large to send and was left out` : `a message could not be sent: ${why}`;
          return write(encodeFrame({ session: frame.session, push: { kind: 'event', labRoot: '', event: { type: 'progress', message } } }));
        }
      } catch {
        /* cannot happen with the short frames above; never let a frame take the connection down */
      }
      process.stderr.write(`worker: a frame was not sent: ${why}\n`);
    }
  };
  const noticeListener = (n: Notice) => send({ notice: n });
  noticeListeners(core).add(noticeListener);
  const helloTimer = setTimeout(() => socket.destroy(), 5000);
  const reply = async (id: number, what: string, fn: () => unknown) => {
    try {
      send({ id, result: (await fn()) ?? null }, what);
    } catch (err) {
      send({ id, error: toErrorInfo(err) }, what);
    }
  };
  const onOversize = (head: string, bytes: number) => {
    const id = idOfHead(head);
    if (!authed || id === undefined) return socket.destroy();
    send({ id, error: { code: 'bad-input', message: `the request is too large for the lab server (${mib(bytes)}; at most ${mib(MAX_FRAME_BYTES)})`, hint: 'make the lab or the file smaller' } });
  };
  socket.on(
    'data',
    lineReader(
      (raw) => {
        const frame = raw as Record<string, unknown>;
        if (!authed) {
          const given = Buffer.from(String((frame.hello as { secret?: unknown } | undefined)?.secret ?? ''));
          const want = Buffer.from(secret);
          if (given.length !== want.length || !timingSafeEqual(given, want)) return socket.destroy();
          authed = true;
          clearTimeout(helloTimer);
          return send({ hello: { worker: core.options.name } });
        }
        const req = frame as unknown as WorkerRequest;
        if (typeof req.id !== 'number') return socket.destroy();
        switch (req.op) {
          case 'open':
            return reply(req.id, 'open', () => {
              if (typeof req.session !== 'string' || req.session.length > 64 || sessions.has(req.session)) throw new UserError('bad session id');
              const s = core.student(req.student);
              const session = req.session;
              const client = s.service.connect((push) => send({ session, push }));
              sessions.set(session, { student: s.id, client, readOnly: req.readOnly === true });
            });
          case 'call': {
            const entry = sessions.get(String(req.session));
            if (!entry) return send({ id: req.id, error: { code: 'bad-input', message: 'no such session' } });
            const what = `${String(req.method).slice(0, 40)}()`;
            return void core.call(entry.student, entry.client, entry.readOnly, req.method, req.params).then(
              (r) => send({ id: req.id, ...r }, what),
              (err) => send({ id: req.id, error: toErrorInfo(err) }, what),
            );
          }
          case 'close':
            return reply(req.id, 'close', () => {
              sessions.get(String(req.session))?.client.close();
              sessions.delete(String(req.session));
            });
          case 'prepare':
            return reply(req.id, 'prepare', () => core.prepare(req.student));
          case 'requirements':
            return reply(req.id, 'requirements', () => core.requirements(req.student, req.lab));
          case 'usage':
            return reply(req.id, 'usage', () => core.usage());
          case 'stop':
            return reply(req.id, 'stop', () => core.stop(req.student, String(req.lab)));
          case 'reset':
            return reply(req.id, 'reset', () => core.reset(req.student, req.lab));
          case 'grade':
            return reply(req.id, 'grade', () => core.grade(req.student, req.lab, req.hidden === true));
          default:
            return send({ id: (req as { id: number }).id, error: { code: 'bad-input', message: 'unknown operation' } });
        }
      },
      () => socket.destroy(),
      { onOversize },
    ),
  );
  const cleanup = () => {
    clearTimeout(helloTimer);
    noticeListeners(core).delete(noticeListener);
    for (const s of sessions.values()) s.client.close();
    sessions.clear();
  };
  socket.on('close', cleanup);
  socket.on('error', () => socket.destroy());
}

const listenersOf = new WeakMap<WorkerCore, Set<(n: Notice) => void>>();
/** Every connected front door hears the worker's notices (idle stops, check results). */
function noticeListeners(core: WorkerCore): Set<(n: Notice) => void> {
  let set = listenersOf.get(core);
  if (!set) {
    set = new Set();
    listenersOf.set(core, set);
    const prev = core.options.onNotice;
    core.options.onNotice = (n) => {
      prev?.(n);
      for (const l of set!) l(n);
    };
  }
  return set;
}
