// The classroom front door and worker over the real protocol, with the runtime faked (Backends seam):
// accounts, cookies, CSRF, login limits, two students who try to reach each other's labs, hidden
// checks, quotas and the queue, idle stop, reset, the dashboard's API. test/classroom/real-lab.test.ts
// boots a real lab through a real worker process.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, parseCsv, verifyPassword } from '../../src/main/classroom/accounts.ts';
import { parseClassroomConfig } from '../../src/main/classroom/config.ts';
import type { OpenLabResult } from '../../src/shared/service-api.ts';
import { runCli } from '../support/host.ts';
import { Browser, enrol, REPO, startTestClass, type TestClass } from './helpers.ts';

const PW = 'correct horse battery';

describe('classroom config', () => {
  const lab = join(REPO, 'labs', 'two-hosts');
  const parse = (extra: string) => parseClassroomConfig(`data_dir: /tmp/x\nlabs: [{id: a, path: ${lab}}]\n${extra}`, '/tmp/classroom.yaml');
  it('refuses plain HTTP on a network address unless a TLS proxy is in front', () => {
    expect(() => parse('listen: {host: 0.0.0.0, port: 8080}')).toThrow(/passwords in clear/);
    expect(() => parse('listen: {host: 0.0.0.0, port: 8080}\nbehind_proxy: true\npublic_url: http://labs.example.edu')).toThrow(/passwords in clear|must be https/);
    expect(parse('listen: {host: 0.0.0.0, port: 8080}\nbehind_proxy: true\npublic_url: https://labs.example.edu').publicUrl).toBe('https://labs.example.edu');
    expect(parse('').publicUrl).toBe('http://127.0.0.1:8443');
  });
  it('says which key is wrong', () => {
    expect(() => parse('quota: {machines: -1}')).toThrow(/quota.machines: must be a whole number/);
    expect(() => parse('colour: red')).toThrow(/colour: unknown key/);
    expect(() => parseClassroomConfig(`data_dir: /tmp/x\nlabs: [{id: "../x", path: ${lab}}]`, '/tmp/c.yaml')).toThrow(/labs\[0\]\.id/);
    expect(() => parseClassroomConfig(`data_dir: /tmp/x\nlabs: [{id: a, path: /etc}]`, '/tmp/c.yaml')).toThrow(/is not a lab/);
    // How long a student's page waits for a worker that does not answer: bounded, never 0 or forever.
    expect(parse('').workerWaitSec).toBe(60);
    expect(parse('worker_wait_sec: 20').workerWaitSec).toBe(20);
    expect(() => parse('worker_wait_sec: 0')).toThrow(/worker_wait_sec: must be a whole number from 1 to 3600/);
    expect(() => parse('worker_wait_sec: forever')).toThrow(/worker_wait_sec: must be a whole number/);
  });
});

describe('accounts', () => {
  it('hashes with scrypt and verifies in constant shape', async () => {
    const h = await hashPassword('a long password');
    expect(h).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(await verifyPassword('a long password', h)).toBe(true);
    expect(await verifyPassword('a long passworD', h)).toBe(false);
    expect(await verifyPassword('anything', undefined)).toBe(false);
  });
  it('reads CSV with quotes and CRLF', () => {
    expect(parseCsv('name,email\r\n"Lovelace, Ada",ada@x.org\r\n"Say ""hi""",b@x.org')).toEqual([['name', 'email'], ['Lovelace, Ada', 'ada@x.org'], ['Say "hi"', 'b@x.org']]);
  });
});

