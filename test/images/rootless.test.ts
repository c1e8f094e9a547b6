// The debian image built by a normal user (no root, no sudo: mmdebstrap --mode=unshare), then a lab
// started on it by that user, through the real `vnetlab` command in a process of that user.
// Run as root, the test makes a throwaway user with its own HOME (useradd gives it subordinate ids, as
// Debian does for every new user) and deletes it afterwards; run as a normal user, it is that user.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostPaths } from '../../src/main/paths.ts';

const root = process.getuid?.() === 0;
const cli = resolve(import.meta.dirname, '../../bin/vnetlab.mjs');
const lab = resolve(import.meta.dirname, '../../labs/two-hosts');

function which(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

/** Why this host cannot run the test, in words a user accepts; undefined when it can. */
function whyNot(): string | undefined {
  if (!which('mmdebstrap') || !which('newuidmap')) return 'mmdebstrap and uidmap are not installed (sudo apt-get install mmdebstrap uidmap)';
  if (root && !which('useradd')) return 'running as root without useradd, so there is no normal user to build as';
  if (spawnSync('unshare', ['--user', '--map-root-user', 'true'], { stdio: 'ignore' }).status !== 0) return 'this kernel refuses unprivileged user namespaces (kernel.unprivileged_userns_clone=0 or an AppArmor restriction)';
  if (!root) {
    const me = userInfo().username;
    if (!readFileSync('/etc/subuid', 'utf8').split('\n').some((l) => l.startsWith(`${me}:`))) return `user ${me} has no subordinate ids in /etc/subuid (sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${me})`;
  }
  return undefined;
}

const reason = whyNot();
const user = root ? `vnlrl${process.pid % 100000}` : userInfo().username;
const work = mkdtempSync(join(tmpdir(), 'vnl-rl-'));
const home = join(work, 'home');

/** `vnetlab ARGS` as the normal user, with its own HOME (images, state, runtime dirs all under it). */
function asUser(args: string[], extra: Record<string, string> = {}, timeout = 600_000) {
  const env = { PATH: process.env.PATH!, HOME: home, LANG: 'C.UTF-8', VNETLAB_RUNTIME_DIR: join(home, 'r'), ...extra };
  const argv = root ? ['runuser', '-u', user, '--', 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, cli, ...args] : [process.execPath, cli, ...args];
  return spawnSync(argv[0]!, argv.slice(1), { env: root ? { PATH: process.env.PATH } : { ...process.env, ...env }, encoding: 'utf8', timeout, cwd: work });
}

describe.skipIf(reason !== undefined)(`debian image without root${reason ? ` (skipped: ${reason})` : ''}`, () => {
  beforeAll(() => {
    chmodSync(work, 0o755);
    if (root) {
      execFileSync('useradd', ['--home-dir', home, '--create-home', '--shell', '/bin/sh', user]);
      // Package downloads the root build already made: seeded into the user's own cache (saves minutes, changes nothing built).
      const seed = join(hostPaths(process.env).imageDir, 'build-cache/debian');
      const cache = join(home, '.cache/vnetlab/images/build-cache/debian/mmdebstrap');
      mkdirSync(cache, { recursive: true });
      for (const sub of ['apt', 'debs']) {
        const dir = join(seed, sub);
        if (existsSync(dir)) for (const f of readdirSync(dir).filter((n) => n.endsWith('.deb'))) copyFileSync(join(dir, f), join(cache, f));
      }
      execFileSync('chown', ['-R', `${user}:${user}`, home]);
    } else mkdirSync(home, { recursive: true });
  });

  afterAll(() => {
    asUser(['stop', lab], {}, 60_000);
    if (root) spawnSync('userdel', ['--remove', user], { stdio: 'ignore' });
    rmSync(work, { recursive: true, force: true });
  });

  it('a normal user builds the debian image, owned by the user, with guest owners inside', () => {
    const r = asUser(['image', 'build', 'debian']);
    expect(r.stderr).toMatch(/mmdebstrap --mode=unshare .* no root/);
    expect(r.stderr).toMatch(/image 'debian' built in/);
    expect(r.status).toBe(0);
    const image = join(home, '.cache/vnetlab/images/debian.ext4');
    expect(r.stdout.trim()).toBe(image);
    // Nothing of the build is left: no staging folder (its root belonged to subordinate ids).
    expect(readdirSync(join(home, '.cache/vnetlab/images')).filter((f) => f.startsWith('.'))).toEqual([]);
    // Owners and device nodes inside the image, read with debugfs (no mount needed).
    const stat = (path: string) => execFileSync('debugfs', ['-R', `stat ${path}`, image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(stat('/var/log/frr')).toMatch(/User:\s+(\d+)\s+Group:\s+(\d+)/);
    expect(stat('/var/log/frr')).not.toMatch(/User:\s+0\s/); // frr's, not root's
    expect(stat('/etc/passwd')).toMatch(/User:\s+0\s+Group:\s+0\s/);
    expect(stat('/usr/sbin/vnetlab-agent')).toMatch(/User:\s+0\s+Group:\s+0\s/);
    expect(stat('/dev/null')).toMatch(/Type: character special/);
    const status = JSON.parse(asUser(['image', 'list', '--json']).stdout) as { name: string; stale: string | null }[];
    expect(status.find((i) => i.name === 'debian')!.stale).toBeNull();
  }, 600_000); // a Debian root fetched and unpacked: 80 s on a quiet host, minutes on a busy one

  it('the same user starts a lab on it: Debian guests boot, ping each other, run FRR', () => {
    const r = asUser(['start', lab], { VNETLAB_IMAGE_OVERRIDE: 'debian' });
    expect(r.stderr + r.stdout).not.toMatch(/building image/);
    expect(r.status, r.stderr).toBe(0);
    const ping = asUser(['exec', '-l', lab, 'pc1', '--', 'ping', '-c', '1', '-W', '5', '10.0.0.2']);
    expect(ping.stdout).toMatch(/1 packets transmitted, 1 received/); // iputils' wording: a Debian guest, not busybox
    const frr = asUser(['exec', '-l', lab, 'pc2', '--', 'sh', '-c', 'cat /etc/debian_version; /usr/lib/frr/zebra --version | head -1']);
    expect(frr.stdout).toMatch(/^12\.\d+\n/);
    expect(frr.stdout).toMatch(/zebra version/);
    expect(asUser(['stop', lab], {}).status).toBe(0);
  });
});

