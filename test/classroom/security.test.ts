// Issue 18, the classroom's findings: login limits raced by a concurrent burst (item 2), a planted
// socket folder (item 3), a forged X-Forwarded-For (item 4), a lab started as `<lab>/.` escaping the
// quota after the reconciliation (item 5), and WebSockets that outlived logout and a new password
// (item 6). The front door, the worker (its socket and protocol) and the `vnetlab classroom serve`
// process are real; the runtime behind the service is the Backends seam (helpers.ts).
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseClassroomConfig } from '../../src/main/classroom/config.ts';
import { Browser, enrol, REPO, type Rpc, startTestClass, type TestClass } from './helpers.ts';

const PW = 'correct horse battery';

async function labOf(b: Browser, id = 'two-hosts'): Promise<string> {
  return decodeURIComponent(/lab=([^&]+)/.exec((await b.fetch(`/open/${id}`)).headers.get('location')!)![1]!);
}

/** A login form post with a given X-Forwarded-For (a client talking to the front door directly). */
async function loginFrom(b: Browser, csrf: string, email: string, password: string, forwardedFor?: string): Promise<number> {
  const res = await b.fetch('/login', {
    method: 'POST',
    body: new URLSearchParams({ csrf, email, password }).toString(),
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...(forwardedFor ? { 'X-Forwarded-For': forwardedFor } : {}) },
  });
  await res.arrayBuffer();
  return res.status;
}

const count = (statuses: number[], s: number) => statuses.filter((x) => x === s).length;

describe('login limits under a concurrent burst (item 2)', () => {
  let cls: TestClass;
  beforeAll(async () => {
    cls = await startTestClass();
    await enrol(cls, 'Bob', 'bob@uni.edu', PW);
  }, 60_000);
  afterAll(async () => {
    await cls?.close();
  });

  it('30 logins at once: at most the limit (5) are evaluated, the rest refused with 429', async () => {
    const mallory = new Browser(cls.base);
    const csrf = await mallory.formCsrf();
    const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => loginFrom(mallory, csrf, 'bob@uni.edu', `wrong guess ${i}`)));
    expect(count(statuses, 401)).toBe(5);
    expect(count(statuses, 429)).toBe(25);
    // The right password now waits too; the account is not opened by the burst.
    expect(await loginFrom(mallory, csrf, 'bob@uni.edu', PW)).toBe(429);
  });
});

describe('X-Forwarded-For is believed only from the proxy (item 4)', () => {
  it('config: trusted_proxies takes addresses and ranges, only with behind_proxy', () => {
    const base = ['data_dir: /tmp/x', `labs: [{id: two-hosts, path: ${join(REPO, 'labs', 'two-hosts')}}]`];
    expect(parseClassroomConfig([...base, 'behind_proxy: true'].join('\n'), 'c.yaml').trustedProxies).toEqual(['127.0.0.1', '::1']);
    expect(parseClassroomConfig([...base, 'behind_proxy: true', 'trusted_proxies: [10.42.0.0/16, "fd00::1"]'].join('\n'), 'c.yaml').trustedProxies).toEqual(['10.42.0.0/16', 'fd00::1']);
    expect(() => parseClassroomConfig([...base, 'behind_proxy: true', 'trusted_proxies: [proxy.local]'].join('\n'), 'c.yaml')).toThrow(/trusted_proxies\[0\]: must be an IP address or a CIDR range/);
    expect(() => parseClassroomConfig([...base, 'trusted_proxies: [127.0.0.1]'].join('\n'), 'c.yaml')).toThrow(/trusted_proxies: is used only with behind_proxy: true/);
  });

  it('a direct client (not the configured proxy) cannot dodge the per-address limit with a new X-Forwarded-For each time', async () => {
    const cls = await startTestClass(['behind_proxy: true', 'trusted_proxies: [192.0.2.10]']);
    try {
      const b = new Browser(cls.base);
      const csrf = await b.formCsrf();
      // 31 unknown accounts (the per-account limit never bites), each from a "different" forged address.
      const statuses = await Promise.all(Array.from({ length: 31 }, (_, i) => loginFrom(b, csrf, `nobody${i}@uni.edu`, 'wrong password', `198.51.100.${i + 1}`)));
      expect(count(statuses, 401)).toBe(30);
      expect(count(statuses, 429)).toBe(1);
    } finally {
      await cls.close();
    }
  }, 60_000);

  it('from the proxy (loopback by default) the forwarded address is the client\'s', async () => {
    const cls = await startTestClass(['behind_proxy: true']);
    try {
      const b = new Browser(cls.base);
      const csrf = await b.formCsrf();
      const statuses = await Promise.all(Array.from({ length: 31 }, (_, i) => loginFrom(b, csrf, `nobody${i}@uni.edu`, 'wrong password', '198.51.100.7')));
      expect(count(statuses, 429)).toBe(1);
      // Another client behind the same proxy is not blocked by the first one's failures.
      expect(await loginFrom(b, csrf, 'someone@uni.edu', 'wrong password', '203.0.113.9')).toBe(401);
    } finally {
      await cls.close();
    }
  }, 60_000);
});

