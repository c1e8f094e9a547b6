// classroom.yaml: one file read by the front door and by every worker (on one host, or mounted from a
// ConfigMap in the cluster). Checked like a lab file: unknown keys, wrong types and unsafe values are
// refused with the key that is wrong and what to write instead.
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import { UserError } from '../errors.ts';

export interface ClassroomLab {
  /** Short id used in URLs and folder names: `[a-z0-9-]`, at most 32. */
  id: string;
  /** The instructor's lab folder (absolute once loaded). */
  path: string;
  title?: string;
}

/** What "Check my work" does during an exam: refused, as usual, or at most `count` times. */
export type CheckMyWork = { mode: 'off' } | { mode: 'visible' } | { mode: 'limited'; count: number };

/** A timed exam on one of the class's labs (docs/exams.md). */
export interface ClassroomExam {
  /** `[a-z0-9-]`, at most 32; also the name of each student's copy, so it differs from every lab id. */
  id: string;
  /** The id of a lab in `labs:`; students get it only through the exam. */
  lab: string;
  title?: string;
  /** The window in which a student may start (ms since the epoch); nobody works past `closes`. */
  opens: number;
  closes: number;
  /** Each student's time from the moment they open the exam (ms). */
  durationMs: number;
  checkMyWork: CheckMyWork;
  /** false: the exam copies lose their host-NAT domains and bridged interfaces (no way out of the lab). */
  internet: boolean;
}

export interface Quota {
  /** Machines running at once. */
  machines: number;
  /** Guest memory running at once, MiB. */
  memoryMb: number;
}

export interface ClassroomConfig {
  /** The file this was read from (workers spawned on this host read the same one). */
  file: string;
  name: string;
  /** The URL students open (scheme + host [+ port]); cookies are Secure when it is https. */
  publicUrl: string;
  listen: { host: string; port: number };
  /** HTTPS served by vnetlab itself; absent = plain HTTP (loopback, or behind a TLS proxy: behindProxy). */
  tls?: { cert: string; key: string };
  /** Plain HTTP on a non-loopback address is allowed only behind a TLS-terminating proxy (and publicUrl https). */
  behindProxy: boolean;
  /**
   * With behindProxy: the addresses (or CIDR ranges) of the proxy. X-Forwarded-For is believed only on
   * a connection from one of them; a client connecting directly cannot choose the address its login
   * failures count against. Default: loopback (a proxy on this host).
   */
  trustedProxies: string[];
  /** Accounts, lab copies, disks: `<dataDir>/…`. */
  dataDir: string;
  labs: ClassroomLab[];
  quota: Quota;
  /** The whole server (all workers): a start that would exceed it waits in the queue. */
  capacity: Quota;
  /** A student's running labs are stopped (disks kept) after this long without activity; 0 = never. */
  idleStopMinutes: number;
  /** Workers: `local` spawns N worker processes here; `urls` names workers elsewhere (tcp://host:port). */
  workers: { local: number; urls: string[] };
  /** Shared secret between the front door and its workers (a file, 0600); generated in dataDir when absent. */
  workerSecretFile: string;
  /** Guest readiness timeout for starts, seconds. */
  startTimeoutSec: number;
  /**
   * How long a student's page waits for their worker when it does not answer (it is restarting, or its
   * node is gone), seconds: their calls wait, with a message, then fail with one. Their labs live there.
   */
  workerWaitSec: number;
  /** Timed exams (docs/exams.md). */
  exams: ClassroomExam[];
  /**
   * What a lab's host-NAT domains give students' guests: `internet` (out to the network, never the host
   * itself: docs/host-nat.md) or `off` (no host NAT at all; the domain is a plain switch).
   */
  hostNat: 'internet' | 'off';
}