describe('classroom front door', () => {
  let cls: TestClass;
  let teacher: Browser;
  let alice: Browser;
  let bob: Browser;
  let links: { name: string; email: string; link: string }[];

  beforeAll(async () => {
    cls = await startTestClass(['quota: {machines: 2, memory_mb: 512}', 'capacity: {machines: 4, memory_mb: 4096}']);
    teacher = await enrol(cls, 'Teacher', 'teacher@uni.edu', PW, 'instructor');
  }, 60_000);
  afterAll(async () => {
    await cls?.close();
  });

  it('never serves without a login', async () => {
    const anon = new Browser(cls.base);
    expect((await anon.fetch('/')).headers.get('location')).toBe('/login');
    expect((await anon.fetch('/app/index.html')).status).toBe(303);
    expect((await anon.fetch('/api/class')).status).toBe(401);
    await expect(anon.rpc()).rejects.toThrow(/401/);
    // A DNS-rebound name (any Host but the public one) is refused.
    const { request } = await import('node:http');
    const status = await new Promise<number>((res, rej) => request(`${cls.base}/login`, { headers: { Host: 'evil.example' } }, (r) => (r.resume(), res(r.statusCode!))).on('error', rej).end());
    expect(status).toBe(403);
  });

  it('imports a roster from the dashboard API and invitations set passwords once', async () => {
    const res = await teacher.api('/api/roster', 'name,email\nAlice Liddell,alice@uni.edu\n"Bob, Jr.",bob@uni.edu\n', 'text/csv');
    expect(res.status).toBe(200);
    links = (await res.json()) as typeof links;
    expect(links.map((l) => l.email)).toEqual(['alice@uni.edu', 'bob@uni.edu']);
    alice = new Browser(cls.base);
    expect((await alice.setPassword(links[0]!.link, 'short')).status).toBe(400);
    const ok = await alice.setPassword(links[0]!.link, PW);
    expect(ok.status).toBe(303);
    const cookie = ok.headers.getSetCookie().find((c) => c.startsWith('vnetlab_classroom='))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    // The link works once.
    expect((await new Browser(cls.base).fetch(new URL(links[0]!.link).pathname + new URL(links[0]!.link).search)).status).toBe(404);
    bob = new Browser(cls.base);
    expect((await bob.setPassword(links[1]!.link, PW)).status).toBe(303);
    // Passwords are stored as scrypt hashes only.
    const stored = readFileSync(join(cls.config.dataDir, 'accounts.json'), 'utf8');
    expect(stored).not.toContain(PW);
    expect(stored).toContain('scrypt$');
  });

  it('students cannot use instructor APIs; instructor POSTs need the CSRF token and our Origin', async () => {
    expect((await alice.fetch('/api/class')).status).toBe(403);
    expect((await alice.api('/api/roster', 'Eve,eve@uni.edu')).status).toBe(403);
    expect((await alice.fetch('/dashboard')).status).toBe(403);
    const noToken = await teacher.fetch('/api/roster', { method: 'POST', body: 'Eve,eve@uni.edu', headers: { 'Content-Type': 'text/csv' } });
    expect(noToken.status).toBe(403);
    const wrongOrigin = await teacher.fetch('/api/roster', { method: 'POST', body: 'Eve,eve@uni.edu', headers: { 'X-CSRF-Token': teacher.csrf }, origin: 'https://evil.example' });
    expect(wrongOrigin.status).toBe(403);
    expect(cls.server.accounts.byEmail('eve@uni.edu')).toBeUndefined();
    // A login form posted from another site (no matching pre-login cookie) is refused.
    const csrfless = await new Browser(cls.base).post('/login', { csrf: 'x', email: 'alice@uni.edu', password: PW });
    expect(csrfless.status).toBe(403);
    await expect(alice.rpc('https://evil.example')).rejects.toThrow(/403/);
  });

  it('limits login attempts per account', async () => {
    const mallory = new Browser(cls.base);
    for (let i = 0; i < 5; i++) expect((await mallory.login('bob@uni.edu', `wrong password ${i}`)).status).toBe(401);
    const blocked = await mallory.login('bob@uni.edu', PW);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    // Others still log in.
    expect((await new Browser(cls.base).login('alice@uni.edu', PW)).status).toBe(303);
  });

  it('logout needs the CSRF token and ends the session', async () => {
    const b = new Browser(cls.base);
    expect((await b.login('alice@uni.edu', PW)).status).toBe(303);
    expect((await b.post('/logout', { csrf: 'nope' })).status).toBe(403);
    expect((await b.post('/logout', { csrf: b.csrf })).status).toBe(303);
    expect((await b.fetch('/api/me')).status).toBe(401);
  });

  it('gives each student a copy without hidden checks, and no way into another student\'s lab', async () => {
    const home = await alice.fetch('/');
    expect(await home.text()).toContain('/open/two-hosts');
    const open = await alice.fetch('/open/two-hosts');
    const aliceLab = decodeURIComponent(/lab=([^&]+)/.exec(open.headers.get('location')!)![1]!);
    const bobLab = decodeURIComponent(/lab=([^&]+)/.exec((await bob.fetch('/open/two-hosts')).headers.get('location')!)![1]!);
    expect(aliceLab).not.toBe(bobLab);
    // The copy on disk and what the browser receives hold no hidden check nor its expected value.
    expect(readFileSync(join(aliceLab, 'lab.yaml'), 'utf8')).not.toContain('SECRET-EXPECTED-VALUE');
    const a = await alice.rpc();
    const opened = await a.call<OpenLabResult>('openLab', aliceLab);
    expect(opened.model!.checks.map((c) => c.id)).not.toContain('secret-arp');
    expect(JSON.stringify(opened)).not.toContain('SECRET');

    await a.call('startLab', aliceLab);
    const att = await a.call<{ consoleId: string }>('attachConsole', aliceLab, 'pc1');
    await a.call('consoleInput', att.consoleId, 'ls\r');

    // Bob tries everything on Alice's lab, and on the instructor's original.
    const b = await bob.rpc();
    const original = cls.config.labs[0]!.path;
    for (const target of [aliceLab, `${bobLab}/../../../${aliceLab.split('/').slice(-3).join('/')}`, original, '/etc', '~/../..']) {
      await expect(b.call('openLab', target)).rejects.toThrow(/outside the folders/);
      await expect(b.call('status', target)).rejects.toThrow(/outside the folders/);
      await expect(b.call('attachConsole', target, 'pc1')).rejects.toThrow(/outside the folders/);
      await expect(b.call('stopLab', target)).rejects.toThrow(/outside the folders/);
      await expect(b.call('runChecks', target)).rejects.toThrow(/outside the folders/);
      await expect(b.call('listFolder', target)).rejects.toThrow(/outside the folders/);
      await expect(b.call('machine', target, 'pc1', 'crash')).rejects.toThrow(/outside the folders/);
      await expect(b.call('startCapture', target, 'pc1:eth0')).rejects.toThrow(/outside the folders/);
    }
    await expect(b.call('saveLab', aliceLab, opened.model, 'yaml')).rejects.toThrow(/outside the folders/);
    // Alice's console id means nothing in Bob's session.
    await expect(b.call('consoleInput', att.consoleId, 'rm -rf /\r')).rejects.toThrow(/not attached/);
    // Unknown and prototype method names are refused.
    await expect(b.call('constructor')).rejects.toThrow(/unknown method/);
    await expect(b.call('__proto__')).rejects.toThrow(/unknown method/);
    // Bob's listing shows only his own folder.
    const listing = await b.call<{ roots: string[] }>('listFolder');
    expect(listing.roots).toEqual([bobLab.replace(/\/two-hosts$/, '')]);
    expect(cls.runtime.running.has(aliceLab)).toBe(true);

    // Check my work: visible checks only, graded by the instructor's list (not the copy's).
    writeFileSync(join(aliceLab, 'lab.yaml'), readFileSync(join(aliceLab, 'lab.yaml'), 'utf8').replace(/points: 1/g, 'points: 100'));
    const report = await a.call<{ results: { id: string }[]; maxScore: number }>('runChecks', aliceLab);
    expect(report.results.map((r) => r.id)).not.toContain('secret-arp');
    expect(report.maxScore).toBe(3);
    expect(JSON.stringify(report)).not.toContain('SECRET');

    // The instructor grades with the hidden check too, on the server.
    const aliceId = cls.server.accounts.byEmail('alice@uni.edu')!.id;
    const graded = (await (await teacher.api(`/api/students/${aliceId}/labs/two-hosts/grade`)).json()) as { maxScore: number; results: { id: string }[] };
    expect(graded.maxScore).toBe(4);
    expect(graded.results.map((r) => r.id)).toContain('secret-arp');
    // ...and a student cannot.
    expect((await bob.api(`/api/students/${aliceId}/labs/two-hosts/grade`)).status).toBe(403);

    // Watching is read-only, for instructors only.
    const watchUrl = `${cls.base.replace(/^http/, 'ws')}/watch?student=${aliceId}&lab=two-hosts&machine=pc1`;
    const refused = new WebSocket(watchUrl, { headers: { Cookie: bob.cookieHeader(), Origin: cls.base } });
    await expect(new Promise((res, rej) => (refused.once('open', res), refused.once('unexpected-response', (_q, r) => rej(new Error(String(r.statusCode))))))).rejects.toThrow('403');
    const watch = new WebSocket(watchUrl, { headers: { Cookie: teacher.cookieHeader(), Origin: cls.base } });
    let seen = '';
    watch.on('message', (m) => (seen += JSON.parse(String(m)).data));
    await new Promise((r) => watch.once('open', r));
    await expect.poll(() => seen, { timeout: 5000 }).toContain('login:');
    await a.call('consoleInput', att.consoleId, 'echo visible\r');
    await expect.poll(() => seen, { timeout: 5000 }).toContain('echo visible');
    watch.send(JSON.stringify({ id: 1, method: 'consoleInput', params: [att.consoleId, 'evil'] }));
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).not.toContain('evil');
    watch.close();

    // The dashboard shows who runs what, memory, last score; grades export as CSV.
    const view = (await (await teacher.fetch('/api/class')).json()) as { students: { email: string; running: { lab: string; memoryBytes: number }[]; scores: Record<string, { score: number; maxScore: number }> }[] };
    const row = view.students.find((s) => s.email === 'alice@uni.edu')!;
    expect(row.running[0]!.lab).toBe('two-hosts');
    expect(row.running[0]!.memoryBytes).toBeGreaterThan(0);
    expect(row.scores['two-hosts']!.maxScore).toBe(4);
    const csv = await (await teacher.fetch('/api/grades.csv')).text();
    expect(csv.split('\r\n')[0]).toBe('name,email,two-hosts score,two-hosts max');
    expect(csv).toContain('Alice Liddell,alice@uni.edu,3,4');
    expect(csv).toContain('"Bob, Jr.",bob@uni.edu,,');
    const junit = await (await teacher.fetch(`/api/students/${aliceId}/labs/two-hosts/junit.xml`)).text();
    expect(junit).toContain('<testsuite');

    // Reset: the copy is the instructor's again (the edit is gone), the lab is stopped.
    expect((await teacher.api(`/api/students/${aliceId}/labs/two-hosts/reset`)).status).toBe(200);
    expect(readFileSync(join(aliceLab, 'lab.yaml'), 'utf8')).not.toContain('points: 100');
    expect(readFileSync(join(aliceLab, 'lab.yaml'), 'utf8')).not.toContain('SECRET');
    expect(cls.runtime.running.has(aliceLab)).toBe(false);
    a.close();
    b.close();
  });

  it('quota per student, a queue per server', async () => {
    // two-hosts = 2 machines, 128 MiB. Quota 2 machines: a second lab of Alice's own is refused at once.
    const a = await alice.rpc();
    const aliceLab = (await alice.fetch('/api/me').then((r) => r.json()) as { labs: { path: string }[] }).labs[0]!.path;
    await a.call('startLab', aliceLab);
    const own = join(aliceLab, '..', 'mine');
    const { cpSync } = await import('node:fs');
    cpSync(aliceLab, own, { recursive: true });
    await expect(a.call('startLab', own)).rejects.toThrow(/quota reached/);
    // Capacity 4 machines: Alice (2) + Bob (2) fill it; Carol waits in the queue, with her position.
    const b = await bob.rpc();
    const bobLab = (await bob.fetch('/api/me').then((r) => r.json()) as { labs: { path: string }[] }).labs[0]!.path;
    await b.call('startLab', bobLab);
    const carol = await enrol(cls, 'Carol', 'carol@uni.edu', PW);
    const carolLab = decodeURIComponent(/lab=([^&]+)/.exec((await carol.fetch('/open/two-hosts')).headers.get('location')!)![1]!);
    const c = await carol.rpc();
    let started = false;
    const start = c.call('startLab', carolLab).then(() => (started = true));
    await expect.poll(() => c.pushes.some((p) => p.kind === 'event' && p.event.type === 'progress' && /number 1 in the queue/.test(p.event.message)), { timeout: 5000 }).toBe(true);
    expect(await (await carol.fetch('/')).text()).toContain('number 1 in the queue');
    expect(started).toBe(false);
    // Bob stops: Carol's lab starts.
    await b.call('stopLab', bobLab);
    await start;
    expect(cls.runtime.running.has(carolLab)).toBe(true);
    for (const [rpc, lab] of [[a, aliceLab], [c, carolLab]] as const) await rpc.call('stopLab', lab);
    a.close();
    b.close();
    c.close();
  });

  it('vnetlab classroom --help', async () => {
    const r = await runCli(['classroom', '--help'], { env: process.env, cwd: REPO });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('classroom serve');
    const bad = await runCli(['classroom', 'serve'], { env: process.env, cwd: REPO });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--config');
  });
});

describe('idle stop', () => {
  it('stops an idle student\'s labs, keeps their copy and frees their slot', async () => {
    const cls = await startTestClass([], { idleStopMs: 600 });
    try {
      const s = await enrol(cls, 'Dora', 'dora@uni.edu', PW);
      const lab = decodeURIComponent(/lab=([^&]+)/.exec((await s.fetch('/open/two-hosts')).headers.get('location')!)![1]!);
      const rpc = await s.rpc();
      await rpc.call('startLab', lab);
      const id = cls.server.accounts.byEmail('dora@uni.edu')!.id;
      expect(cls.server.admission.isRunning(id, lab)).toBe(true);
      await expect.poll(() => cls.runtime.stops.includes(lab), { timeout: 10_000 }).toBe(true);
      await expect.poll(() => cls.server.admission.isRunning(id, lab), { timeout: 5000 }).toBe(false);
      expect(existsSync(join(lab, 'lab.yaml'))).toBe(true);
      rpc.close();
    } finally {
      await cls.close();
    }
  }, 30_000);
});