describe('lab paths are one id at the edge (item 5)', () => {
  let cls: TestClass;
  let alice: Browser;
  beforeAll(async () => {
    // Quota 2 machines = one two-hosts; a reservation older than 400 ms (5 min in a real class) is
    // released by the reconciliation (every 200 ms) when the worker does not list its lab as running.
    cls = await startTestClass(['quota: {machines: 2, memory_mb: 512}', 'capacity: {machines: 10, memory_mb: 4096}'], { reconcileGraceMs: 400, moreLabs: ['second'] });
    alice = await enrol(cls, 'Alice', 'alice@uni.edu', PW);
  }, 60_000);
  afterAll(async () => {
    await cls?.close();
  });

  it('a lab started as <lab>/. keeps its reservation through the reconciliation: a second lab is past the quota', async () => {
    const aliceId = cls.server.accounts.byEmail('alice@uni.edu')!.id;
    const first = await labOf(alice);
    const second = await labOf(alice, 'second');
    const a = await alice.rpc();
    try {
      await a.call('startLab', `${first}/.`);
      // Reconciliation passes (every 200 ms) compare reservations with the labs the worker runs.
      await new Promise((r) => setTimeout(r, 1500));
      expect(cls.server.admission.snapshot().running.map((r) => [r.student, r.lab])).toEqual([[aliceId, first]]);
      await expect(a.call('startLab', second)).rejects.toThrow(/quota reached/);
      expect(cls.runtime.running.has(second)).toBe(false);
      // `<lab>/`, `./<lab>` and `~/<lab>` are the same lab: a start again, not a second lab.
      for (const alias of [`${first}/`, './two-hosts', '~/two-hosts', `${first}//.`]) await a.call('startLab', alias);
      expect(cls.server.admission.snapshot().running).toHaveLength(1);
      // Stopping by another spelling gives the slot back.
      await a.call('stopLab', './two-hosts/');
      expect(cls.server.admission.snapshot().running).toHaveLength(0);
      await a.call('startLab', second);
      await a.call('stopLab', second);
    } finally {
      a.close();
    }
  });

  it('a lab deeper in the labs folder (which the workers do not list) is refused to start, with a clear message', async () => {
    const first = await labOf(alice);
    const nested = join(first, 'inner');
    mkdirSync(nested);
    writeFileSync(join(nested, 'lab.yaml'), 'machines:\n  pc1: {image: tiny, interfaces: [A]}\n');
    const a = await alice.rpc();
    try {
      await expect(a.call('startLab', nested)).rejects.toThrow(/a lab runs only from a folder directly in your labs folder/);
      await expect(a.call('machine', nested, 'pc1', 'start')).rejects.toThrow(/directly in your labs folder/);
      expect(cls.server.admission.snapshot().running).toHaveLength(0);
    } finally {
      a.close();
    }
  });
});

describe('logout and a new password close the account\'s WebSockets (item 6)', () => {
  let cls: TestClass;
  beforeAll(async () => {
    cls = await startTestClass();
    await enrol(cls, 'Carol', 'carol@uni.edu', PW);
  }, 60_000);
  afterAll(async () => {
    await cls?.close();
  });

  async function loggedIn(): Promise<{ b: Browser; rpc: Rpc }> {
    const b = new Browser(cls.base);
    expect((await b.login('carol@uni.edu', PW)).status).toBe(303);
    const rpc = await b.rpc();
    await rpc.call('listLabs'); // a working session
    return { b, rpc };
  }

  it('after logout, the socket opened with that login is closed and a call on it fails', async () => {
    const { b, rpc } = await loggedIn();
    const other = await loggedIn(); // the same account in another browser: still logged in
    expect((await b.post('/logout', { csrf: b.csrf })).status).toBe(303);
    const closed = await Promise.race([rpc.closed, new Promise((r) => setTimeout(() => r('still open'), 5000))]);
    expect(closed).toEqual({ code: 4001, reason: 'the login session ended: log in again' });
    await expect(rpc.call('listLabs')).rejects.toThrow(/closed/);
    await other.rpc.call('listLabs');
    other.rpc.close();
  });

  it('after a new password, every socket of the account is closed', async () => {
    const one = await loggedIn();
    const two = await loggedIn();
    const lab = await labOf(one.b);
    await one.rpc.call('startLab', lab);
    const { token } = cls.server.accounts.invite('Carol', 'carol@uni.edu', 'student');
    const fresh = new Browser(cls.base);
    expect((await fresh.setPassword(`${cls.base}/invite?token=${token}`, 'a new password here')).status).toBe(303);
    for (const s of [one, two]) {
      const closed = await Promise.race([s.rpc.closed, new Promise((r) => setTimeout(() => r('still open'), 5000))]);
      expect(closed).toMatchObject({ code: 4001 });
      await expect(s.rpc.call('stopLab', lab)).rejects.toThrow(/closed/);
    }
    expect(cls.runtime.running.has(lab)).toBe(true); // nothing the old sockets sent was done
    const now = await fresh.rpc();
    await now.call('stopLab', lab);
    now.close();
  });
});

