// The classroom's front door: accounts, login, the student app (the same renderer bundle as
// `vnetlab serve`, behind the login), admission control, and the instructor's dashboard. It holds no
// lab: every lab call goes to the worker that owns the student, over the worker protocol, in a
// session the front door opened for that student — the student id never comes from the browser.
// This file makes the front door's state (front-door.ts) and answers; its routes are in routes/:
// login.ts (before login), pages.ts, instructor-api.ts, and the WebSockets student-socket.ts (/rpc)
// and watch-socket.ts (/watch). Host, Origin, cookies and static files: server/http-guard.ts.
import { readFileSync } from 'node:fs';
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { type AddressInfo, BlockList, isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import type { CheckReport } from '../../shared/checks.ts';
import { UserError } from '../errors.ts';
import { failUpgrade, hostAllowed, originAllowed, readCookies, sameSecret, serveStatic, type Headers } from '../server/http-guard.ts';
import { toErrorInfo } from '../service/errors.ts';
import { type Account, AccountStore, type LoginSession, RateLimiter, Sessions } from './accounts.ts';
import { Admission } from './admission.ts';
import { LAB_ID_RE } from './config.ts';
import { ExamDesk } from './exam-desk.ts';
import { type ClassroomServerOptions, esc, type FrontDoor, type LastScore, NEXT, page, PAGE_HEADERS, readBody } from './front-door.ts';
import type { Notice, StudentLab, StudentUsage } from './protocol.ts';
import { instructorApi, instructorPost } from './routes/instructor-api.ts';
import { loginRoutes } from './routes/login.ts';
import { instructorPages, studentPages } from './routes/pages.ts';
import { bindStudent } from './routes/student-socket.ts';
import { bindWatcher } from './routes/watch-socket.ts';
import { WorkerClient } from './worker-client.ts';

export type { ClassroomServerOptions, LastScore } from './front-door.ts';
export { esc } from './front-door.ts';

// From the repository root (three levels up), so that a bundle of this module finds them too (bin/bundle-cache.mjs).
const UI_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'src', 'main', 'classroom', 'ui');
const XTERM_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'node_modules', '@xterm', 'xterm');

export interface ClassroomServer {
  url: string;
  port: number;
  accounts: AccountStore;
  admission: Admission;
  scores: Map<string, Map<string, LastScore>>;
  exams: ExamDesk;
  close(): Promise<void>;
}

