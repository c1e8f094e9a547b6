// The front door's pages after login: a student's home (labs, exams, queue), the app (the renderer
// bundle of `vnetlab serve`), and the instructor's dashboard, console watch and exam pages.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { serveStatic } from '../../server/http-guard.ts';
import type { Account, LoginSession } from '../accounts.ts';
import { LAB_ID_RE } from '../config.ts';
import { esc, type FrontDoor, NEXT, page, PAGE_HEADERS } from '../front-door.ts';
import type { StudentLab } from '../protocol.ts';
import { sendPack } from './packs.ts';

type Login = { session: LoginSession; account: Account };

/** What every logged-in user may open: their home page, their labs and exams, the app, /api/me. */
export async function studentPages(door: FrontDoor, req: IncomingMessage, res: ServerResponse, url: URL, login: Login): Promise<void | typeof NEXT> {
  const { config, options, admission, scores, labPaths, exams, prepared, send, json, redirect, errorPage } = door;
  const path = url.pathname;
  const { session, account } = login;
  const isInstructor = account.role === 'instructor';
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
        `<header><h1>${esc(config.name)}</h1><span>${esc(account.name)}</span><form method="post" action="/logout"><input type="hidden" name="csrf" value="${session.csrf}"><button>Log out</button></form></header>${problem ? `<p class="error">${esc(problem)}</p>` : ''}${pos ? `<p class="queue">One of your labs is waiting for a free slot: number ${pos} in the queue.</p>` : ''}${examSection(door, account, session.csrf)}<h2>Your labs</h2><ul class="labs">${labs.map((l) => `<li><a href="/open/${esc(l.id)}">${esc(l.title)}</a> <a class="pack" href="/labs/${esc(l.id)}/pack" title="Your lab as it is now, with its machines' disks and network state, as one file to hand in">download (.vnlpack)</a>${scores.get(account.id)?.get(l.id) ? ` <span class="score">last check: ${scores.get(account.id)!.get(l.id)!.score}/${scores.get(account.id)!.get(l.id)!.maxScore}</span>` : ''}</li>`).join('')}</ul><p class="hint">Each lab is your own copy: your machines, disks and consoles. Labs you leave idle for ${config.idleStopMinutes} minutes are stopped; the work on their disks is kept.</p>`,
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
    return serveStatic(options.staticDir, path.slice(5), res, PAGE_HEADERS);
  }
  const pack = /^\/labs\/([a-z0-9-]{1,32})\/pack$/.exec(path);
  if (pack) return sendPack(door, res, account, pack[1]!);
  if (path === '/api/me') {
    return json(res, 200, { name: account.name, email: account.email, role: account.role, csrf: session.csrf, labs: labPaths.get(account.id) ?? [], queuePosition: admission.position(account.id) });
  }
  return NEXT;
}

/** The instructor's pages (their data comes from routes/instructor-api.ts). */
export function instructorPages(door: FrontDoor, res: ServerResponse, path: string, login: Login): void | typeof NEXT {
  const { config, send } = door;
  const { session, account } = login;
  if (path === '/dashboard') {
    return send(res, 200, page(`Dashboard — ${config.name}`, `<header><h1>${esc(config.name)} — dashboard</h1><span>${esc(account.name)}</span><a href="/?as=student">my labs</a><form method="post" action="/logout"><input type="hidden" name="csrf" value="${session.csrf}"><button>Log out</button></form></header><div id="dashboard" data-csrf="${session.csrf}">Loading…</div>`, 'dashboard.js'));
  }
  if (path === '/watch') {
    return send(res, 200, page(`Watch — ${config.name}`, `<header><h1>Watching (read-only)</h1><a href="/dashboard">dashboard</a></header><pre id="screen" aria-live="polite"></pre>`, 'watch.js'));
  }
  if (path === '/exam' || path === '/exam-student' || path === '/replay') {
    const scripts = { '/exam': 'exam.js', '/exam-student': 'exam-student.js', '/replay': 'replay.js' } as const;
    const extra = path === '/replay' ? '<link rel="stylesheet" href="/ui/vendor/xterm.css"><script src="/ui/vendor/xterm.js"></script>' : '';
    return send(res, 200, page(`Exam — ${config.name}`, `${extra}<header><h1>${esc(config.name)} — exam</h1><a href="/dashboard">dashboard</a></header><div id="exam" data-csrf="${session.csrf}">Loading…</div>`, scripts[path]));
  }
  return NEXT;
}

/** The student's exams on their home page: when they open, a button to start, the time left, the end. */
function examSection(door: FrontDoor, account: Account, csrf: string): string {
  const { exams } = door;
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