const TOP_KEYS = new Set(['name', 'public_url', 'listen', 'tls', 'behind_proxy', 'trusted_proxies', 'data_dir', 'labs', 'quota', 'capacity', 'idle_stop_minutes', 'workers', 'worker_secret_file', 'start_timeout_sec', 'worker_wait_sec', 'exams', 'host_nat']);

export const LAB_ID_RE = /^[a-z0-9][a-z0-9-]{0,31}$/;

function fail(file: string, key: string, message: string, hint?: string): never {
  throw new UserError(`${file}: ${key}: ${message}`, 2, hint);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function positiveInt(file: string, key: string, v: unknown, dflt: number, max: number, allowZero = false): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < (allowZero ? 0 : 1) || v > max) fail(file, key, `must be a whole number from ${allowZero ? 0 : 1} to ${max}, not ${JSON.stringify(v)}`);
  return v;
}

/** Minutes, fractions allowed (0.5 = 30 s, for short sessions and benches); 0 = never. */
function minutes(file: string, key: string, v: unknown, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > max) fail(file, key, `must be a number of minutes from 0 (never) to ${max}, e.g. 30 or 0.5, not ${JSON.stringify(v)}`);
  return v;
}

function quotaOf(file: string, key: string, v: unknown, dflt: Quota): Quota {
  if (v === undefined) return dflt;
  if (!isRecord(v)) fail(file, key, 'must be a mapping with machines and memory_mb');
  for (const k of Object.keys(v)) if (k !== 'machines' && k !== 'memory_mb') fail(file, `${key}.${k}`, 'unknown key', 'use machines and memory_mb');
  return { machines: positiveInt(file, `${key}.machines`, v.machines, dflt.machines, 100_000), memoryMb: positiveInt(file, `${key}.memory_mb`, v.memory_mb, dflt.memoryMb, 100_000_000) };
}

/** `10.0.0.5`, `::1`, `10.42.0.0/16`, `fd00::/8`. */
export function isAddressOrRange(v: string): boolean {
  const [addr, bits, ...rest] = v.split('/');
  const family = isIP(addr ?? '');
  if (!family || rest.length) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

export function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost';
}

