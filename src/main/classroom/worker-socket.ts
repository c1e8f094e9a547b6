// A classroom worker's socket (worker.ts is the worker itself): the front door's connections to a
// WorkerCore. One JSON frame a line, bounded (protocol.ts); the first frame proves the shared secret;
// then requests by id, the students' browser sessions the front door opens and closes, and the
// worker's notices (idle stops, check results) told to every connected front door.
import { timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { UserError } from '../errors.ts';
import { toErrorInfo } from '../service/errors.ts';
import type { ClientSession } from '../service/service.ts';
import { encodeFrame, FrameTooLarge, idOfHead, lineReader, MAX_FRAME_BYTES, mib, type Notice, type WorkerFrame, type WorkerRequest } from './protocol.ts';
import type { WorkerCore } from './worker.ts';

export interface WorkerServer {
  address: string;
  close(): Promise<void>;
}

/** `unix:/path` (0600) or `tcp:host:port`. */
export async function serveWorker(core: WorkerCore, listen: string, secret: string): Promise<WorkerServer> {
  const connections = new Set<Socket>();
  const server: Server = createServer((socket) => {
    // Over TCP (a cluster), small frames (console bytes) go out at once, not after the peer's delayed ACK.
    if (!listen.startsWith('unix:')) socket.setNoDelay(true);
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
          case 'ping':
            return send({ id: req.id, result: null });
          case 'stop':
            return reply(req.id, 'stop', () => core.stop(req.student, String(req.lab)));
          case 'reset':
            return reply(req.id, 'reset', () => core.reset(req.student, req.lab));
          case 'grade':
            return reply(req.id, 'grade', () => core.grade(req.student, req.lab, req.hidden === true));
          case 'pack':
            return reply(req.id, 'pack', () => core.pack(req.student, req.lab));
          case 'examStart':
            return reply(req.id, 'examStart', () => core.examStart(req.student, req.exam, req.endsAt));
          case 'examExtend':
            return reply(req.id, 'examExtend', () => core.examExtend(req.student, req.exam, req.endsAt));
          case 'examEnd':
            return reply(req.id, 'examEnd', () => core.examEnd(req.student, req.exam));
          case 'examInfo':
            return reply(req.id, 'examInfo', () => core.examInfo(req.student, req.exam));
          case 'recording':
            return reply(req.id, 'recording', () => core.recording(req.student, req.exam, req.machine, req.offset));
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
