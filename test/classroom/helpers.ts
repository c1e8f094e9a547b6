// A classroom for tests: a temp data dir, a class lab with a hidden check, an in-process worker on a
// Unix socket (the real protocol) with the service's Backends seam faked, and the front door on a
// free loopback port; plus a browser-like client (cookies, Origin, CSRF) and the app's WebSocket.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import WebSocket from 'ws';
import type { CheckReport } from '../../src/shared/checks.ts';
import type { LabStatus } from '../../src/shared/runtime-api.ts';
import type { PushMessage } from '../../src/shared/service-api.ts';
import { parseClassroomConfig, type ClassroomConfig } from '../../src/main/classroom/config.ts';
import { startClassroom, type ClassroomServer } from '../../src/main/classroom/server.ts';
import { serveWorker, WorkerCore, type Grader } from '../../src/main/classroom/worker.ts';
import { loadLab } from '../../src/main/lab/index.ts';
import type { Backends } from '../../src/main/service/backends.ts';

export const REPO = resolve(import.meta.dirname, '..', '..');

export const HIDDEN_CHECK = `  - id: secret-arp
    kind: command
    description: the ARP cache holds pc2 (instructor only)
    on: pc1
    run: ip neigh
    stdout_contains: SECRET-EXPECTED-VALUE
    hidden: true
`;

/** labs/two-hosts with one hidden check added. */
export function classLab(root: string): string {
  const dir = join(root, 'course', 'two-hosts');
  cpSync(join(REPO, 'labs', 'two-hosts'), dir, { recursive: true });
  // Into the checks list: the lab may have more sections after it (solution:).
  const text = readFileSync(join(dir, 'lab.yaml'), 'utf8');
  const end = text.indexOf('\n', text.indexOf('\nchecks:') + 1);
  const next = text.slice(end).search(/\n[a-z_]+:/);
  const at = next < 0 ? text.length : end + next;
  writeFileSync(join(dir, 'lab.yaml'), `${text.slice(0, at).trimEnd()}\n${HIDDEN_CHECK}${text.slice(at)}`);
  return dir;
}

/** Fake runtime: labs "run" in memory; consoles echo what is typed. Shared by every student's Backends. */
export class FakeRuntime {
  readonly running = new Map<string, LabStatus>();
  readonly stops: string[] = [];
  private readonly viewers = new Map<string, Set<(d: string) => void>>();
  backendsFor = (env: NodeJS.ProcessEnv): Backends => {
    const status = async (root: string) => this.running.get(root) ?? null;
    return {
      environment: async () => ({ problems: [] }),
      loadLab: (p) => loadLab(p),
      validateLab: async () => [],
      saveLab: async (folder) => join(folder, 'lab.yaml'),
      compile: async () => {
        throw new Error('not in tests');
      },
      startLab: async (root) => {
        const { model } = await loadLab(root);
        const st: LabStatus = { labId: 'x', name: model!.meta.name, root, machines: model!.machines.map((m) => ({ name: m.name, state: 'ready' as const, rssBytes: 30e6, interfaces: [] })), switches: [], cables: [] };
        this.running.set(root, st);
        void env;
        return st;
      },
      stopLab: async (root) => {
        if (this.running.delete(root)) this.stops.push(root);
      },
      machine: async () => {},
      status,
      runChecks: async () => {
        throw new Error('the worker grades class labs itself');
      },
      links: async () => [],
      changeLink: async () => {
        throw new Error('no');
      },
      applyLab: async () => ({ changes: [], applied: false }),
      listStates: async () => [],
      saveState: async () => {
        throw new Error('no saved states in the fake runtime');
      },
      restoreState: async () => {
        throw new Error('no saved states in the fake runtime');
      },
      deleteState: async () => {},
      wipeMachine: async () => {},
      packLab: async () => ({ fileName: 'lab.vnlpack', base64: Buffer.from('VNLPACK1 fake').toString('base64'), bytes: 13 }),
      watch: async () => () => {},
      attachConsole: async (root, machine, handlers) => {
        if (!this.running.has(root)) throw new Error(`the lab in ${root} is not running`);
        // Like a console session: every viewer of the machine sees what anyone typed.
        const key = `${root}\0${machine}`;
        const viewers = this.viewers.get(key) ?? new Set();
        this.viewers.set(key, viewers);
        viewers.add(handlers.onData);
        setTimeout(() => handlers.onData(`${machine} login: `), 5);
        return { write: (d) => viewers.forEach((v) => v(`[${machine}] ${d}`)), resize: () => {}, ack: () => {}, detach: () => viewers.delete(handlers.onData) };
      },
      capture: async () => {
        throw new Error('no');
      },
    };
  };
  grader: Grader = async (root, checks) => {
    const results = checks.map((c) => ({ id: c.id, description: c.description, kind: c.kind, passed: !c.hidden, points: c.points, earned: c.hidden ? 0 : c.points, reason: c.hidden ? 'expected SECRET-EXPECTED-VALUE' : 'ok', attempts: 1, durationMs: 1 }));
    const report: CheckReport = { lab: root, results, score: results.reduce((s, r) => s + r.earned, 0), maxScore: results.reduce((s, r) => s + r.points, 0), startedAt: new Date().toISOString(), durationMs: 1 };
    return report;
  };
}

