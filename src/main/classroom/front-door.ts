// The classroom front door's shared state and its ways of answering, handed to its routes
// (routes/*.ts) by startClassroom (server.ts): accounts and login sessions, admission, the workers,
// exams, scores, and the page plumbing (security headers, forms' CSRF, Host and Origin).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WebSocket } from 'ws';
import type { CheckReport } from '../../shared/checks.ts';
import { UserError } from '../errors.ts';
import { PAGE_CSP, type Headers } from '../server/http-guard.ts';
import type { Account, AccountStore, LoginSession, RateLimiter, Sessions } from './accounts.ts';
import type { Admission } from './admission.ts';
import type { ClassroomConfig } from './config.ts';
import type { ExamDesk } from './exam-desk.ts';
import type { StudentLab, StudentUsage } from './protocol.ts';
import type { WorkerClient, WorkerClientOptions } from './worker-client.ts';

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
  /** Heartbeat and waits of the worker connections (tests). */
  workerClient?: WorkerClientOptions;
}

export interface LastScore {
  score: number;
  maxScore: number;
  at: string;
  hidden: boolean;
  report: CheckReport;
}

/** The page's policy, and forms post only to us. */
export const CSP = `${PAGE_CSP}; form-action 'self'`;
const MAX_BODY = 256 * 1024;
// Not no-referrer: under that policy browsers send `Origin: null` on form POSTs (login, invitation,
// logout), which the Origin check refuses. same-origin sends our origin to ourselves and nothing to
// other sites (an invitation token in the URL never leaves).
export const REFERRER_POLICY = 'same-origin';
/** What every page and file of the front door is sent with (HSTS is added on HTTPS). */
export const PAGE_HEADERS: Headers = { 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': REFERRER_POLICY, 'X-Frame-Options': 'DENY' };

export const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function readBody(req: IncomingMessage): Promise<string> {
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

export function page(title: string, body: string, script?: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title><link rel="stylesheet" href="/ui/classroom.css"></head><body><main>${body}</main>${script ? `<script src="/ui/${script}"></script>` : ''}</body></html>`;
}

/** What the routes share: startClassroom makes one. */
export interface FrontDoor {
  config: ClassroomConfig;
  options: ClassroomServerOptions;
  log(line: string): void;
  secure: boolean;
  /** The login cookie, the pre-login (CSRF) cookie, and their attributes. */
  cookieName: string;
  preName: string;
  cookieAttrs: string;
  accounts: AccountStore;
  sessions: Sessions;
  byAccount: RateLimiter;
  byAddress: RateLimiter;
  admission: Admission;
  scores: Map<string, Map<string, LastScore>>;
  /** Student id → their labs' paths on their worker (from prepare), to name labs by id. */
  labPaths: Map<string, StudentLab[]>;
  /** Browser sockets per student, to tell them about their queue position. */
  queueListeners: Map<string, Set<() => void>>;
  /** `<student>/<lab>` while an instructor's hidden grading runs. */
  hiddenRuns: Set<string>;
  exams: ExamDesk;
  recordScore(student: string, lab: string, report: CheckReport, hidden: boolean): void;
  workerOf(account: Account): WorkerClient;
  /** The index of the worker that owns this student's labs (sticky: their disks live there). */
  workerIndexOf(account: Account): number;
  /** Every worker as the front door sees it now (the dashboard's column). */
  workerStates(): { index: number; label: string; up: boolean; since: number; why?: string }[];
  prepared(account: Account): Promise<StudentLab[]>;
  labIdOfPath(student: string, path: string): string | undefined;
  admissionKey(path: string): string;
  usage(): Promise<StudentUsage[]>;
  /** Open WebSockets per login session: they end with it. */
  trackSocket(session: LoginSession, ws: WebSocket): void;
  endSocket(ws: WebSocket): void;
  hostOk(req: IncomingMessage): boolean;
  /** Origin present and ours. */
  originOk(req: IncomingMessage): boolean;
  clientAddress(req: IncomingMessage): string;
  loginOf(req: IncomingMessage): { session: LoginSession; account: Account } | undefined;
  send(res: ServerResponse, status: number, body: string, type?: string, headers?: Headers): void;
  json(res: ServerResponse, status: number, data: unknown): void;
  redirect(res: ServerResponse, to: string, headers?: Headers): void;
  errorPage(res: ServerResponse, status: number, message: string): void;
  /** A state-changing request after login: Origin ours and the session's CSRF token (header or field). */
  csrfOk(req: IncomingMessage, session: LoginSession, form?: URLSearchParams): boolean;
}

/** What a route returns when the request is not one of its own: the next route gets it. */
export const NEXT = Symbol('next');
