// Browser mode: the service over HTTP + WebSocket on 127.0.0.1 only. The page lives on a session
// cookie (HttpOnly, SameSite=Strict, named per port) whose secret never appears in a URL. A browser
// gets it by opening a link with a one-time token (`/?token=…`): the first load trades the token for
// the cookie and redirects to a clean URL, and the token is dead from then on — so the link in a
// browser's argv (readable by every local user in /proc/*/cmdline) or in a terminal's scrollback is
// useless once used. `newLink()` makes another link (for another browser). Every other request and
// the WebSocket must carry the cookie or get 401. Host and Origin must name this very server, so a
// web page on another site (or a DNS-rebound name) cannot drive it.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { PushMessage, ServerFrame } from '../../shared/service-api.ts';
import { dispatch } from '../service/dispatch.ts';
import type { Service } from '../service/service.ts';
import { failUpgrade, hostAllowed, originAllowed, PAGE_CSP, readClientFrame, readCookies, refuse, sameSecret, serveStatic } from './http-guard.ts';

export interface ServerOptions {
  service: Service;
  /** Built renderer (index.html, app.js, app.css). */
  staticDir: string;
  /** 0 picks a free port. */
  port?: number;
  /**
   * The session cookie's secret: kept from run to run for a fixed port (so an open page reconnects
   * after a restart); random otherwise. Never put in a URL.
   */
  sessionKey?: string;
  /** Lab to open first: passed to the page as `?lab=`. */
  initialLab?: string;
  /** Told each time a link's one-time token was used (a browser opened it). */
  onLinkUsed?(): void;
}

export interface RunningServer {
  port: number;
  /** The first link to open: its one-time token gets the page its cookie once, then is dead. */
  url: string;
  /** Another one-time link (for another browser or profile). */
  newLink(): string;
  close(): Promise<void>;
}

/** What every file of the page is sent with. */
const PAGE_HEADERS = { 'Content-Security-Policy': PAGE_CSP, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' };

/** A client whose socket holds this many bytes unsent is slow: console pushes wait for acks anyway. */
const MAX_FRAME_BYTES = 8 * 1024 * 1024;

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const sessionKey = options.sessionKey ?? randomBytes(24).toString('hex');
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
  /** Unused one-time link tokens, by their SHA-256 (a token is deleted when it is used). */
  const linkTokens = new Set<string>();
  const digest = (t: string) => createHash('sha256').update(t).digest('hex');
  const initial = options.initialLab ? `&lab=${encodeURIComponent(options.initialLab)}` : '';
  const newLink = () => {
    const t = randomBytes(24).toString('hex');
    linkTokens.add(digest(t));
    return `http://127.0.0.1:${port}/?token=${t}${initial}`;
  };
  /** True once per token: the first use spends it. */
  const spendLinkToken = (t: string) => t.length <= 200 && linkTokens.delete(digest(t));

  const hostOk = (req: IncomingMessage) => hostAllowed(req, allowedHosts);
  // A missing Origin on a plain GET is a navigation; a WebSocket upgrade must carry ours.
  const originOk = (req: IncomingMessage, required: boolean) => originAllowed(req, allowedOrigins, required);
  const cookieOk = (req: IncomingMessage) => sameSecret(readCookies(req).get(cookieName), sessionKey);

  http.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    if (!hostOk(req) || !originOk(req, false)) return refuse(res, 403, 'Forbidden: wrong Host or Origin.');
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, 'Method not allowed.');
    const linkToken = url.searchParams.get('token');
    if (linkToken !== null) {
      url.searchParams.delete('token');
      const clean = url.pathname + (url.search || '');
      if (spendLinkToken(linkToken)) {
        res.writeHead(303, { 'Set-Cookie': `${cookieName}=${sessionKey}; HttpOnly; SameSite=Strict; Path=/`, Location: clean, 'Cache-Control': 'no-store' });
        res.end();
        options.onLinkUsed?.();
        return;
      }
      // The browser that used the link, reloading it: it has the cookie already.
      if (cookieOk(req)) {
        res.writeHead(303, { Location: clean, 'Cache-Control': 'no-store' });
        return res.end();
      }
      return refuse(res, 401, 'Unauthorized: this link was used already, or is not one of this server\'s (a link opens the app once, in one browser). Open the newest link `vnetlab serve` or `vnetlab app` printed.');
    }
    if (!cookieOk(req)) return refuse(res, 401, 'Unauthorized: open the link printed by `vnetlab serve` or `vnetlab app` (it opens the app once, in one browser).');
    serveStatic(options.staticDir, url.pathname, res, PAGE_HEADERS);
  });

  http.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    const fail = (status: number, text: string) => failUpgrade(socket, status, text);
    if (url.pathname !== '/rpc') return fail(404, 'Not Found');
    if (!hostOk(req) || !originOk(req, true)) return fail(403, 'Forbidden');
    if (!cookieOk(req)) return fail(401, 'Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws) => bindClient(ws, options.service));
  });

  return {
    port,
    url: newLink(),
    newLink,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}

/** One WebSocket = one service session: JSON requests in, replies and pushes out. */
function bindClient(ws: WebSocket, service: Service): void {
  const send = (frame: ServerFrame) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
  };
  const session = service.connect((push: PushMessage) => send({ push }));
  ws.on('message', async (raw) => {
    const frame = readClientFrame(ws, raw);
    if (!frame) return;
    const { id, method, params } = frame;
    send({ id, ...(await dispatch(() => session, method, params)) });
  });
  ws.on('close', () => session.close());
  ws.on('error', () => session.close());
}
