// What both HTTP servers (the app's, server.ts, and the classroom's front door, src/main/classroom/)
// check and send the same way: Host and Origin, cookies and secrets compared in constant time, static
// files that never leave their folder, the page's security headers, and refusals.
import { timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { extname, isAbsolute, join, normalize, relative, resolve } from 'node:path';
import type { RawData, WebSocket } from 'ws';
import type { ClientFrame } from '../../shared/service-api.ts';

export type Headers = Record<string, string | string[]>;

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
};

/** The page loads only its own scripts, styles and connections: a lab description cannot pull in anything else. */
export const PAGE_CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/** Whether the request's Host is one this server answers to (a DNS-rebound name is not). */
export function hostAllowed(req: IncomingMessage, allowed: ReadonlySet<string>): boolean {
  return allowed.has(String(req.headers.host ?? '').toLowerCase());
}

/**
 * Whether the request's Origin is this server's. Browsers send Origin on WebSocket upgrades, form posts
 * and cross-site requests; a missing one is a navigation, accepted unless `required`.
 */
export function originAllowed(req: IncomingMessage, allowed: ReadonlySet<string>, required: boolean): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return !required;
  return allowed.has(String(origin).toLowerCase());
}

/** The request's cookies by name (the last of a name wins). */
export function readCookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of String(req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return out;
}

/** Two secrets compared in constant time; a missing or empty one matches nothing. */
export function sameSecret(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A plain-text refusal that no cache keeps. */
export function refuse(res: ServerResponse, status: number, text: string, headers: Headers = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
  res.end(`${text}\n`);
}

/** Refuse a WebSocket upgrade on its raw socket. */
export function failUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/**
 * The file `pathname` names inside `dir` (`index.html` for the folder itself), never one outside it,
 * with the server's security headers; 404 for anything else.
 */
export function serveStatic(dir: string, pathname: string, res: ServerResponse, headers: Headers): void {
  const root = resolve(dir);
  let rel: string;
  try {
    rel = normalize(decodeURIComponent(pathname)).replace(/^[/\\]+/, '');
  } catch {
    return refuse(res, 400, 'Bad request.');
  }
  const file = join(root, rel === '' || rel === '.' ? 'index.html' : rel);
  const inside = relative(root, file);
  if (inside.startsWith('..') || isAbsolute(inside) || !existsSync(file) || !statSync(file).isFile()) return refuse(res, 404, 'Not found.');
  res.writeHead(200, { 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-store', ...headers });
  createReadStream(file).pipe(res);
}

/** A client's frame off the app's WebSocket; undefined once the socket is closed (1003) for one that is not JSON or has no id. */
export function readClientFrame(ws: WebSocket, raw: RawData): ClientFrame | undefined {
  let frame: ClientFrame;
  try {
    frame = JSON.parse(String(raw)) as ClientFrame;
  } catch {
    ws.close(1003, 'frames must be JSON');
    return undefined;
  }
  if (typeof frame?.id !== 'number') {
    ws.close(1003, 'frame without id');
    return undefined;
  }
  return frame;
}
