// The classroom's front door: accounts, login, the student app (the same renderer bundle as
// `vnetlab serve`, behind the login), admission control, and the instructor's dashboard. It holds no
// lab: every lab call goes to the worker that owns the student, over the worker protocol, in a
// session the front door opened for that student — the student id never comes from the browser.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { type AddressInfo, BlockList, isIP } from 'node:net';
import { dirname, extname, isAbsolute, join, normalize, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import type { CheckReport } from '../../shared/checks.ts';
import { isServiceMethod, serviceMethods, type ClientFrame, type PushMessage, type ServerFrame, type ServiceMethod } from '../../shared/service-api.ts';
import { csvField, formatJunit } from '../check/report.ts';
import { UserError } from '../errors.ts';
import { toErrorInfo } from '../service/errors.ts';
import { type Account, AccountStore, type LoginSession, RateLimiter, Sessions } from './accounts.ts';
import { Admission } from './admission.ts';
import { type ClassroomConfig, LAB_ID_RE } from './config.ts';
import type { LabRequirements, Notice, StudentLab, StudentUsage } from './protocol.ts';
import { RECONNECT_REASON, WorkerClient, WorkerError } from './worker-client.ts';
import { ExamDesk } from './exam-desk.ts';
import { STUDENT_ID_RE } from './worker.ts';

const UI_DIR = join(dirname(fileURLToPath(import.meta.url)), 'ui');
const XTERM_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'node_modules', '@xterm', 'xterm');

export interface ClassroomServerOptions {
  config: ClassroomConfig;
  /** Worker addresses (`unix:/…` or `tcp:host:port`), index = Account.worker. */
  workers: string[];
  workerSecret: string;
  /** Built renderer (dist/renderer); without it /app answers 503. */
  staticDir?: string;
  log?(line: string): void;
  /** How often running labs are reconciled with the workers (ms). */
  reconcileMs?: number;
  /** A reservation younger than this is kept even if the workers do not list its lab yet (ms; default 5 min). */
  reconcileGraceMs?: number;
}

export interface LastScore {
  score: number;
  maxScore: number;
  at: string;
  hidden: boolean;
  report: CheckReport;
}

export interface ClassroomServer {
  url: string;
  port: number;
  accounts: AccountStore;
  admission: Admission;
  scores: Map<string, Map<string, LastScore>>;
  exams: ExamDesk;
  close(): Promise<void>;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
};
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
const MAX_BODY = 256 * 1024;
// Not no-referrer: under that policy browsers send `Origin: null` on form POSTs (login, invitation,
// logout), which the Origin check refuses. same-origin sends our origin to ourselves and nothing to
// other sites (an invitation token in the URL never leaves).
const REFERRER_POLICY = 'same-origin';
const MAX_WS_FRAME = 8 * 1024 * 1024;

/** Methods whose first parameter is a lab folder: the runtime's, and the session's on a lab. */
const LAB_ROOT_METHODS: ReadonlySet<ServiceMethod> = new Set([...(Object.keys(serviceMethods) as ServiceMethod[]).filter((m) => serviceMethods[m] === 'runtime'), 'subscribe', 'unsubscribe', 'attachConsole', 'startCapture']);
/** Methods that (may) start machines: they hold a reservation of the quota. */
const LAB_START_METHODS: ReadonlySet<ServiceMethod> = new Set(['startLab', 'applyLab', 'machine']);

export const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((res, rej) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        rej(new UserError('request too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => res(Buffer.concat(chunks).toString('utf8')));
    req.on('error', rej);
  });
}

function cookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of String(req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return out;
}

