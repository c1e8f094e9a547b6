// `vnetlab image kernel|list|build` through the real CLI entry point: output, exit codes, messages.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/host.ts';

const work = mkdtempSync(join(tmpdir(), 'vnl-imgcli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function vnetlab(args: string[], extraEnv: Record<string, string> = {}) {
  const env = { ...process.env, HOME: work, VNETLAB_IMAGE_DIR: join(work, 'images'), ...extraEnv };
  const { code, stdout: out, stderr: err } = await runCli(args, { env, cwd: work });
  return { code, out, err };
}

describe('vnetlab image', () => {
  it('kernel: shows the UML kernel, its version and modules', async () => {
    const r = await vnetlab(['image', 'kernel', '--json']);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.out);
    expect(info.binary).toBe('/usr/bin/linux.uml');
    expect(info.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(info.modulesDir).toBe(`/usr/lib/uml/modules/${info.version}`);
  });

  it('kernel: a VNETLAB_KERNEL that does not exist is an environment error (exit 3) that says what to do', async () => {
    const r = await vnetlab(['image', 'kernel'], { VNETLAB_KERNEL: join(work, 'no-such-kernel') });
    expect(r.code).toBe(3);
    expect(r.err).toContain('no-such-kernel (from VNETLAB_KERNEL) does not exist');
    expect(r.err).toContain('hint: fix VNETLAB_KERNEL');
    expect(r.err).not.toMatch(/at .*\.ts:\d+/); // no stack trace
  });

  it('list: every manifest, and why an image must be built', async () => {
    const r = await vnetlab(['image', 'list', '--json']);
    expect(r.code).toBe(0);
    const images = JSON.parse(r.out) as { name: string; built: boolean; stale: string | null }[];
    expect(images.map((i) => i.name)).toEqual(['debian', 'tiny']);
    expect(images.every((i) => !i.built && i.stale === 'not built')).toBe(true);
    const table = await vnetlab(['image', 'list']);
    expect(table.out.split('\n')[0]).toMatch(/^NAME\s+SIZE\s+ON DISK\s+VERSION\s+KERNEL\s+BUILT\s+STATE$/);
    expect(table.out).toMatch(/tiny .* stale: not built/);
  });

  it('build: an unknown image is bad input (exit 2) naming the images there are', async () => {
    const r = await vnetlab(['image', 'build', 'ubuntu']);
    expect(r.code).toBe(2);
    expect(r.err).toContain("there is no image called 'ubuntu'");
    expect(r.err).toContain('images: debian, tiny');
    expect((await vnetlab(['image', 'build'])).code).toBe(2);
    expect((await vnetlab(['image', 'frobnicate'])).code).toBe(2);
    expect((await vnetlab(['image', 'build', '../etc'])).err).toContain("'../etc' is not an image name");
  });

  const notRoot = process.getuid?.() !== 0;
  it.skipIf(notRoot)(`build debian as a user who cannot build without root (nobody: no subordinate ids): says what is missing and the exact fix (exit 3)${notRoot ? " (skipped: only root can run the command as 'nobody'; a normal user with subordinate ids builds the image, which test/images/rootless.test.ts covers)" : ''}`, () => {
    // As root, drop to nobody for this one command; as a normal user, just run it.
    const asNobody = process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
    const dir = join(work, 'nonroot');
    spawnSync('mkdir', ['-p', dir]);
    chmodSync(work, 0o755);
    chmodSync(dir, 0o777);
    const cli = join(import.meta.dirname, '../../bin/vnetlab.mjs');
    const [cmd, ...args] = [...asNobody, process.execPath, cli, 'image', 'build', 'debian'];
    const r = spawnSync(cmd!, args, { env: { ...process.env, HOME: dir, VNETLAB_IMAGE_DIR: join(dir, 'images') }, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(3);
    // Which piece is missing depends on the host (mmdebstrap, subordinate ids, user namespaces); each says its fix.
    expect(r.stderr).toMatch(/building the debian image without root needs (mmdebstrap and newuidmap|subordinate user and group ids for 'nobody'|user namespaces)/);
    expect(r.stderr).toMatch(/hint: (install them once: sudo apt-get install mmdebstrap uidmap|add them once: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 nobody|enable them)/);
    expect(readdirSync(join(dir, 'images')).filter((f) => f.startsWith('.'))).toEqual([]);
  });
});