/** Parses and checks a classroom config; relative paths are relative to the file. */
export function parseClassroomConfig(text: string, file: string): ClassroomConfig {
  let raw: unknown;
  try {
    raw = parse(text, { maxAliasCount: 50 });
  } catch (err) {
    fail(file, '(file)', `is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!isRecord(raw)) fail(file, '(file)', 'must be a YAML mapping', 'see docs/classroom.md for an example');
  for (const k of Object.keys(raw)) if (!TOP_KEYS.has(k)) fail(file, k, 'unknown key', `known keys: ${[...TOP_KEYS].join(', ')}`);
  const base = dirname(resolve(file));
  const path = (key: string, v: unknown): string => {
    if (typeof v !== 'string' || v.trim() === '' || v.includes('\0')) fail(file, key, 'must be a path');
    return isAbsolute(v) ? resolve(v) : resolve(base, v);
  };

  const name = raw.name === undefined ? 'vnetlab classroom' : typeof raw.name === 'string' && raw.name.length <= 100 ? raw.name : fail(file, 'name', 'must be a text of at most 100 characters');

  let listen = { host: '127.0.0.1', port: 8443 };
  if (raw.listen !== undefined) {
    if (!isRecord(raw.listen)) fail(file, 'listen', 'must be a mapping with host and port');
    for (const k of Object.keys(raw.listen)) if (k !== 'host' && k !== 'port') fail(file, `listen.${k}`, 'unknown key');
    const host = raw.listen.host ?? '127.0.0.1';
    if (typeof host !== 'string' || !/^[0-9a-zA-Z.:-]+$/.test(host)) fail(file, 'listen.host', 'must be an address such as 127.0.0.1 or 0.0.0.0');
    listen = { host, port: positiveInt(file, 'listen.port', raw.listen.port, 8443, 65535, true) };
  }

  let tls: ClassroomConfig['tls'];
  if (raw.tls !== undefined) {
    if (!isRecord(raw.tls)) fail(file, 'tls', 'must be a mapping with cert and key (PEM files)');
    for (const k of Object.keys(raw.tls)) if (k !== 'cert' && k !== 'key') fail(file, `tls.${k}`, 'unknown key');
    tls = { cert: path('tls.cert', raw.tls.cert), key: path('tls.key', raw.tls.key) };
  }
  const behindProxy = raw.behind_proxy === undefined ? false : raw.behind_proxy === true ? true : raw.behind_proxy === false ? false : fail(file, 'behind_proxy', 'must be true or false');

  let trustedProxies = ['127.0.0.1', '::1'];
  if (raw.trusted_proxies !== undefined) {
    if (!behindProxy) fail(file, 'trusted_proxies', 'is used only with behind_proxy: true', 'remove it, or set behind_proxy: true when a proxy is in front');
    const list = raw.trusted_proxies;
    if (!Array.isArray(list) || list.length === 0 || list.length > 100) fail(file, 'trusted_proxies', 'must list the proxy\'s addresses, e.g. [127.0.0.1] or [10.42.0.0/16]');
    trustedProxies = list.map((v, i) => (typeof v === 'string' && isAddressOrRange(v) ? v : fail(file, `trusted_proxies[${i}]`, `must be an IP address or a CIDR range like 10.42.0.0/16, not ${JSON.stringify(v)}`)));
  }

  const defaultUrl = `${tls ? 'https' : 'http'}://${isLoopback(listen.host) ? '127.0.0.1' : listen.host}:${listen.port}`;
  const publicUrlRaw = raw.public_url ?? defaultUrl;
  let publicUrl: string;
  try {
    const u = new URL(String(publicUrlRaw));
    if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.pathname !== '/' || u.search || u.hash || u.username) throw new Error('');
    publicUrl = u.origin;
  } catch {
    fail(file, 'public_url', `must be an origin like https://labs.example.edu, not ${JSON.stringify(publicUrlRaw)}`);
  }
  const publicIsLoopback = isLoopback(new URL(publicUrl).hostname);
  // Never a password over plain HTTP on a network: TLS here, or a TLS proxy in front, or loopback only.
  if (!tls && !isLoopback(listen.host) && !(behindProxy && publicUrl.startsWith('https:'))) {
    fail(file, 'listen.host', `plain HTTP on ${listen.host} would send passwords in clear`, 'give tls: {cert, key}, or put a TLS proxy in front (behind_proxy: true, public_url: https://…), or listen on 127.0.0.1');
  }
  if (publicUrl.startsWith('http:') && !publicIsLoopback) fail(file, 'public_url', 'must be https unless it is 127.0.0.1/localhost', 'students would send passwords in clear');

  const dataDir = raw.data_dir === undefined ? fail(file, 'data_dir', 'is required (accounts, lab copies and disks live there)') : path('data_dir', raw.data_dir);

  if (!Array.isArray(raw.labs) || raw.labs.length === 0) fail(file, 'labs', 'must list the labs of the class', 'labs: [{id: two-hosts, path: ../labs/two-hosts}]');
  const labs: ClassroomLab[] = [];
  raw.labs.forEach((l, i) => {
    const key = `labs[${i}]`;
    if (!isRecord(l)) fail(file, key, 'must be a mapping with id and path');
    for (const k of Object.keys(l)) if (!['id', 'path', 'title'].includes(k)) fail(file, `${key}.${k}`, 'unknown key');
    if (typeof l.id !== 'string' || !LAB_ID_RE.test(l.id)) fail(file, `${key}.id`, 'must be lowercase letters, digits and -, at most 32');
    if (labs.some((x) => x.id === l.id)) fail(file, `${key}.id`, `${l.id} is listed twice`);
    const p = path(`${key}.path`, l.path);
    if (!existsSync(resolve(p, 'lab.yaml')) && !existsSync(resolve(p, 'lab.conf'))) fail(file, `${key}.path`, `${p} is not a lab (no lab.yaml or lab.conf)`);
    if (l.title !== undefined && (typeof l.title !== 'string' || l.title.length > 200)) fail(file, `${key}.title`, 'must be a text');
    labs.push({ id: l.id, path: p, ...(typeof l.title === 'string' ? { title: l.title } : {}) });
  });

  const quota = quotaOf(file, 'quota', raw.quota, { machines: 10, memoryMb: 1024 });
  const capacity = quotaOf(file, 'capacity', raw.capacity, { machines: 60, memoryMb: 6144 });

  let workers = { local: 1, urls: [] as string[] };
  if (raw.workers !== undefined) {
    if (!isRecord(raw.workers)) fail(file, 'workers', 'must be {local: N} or {urls: [tcp://host:port, …]}');
    for (const k of Object.keys(raw.workers)) if (k !== 'local' && k !== 'urls') fail(file, `workers.${k}`, 'unknown key');
    const urls = raw.workers.urls ?? [];
    if (!Array.isArray(urls) || urls.some((u) => typeof u !== 'string' || !/^tcp:\/\/[0-9A-Za-z.-]+:\d{1,5}$/.test(u))) fail(file, 'workers.urls', 'must list tcp://host:port addresses');
    const local = positiveInt(file, 'workers.local', raw.workers.local, urls.length ? 0 : 1, 64, true);
    if (local === 0 && urls.length === 0) fail(file, 'workers', 'no worker: give local: N or urls');
    workers = { local, urls: urls as string[] };
  }

  const exams = examsOf(file, raw.exams, labs);

  return {
    file: resolve(file),
    name,
    publicUrl,
    listen,
    ...(tls ? { tls } : {}),
    behindProxy,
    trustedProxies,
    dataDir,
    labs,
    quota,
    capacity,
    idleStopMinutes: minutes(file, 'idle_stop_minutes', raw.idle_stop_minutes, 30, 10_000),
    workers,
    workerSecretFile: raw.worker_secret_file === undefined ? resolve(dataDir, 'worker.secret') : path('worker_secret_file', raw.worker_secret_file),
    startTimeoutSec: positiveInt(file, 'start_timeout_sec', raw.start_timeout_sec, 120, 3600),
    workerWaitSec: positiveInt(file, 'worker_wait_sec', raw.worker_wait_sec, 60, 3600),
    exams,
    hostNat: raw.host_nat === undefined || raw.host_nat === 'internet' ? 'internet' : raw.host_nat === 'off' ? 'off' : fail(file, 'host_nat', "must be 'internet' or 'off'", 'internet: guests reach the network but never this host; off: no host NAT at all'),
  };
}

const EXAM_KEYS = ['id', 'lab', 'title', 'opens', 'closes', 'duration_minutes', 'check_my_work', 'internet'];
/** `2027-01-20T09:00Z`, `2027-01-20T09:00:00+01:00`: a date, a time and a zone (a time without one is ambiguous). */
const WHEN_RE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})$/;

