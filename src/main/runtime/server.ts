// Serves a Supervisor on its Unix socket (mode 0600 in a 0700 run dir): one JSON request per line,
// responses by id, and pushed events / console output / exec output for the connections that asked.
import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { ConsoleHandle, LabEvent } from '../../shared/runtime-api.ts';
import { UserError } from '../errors.ts';
import { lineReader, type Methods, type Request, type ServerMessage, type WireError } from './protocol.ts';
import type { Capture } from './network/network.ts';
import type { Supervisor } from './supervisor.ts';

type Handler<M extends keyof Methods> = (params: Methods[M]['params'], conn: Connection, id?: number) => Promise<Methods[M]['result']>;

interface Connection {
  socket: Socket;
  send(message: ServerMessage): void;
  subscribed: boolean;
  consoles: Map<number, ConsoleHandle>;
  captures: Map<string, { capture: Capture; frames: number; dropped: number }>;
}

/**
 * A capture reader that stops reading must never hold up the network: frames are dropped (and
 * counted) while this much output waits in the connection's socket buffer.
 */
const CAPTURE_BACKLOG_BYTES = 4 * 1024 * 1024;

/**
 * How long closing waits for the requests still being answered. A start that the stop just ended answers
 * a moment after the stop itself: with the connections ended first, that start was told "the lab
 * supervisor went away" instead of "start interrupted". Bounded: a request that never ends (an exec of
 * a guest that hangs) does not keep the supervisor from exiting.
 */
export const ANSWER_GRACE_MS = 5_000;

export interface SupervisorServer {
  server: Server;
  close(): Promise<void>;
}

