// Browser mode: the service over HTTP + WebSocket on 127.0.0.1 only. Every run has a random token:
// the first page load carries it in the query (`/?token=…`), the server answers with an HttpOnly,
// SameSite=Strict cookie and redirects to a clean URL; every later request and the WebSocket must
// carry that cookie (or an `Authorization: Bearer` header) or get 401. Host and Origin must name
// this very server, so a web page on another site (or a DNS-rebound name) cannot drive it.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, relative, resolve, isAbsolute } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ClientFrame, PushMessage, ServerFrame } from '../../shared/service-api.ts';
import { dispatch } from '../service/dispatch.ts';
import type { Service } from '../service/service.ts';

export interface ServerOptions {
  service: Service;
  /** Built renderer (index.html, app.js, app.css). */
  staticDir: string;
  /** 0 picks a free port. */
  port?: number;
  /** Fixed token (tests); random otherwise. */
  token?: string;
  /** Lab to open first: passed to the page as `?lab=`. */
  initialLab?: string;
}

export interface RunningServer {
  port: number;
  token: string;
  /** URL to open: carries the token once; the page then lives on the cookie. */
  url: string;
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

/** A client whose socket holds this many bytes unsent is slow: console pushes wait for acks anyway. */
const MAX_FRAME_BYTES = 8 * 1024 * 1024;

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const token = options.token ?? randomBytes(24).toString('hex');
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  await new Promise<void>((resolveListen, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, '127.0.0.1', () => resolveListen());
  });
  const port = (http.address() as AddressInfo).port;
  const cookieName = `vnetlab_${port}`; // cookies ignore ports: name it per server
  const allowedHosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  const allowedOrigins = new Set([...allowedHosts].map((h) => `http://${h}`));

  const hostOk = (req: IncomingMessage) => allowedHosts.has(String(req.headers.host ?? '').toLowerCase());
  // Browsers send Origin on WebSocket upgrades and on cross-site requests; a missing Origin on a plain GET is a navigation.
  const originOk = (req: IncomingMessage, required: boolean) => {
    const origin = req.headers.origin;
    if (origin === undefined) return !required;
    return allowedOrigins.has(String(origin).toLowerCase());
  };
  const tokenOk = (candidate: string | undefined) => {
    if (!candidate) return false;
    const a = Buffer.from(candidate);
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b);
  };
  const requestToken = (req: IncomingMessage): string | undefined => {
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ')) return auth.slice(7);
    for (const part of String(req.headers.cookie ?? '').split(';')) {
      const [k, ...v] = part.trim().split('=');
      if (k === cookieName) return v.join('=');
    }
    return undefined;
  };

  http.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    if (!hostOk(req) || !originOk(req, false)) return refuse(res, 403, 'Forbidden: wrong Host or Origin.');
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, 'Method not allowed.');
    const queryToken = url.searchParams.get('token');
    if (queryToken !== null) {
      if (!tokenOk(queryToken)) return refuse(res, 401, 'Unauthorized: this link is not valid (the app prints a new one each run).');
      url.searchParams.delete('token');
      res.writeHead(303, {
        'Set-Cookie': `${cookieName}=${token}; HttpOnly; SameSite=Strict; Path=/`,
        Location: url.pathname + (url.search || ''),
        'Cache-Control': 'no-store',
      });
      return res.end();
    }
    if (!tokenOk(requestToken(req))) return refuse(res, 401, 'Unauthorized: open the link printed by `vnetlab serve` (it carries the access token).');
    serveStatic(options.staticDir, url.pathname, res);
  });

  http.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    const fail = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (url.pathname !== '/rpc') return fail(404, 'Not Found');
    if (!hostOk(req) || !originOk(req, true)) return fail(403, 'Forbidden');
    if (!tokenOk(requestToken(req))) return fail(401, 'Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws) => bindClient(ws, options.service));
  });

  const initial = options.initialLab ? `&lab=${encodeURIComponent(options.initialLab)}` : '';
  return {
    port,
    token,
    url: `http://127.0.0.1:${port}/?token=${token}${initial}`,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}

function refuse(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(`${text}\n`);
}

function serveStatic(dir: string, pathname: string, res: ServerResponse): void {
  const root = resolve(dir);
  let rel: string;
  try {
    rel = normalize(decodeURIComponent(pathname)).replace(/^[/\\]+/, '');
  } catch {
    return refuse(res, 400, 'Bad request.');
  }
  const file = join(root, rel === '' ? 'index.html' : rel);
  const inside = relative(root, file);
  if (inside.startsWith('..') || isAbsolute(inside)) return refuse(res, 404, 'Not found.');
  if (!existsSync(file) || !statSync(file).isFile()) return refuse(res, 404, 'Not found.');
  res.writeHead(200, {
    'Content-Type': MIME[extname(file)] ?? 'application/octet-stream',
    'Cache-Control': 'no-store',
    // The page loads only its own scripts: a lab description cannot pull in anything else.
    'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
  });
  createReadStream(file).pipe(res);
}

/** One WebSocket = one service session: JSON requests in, replies and pushes out. */
function bindClient(ws: WebSocket, service: Service): void {
  const send = (frame: ServerFrame) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
  };
  const session = service.connect((push: PushMessage) => send({ push }));
  ws.on('message', async (raw) => {
    let frame: ClientFrame;
    try {
      frame = JSON.parse(String(raw)) as ClientFrame;
    } catch {
      return ws.close(1003, 'frames must be JSON');
    }
    const { id, method, params } = frame ?? ({} as ClientFrame);
    if (typeof id !== 'number') return ws.close(1003, 'frame without id');
    send({ id, ...(await dispatch(() => session, method, params)) });
  });
  ws.on('close', () => session.close());
  ws.on('error', () => session.close());
}