export interface TestClass {
  root: string;
  config: ClassroomConfig;
  server: ClassroomServer;
  core: WorkerCore;
  runtime: FakeRuntime;
  base: string;
  close(): Promise<void>;
}

export async function startTestClass(extra: string[] = [], opts: { idleStopMs?: number; reconcileGraceMs?: number; moreLabs?: string[] } = {}): Promise<TestClass> {
  const root = mkdtempSync(join(tmpdir(), 'vcls-'));
  const lab = classLab(root);
  // More class labs (ids given), each a copy of the same two-hosts lab.
  const more = (opts.moreLabs ?? []).map((id) => {
    const dir = join(root, 'course', id);
    cpSync(lab, dir, { recursive: true });
    return `  - {id: ${id}, path: ${dir}}`;
  });
  const yaml = [`name: Networks 101`, `data_dir: ${join(root, 'data')}`, `listen: {host: 127.0.0.1, port: 0}`, `labs:`, `  - {id: two-hosts, path: ${lab}, title: Two hosts}`, ...more, ...extra].join('\n');
  let config = parseClassroomConfig(yaml, join(root, 'classroom.yaml'));
  const runtime = new FakeRuntime();
  const core = new WorkerCore({
    name: 'w0',
    labs: config.labs,
    exams: config.exams,
    dataDir: join(root, 'data', 'worker-0'),
    runtimeBase: join(root, 'r'),
    env: process.env,
    idleStopMs: opts.idleStopMs ?? 0,
    startTimeoutMs: 10_000,
    backendsFor: runtime.backendsFor,
    grader: runtime.grader,
  });
  const secret = 'x'.repeat(40);
  const worker = await serveWorker(core, `unix:${join(root, 'w0.sock')}`, secret);
  // The port is known only after listening: the public URL names it, so listen first on a free port.
  const server0 = await startClassroom({ config, workers: [worker.address], workerSecret: secret, reconcileMs: 200, reconcileGraceMs: opts.reconcileGraceMs });
  const port = server0.port;
  await server0.close();
  config = { ...config, listen: { host: '127.0.0.1', port }, publicUrl: `http://127.0.0.1:${port}` };
  const server = await startClassroom({ config, workers: [worker.address], workerSecret: secret, reconcileMs: 200, reconcileGraceMs: opts.reconcileGraceMs, staticDir: join(REPO, 'src', 'renderer') });
  return {
    root,
    config,
    server,
    core,
    runtime,
    base: config.publicUrl,
    close: async () => {
      await server.close();
      core.close();
      await worker.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** A browser: keeps cookies, sends Origin on POSTs, never follows redirects by itself. */
export class Browser {
  readonly jar = new Map<string, string>();
  csrf = '';
  constructor(readonly base: string) {}

  cookieHeader(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async fetch(path: string, init: RequestInit & { origin?: string | null } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.jar.size) headers.set('Cookie', this.cookieHeader());
    if (init.origin !== null && (init.method ?? 'GET') !== 'GET') headers.set('Origin', init.origin ?? this.base);
    const res = await fetch(`${this.base}${path}`, { ...init, headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      const k = pair!.slice(0, i);
      const v = pair!.slice(i + 1);
      if (v === '' || /Max-Age=0/.test(c)) this.jar.delete(k);
      else this.jar.set(k, v);
    }
    return res;
  }

  /** The login form's hidden CSRF field. */
  async formCsrf(path = '/login'): Promise<string> {
    const html = await (await this.fetch(path)).text();
    return /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  }

  async post(path: string, form: Record<string, string>, init: { origin?: string | null } = {}): Promise<Response> {
    return this.fetch(path, { method: 'POST', body: new URLSearchParams(form).toString(), headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, ...init });
  }

  async login(email: string, password: string): Promise<Response> {
    const csrf = await this.formCsrf();
    const res = await this.post('/login', { csrf, email, password });
    if (res.status === 303) this.csrf = ((await (await this.fetch('/api/me')).json()) as { csrf: string }).csrf;
    return res;
  }

  async setPassword(link: string, password: string): Promise<Response> {
    const path = link.slice(this.base.length);
    const token = new URL(link).searchParams.get('token')!;
    const csrf = await this.formCsrf(path);
    const res = await this.post('/invite', { csrf, token, password, password2: password });
    if (res.status === 303) this.csrf = ((await (await this.fetch('/api/me')).json()) as { csrf: string }).csrf;
    return res;
  }

  async api(path: string, body = '', type = 'text/plain'): Promise<Response> {
    return this.fetch(path, { method: 'POST', body, headers: { 'X-CSRF-Token': this.csrf, 'Content-Type': type } });
  }

  /** The app's WebSocket, as the renderer opens it. */
  async rpc(origin = this.base): Promise<Rpc> {
    const ws = new WebSocket(`${this.base.replace(/^http/, 'ws')}/rpc`, { headers: { Cookie: this.cookieHeader(), Origin: origin } });
    await new Promise<void>((res, rej) => {
      ws.once('open', () => res());
      ws.once('unexpected-response', (_req, r) => rej(new Error(`HTTP ${r.statusCode}`)));
      ws.once('error', rej);
    });
    return new Rpc(ws);
  }
}

export class Rpc {
  private nextId = 1;
  private readonly waiting = new Map<number, (frame: { result?: unknown; error?: { message: string } }) => void>();
  readonly pushes: PushMessage[] = [];
  /** How the server closed the socket (code and reason), once it did. */
  readonly closed: Promise<{ code: number; reason: string }>;
  constructor(readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      const frame = JSON.parse(String(raw));
      if (frame.push) this.pushes.push(frame.push);
      else this.waiting.get(frame.id)?.(frame);
    });
    this.closed = new Promise((res) =>
      ws.once('close', (code, reason) => {
        // Calls still waiting get no answer any more.
        for (const w of this.waiting.values()) w({ error: { message: `the socket closed (${code} ${String(reason)})` } });
        this.waiting.clear();
        res({ code, reason: String(reason) });
      }),
    );
  }

  /** Resolves to the result, rejects with the service's message (or when the socket is, or gets, closed). */
  call<T = unknown>(method: string, ...params: unknown[]): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((res, rej) => {
      if (this.ws.readyState !== WebSocket.OPEN) return rej(new Error('the socket is closed'));
      this.waiting.set(id, (f) => (f.error ? rej(new Error(f.error.message)) : res(f.result as T)));
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.ws.close();
  }
}

/** Makes an account with a password through the real invitation flow. */
export async function enrol(cls: TestClass, name: string, email: string, password: string, role: 'student' | 'instructor' = 'student'): Promise<Browser> {
  const { token } = cls.server.accounts.invite(name, email, role);
  const b = new Browser(cls.base);
  const res = await b.setPassword(`${cls.base}/invite?token=${token}`, password);
  if (res.status !== 303) throw new Error(`enrol ${email}: ${res.status} ${await res.text()}`);
  return b;
}