export async function serveSupervisor(sup: Supervisor, socketPath: string, onShutdown: () => void, options: { answerGraceMs?: number } = {}): Promise<SupervisorServer> {
  const connections = new Set<Connection>();
  /** Requests being answered: closing lets them finish first (ANSWER_GRACE_MS). */
  const answering = new Set<Promise<unknown>>();
  let nextConsoleId = 1;

  sup.on('event', (event: LabEvent) => {
    for (const c of connections) if (c.subscribed) c.send({ event });
  });

  const handlers: { [M in keyof Methods]: Handler<M> } = {
    hello: async () => ({ labId: sup.plan.lab.id, pid: process.pid, stopping: sup.exiting }),
    status: async () => sup.status(),
    start: async (p) => sup.start(p.machines ?? [], { timeoutMs: p.timeoutMs, requestedAt: p.requestedAt }),
    stop: async (p) => {
      await sup.stop(p.machines ?? []);
      return null;
    },
    crash: async (p) => {
      await sup.crash(p.machines ?? []);
      return null;
    },
    restart: async (p) => sup.restart(p.machine, { timeoutMs: p.timeoutMs }),
    exec: async (p, conn, id) =>
      sup.exec(p.machine, p.command, {
        timeoutMs: p.timeoutMs,
        stdin: p.stdin,
        tools: p.tools === true,
        grader: p.grader === true,
        ...(p.stream && id !== undefined
          ? {
              onStdout: (data: string) => conn.send({ id, stream: 'stdout', data }),
              onStderr: (data: string) => conn.send({ id, stream: 'stderr', data }),
            }
          : {}),
      }),
    subscribe: async (_p, conn) => {
      conn.subscribed = true;
      return null;
    },
    'console.attach': async (p, conn) => {
      const session = sup.console(p.machine, p.console ?? 0);
      const consoleId = nextConsoleId++;
      if (p.cols && p.rows) session.resize(p.cols, p.rows);
      const viewer = session.attach({
        onData: (data) => conn.send({ console: consoleId, data }),
        replay: p.replay,
        flowControl: p.flowControl,
      });
      conn.consoles.set(consoleId, viewer);
      return { consoleId };
    },
    'console.write': async (p, conn) => {
      conn.consoles.get(p.consoleId)?.write(p.data);
      return null;
    },
    'console.resize': async (p, conn) => {
      conn.consoles.get(p.consoleId)?.resize(p.cols, p.rows);
      return null;
    },
    'console.ack': async (p, conn) => {
      conn.consoles.get(p.consoleId)?.ack(p.chars);
      return null;
    },
    'console.detach': async (p, conn) => {
      conn.consoles.get(p.consoleId)?.detach();
      conn.consoles.delete(p.consoleId);
      return null;
    },
    apply: async (p) => sup.apply(p.plan, { dryRun: p.dryRun, ...(Array.isArray(p.restart) ? { restart: p.restart.map(String) } : {}) }),
    'snapshot.save': async (p) => sup.saveDisks(p.machines ?? []),
    'snapshot.restore': async (p) => sup.restoreDisks(p.machines ?? [], { timeoutMs: p.timeoutMs, saveFirst: p.saveFirst ?? [] }),
    'link.list': async () => sup.links(),
    'link.set': async (p) => sup.changeLink(p.cable, p.change ?? {}),
    'capture.start': async (p, conn) => {
      const entry = { capture: undefined as unknown as Capture, frames: 0, dropped: 0 };
      const capture = await sup.capture(
        p.target,
        (frame, t) => {
          if (conn.socket.writableLength > CAPTURE_BACKLOG_BYTES) entry.dropped++;
          else {
            entry.frames++;
            conn.send({ capture: capture.id, frame: frame.toString('base64'), t });
          }
        },
        (reason) => {
          if (!conn.captures.delete(capture.id)) return;
          conn.send({ capture: capture.id, end: reason, frames: entry.frames, dropped: entry.dropped });
        },
      );
      entry.capture = capture;
      conn.captures.set(capture.id, entry);
      return { captureId: capture.id };
    },
    'capture.stop': async (p, conn) => {
      const entry = conn.captures.get(p.captureId);
      if (!entry) return { frames: 0, dropped: 0 };
      conn.captures.delete(p.captureId);
      await entry.capture.stop();
      return { frames: entry.frames, dropped: entry.dropped };
    },
    shutdown: async (p) => {
      await sup.shutdown(p.how ?? 'stop');
      setImmediate(onShutdown);
      return null;
    },
  };

  const server = createServer((socket) => {
    const conn: Connection = {
      socket,
      subscribed: false,
      consoles: new Map(),
      captures: new Map(),
      send: (message) => {
        if (!socket.destroyed) socket.write(`${JSON.stringify(message)}\n`);
      },
    };
    connections.add(conn);
    const cleanup = () => {
      connections.delete(conn);
      for (const viewer of conn.consoles.values()) viewer.detach();
      conn.consoles.clear();
      // A capture lives as long as the connection that asked for it.
      for (const { capture } of conn.captures.values()) void capture.stop();
      conn.captures.clear();
    };
    socket.on('close', cleanup);
    socket.on('error', cleanup);
    socket.on(
      'data',
      lineReader((raw) => {
        const request = raw as Request;
        const handler = handlers[request.method] as Handler<keyof Methods> | undefined;
        if (sup.exiting && (request.method === 'start' || request.method === 'restart')) {
          if (request.id !== undefined) conn.send({ id: request.id, error: { message: 'the lab is stopping; start it again in a moment', exitCode: 1 } });
          return;
        }
        if (!handler) {
          if (request.id !== undefined) conn.send({ id: request.id, error: { message: `unknown method ${String(request.method)}` } });
          return;
        }
        const answered = handler(request.params ?? {}, conn, request.id).then(
          (result) => request.id !== undefined && conn.send({ id: request.id, result: result ?? null }),
          (err: unknown) => request.id !== undefined && conn.send({ id: request.id, error: toWireError(err) }),
        );
        answering.add(answered);
        void answered.finally(() => answering.delete(answered));
      }),
    );
  });

  rmSync(socketPath, { force: true });
  // Create the socket with no permissions for others from the start (no window before chmod).
  const oldMask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
  } finally {
    process.umask(oldMask);
  }
  chmodSync(socketPath, 0o600);

  return {
    server,
    close: async () => {
      if (answering.size) {
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, options.answerGraceMs ?? ANSWER_GRACE_MS)));
        await Promise.race([Promise.allSettled([...answering]), grace]);
        clearTimeout(timer);
      }
      for (const c of connections) {
        if (c.subscribed) c.send({ event: { type: 'lab-stopped' } });
        c.socket.end();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(socketPath, { force: true });
    },
  };
}

function toWireError(err: unknown): WireError {
  if (err instanceof UserError) return { message: err.message, hint: err.hint, exitCode: err.exitCode };
  return { message: err instanceof Error ? err.message : String(err) };
}