function same(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function page(title: string, body: string, script?: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title><link rel="stylesheet" href="/ui/classroom.css"></head><body><main>${body}</main>${script ? `<script src="/ui/${script}"></script>` : ''}</body></html>`;
}

export async function startClassroom(options: ClassroomServerOptions): Promise<ClassroomServer> {
  const { config } = options;
  const log = options.log ?? (() => {});
  const secure = config.publicUrl.startsWith('https:');
  const cookieName = secure ? '__Host-vnetlab' : 'vnetlab_classroom';
  const preName = secure ? '__Host-vnetlab_pre' : 'vnetlab_pre';
  const cookieAttrs = `HttpOnly; SameSite=Strict; Path=/${secure ? '; Secure' : ''}`;
  const accounts = new AccountStore(join(config.dataDir, 'accounts.json'), options.workers.length);
  const sessions = new Sessions();
  const byAccount = new RateLimiter(5, 15 * 60_000);
  const byAddress = new RateLimiter(30, 15 * 60_000);
  const admission = new Admission(config.quota, config.capacity);
  const scores = new Map<string, Map<string, LastScore>>();
  /** Student id → their labs' paths on their worker (from prepare), to name labs by id. */
  const labPaths = new Map<string, StudentLab[]>();
  /** Browser sockets per student, to tell them about their queue position. */
  const queueListeners = new Map<string, Set<() => void>>();
  admission.onChange = () => {
    for (const set of queueListeners.values()) for (const l of set) l();
  };

  const recordScore = (student: string, lab: string, report: CheckReport, hidden: boolean) => {
    const m = scores.get(student) ?? new Map<string, LastScore>();
    scores.set(student, m);
    m.set(lab, { score: report.score, maxScore: report.maxScore, at: new Date().toISOString(), hidden, report });
  };
  const onNotice = (n: Notice) => {
    if (n.kind === 'idle-stopped') {
      admission.release(n.student, n.path);
      log(`idle: stopped ${n.student}'s ${n.lab} (disks kept)`);
    } else if (n.kind === 'checked') {
      recordScore(n.student, n.lab, n.report, n.report.results.length > 0 && isHiddenRun(n));
      exams.checked(n.student, n.lab, n.report);
    }
  };
  const hiddenRuns = new Set<string>();
  const isHiddenRun = (n: Extract<Notice, { kind: 'checked' }>) => hiddenRuns.has(`${n.student}/${n.lab}`);
  const workers = options.workers.map((a) => new WorkerClient(a, options.workerSecret, onNotice));
  const workerOf = (account: Account) => workers[account.worker % workers.length]!;

  async function prepared(account: Account): Promise<StudentLab[]> {
    const labs = await workerOf(account).request<StudentLab[]>({ op: 'prepare', student: account.id });
    labPaths.set(account.id, labs);
    return labs;
  }
  const labIdOfPath = (student: string, path: string) => labPaths.get(student)?.find((l) => l.path === path.replace(/\/+$/, ''))?.id;
  const admissionKey = (path: string) => String(path).replace(/\/+$/, '');

  async function usage(): Promise<StudentUsage[]> {
    const all = await Promise.all(workers.map((w) => w.request<StudentUsage[]>({ op: 'usage' }).catch(() => [] as StudentUsage[])));
    return all.flat();
  }
  const exams = new ExamDesk({ config, accounts, workerOf, usage, released: (student, path) => admission.release(student, admissionKey(path)), log }, join(config.dataDir, 'exams'));

  const reconcileTimer = setInterval(() => {
    void usage().then((u) => {
      const running = new Set(u.flatMap((s) => s.labs.map((l) => `${s.student}\0${admissionKey(l.path)}`)));
      admission.reconcile((student, lab) => running.has(`${student}\0${lab}`), options.reconcileGraceMs ?? 5 * 60_000);
    });
    sessions.sweep(); // expired logins: their sockets are closed too
  }, options.reconcileMs ?? 30_000);
  reconcileTimer.unref();

  /** Open WebSockets (the app, console watches) per login session: they end with it. */
  const socketsOf = new Map<string, Set<WebSocket>>();
  const trackSocket = (session: LoginSession, ws: WebSocket) => {
    const set = socketsOf.get(session.id) ?? new Set<WebSocket>();
    socketsOf.set(session.id, set);
    set.add(ws);
    ws.on('close', () => {
      set.delete(ws);
      if (set.size === 0 && socketsOf.get(session.id) === set) socketsOf.delete(session.id);
    });
  };
  /** Logout, a new password or expiry: the session's sockets are closed (a client that does not answer the close is cut). */
  sessions.onEnd = (session) => {
    const set = socketsOf.get(session.id);
    socketsOf.delete(session.id);
    for (const ws of set ?? []) endSocket(ws);
  };
  const endSocket = (ws: WebSocket) => {
    ws.close(4001, 'the login session ended: log in again');
    setTimeout(() => ws.terminate(), 2000).unref();
  };

  // ---- request plumbing -------------------------------------------------------------------------

  const publicHost = new URL(config.publicUrl).host.toLowerCase();
  const hostOk = (req: IncomingMessage) => String(req.headers.host ?? '').toLowerCase() === publicHost;
  const originOk = (req: IncomingMessage) => String(req.headers.origin ?? '') === config.publicUrl;
  const proxies = trustedProxyList(config.trustedProxies);
  /**
   * The client's address, for the login limits: X-Forwarded-For (its last entry, the one our proxy
   * wrote) only on a connection from a trusted proxy; anyone else could write any address there.
   */
  const clientAddress = (req: IncomingMessage) => {
    const peer = plainAddress(req.socket.remoteAddress ?? '');
    if (config.behindProxy && peer && isIP(peer) && proxies.check(peer, isIP(peer) === 4 ? 'ipv4' : 'ipv6')) {
      const fwd = plainAddress(String(req.headers['x-forwarded-for'] ?? '').split(',').pop()?.trim() ?? '');
      if (fwd && isIP(fwd)) return fwd;
    }
    return peer || '?';
  };
  const loginOf = (req: IncomingMessage): { session: LoginSession; account: Account } | undefined => {
    const session = sessions.get(cookies(req).get(cookieName));
    const account = session && accounts.byId(session.accountId);
    return session && account ? { session, account } : undefined;
  };
  const send = (res: ServerResponse, status: number, body: string, type = 'text/html; charset=utf-8', headers: Record<string, string | string[]> = {}) => {
    res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': REFERRER_POLICY, 'X-Frame-Options': 'DENY', ...(secure ? { 'Strict-Transport-Security': 'max-age=31536000' } : {}), ...headers });
    res.end(body);
  };
  const json = (res: ServerResponse, status: number, data: unknown) => send(res, status, JSON.stringify(data), 'application/json; charset=utf-8');
  const redirect = (res: ServerResponse, to: string, headers: Record<string, string | string[]> = {}) => send(res, 303, '', 'text/plain', { Location: to, ...headers });
  const errorPage = (res: ServerResponse, status: number, message: string) => send(res, status, page('vnetlab classroom', `<h1>${esc(config.name)}</h1><p class="error">${esc(message)}</p><p><a href="/">Back</a></p>`));

  const preToken = (req: IncomingMessage, res: ServerResponse): string => {
    const existing = cookies(req).get(preName);
    if (existing && /^[A-Za-z0-9_-]{32}$/.test(existing)) return existing;
    const t = randomBytes(24).toString('base64url');
    res.setHeader('Set-Cookie', `${preName}=${t}; ${cookieAttrs}; Max-Age=3600`);
    return t;
  };
  const loginForm = (req: IncomingMessage, res: ServerResponse, status = 200, message = '') => {
    const csrf = preToken(req, res);
    send(
      res,
      status,
      page(
        `Log in — ${config.name}`,
        `<h1>${esc(config.name)}</h1>${message ? `<p class="error" role="alert">${esc(message)}</p>` : ''}<form method="post" action="/login"><input type="hidden" name="csrf" value="${csrf}"><label>E-mail <input name="email" type="email" autocomplete="username" required></label><label>Password <input name="password" type="password" autocomplete="current-password" required></label><button type="submit">Log in</button></form>`,
      ),
    );
  };
  const inviteForm = (req: IncomingMessage, res: ServerResponse, token: string, account: Account, status = 200, message = '') => {
    const csrf = preToken(req, res);
    send(
      res,
      status,
      page(
        `Welcome — ${config.name}`,
        `<h1>${esc(config.name)}</h1><p>Welcome, ${esc(account.name)} (${esc(account.email)}). Choose a password (at least 10 characters).</p>${message ? `<p class="error" role="alert">${esc(message)}</p>` : ''}<form method="post" action="/invite"><input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="token" value="${esc(token)}"><label>Password <input name="password" type="password" autocomplete="new-password" minlength="10" required></label><label>Again <input name="password2" type="password" autocomplete="new-password" minlength="10" required></label><button type="submit">Set password</button></form>`,
      ),
    );
  };

  /** A form POST before login: Origin must be ours and the pre-login CSRF cookie must match the field. */
  const preFormOk = (req: IncomingMessage, form: URLSearchParams) => originOk(req) && same(cookies(req).get(preName), form.get('csrf') ?? undefined);
  /** A state-changing request after login: Origin ours and the session's CSRF token (header or field). */
  const csrfOk = (req: IncomingMessage, session: LoginSession, form?: URLSearchParams) => originOk(req) && same(session.csrf, String(req.headers['x-csrf-token'] ?? form?.get('csrf') ?? ''));

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', config.publicUrl);
    const path = url.pathname;
    if (!hostOk(req)) return errorPage(res, 403, `Forbidden: open ${config.publicUrl}`);
    if (req.headers.origin !== undefined && !originOk(req)) return errorPage(res, 403, 'Forbidden: cross-site request.');
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'POST') return errorPage(res, 405, 'Method not allowed.');

    // xterm.js for the dashboard's console replay: the package's own browser build, as it ships.
    if (path === '/ui/vendor/xterm.js' || path === '/ui/vendor/xterm.css') return serveStatic(XTERM_DIR, path.endsWith('.js') ? 'lib/xterm.js' : 'css/xterm.css', res);
    if (path.startsWith('/ui/') && req.method === 'GET') return serveStatic(UI_DIR, path.slice(4), res);

    // ---- before login ----
    if (path === '/login' && req.method === 'GET') return loginForm(req, res);
    if (path === '/login' && req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      if (!preFormOk(req, form)) return loginForm(req, res, 403, 'The form expired: please try again.');
      const email = String(form.get('email') ?? '').trim().toLowerCase().slice(0, 300);
      const ip = clientAddress(req);
      // Count first, then evaluate: the check and the count happen together, before the password's
      // scrypt is awaited, so a burst of concurrent guesses gets at most the limit evaluated.
      const wait = Math.max(byAccount.blockedFor(email), byAddress.blockedFor(ip));
      if (wait > 0) return send(res, 429, page('Too many attempts', `<h1>Too many attempts</h1><p class="error">Too many failed logins. Try again in ${Math.ceil(wait / 60)} minutes.</p>`), undefined, { 'Retry-After': String(wait) });
      byAccount.fail(email);
      byAddress.fail(ip);
      const account = await accounts.login(email, form.get('password') ?? '');
      if (!account) return loginForm(req, res, 401, 'Wrong e-mail or password.');
      byAccount.reset(email);
      byAddress.refund(ip);
      const s = sessions.create(account.id);
      log(`login: ${account.email} (${account.role}) from ${ip}`);
      return redirect(res, '/', { 'Set-Cookie': [`${cookieName}=${s.id}; ${cookieAttrs}; Max-Age=${12 * 3600}`, `${preName}=; ${cookieAttrs}; Max-Age=0`] });
    }
    if (path === '/invite' && req.method === 'GET') {
      const token = url.searchParams.get('token') ?? '';
      const account = accounts.invited(token);
      if (!account) return errorPage(res, 404, 'This invitation link is not valid any more. Ask your instructor for a new one.');
      return inviteForm(req, res, token, account);
    }
    if (path === '/invite' && req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      const token = form.get('token') ?? '';
      const account = accounts.invited(token);
      if (!account) return errorPage(res, 404, 'This invitation link is not valid any more. Ask your instructor for a new one.');
      if (!preFormOk(req, form)) return inviteForm(req, res, token, account, 403, 'The form expired: please try again.');
      if (form.get('password') !== form.get('password2')) return inviteForm(req, res, token, account, 400, 'The two passwords differ.');
      try {
        await accounts.acceptInvite(token, form.get('password'));
      } catch (err) {
        return inviteForm(req, res, token, account, 400, (err as Error).message);
      }
      sessions.deleteAccount(account.id);
      const s = sessions.create(account.id);
      return redirect(res, '/', { 'Set-Cookie': [`${cookieName}=${s.id}; ${cookieAttrs}; Max-Age=${12 * 3600}`, `${preName}=; ${cookieAttrs}; Max-Age=0`] });
    }

    // ---- everything else needs a login ----
    const login = loginOf(req);
    if (!login) {
      if (path.startsWith('/api/')) return json(res, 401, { error: 'log in first' });
      return redirect(res, '/login');
    }
    const { session, account } = login;
    const isInstructor = account.role === 'instructor';

    if (req.method === 'POST') {
      const body = await readBody(req);
      const form = req.headers['content-type']?.startsWith('application/x-www-form-urlencoded') ? new URLSearchParams(body) : undefined;
      if (!csrfOk(req, session, form)) return json(res, 403, { error: 'CSRF check failed: reload the page' });
      if (path === '/logout') {
        sessions.delete(cookies(req).get(cookieName));
        return redirect(res, '/login', { 'Set-Cookie': `${cookieName}=; ${cookieAttrs}; Max-Age=0` });
      }
      const startExam = /^\/exams\/([a-z0-9-]{1,32})\/start$/.exec(path);
      if (startExam) {
        try {
          const lab = await exams.start(account, startExam[1]!);
          return redirect(res, `/app/?lab=${encodeURIComponent(lab)}`);
        } catch (err) {
          return errorPage(res, err instanceof UserError ? 400 : 500, err instanceof UserError ? err.message : 'Internal error.');
        }
      }
      if (!isInstructor) return json(res, 403, { error: 'instructors only' });
      try {
        return json(res, 200, await instructorPost(path, body, account));
      } catch (err) {
        return json(res, err instanceof UserError ? 400 : 500, toErrorInfo(err));
      }
    }

    if (path === '/') {
      if (isInstructor && url.searchParams.get('as') !== 'student') return redirect(res, '/dashboard');
      let labs: StudentLab[] = [];
      let problem = '';
      try {
        labs = await prepared(account);
      } catch (err) {
        problem = (err as Error).message;
      }
      const pos = admission.position(account.id);
      return send(
        res,
        200,
        page(
          config.name,
          `<header><h1>${esc(config.name)}</h1><span>${esc(account.name)}</span><form method="post" action="/logout"><input type="hidden" name="csrf" value="${session.csrf}"><button>Log out</button></form></header>${problem ? `<p class="error">${esc(problem)}</p>` : ''}${pos ? `<p class="queue">One of your labs is waiting for a free slot: number ${pos} in the queue.</p>` : ''}${examSection(account, session.csrf)}<h2>Your labs</h2><ul class="labs">${labs.map((l) => `<li><a href="/open/${esc(l.id)}">${esc(l.title)}</a>${scores.get(account.id)?.get(l.id) ? ` <span class="score">last check: ${scores.get(account.id)!.get(l.id)!.score}/${scores.get(account.id)!.get(l.id)!.maxScore}</span>` : ''}</li>`).join('')}</ul><p class="hint">Each lab is your own copy: your machines, disks and consoles. Labs you leave idle for ${config.idleStopMinutes} minutes are stopped; the work on their disks is kept.</p>`,
        ),
      );
    }
    const continueExam = /^\/exams\/([a-z0-9-]{1,32})$/.exec(path);
    if (continueExam) {
      const exam = config.exams.find((e) => e.id === continueExam[1]);
      const r = exam && exams.book.get(exam.id, account.id);
      if (!exam || !r?.path) return errorPage(res, 404, 'You have not started this exam.');
      return redirect(res, `/app/?lab=${encodeURIComponent(r.path)}`);
    }
    if (path.startsWith('/open/')) {
      const id = path.slice(6);
      if (!LAB_ID_RE.test(id)) return errorPage(res, 404, 'No such lab.');
      const lab = (await prepared(account)).find((l) => l.id === id);
      if (!lab) return errorPage(res, 404, 'No such lab.');
      return redirect(res, `/app/?lab=${encodeURIComponent(lab.path)}`);
    }
    if (path === '/app' || path.startsWith('/app/')) {
      if (!options.staticDir) return errorPage(res, 503, 'The app is not built on this server.');
      return serveStatic(options.staticDir, path.slice(5), res);
    }
    if (path === '/api/me') {
      return json(res, 200, { name: account.name, email: account.email, role: account.role, csrf: session.csrf, labs: labPaths.get(account.id) ?? [], queuePosition: admission.position(account.id) });
    }
    if (!isInstructor) return path.startsWith('/api/') ? json(res, 403, { error: 'instructors only' }) : errorPage(res, 403, 'Instructors only.');

    // ---- instructor pages ----
    if (path === '/dashboard') {
      return send(res, 200, page(`Dashboard — ${config.name}`, `<header><h1>${esc(config.name)} — dashboard</h1><span>${esc(account.name)}</span><a href="/?as=student">my labs</a><form method="post" action="/logout"><input type="hidden" name="csrf" value="${session.csrf}"><button>Log out</button></form></header><div id="dashboard" data-csrf="${session.csrf}">Loading…</div>`, 'dashboard.js'));
    }
    if (path === '/watch') {
      return send(res, 200, page(`Watch — ${config.name}`, `<header><h1>Watching (read-only)</h1><a href="/dashboard">dashboard</a></header><pre id="screen" aria-live="polite"></pre>`, 'watch.js'));
    }
    if (path === '/api/class') return json(res, 200, await classView());
    if (path === '/exam' || path === '/exam-student' || path === '/replay') {
      const scripts = { '/exam': 'exam.js', '/exam-student': 'exam-student.js', '/replay': 'replay.js' } as const;
      const extra = path === '/replay' ? '<link rel="stylesheet" href="/ui/vendor/xterm.css"><script src="/ui/vendor/xterm.js"></script>' : '';
      return send(res, 200, page(`Exam — ${config.name}`, `${extra}<header><h1>${esc(config.name)} — exam</h1><a href="/dashboard">dashboard</a></header><div id="exam" data-csrf="${session.csrf}">Loading…</div>`, scripts[path]));
    }
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
    const junit = /^\/api\/students\/([^/]+)\/labs\/([^/]+)\/junit\.xml$/.exec(path);
    if (junit) {
      const last = scores.get(junit[1]!)?.get(junit[2]!);
      if (!last) return json(res, 404, { error: 'no check result for this student and lab yet' });
      return send(res, 200, formatJunit({ ...last.report, submission: accounts.byId(junit[1])?.email ?? junit[1]! }), 'application/xml; charset=utf-8');
    }
    return errorPage(res, 404, 'Not found.');
  }

  /** The student's exams on their home page: when they open, a button to start, the time left, the end. */
  function examSection(account: Account, csrf: string): string {
    const items = exams.homeItems(account);
    if (!items.length) return '';
    const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
    const li = items.map(({ exam, phase, endsAt }) => {
      const title = esc(exam.title ?? exam.id);
      const minutes = Math.round(exam.durationMs / 60_000 * 10) / 10;
      if (phase === 'not-open') return `<li>${title}: opens ${esc(when(exam.opens))} (${minutes} minutes once you start)</li>`;
      if (phase === 'open') return `<li>${title}: ${minutes} minutes, to be finished by ${esc(when(exam.closes))}. Your time starts when you press Start. <form method="post" action="/exams/${esc(exam.id)}/start" class="inline"><input type="hidden" name="csrf" value="${csrf}"><button data-testid="start-exam-${esc(exam.id)}">Start the exam</button></form></li>`;
      if (phase === 'running') return `<li>${title}: in progress, until ${esc(when(endsAt!))}. <a href="/exams/${esc(exam.id)}" data-testid="continue-exam-${esc(exam.id)}">Continue</a></li>`;
      if (phase === 'closed') return `<li>${title}: closed ${esc(when(exam.closes))}</li>`;
      return `<li>${title}: your time is over${phase === 'grading' ? ' (being graded)' : ''}.</li>`;
    });
    return `<h2>Exams</h2><ul class="exams">${li.join('')}</ul>`;
  }

  async function classView() {
    const u = await usage();
    const snap = admission.snapshot();
    return {
      name: config.name,
      labs: config.labs.map((l) => ({ id: l.id, title: l.title ?? l.id })),
      quota: config.quota,
      capacity: config.capacity,
      used: snap.used,
      queue: snap.queue.map((q) => ({ student: q.student, lab: labIdOfPath(q.student, q.lab) ?? q.lab, since: q.since })),
      students: accounts.list().map((a) => {
        const mine = u.find((x) => x.student === a.id);
        return {
          id: a.id,
          name: a.name,
          email: a.email,
          role: a.role,
          active: !!a.password,
          invited: !!a.invite,
          lastActivity: mine?.lastActivity,
          running: (mine?.labs ?? []).map((l) => ({ lab: l.id, machines: l.machines.map((m) => ({ name: m.name, state: m.state, rssBytes: m.rssBytes ?? 0 })), memoryBytes: l.machines.reduce((s, m) => s + (m.rssBytes ?? 0), 0) })),
          scores: Object.fromEntries([...(scores.get(a.id) ?? new Map()).entries()].map(([lab, s]) => [lab, { score: s.score, maxScore: s.maxScore, at: s.at, hidden: s.hidden }])),
          queuePosition: admission.position(a.id),
        };
      }),
    };
  }

  async function instructorPost(path: string, body: string, me: Account): Promise<unknown> {
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

  // ---- WebSockets: the student's app (/rpc) and an instructor watching a console (/watch) --------

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_WS_FRAME });

  function bindStudent(ws: WebSocket, account: Account, login: LoginSession): void {
    trackSocket(login, ws);
    const worker = workerOf(account);
    const sessionId = randomBytes(12).toString('hex');
    const abort = new AbortController();
    const sendFrame = (frame: ServerFrame) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
    };
    // The worker went away (it is restarted by its supervisor): this page reconnects and opens a new session.
    const opened = worker.openSession(sessionId, account.id, false, (push: PushMessage) => sendFrame({ push }), () => ws.close(1012, RECONNECT_REASON));
    opened.catch(() => ws.close(1011, 'the lab server is not reachable'));
    const call = (method: string, params: unknown[]) => worker.request({ op: 'call', session: sessionId, method, params });
    const progress = (labRoot: string, message: string) => sendFrame({ push: { kind: 'event', labRoot, event: { type: 'progress', message } } });

    const onWait = (labRoot: string) => (pos: number) => progress(labRoot, `the server is full: waiting for a free slot (number ${pos} in the queue)`);

    async function admitted(labRoot: string): Promise<void> {
      const req = await worker.request<LabRequirements>({ op: 'requirements', student: account.id, lab: labRoot });
      await admission.admit(account.id, admissionKey(labRoot), req, onWait(labRoot), abort.signal);
    }

    /** A machine started alone counts per machine: quota and queue, unless the lab's reservation holds it. */
    async function machineCall(params: unknown[]): Promise<unknown> {
      const [labRoot, name, action] = [String(params[0]), String(params[1]), params[2]];
      const key = admissionKey(labRoot);
      if (action === 'start' || action === 'restart') {
        const req = await worker.request<LabRequirements>({ op: 'requirements', student: account.id, lab: labRoot });
        const added = await admission.admitMachine(account.id, key, name, req.perMachine?.[name] ?? 64, onWait(labRoot), abort.signal);
        try {
          return await call('machine', params);
        } catch (err) {
          if (added) admission.releaseMachine(account.id, key, name);
          throw err;
        }
      }
      const result = await call('machine', params);
      if (action === 'stop') admission.releaseMachine(account.id, key, name);
      return result;
    }

    /** The student's labs folder on their worker (what their paths are relative to, and `~`). */
    async function labsFolder(): Promise<string> {
      const labs = labPaths.get(account.id) ?? (await prepared(account));
      if (!labs[0]) throw new UserError('this class has no lab');
      return posix.dirname(labs[0].path);
    }

    /**
     * Lab paths are made canonical here, once, where they arrive: `<lab>/.`, `<lab>/`, `./<lab>` and
     * `~/<lab>` are one lab — for the quota (a reservation is keyed by it, and reconciled with the
     * workers' list of running labs by it) and for the worker, which gets the same string.
     */
    async function canonicalParams(method: ServiceMethod, params: unknown[]): Promise<unknown[]> {
      if (!LAB_ROOT_METHODS.has(method)) return params;
      const given = params[0];
      if (typeof given !== 'string' || given.trim() === '' || given.includes('\0') || given.length > 4096) throw new UserError('no lab path given');
      const home = await labsFolder();
      const root = posix.resolve(home, given.replace(/^~(?=$|\/)/, home));
      // The workers list (and stop when idle) the labs directly in the labs folder: a lab deeper down
      // would run unseen by the reconciliation, which would then release its reservation.
      if (LAB_START_METHODS.has(method) && root.startsWith(`${home}/`) && posix.dirname(root) !== home) {
        throw new UserError(`${root}: a lab runs only from a folder directly in your labs folder (${home})`, 2, 'save it with Save as… into a folder of its own there, then start it');
      }
      return [root, ...params.slice(1)];
    }

    async function handleFrame(frame: ClientFrame): Promise<unknown> {
      const { method } = frame;
      if (!isServiceMethod(method) || !Array.isArray(frame.params)) throw new UserError(`unknown method ${String(method).slice(0, 40)}`);
      await opened;
      const params = await canonicalParams(method, frame.params);
      const labRoot = typeof params[0] === 'string' ? params[0] : '';
      if (method === 'startLab') {
        // A start of a lab already running (some of its machines stopped) reserves the whole lab again.
        const wasRunning = admission.isRunning(account.id, admissionKey(labRoot));
        await admitted(labRoot);
        try {
          return await call(method, params);
        } catch (err) {
          if (!wasRunning) admission.release(account.id, admissionKey(labRoot));
          throw err;
        }
      }
      if (method === 'machine') return machineCall(params);
      if (method === 'applyLab' && params[1] !== true) await admitted(labRoot);
      const result = await call(method, params);
      if (method === 'stopLab') admission.release(account.id, admissionKey(labRoot));
      return result;
    }

    // The student's exams: the countdown once the session is open, and news of extensions and the end as they come.
    let detachExams: (() => void) | undefined;
    let socketClosed = false;
    void opened.then(() => {
      if (!socketClosed) detachExams = exams.attach(account, (push) => sendFrame({ push }));
    }, () => {});

    const onQueue = () => {
      const pos = admission.position(account.id);
      if (pos) sendFrame({ push: { kind: 'event', labRoot: '', event: { type: 'progress', message: `waiting for a free slot: number ${pos} in the queue` } } });
    };
    const set = queueListeners.get(account.id) ?? new Set();
    queueListeners.set(account.id, set);
    set.add(onQueue);

    ws.on('message', async (raw) => {
      let frame: ClientFrame;
      try {
        frame = JSON.parse(String(raw)) as ClientFrame;
      } catch {
        return ws.close(1003, 'frames must be JSON');
      }
      if (typeof frame?.id !== 'number') return ws.close(1003, 'frame without id');
      // A frame that raced the end of the login session is not served.
      if (!sessions.isLive(login)) return endSocket(ws);
      const params = Array.isArray(frame.params) ? frame.params : [];
      try {
        const result = (await handleFrame(frame)) ?? null;
        sendFrame({ id: frame.id, result });
        if (isServiceMethod(frame.method)) exams.observe(account.id, frame.method, params, { result });
      } catch (err) {
        // A refusal of the worker's (an exam's rules, a read-only watch) keeps its code.
        const error = { ...toErrorInfo(err), ...(err instanceof WorkerError && err.code === 'unauthorized' ? { code: 'unauthorized' as const } : {}) };
        sendFrame({ id: frame.id, error });
        if (isServiceMethod(frame.method)) exams.observe(account.id, frame.method, params, { error });
      }
    });
    const closed = () => {
      socketClosed = true;
      detachExams?.();
      detachExams = undefined;
      abort.abort();
      set.delete(onQueue);
      void opened.then(() => worker.closeSession(sessionId), () => {});
    };
    ws.on('close', closed);
    ws.on('error', closed);
  }

  async function bindWatcher(ws: WebSocket, student: Account, labId: string, machine: string, login: LoginSession): Promise<void> {
    trackSocket(login, ws);
    const worker = workerOf(student);
    const sessionId = randomBytes(12).toString('hex');
    let consoleId = '';
    const out = (data: string) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ data }));
    };
    try {
      const labs = labPaths.get(student.id) ?? (await prepared(student));
      const lab = labs.find((l) => l.id === labId);
      if (!lab) throw new UserError('no such lab');
      await worker.openSession(sessionId, student.id, true, (push) => {
        if (push.kind === 'console-data' && push.consoleId === consoleId) {
          out(push.data);
          void worker.request({ op: 'call', session: sessionId, method: 'consoleAck', params: [consoleId, push.data.length] }).catch(() => {});
        } else if (push.kind === 'console-exit' && push.consoleId === consoleId) out(`\r\n[${push.reason}]\r\n`);
      }, () => {
        out(`\r\n[${RECONNECT_REASON}]\r\n`);
        ws.close(1012, RECONNECT_REASON);
      });
      const att = await worker.request<{ consoleId: string; replay: string }>({ op: 'call', session: sessionId, method: 'attachConsole', params: [lab.path, machine] });
      consoleId = att.consoleId;
      out(att.replay);
    } catch (err) {
      out(`[cannot watch: ${(err as Error).message}]`);
      ws.close();
    }
    // The watcher's socket is read-only: anything it sends is ignored.
    ws.on('close', () => void worker.closeSession(sessionId));
  }

  const onUpgrade = (req: IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', config.publicUrl);
    const fail = (status: number, text: string) => socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    if (!hostOk(req) || !originOk(req)) return fail(403, 'Forbidden');
    const login = loginOf(req);
    if (!login) return fail(401, 'Unauthorized');
    if (url.pathname === '/rpc') return wss.handleUpgrade(req, socket, head, (ws) => bindStudent(ws, login.account, login.session));
    if (url.pathname === '/watch') {
      if (login.account.role !== 'instructor') return fail(403, 'Forbidden');
      const student = accounts.byId(url.searchParams.get('student'));
      const lab = url.searchParams.get('lab') ?? '';
      const machine = url.searchParams.get('machine') ?? '';
      if (!student || !LAB_ID_RE.test(lab) || !/^[A-Za-z0-9_.-]{1,64}$/.test(machine)) return fail(400, 'Bad Request');
      return wss.handleUpgrade(req, socket, head, (ws) => void bindWatcher(ws, student, lab, machine, login.session));
    }
    return fail(404, 'Not Found');
  };

  const requestHandler = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err) => {
      log(`error: ${(err as Error).message}`);
      if (!res.headersSent) errorPage(res, err instanceof UserError ? 400 : 500, err instanceof UserError ? err.message : 'Internal error.');
      else res.destroy();
    });
  };
  const http: Server = config.tls ? createHttps({ cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key), minVersion: 'TLSv1.2' }, requestHandler) : createHttp(requestHandler);
  http.headersTimeout = 20_000;
  http.requestTimeout = 60_000;
  http.on('upgrade', onUpgrade);
  await new Promise<void>((res, rej) => {
    http.once('error', rej);
    http.listen(config.listen.port, config.listen.host, () => res());
  });
  const port = (http.address() as AddressInfo).port;
  return {
    url: config.publicUrl,
    port,
    accounts,
    admission,
    scores,
    exams,
    close: async () => {
      clearInterval(reconcileTimer);
      exams.close();
      for (const c of wss.clients) c.terminate();
      wss.close();
      for (const w of workers) w.close();
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}

/** `::ffff:127.0.0.1` (an IPv4 peer on a dual-stack socket) is 127.0.0.1. */
function plainAddress(a: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  return m ? m[1]! : a;
}

function trustedProxyList(entries: string[]): BlockList {
  const list = new BlockList();
  for (const e of entries) {
    const [addr, bits] = e.split('/') as [string, string | undefined];
    const type = isIP(addr) === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list;
}

function serveStatic(dir: string, rel0: string, res: ServerResponse): void {
  const root = resolve(dir);
  let rel: string;
  try {
    rel = normalize(decodeURIComponent(rel0)).replace(/^[/\\]+/, '');
  } catch {
    res.writeHead(400).end();
    return;
  }
  const file = join(root, rel === '' || rel === '.' ? 'index.html' : rel);
  const inside = relative(root, file);
  if (inside.startsWith('..') || isAbsolute(inside) || !existsSync(file) || !statSync(file).isFile()) {
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found.\n');
    return;
  }
  res.writeHead(200, { 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-store', 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': REFERRER_POLICY, 'X-Frame-Options': 'DENY' });
  createReadStream(file).pipe(res);
}
