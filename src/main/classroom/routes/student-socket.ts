// The student's app on the front door (/rpc): every service call goes to the worker that owns the
// student, in a session opened for that student (the student id never comes from the browser), after
// the front door's own rules: lab paths made canonical, admission (quota and queue) for what starts
// machines, and the student's exams told as they change.
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { WebSocket } from 'ws';
import { classroomRule, isServiceMethod, type ClientFrame, type PushMessage, type ServerFrame, type ServiceMethod } from '../../../shared/service-api.ts';
import { UserError } from '../../errors.ts';
import { readClientFrame } from '../../server/http-guard.ts';
import { toErrorInfo } from '../../service/errors.ts';
import type { Account, LoginSession } from '../accounts.ts';
import type { FrontDoor } from '../front-door.ts';
import type { LabRequirements } from '../protocol.ts';
import { RECONNECT_REASON, type WorkerClient, WorkerError } from '../worker-client.ts';

export function bindStudent(door: FrontDoor, ws: WebSocket, account: Account, login: LoginSession): void {
  const { sessions, admission, labPaths, queueListeners, exams, workerOf, prepared, admissionKey, trackSocket, endSocket } = door;

  trackSocket(login, ws);
  const worker = workerOf(account);
  const sessionId = randomBytes(12).toString('hex');
  const abort = new AbortController();
  const sendFrame = (frame: ServerFrame) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
  };
  const call = (method: string, params: unknown[]) => worker.request({ op: 'call', session: sessionId, method, params });
  const progress = (labRoot: string, message: string) => sendFrame({ push: { kind: 'event', labRoot, event: { type: 'progress', message } } });
  /** Labs this page's calls named (told, besides the student's class labs, when the worker is away). */
  const namedLabs = new Set<string>();
  const tellLabs = (message: string) => {
    for (const root of new Set([...(labPaths.get(account.id) ?? []).map((l) => l.path), ...namedLabs])) progress(root, message);
  };
  // The worker went away (it crashed, was restarted, or its host or network is gone): the page hears why,
  // on the lab it shows, then reconnects by itself and opens a new session.
  const lost = () => {
    tellLabs(`${worker.label} stopped answering: reconnecting… Your labs and disks are kept there; machines running there cannot be reached until it is back.`);
    ws.close(1012, RECONNECT_REASON);
  };
  const opened = openWithinBound(door, worker, sessionId, account, (push: PushMessage) => sendFrame({ push }), lost, tellLabs, () => ws.readyState !== ws.OPEN);
  // Not reached within worker_wait_sec: the calls that waited were told why (in handleFrame); this
  // page stays connected, its calls fail at once with that message, and it is asked to reconnect as
  // soon as the worker answers again (a new session: it catches up with what it missed). Refused for
  // another reason: the page reconnects and tries again.
  opened.catch((err) => (err instanceof WorkerError && err.code === 'unreachable' ? void waitForReturn() : setImmediate(() => ws.close(1011, 'the lab server refused this session'))));
  async function waitForReturn(): Promise<void> {
    while (ws.readyState === ws.OPEN) {
      if (worker.state.up) return ws.close(1012, 'your lab server is back: reconnecting');
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }

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
    if (!classroomRule(method, 'lab')) return params;
    const given = params[0];
    if (typeof given !== 'string' || given.trim() === '' || given.includes('\0') || given.length > 4096) throw new UserError('no lab path given');
    const home = await labsFolder();
    const root = posix.resolve(home, given.replace(/^~(?=$|\/)/, home));
    // The workers list (and stop when idle) the labs directly in the labs folder: a lab deeper down
    // would run unseen by the reconciliation, which would then release its reservation.
    if (classroomRule(method, 'starts') && root.startsWith(`${home}/`) && posix.dirname(root) !== home) {
      throw new UserError(`${root}: a lab runs only from a folder directly in your labs folder (${home})`, 2, 'save it with Save as… into a folder of its own there, then start it');
    }
    return [root, ...params.slice(1)];
  }

  async function handleFrame(frame: ClientFrame): Promise<unknown> {
    const { method } = frame;
    if (!isServiceMethod(method) || !Array.isArray(frame.params)) throw new UserError(`unknown method ${String(method).slice(0, 40)}`);
    if (typeof frame.params[0] === 'string' && classroomRule(method, 'lab')) namedLabs.add(frame.params[0].replace(/\/+$/, ''));
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
    const frame = readClientFrame(ws, raw);
    if (!frame) return;
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

/**
 * Opens the student's session on their worker, waiting for a worker that does not answer (restarting,
 * or gone with its host) at most worker_wait_sec, and saying so on the student's labs every 2 s
 * meanwhile: "waiting for it (4 s of at most 60 s)". Past that, it fails with what to do.
 */
async function openWithinBound(
  door: FrontDoor,
  worker: WorkerClient,
  sessionId: string,
  account: Account,
  onPush: (push: PushMessage) => void,
  onLost: () => void,
  tell: (message: string) => void,
  gone: () => boolean,
): Promise<void> {
  const boundMs = door.config.workerWaitSec * 1000;
  const t0 = Date.now();
  let said = 0;
  for (;;) {
    const left = boundMs - (Date.now() - t0);
    try {
      return await worker.openSession(sessionId, account.id, false, onPush, onLost, Math.max(0, Math.min(2_000, left)));
    } catch (err) {
      if (!(err instanceof WorkerError && (err.code === 'unreachable' || err.code === 'reconnect'))) throw err;
      if (gone()) throw err;
      const waited = Math.round((Date.now() - t0) / 1000);
      if (Date.now() - t0 >= boundMs) {
        const message = `${worker.label} has not answered for ${waited} s: your labs and disks are kept there; try again in a few minutes, or tell your instructor`;
        tell(message);
        throw new WorkerError(message, 'unreachable', 'this page reconnects by itself as soon as it answers again');
      }
      if (Date.now() - said >= 1_900) {
        said = Date.now();
        tell(`${worker.label} is not answering: waiting for it (${waited} s of at most ${Math.round(boundMs / 1000)} s)…`);
      }
      // openSession waited up to 2 s for a connection; one refused at once (nothing listens yet) waits here.
      await new Promise((r) => setTimeout(r, Math.max(0, Math.min(250, boundMs - (Date.now() - t0)))));
    }
  }
}
