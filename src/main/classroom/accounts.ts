// Accounts of a class: a JSON file in the data dir (0600, written atomically), passwords hashed with
// scrypt (node:crypto, memory-hard), one-time invitation links (only their SHA-256 is stored), login
// sessions in memory with a CSRF token each, and login rate limits per account and per address.
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { UserError } from '../errors.ts';

export type Role = 'student' | 'instructor';

export interface Account {
  id: string;
  name: string;
  email: string;
  role: Role;
  /** `scrypt$N$r$p$salt$hash` (base64url); absent until the invitation is used. */
  password?: string;
  invite?: { sha256: string; expires: number };
  /** Index of the worker that owns this student's labs (sticky: their disks live there). */
  worker: number;
  createdAt: string;
}

const SCRYPT = { N: 1 << 15, r: 8, p: 1, keylen: 32 };
const SCRYPT_MAXMEM = 128 * SCRYPT.N * SCRYPT.r * 2;
export const MIN_PASSWORD = 10;
export const MAX_PASSWORD = 200;
const INVITE_DAYS = 14;

function scrypt(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((res, rej) => scryptCb(password, salt, keylen, opts, (err, key) => (err ? rej(err) : res(key))));
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, maxmem: SCRYPT_MAXMEM });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  // An account without a password still costs one scrypt, so timing does not tell which e-mails exist.
  const parts = (stored ?? `scrypt$${SCRYPT.N}$8$1$${'A'.repeat(22)}$${'A'.repeat(43)}`).split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64url');
  const key = await scrypt(password, Buffer.from(salt, 'base64url'), expected.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: 128 * Number(n) * Number(r) * 2 });
  return stored !== undefined && key.length === expected.length && timingSafeEqual(key, expected);
}

export function checkPassword(password: unknown): string {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD) throw new UserError(`the password must have at least ${MIN_PASSWORD} characters`);
  if (password.length > MAX_PASSWORD) throw new UserError(`the password must have at most ${MAX_PASSWORD} characters`);
  return password;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const EMAIL_RE = /^[^\s@<>"',;]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,}$/;

export function normalEmail(email: unknown): string {
  const e = typeof email === 'string' ? email.trim().toLowerCase() : '';
  if (!EMAIL_RE.test(e)) throw new UserError(`${JSON.stringify(String(email ?? '')).slice(0, 80)} is not an e-mail address`);
  return e;
}

function cleanName(name: unknown): string {
  const n = typeof name === 'string' ? name.replace(/[\u0000-\u001f\u007f]/g, '').trim() : '';
  if (!n || n.length > 100) throw new UserError('a name must have 1 to 100 characters');
  return n;
}

/** The class's accounts, persisted in one JSON file. */
export class AccountStore {
  private accounts: Account[] = [];

  constructor(
    private readonly file: string,
    private readonly workerCount: number,
  ) {
    if (existsSync(file)) {
      const data = JSON.parse(readFileSync(file, 'utf8')) as { accounts?: Account[] };
      this.accounts = Array.isArray(data.accounts) ? data.accounts : [];
    }
  }

  private save(): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ accounts: this.accounts }, null, 1), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
  }

  list(): Account[] {
    return [...this.accounts];
  }

  byId(id: unknown): Account | undefined {
    return typeof id === 'string' ? this.accounts.find((a) => a.id === id) : undefined;
  }

  byEmail(email: string): Account | undefined {
    return this.accounts.find((a) => a.email === email);
  }

  /** Adds (or re-invites) an account; returns the one-time invitation token to put in a link. */
  invite(name: unknown, email: unknown, role: Role): { account: Account; token: string } {
    if (role !== 'student' && role !== 'instructor') throw new UserError(`unknown role ${String(role)}`, 2, 'student or instructor');
    const e = normalEmail(email);
    const token = randomBytes(32).toString('base64url');
    const invite = { sha256: sha256(token), expires: Date.now() + INVITE_DAYS * 86_400_000 };
    let account = this.byEmail(e);
    if (account) {
      account.invite = invite;
      account.name = cleanName(name);
    } else {
      const id = `s${randomBytes(5).toString('hex')}`;
      account = { id, name: cleanName(name), email: e, role, invite, worker: this.accounts.length % Math.max(1, this.workerCount), createdAt: new Date().toISOString() };
      this.accounts.push(account);
    }
    this.save();
    return { account, token };
  }

  /** The account an invitation token belongs to (valid, unused, not expired). */
  invited(token: unknown): Account | undefined {
    if (typeof token !== 'string' || !/^[A-Za-z0-9_-]{20,100}$/.test(token)) return undefined;
    const h = Buffer.from(sha256(token));
    return this.accounts.find((a) => a.invite && a.invite.expires > Date.now() && timingSafeEqual(Buffer.from(a.invite.sha256), h));
  }

  /** Uses the invitation: sets the password, and the link stops working. */
  async acceptInvite(token: unknown, password: unknown): Promise<Account> {
    const account = this.invited(token);
    if (!account) throw new UserError('this invitation link is not valid any more', 2, 'ask your instructor for a new one');
    account.password = await hashPassword(checkPassword(password));
    delete account.invite;
    this.save();
    return account;
  }

  async login(email: unknown, password: unknown): Promise<Account | undefined> {
    let e: string;
    try {
      e = normalEmail(email);
    } catch {
      await verifyPassword(String(password ?? ''), undefined);
      return undefined;
    }
    const account = this.byEmail(e);
    const ok = await verifyPassword(typeof password === 'string' ? password.slice(0, MAX_PASSWORD) : '', account?.password);
    return ok ? account : undefined;
  }

  /** Roster import: `name,email` rows (a header row is skipped). Returns each account with its invitation token. */
  importRoster(csv: string, role: Role = 'student'): { account: Account; token: string }[] {
    const rows = parseCsv(csv);
    if (rows.length > 2000) throw new UserError('a roster may have at most 2000 rows');
    const out: { account: Account; token: string }[] = [];
    const errors: string[] = [];
    rows.forEach((row, i) => {
      const cells = row.map((c) => c.trim());
      if (cells.every((c) => c === '')) return;
      if (i === 0 && /^name$/i.test(cells[0] ?? '') && /mail/i.test(cells[1] ?? '')) return;
      try {
        if (cells.length < 2) throw new UserError('needs name,email');
        normalEmail(cells[1]);
        cleanName(cells[0]);
      } catch (err) {
        errors.push(`line ${i + 1}: ${(err as Error).message}`);
      }
    });
    if (errors.length) throw new UserError(`the roster has errors:\n${errors.join('\n')}`, 2, 'each line: name,email');
    rows.forEach((row, i) => {
      const cells = row.map((c) => c.trim());
      if (cells.every((c) => c === '')) return;
      if (i === 0 && /^name$/i.test(cells[0] ?? '') && /mail/i.test(cells[1] ?? '')) return;
      out.push(this.invite(cells[0], cells[1], role));
    });
    return out;
  }
}