function when(file: string, key: string, v: unknown): number {
  // YAML 1.1 readers turn such values into dates; ours (YAML 1.2) keeps the text, but accept both.
  const text = v instanceof Date ? v.toISOString() : v;
  const m = typeof text === 'string' ? WHEN_RE.exec(text.trim()) : null;
  const ms = m ? Date.parse(text as string) : NaN;
  if (!m || !Number.isFinite(ms)) fail(file, key, `must be a date and time with its zone, like 2027-01-20T09:00Z or 2027-01-20T10:00+01:00, not ${JSON.stringify(v)}`);
  const [, , mo, d, h, mi, sec] = m.map(Number) as number[];
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > 31 || h! > 23 || mi! > 59 || (sec ?? 0) > 59) fail(file, key, `${JSON.stringify(v)} is not a real date and time`);
  return ms;
}

function checkMyWorkOf(file: string, key: string, v: unknown): CheckMyWork {
  if (v === undefined || v === 'visible') return { mode: 'visible' };
  if (v === 'off' || v === false) return { mode: 'off' };
  const m = typeof v === 'string' ? /^limited:\s*(\d{1,4})$/.exec(v.trim()) : null;
  if (m && Number(m[1]) >= 1) return { mode: 'limited', count: Number(m[1]) };
  fail(file, key, `must be off, visible or limited:N (N checks at most, e.g. limited:3), not ${JSON.stringify(v)}`);
}

