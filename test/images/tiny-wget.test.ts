// busybox wget -T in the tiny image (issue 18). Debian's busybox-static is built without wget timeouts,
// yet its wget still accepts -T and stores the number through a NULL pointer: `wget -T 2 …` died of
// SIGSEGV (exit 139) before it even connected. The recipe (src/main/images/rootfs/tiny.ts) makes -T an
// ignored option of the guest's busybox. Checked on the host's busybox and on a lab of two tiny guests.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ignoreWgetTimeoutOption } from '../../src/main/images/rootfs/tiny.ts';
import { testEnv, type TestEnv } from '../runtime/helpers.ts';

const work = mkdtempSync(join(tmpdir(), 'vnl-wget-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const hostBusybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => spawnSync(p, ['true']).status === 0);
const hostHasNoTimeout = hostBusybox !== undefined && !/-T SEC/.test(spawnSync(hostBusybox, ['wget', '--help'], { encoding: 'utf8' }).stderr ?? '');

describe('the patch of busybox wget -T', () => {
  it('takes the + out of the -T option and keeps the rest of the literal, one byte later', () => {
    const before = Buffer.from('xx\0ftp error: %s\0^cqSO:o:P:Y:U:T:+t:n::\0-1:\xff::\0con', 'latin1');
    const after = ignoreWgetTimeoutOption(before)!;
    expect(after.length).toBe(before.length);
    expect(after.toString('latin1')).toBe('xx\0ftp error: %s\0^cqSO:o:P:Y:U:T:t:n::\0-1:\xff::\0\0con');
    expect(before.toString('latin1')).toContain('T:+'); // the input is left as it was
    expect(ignoreWgetTimeoutOption(Buffer.from('no such option string\0'))).toBeUndefined();
    const twice = Buffer.concat([before, before]);
    expect(ignoreWgetTimeoutOption(twice)).toBeUndefined();
  });

  it.skipIf(!hostHasNoTimeout)("on the host's busybox-static: -T crashes it, the patched copy fails cleanly", () => {
    const original = spawnSync(hostBusybox!, ['wget', '-T', '2', 'http://127.0.0.1:1/'], { encoding: 'utf8' });
    expect(original.signal).toBe('SIGSEGV'); // what the guests had
    const copy = join(work, 'busybox');
    writeFileSync(copy, ignoreWgetTimeoutOption(readFileSync(hostBusybox!))!);
    chmodSync(copy, 0o755);
    const patched = spawnSync(copy, ['wget', '-T', '2', 'http://127.0.0.1:1/'], { encoding: 'utf8' });
    expect(patched.signal).toBeNull();
    expect(patched.status).toBe(1);
    expect(patched.stderr).toMatch(/Connection refused/);
    // Its other options still work: --spider, --header (a list), -O.
    const usage = spawnSync(copy, ['wget', '--help'], { encoding: 'utf8' });
    expect(usage.stderr).toMatch(/--header STR/);
  });
});

const LAB_YAML = `lab:
  name: wget
machines:
  pc:
    image: tiny
    memory: 64
    interfaces:
      - {domain: lan, ipv4: 10.0.0.1/24}
  srv:
    image: tiny
    memory: 64
    interfaces:
      - {domain: lan, ipv4: 10.0.0.2/24}
    startup: |
      mkdir -p /www
      echo hello-from-srv > /www/index.html
      busybox httpd -p 80 -h /www
domains:
  lan: {kind: switch}
`;

describe('wget -T on real tiny guests (issue 18)', () => {
  let t: TestEnv;
  let lab: string;
  const exec = (command: string) => t.cli(['exec', '-l', lab, 'pc', '--timeout', '30', '--', command]);

  beforeAll(async () => {
    t = testEnv();
    lab = t.lab('wget', { 'lab.yaml': LAB_YAML });
    const started = await t.cli(['start', lab]);
    expect(started.code).toBe(0);
  });

  afterAll(async () => {
    await t?.dispose();
  });

  it('fetches a page from busybox httpd in the other guest', async () => {
    const r = await exec('wget -T 2 -q -O - http://10.0.0.2/index.html');
    expect(r).toMatchObject({ code: 0, stdout: 'hello-from-srv\n' });
    const direct = await exec('busybox wget -T 2 -q -O - http://10.0.0.2/index.html');
    expect(direct).toMatchObject({ code: 0, stdout: 'hello-from-srv\n' });
  });

  it('fails cleanly where nothing listens: an error and exit 1, not a segfault (139)', async () => {
    const r = await exec('wget -T 2 http://10.0.0.2:81/');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/can't connect to remote host \(10\.0\.0\.2\): Connection refused/);
    const direct = await exec('busybox wget -T 2 http://10.0.0.2:81/');
    expect(direct.code).toBe(1);
    expect(direct.stderr).toMatch(/Connection refused/);
  });

  it('fails cleanly towards an address nobody has, a network with no route, and a name with no DNS', async () => {
    const r = await exec('wget -T 2 http://10.0.0.9/; echo "exit $?"; wget -T 2 http://10.9.9.9/; echo "exit $?"; wget -T 2 http://nosuchhost/; echo "exit $?"');
    expect(r.stdout).toBe('exit 1\nexit 1\nexit 1\n');
    expect(r.stderr).toMatch(/\(10\.0\.0\.9\): No route to host/);
    expect(r.stderr).toMatch(/\(10\.9\.9\.9\): Network is unreachable/);
    expect(r.stderr).toMatch(/bad address 'nosuchhost'/);
  });
});
