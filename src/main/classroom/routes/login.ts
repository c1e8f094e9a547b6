// The routes a visitor reaches without a login session: the login form, invitations (choose a
// password), each form guarded by a pre-login CSRF cookie.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readCookies, sameSecret } from '../../server/http-guard.ts';
import type { Account } from '../accounts.ts';
import { esc, type FrontDoor, NEXT, page, readBody } from '../front-door.ts';

/** /login and /invite (GET: the form; POST: log in, or set the password and log in). */
export async function loginRoutes(door: FrontDoor, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void | typeof NEXT> {
  const { config, log, cookieName, preName, cookieAttrs, accounts, sessions, byAccount, byAddress, originOk, clientAddress, send, redirect, errorPage } = door;
  const path = url.pathname;
  const preToken = (req: IncomingMessage, res: ServerResponse): string => {
    const existing = readCookies(req).get(preName);
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
  const preFormOk = (req: IncomingMessage, form: URLSearchParams) => originOk(req) && sameSecret(readCookies(req).get(preName), form.get('csrf') ?? undefined);

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
  return NEXT;
}