function examsOf(file: string, v: unknown, labs: ClassroomLab[]): ClassroomExam[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(file, 'exams', 'must be a list of exams', 'exams: [{id: midterm, lab: ospf, opens: 2027-01-20T09:00Z, closes: 2027-01-20T11:00Z, duration_minutes: 90}]');
  const out: ClassroomExam[] = [];
  v.forEach((e, i) => {
    const key = `exams[${i}]`;
    if (!isRecord(e)) fail(file, key, 'must be a mapping with id, lab, opens, closes and duration_minutes');
    for (const k of Object.keys(e)) if (!EXAM_KEYS.includes(k)) fail(file, `${key}.${k}`, 'unknown key', `known keys: ${EXAM_KEYS.join(', ')}`);
    for (const k of ['id', 'lab', 'opens', 'closes', 'duration_minutes']) if (e[k] === undefined) fail(file, `${key}.${k}`, 'is required');
    if (typeof e.id !== 'string' || !LAB_ID_RE.test(e.id)) fail(file, `${key}.id`, 'must be lowercase letters, digits and -, at most 32');
    if (out.some((x) => x.id === e.id)) fail(file, `${key}.id`, `${e.id} is listed twice`);
    if (labs.some((l) => l.id === e.id)) fail(file, `${key}.id`, `${e.id} is also a lab id`, 'an exam and a lab may not share an id (each student\'s exam copy is named after the exam)');
    if (typeof e.lab !== 'string' || !labs.some((l) => l.id === e.lab)) fail(file, `${key}.lab`, `must be the id of a lab in labs:, not ${JSON.stringify(e.lab)}`, `labs: ${labs.map((l) => l.id).join(', ')}`);
    if (e.title !== undefined && (typeof e.title !== 'string' || e.title.length > 200)) fail(file, `${key}.title`, 'must be a text of at most 200 characters');
    const opens = when(file, `${key}.opens`, e.opens);
    const closes = when(file, `${key}.closes`, e.closes);
    if (closes <= opens) fail(file, `${key}.closes`, 'must be after opens');
    const minutesV = e.duration_minutes;
    if (typeof minutesV !== 'number' || !Number.isFinite(minutesV) || minutesV <= 0 || minutesV > 7 * 24 * 60) fail(file, `${key}.duration_minutes`, `must be a number of minutes above 0 (fractions allowed, e.g. 90 or 0.5), not ${JSON.stringify(minutesV)}`);
    const internet = e.internet === undefined || e.internet === 'off' || e.internet === false ? false : e.internet === 'on' || e.internet === true ? true : fail(file, `${key}.internet`, `must be off or on, not ${JSON.stringify(e.internet)}`);
    out.push({ id: e.id, lab: e.lab, ...(typeof e.title === 'string' ? { title: e.title } : {}), opens, closes, durationMs: Math.round(minutesV * 60_000), checkMyWork: checkMyWorkOf(file, `${key}.check_my_work`, e.check_my_work), internet });
  });
  return out;
}

export function loadClassroomConfig(file: string): ClassroomConfig {
  if (!existsSync(file)) throw new UserError(`no classroom config at ${file}`, 2, 'write one (see docs/classroom.md), then: vnetlab classroom serve --config FILE');
  return parseClassroomConfig(readFileSync(file, 'utf8'), file);
}