describe('a planted socket folder is refused by `classroom serve` (item 3)', () => {
  const uid = process.getuid!();
  let base: string;
  beforeAll(() => {
    base = mkdtempSync(join(tmpdir(), 'vcsec-'));
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  /** A classroom whose socket folder is `$TMPDIR/vncr-<uid>-<hash>` in a sticky, world-writable TMPDIR of its own (like /tmp). */
  function setup(name: string): { dir: string; config: string; planted: string; env: NodeJS.ProcessEnv } {
    const dir = join(base, name);
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp, { recursive: true });
    chmodSync(tmp, 0o1777);
    const dataDir = join(dir, 'data');
    const config = join(dir, 'classroom.yaml');
    writeFileSync(config, [`data_dir: ${dataDir}`, 'listen: {host: 127.0.0.1, port: 0}', `labs: [{id: two-hosts, path: ${join(REPO, 'labs', 'two-hosts')}}]`].join('\n'));
    const hash = createHash('sha256').update(dataDir).digest('hex').slice(0, 8);
    const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp, VNETLAB_STATE_DIR: join(dir, 'state') };
    delete env.XDG_RUNTIME_DIR;
    return { dir, config, planted: join(tmp, `vncr-${uid}-${hash}`), env };
  }

  /** Runs `vnetlab classroom serve`; a server that starts is stopped after `ms` (that is the failure). */
  function serve(config: string, env: NodeJS.ProcessEnv, ms = 30_000): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [join(REPO, 'bin', 'vnetlab.mjs'), 'classroom', 'serve', '--config', config], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      child.stderr!.on('data', (d) => (out += d));
      const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), ms); // its own group: only what we started
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, out });
      });
    });
  }

  it('a symlink in its place: refused with a clear message, the target untouched', async () => {
    const { dir, config, planted, env } = setup('link');
    const target = join(dir, 'victim');
    mkdirSync(target);
    chmodSync(target, 0o755);
    symlinkSync(target, planted);
    const r = await serve(config, env);
    expect(r.code).toBe(3);
    expect(r.out).toContain(`refusing to use ${planted}: it is a symbolic link`);
    expect(r.out).not.toMatch(/\n\s+at /); // no stack trace
    expect(statSync(target).mode & 0o7777).toBe(0o755);
    expect(readdirSync(target)).toEqual([]);
    expect(lstatSync(planted).isSymbolicLink()).toBe(true);
  }, 60_000);

  it.skipIf(uid !== 0)('a folder owned by someone else: refused, left as it is', async () => {
    const { config, planted, env } = setup('other');
    mkdirSync(planted, { mode: 0o755 });
    chmodSync(planted, 0o755);
    chownSync(planted, 65534, 65534);
    const r = await serve(config, env);
    expect(r.code).toBe(3);
    expect(r.out).toContain(`refusing to use ${planted}: it belongs to uid 65534`);
    const st = statSync(planted);
    expect([st.uid, st.mode & 0o7777]).toEqual([65534, 0o755]);
    expect(readdirSync(planted)).toEqual([]);
  }, 60_000);

  it('a folder others may write to: refused', async () => {
    const { config, planted, env } = setup('open');
    mkdirSync(planted);
    chmodSync(planted, 0o777);
    const r = await serve(config, env);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/refusing to use .*vncr-.*: its mode 0777 lets other users write to it/);
    expect(statSync(planted).mode & 0o7777).toBe(0o777);
  }, 60_000);
});