const MAX_WS_FRAME = 8 * 1024 * 1024;

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
  const workers = options.workers.map(
    (a, i) =>
      new WorkerClient(a, options.workerSecret, onNotice, {
        label: `your lab server (worker ${i})`,
        ...options.workerClient,
        onState: (up, why) => log(up ? `worker ${i} (${a}) answers` : `worker ${i} (${a}) is not answering (${why}): its students' calls wait up to ${config.workerWaitSec} s`),
      }),
  );
  for (const w of workers) w.keepConnected();
  const workerIndexOf = (account: Account) => account.worker % workers.length;
  const workerOf = (account: Account) => workers[workerIndexOf(account)]!;
  const workerStates = () => workers.map((w, index) => ({ index, label: options.workers[index]!, ...w.state }));

  async function prepared(account: Account): Promise<StudentLab[]> {
    const labs = await workerOf(account).request<StudentLab[]>({ op: 'prepare', student: account.id });
    labPaths.set(account.id, labs);
    return labs;
  }
  const labIdOfPath = (student: string, path: string) => labPaths.get(student)?.find((l) => l.path === path.replace(/\/+$/, ''))?.id;
  const admissionKey = (path: string) => String(path).replace(/\/+$/, '');

  async function usage(): Promise<StudentUsage[]> {
    // A worker that is not connected does not hold up the dashboard: its students show nothing running.
    const all = await Promise.all(workers.map((w) => w.request<StudentUsage[]>({ op: 'usage' }, 1_000).catch(() => [] as StudentUsage[])));
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

  const publicHosts = new Set([new URL(config.publicUrl).host.toLowerCase()]);
  const publicOrigins = new Set([config.publicUrl.toLowerCase()]);
  const hostOk = (req: IncomingMessage) => hostAllowed(req, publicHosts);
  const originOk = (req: IncomingMessage) => originAllowed(req, publicOrigins, true);
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
    const session = sessions.get(readCookies(req).get(cookieName));
    const account = session && accounts.byId(session.accountId);
    return session && account ? { session, account } : undefined;
  };
  const send = (res: ServerResponse, status: number, body: string, type = 'text/html; charset=utf-8', headers: Headers = {}) => {
    res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', ...PAGE_HEADERS, ...(secure ? { 'Strict-Transport-Security': 'max-age=31536000' } : {}), ...headers });
    res.end(body);
  };
  const json = (res: ServerResponse, status: number, data: unknown) => send(res, status, JSON.stringify(data), 'application/json; charset=utf-8');
  const redirect = (res: ServerResponse, to: string, headers: Headers = {}) => send(res, 303, '', 'text/plain', { Location: to, ...headers });
  const errorPage = (res: ServerResponse, status: number, message: string) => send(res, status, page('vnetlab classroom', `<h1>${esc(config.name)}</h1><p class="error">${esc(message)}</p><p><a href="/">Back</a></p>`));
  /** A state-changing request after login: Origin ours and the session's CSRF token (header or field). */
  const csrfOk = (req: IncomingMessage, session: LoginSession, form?: URLSearchParams) => originOk(req) && sameSecret(session.csrf, String(req.headers['x-csrf-token'] ?? form?.get('csrf') ?? ''));

  const door: FrontDoor = {
    config,
    options,
    log,
    secure,
    cookieName,
    preName,
    cookieAttrs,
    accounts,
    sessions,
    byAccount,
    byAddress,
    admission,
    scores,
    labPaths,
    queueListeners,
    hiddenRuns,
    exams,
    recordScore,
    workerOf,
    workerIndexOf,
    workerStates,
    prepared,
    labIdOfPath,
    admissionKey,
    usage,
    trackSocket,
    endSocket,
    hostOk,
    originOk,
    clientAddress,
    loginOf,
    send,
    json,
    redirect,
    errorPage,
    csrfOk,
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', config.publicUrl);
    const path = url.pathname;
    if (!hostOk(req)) return errorPage(res, 403, `Forbidden: open ${config.publicUrl}`);
    if (req.headers.origin !== undefined && !originOk(req)) return errorPage(res, 403, 'Forbidden: cross-site request.');
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'POST') return errorPage(res, 405, 'Method not allowed.');

    // xterm.js for the dashboard's console replay: the package's own browser build, as it ships.
    if (path === '/ui/vendor/xterm.js' || path === '/ui/vendor/xterm.css') return serveStatic(XTERM_DIR, path.endsWith('.js') ? 'lib/xterm.js' : 'css/xterm.css', res, PAGE_HEADERS);
    if (path.startsWith('/ui/') && req.method === 'GET') return serveStatic(UI_DIR, path.slice(4), res, PAGE_HEADERS);

    // ---- before login (routes/login.ts) ----
    if ((await loginRoutes(door, req, res, url)) !== NEXT) return;

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
        sessions.delete(readCookies(req).get(cookieName));
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
        return json(res, 200, await instructorPost(door, path, body, account));
      } catch (err) {
        return json(res, err instanceof UserError ? 400 : 500, toErrorInfo(err));
      }
    }

    if ((await studentPages(door, req, res, url, login)) !== NEXT) return;
    if (!isInstructor) return path.startsWith('/api/') ? json(res, 403, { error: 'instructors only' }) : errorPage(res, 403, 'Instructors only.');

    // ---- instructor pages and their API ----
    if (instructorPages(door, res, path, login) !== NEXT) return;
    if ((await instructorApi(door, res, path)) !== NEXT) return;
    return errorPage(res, 404, 'Not found.');
  }

  // ---- WebSockets: the student's app (/rpc) and an instructor watching a console (/watch) --------

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_WS_FRAME });

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', config.publicUrl);
    const fail = (status: number, text: string) => failUpgrade(socket, status, text);
    if (!hostOk(req) || !originOk(req)) return fail(403, 'Forbidden');
    const login = loginOf(req);
    if (!login) return fail(401, 'Unauthorized');
    if (url.pathname === '/rpc') return wss.handleUpgrade(req, socket, head, (ws) => bindStudent(door, ws, login.account, login.session));
    if (url.pathname === '/watch') {
      if (login.account.role !== 'instructor') return fail(403, 'Forbidden');
      const student = accounts.byId(url.searchParams.get('student'));
      const lab = url.searchParams.get('lab') ?? '';
      const machine = url.searchParams.get('machine') ?? '';
      if (!student || !LAB_ID_RE.test(lab) || !/^[A-Za-z0-9_.-]{1,64}$/.test(machine)) return fail(400, 'Bad Request');
      return wss.handleUpgrade(req, socket, head, (ws) => void bindWatcher(door, ws, student, lab, machine, login.session));
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