/** RFC 4180 CSV (quotes, doubled quotes, CRLF). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(cell), (cell = '');
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell !== '' || row.length) rows.push([...row, cell]);
  return rows;
}

// ---- sessions -------------------------------------------------------------------------------------

export interface LoginSession {
  id: string;
  accountId: string;
  csrf: string;
  expires: number;
}

const SESSION_HOURS = 12;

export class Sessions {
  private readonly sessions = new Map<string, LoginSession>();
  /** Told when a session ends (logout, password set, expiry), so what it opened (WebSockets) is closed too. */
  onEnd?: (session: LoginSession) => void;

  create(accountId: string): LoginSession {
    const s = { id: randomBytes(32).toString('base64url'), accountId, csrf: randomBytes(24).toString('base64url'), expires: Date.now() + SESSION_HOURS * 3_600_000 };
    this.sessions.set(sha256(s.id), s);
    return s;
  }

  get(id: string | undefined): LoginSession | undefined {
    if (!id || id.length > 100) return undefined;
    const key = sha256(id);
    const s = this.sessions.get(key);
    if (s && s.expires < Date.now()) {
      this.end(key, s);
      return undefined;
    }
    return s;
  }

  /** Whether this very session is still open (not logged out, replaced or expired). */
  isLive(session: LoginSession): boolean {
    return this.sessions.get(sha256(session.id)) === session && session.expires >= Date.now();
  }

  delete(id: string | undefined): void {
    if (!id) return;
    const key = sha256(id);
    const s = this.sessions.get(key);
    if (s) this.end(key, s);
  }

  /** Ends every session of an account (password change, removal). */
  deleteAccount(accountId: string): void {
    for (const [k, s] of this.sessions) if (s.accountId === accountId) this.end(k, s);
  }

  /** Ends the sessions that expired (run now and then: what they opened must not outlive them). */
  sweep(now = Date.now()): void {
    for (const [k, s] of this.sessions) if (s.expires < now) this.end(k, s);
  }

  private end(key: string, s: LoginSession): void {
    this.sessions.delete(key);
    this.onEnd?.(s);
  }
}

/**
 * Fixed-window failure counter: `limit` failures per `windowMs` per key, then refused until the window
 * ends. A login counts its attempt as a failure *before* it checks the password (and `refund`s it when
 * the password was right): attempts in flight at once are all counted, so a concurrent burst gets at
 * most `limit` of them evaluated.
 */
export class RateLimiter {
  private readonly hits = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Seconds to wait, or 0 when the key may try. */
  blockedFor(key: string): number {
    const h = this.hits.get(key);
    if (!h || h.resetAt <= Date.now()) return 0;
    return h.count >= this.limit ? Math.ceil((h.resetAt - Date.now()) / 1000) : 0;
  }

  fail(key: string): void {
    const now = Date.now();
    const h = this.hits.get(key);
    if (!h || h.resetAt <= now) this.hits.set(key, { count: 1, resetAt: now + this.windowMs });
    else h.count++;
    if (this.hits.size > 100_000) for (const [k, v] of this.hits) if (v.resetAt <= now) this.hits.delete(k);
  }

  /** Takes back one counted attempt (it succeeded). */
  refund(key: string): void {
    const h = this.hits.get(key);
    if (h && h.count > 0) h.count--;
  }

  reset(key: string): void {
    this.hits.delete(key);
  }
}
