// The lab-fs image for real: compile a lab folder made on disk, build its image with mkfs.ext4, and
// read it back with debugfs (e2fsprogs), as the guest would see it. Also the symlink-escape refusal.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/main/compiler/index.ts';
import { buildLabFs, STAGING_PREFIX } from '../../src/main/guest/labfs.ts';
import { removeAbandonedStaging } from '../../src/main/runtime/clean.ts';
import { labFsOptions } from '../../src/main/runtime/prepare.ts';
import { loadLab } from '../../src/main/lab/index.ts';
import { UserError } from '../../src/main/errors.ts';
import type { LabModel } from '../../src/shared/lab-model.ts';
import type { Plan } from '../../src/shared/plan.ts';
import { FIXED_OPTIONS, at, domain, lab, machine } from '../compiler/model.ts';
import { fixtureLab } from '../support/fixtures.ts';

/** `debugfs -R <request> <image>`, stdout only (debugfs prints its banner on stderr). */
function debugfs(image: string, request: string): string {
  return execFileSync('debugfs', ['-R', request, image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** name → octal mode, from `debugfs -R 'ls -l <dir>'`. */
function listing(image: string, dir: string): Record<string, string> {
  const modes: Record<string, string> = {};
  for (const line of debugfs(image, `ls -l ${dir}`).split('\n')) {
    const m = /^\s*\d+\s+(\d+)\s+\(\d+\)\s+\d+\s+\d+\s+\d+\s+\S+\s+\S+\s+(.+)$/.exec(line);
    if (m && m[2] !== '.' && m[2] !== '..') modes[m[2]!] = m[1]!;
  }
  return modes;
}

describe('buildLabFs', () => {
  let work: string;
  let labRoot: string;
  let model: LabModel;
  let plan: Plan;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vnetlab-labfs-'));
    labRoot = join(work, 'lab');
    mkdirSync(join(labRoot, 'pc1', 'etc'), { recursive: true });
    writeFileSync(join(labRoot, 'lab.conf'), 'pc1[0]=A\n');
    writeFileSync(join(labRoot, 'pc1.startup'), 'ip addr add 10.0.0.1/24 dev eth0\r\n');
    writeFileSync(join(labRoot, 'pc1', 'etc', 'motd'), 'welcome to pc1\n');
    symlinkSync('pc1/etc/motd', join(labRoot, 'motd-link'));
    symlinkSync('does-not-exist', join(labRoot, 'dangling'));
    execFileSync('mkfifo', [join(labRoot, 'a-fifo')]);
    model = lab({
      root: labRoot,
      machines: [
        machine('pc1', ['A'], {
          startup: { text: 'ip addr add 10.0.0.1/24 dev eth0\r\n', source: at(1, 'pc1.startup') },
          files: [{ kind: 'dir', guestPath: '/', labPath: 'pc1', source: at(0, 'pc1') }],
          // What the Netkit reader puts in the model for every machine (Kathará's forwarding default).
          sysctls: { 'net.ipv4.ip_forward': '1' },
        }),
      ],
      domains: [domain('A')],
    });
    plan = compile(model, { ...FIXED_OPTIONS, runDir: join(work, 'run') });
    // A cache of its own: other tests' builds (other code, as bundled) keep tool sets of their own.
    await buildLabFs(plan.labFs, { labRoot, env: { ...process.env, VNETLAB_CACHE_DIR: join(work, 'cache') } });
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('writes the machine folder with executable scripts and data files', () => {
    const modes = listing(plan.labFs.image, '/machines/pc1');
    // No shutdown script in this lab: no driver for it.
    expect(modes).toEqual({ startup: '100755', interfaces: '100644', sysctl: '100644', env: '100644', root: '40755' });
    expect(debugfs(plan.labFs.image, 'cat /machines/pc1/startup')).toContain(`exec "$vnetlab_shell" -c 'ip addr add 10.0.0.1/24 dev eth0\n' 'pc1.startup'\n`);
    expect(debugfs(plan.labFs.image, 'cat /machines/pc1/sysctl')).toBe('net.ipv4.ip_forward=1\n');
    expect(debugfs(plan.labFs.image, 'cat /machines/pc1/interfaces')).toBe('eth0\n');
    expect(debugfs(plan.labFs.image, 'cat /machines/pc1/root/etc/motd')).toBe('welcome to pc1\n');
  });

  it('copies the lab folder under /lab, following symlinks that stay inside and leaving out the rest', () => {
    const lab = listing(plan.labFs.image, '/lab');
    expect(Object.keys(lab).sort()).toEqual(['lab.conf', 'motd-link', 'pc1', 'pc1.startup']);
    expect(lab['motd-link']).toBe('100644');
    expect(debugfs(plan.labFs.image, 'cat /lab/motd-link')).toBe('welcome to pc1\n');
    expect(debugfs(plan.labFs.image, 'cat /lab/pc1.startup')).toBe('ip addr add 10.0.0.1/24 dev eth0\r\n');
  });

  it('keeps the tool set in the user cache, and a later process builds from the kept one', () => {
    const kept = join(work, 'cache', 'tools');
    const sets = readdirSync(kept).filter((f) => f.endsWith('.applets'));
    expect(sets).toHaveLength(1); // one kept: an older busybox's or vnetlab's goes
    const applets = join(kept, sets[0]!);
    const list = readFileSync(applets, 'utf8');
    expect(list.split('\n')).toContain('ping');
    const dumped = join(work, 'busybox.dumped');
    debugfs(plan.labFs.image, `dump /tools/busybox ${dumped}`);
    expect(readFileSync(dumped).equals(readFileSync(applets.replace(/\.applets$/, '.bin')))).toBe(true);
    // A new process takes the kept set as it is, without asking busybox (a marker applet only the file has).
    writeFileSync(applets, `${list}vnetlab-kept-marker\n`);
    try {
      const image = join(work, 'second', 'labfs.ext4');
      const script = `import { buildLabFs } from ${JSON.stringify(resolve('src/main/guest/labfs.ts'))}; await buildLabFs({ ...${JSON.stringify(plan.labFs)}, image: ${JSON.stringify(image)} }, { labRoot: ${JSON.stringify(labRoot)} });`;
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, VNETLAB_CACHE_DIR: join(work, 'cache') } });
      expect(child.stderr).toBe('');
      expect(debugfs(image, 'stat /tools/bin/vnetlab-kept-marker')).toMatch(/Type: symlink/);
    } finally {
      writeFileSync(applets, list);
    }
  });

  it('labels the image and leaves no temp files beside it', () => {
    expect(execFileSync('e2label', [plan.labFs.image], { encoding: 'utf8' }).trim()).toBe('vnetlab-lab');
    expect(readdirSync(join(work, 'run'))).toEqual(['labfs.ext4']);
  });

  it('refuses a symlink that leaves the lab folder, naming it, and keeps the old image', async () => {
    const before = debugfs(plan.labFs.image, 'ls /lab');
    symlinkSync('/etc/passwd', join(labRoot, 'steal'));
    try {
      const error = await buildLabFs(plan.labFs, { labRoot }).then(() => undefined, (err: unknown) => err);
      expect(error).toBeInstanceOf(UserError);
      expect((error as UserError).message).toBe(`steal resolves to /etc/passwd, outside the lab folder ${labRoot}`);
      expect(debugfs(plan.labFs.image, 'ls /lab')).toBe(before);
      expect(readdirSync(join(work, 'run'))).toEqual(['labfs.ext4']);
    } finally {
      rmSync(join(labRoot, 'steal'));
    }
  });

  it('refuses a machine file that is a symlink out of the lab', async () => {
    const outside = join(work, 'secret');
    writeFileSync(outside, 'not for guests\n');
    symlinkSync(outside, join(labRoot, 'innocent.conf'));
    const escaping = compile(
      { ...model, machines: [{ ...model.machines[0]!, files: [{ kind: 'file', guestPath: '/etc/x.conf', labPath: 'innocent.conf', source: at(3, 'lab.yaml') }] }] },
      { ...FIXED_OPTIONS, runDir: join(work, 'run2') },
    );
    // Without /lab, so that it is the file entry that trips, not the walk of the lab folder.
    const onlyTheFile = { ...escaping.labFs, entries: escaping.labFs.entries.filter((e) => e.dest !== '/lab') };
    try {
      await expect(buildLabFs(onlyTheFile, { labRoot })).rejects.toThrow(/^innocent\.conf resolves to .*secret, outside the lab folder/);
      expect(existsSync(escaping.labFs.image)).toBe(false);
    } finally {
      rmSync(join(labRoot, 'innocent.conf'));
    }
  });
});

describe('buildLabFs staging on the host tmpfs', () => {
  let work: string;
  let savedTmpfs: string | undefined;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'vnetlab-labfs-tmpfs-'));
    savedTmpfs = process.env.VNETLAB_UML_TMPDIR;
    // The tmpfs root, made a folder of this test's own so that nothing of another run is touched.
    process.env.VNETLAB_UML_TMPDIR = join(work, 'shm');
    mkdirSync(process.env.VNETLAB_UML_TMPDIR);
  });
  afterAll(() => {
    if (savedTmpfs === undefined) delete process.env.VNETLAB_UML_TMPDIR;
    else process.env.VNETLAB_UML_TMPDIR = savedTmpfs;
    rmSync(work, { recursive: true, force: true });
  });
  const ours = () => join(work, 'shm', `vnetlab-${process.getuid?.() ?? 0}`);

  it('stages in this user\'s private tmpfs folder and leaves it empty', async () => {
    const labRoot = join(work, 'lab');
    mkdirSync(join(labRoot, 'pc1', 'etc'), { recursive: true });
    writeFileSync(join(labRoot, 'pc1', 'etc', 'motd'), 'hi\n');
    const model = lab({ root: labRoot, machines: [machine('pc1', [], { files: [{ kind: 'dir', guestPath: '/', labPath: 'pc1', source: at(0, 'pc1') }] })] });
    const plan = compile(model, { ...FIXED_OPTIONS, runDir: join(work, 'run') });
    const seen: string[] = [];
    // What the tmpfs folder holds while mkfs reads it: the build's staging, and nothing once it is done.
    const watch = setInterval(() => existsSync(ours()) && seen.push(...readdirSync(ours())), 1);
    try {
      // As every start, apply and restore builds it (runtime/prepare.ts labFsOptions).
      await buildLabFs(plan.labFs, { ...labFsOptions(plan), labRoot, cacheDir: undefined });
    } finally {
      clearInterval(watch);
    }
    expect(debugfs(plan.labFs.image, 'cat /machines/pc1/root/etc/motd')).toBe('hi\n');
    expect((statSync(ours()).mode & 0o777).toString(8)).toBe('700');
    expect(readdirSync(ours())).toEqual([]);
    expect(readdirSync(join(work, 'run'))).toEqual(['labfs.ext4']);
    expect(seen.length).toBeGreaterThan(0);
    for (const name of seen) expect(name).toMatch(new RegExp(`^${STAGING_PREFIX}${process.pid}-`));
  });

  it('`clean` removes the staging of a build whose process died, never a live one\'s', async () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    mkdirSync(join(ours(), `${STAGING_PREFIX}${dead}-abcdef`, 'tools', 'bin'), { recursive: true, mode: 0o700 });
    symlinkSync('../busybox', join(ours(), `${STAGING_PREFIX}${dead}-abcdef`, 'tools', 'bin', 'ls'));
    mkdirSync(join(ours(), `${STAGING_PREFIX}${process.pid}-ghijkl`), { mode: 0o700 });
    mkdirSync(join(ours(), 'bench10-h0'), { mode: 0o700 }); // a guest's memory folder: not staging
    try {
      expect(removeAbandonedStaging()).toEqual([join(ours(), `${STAGING_PREFIX}${dead}-abcdef`)]);
      expect(readdirSync(ours()).sort()).toEqual(['bench10-h0', `${STAGING_PREFIX}${process.pid}-ghijkl`]);
    } finally {
      rmSync(join(ours(), `${STAGING_PREFIX}${process.pid}-ghijkl`), { recursive: true });
      rmSync(join(ours(), 'bench10-h0'), { recursive: true });
    }
  });
});

// A Kathará lab folder as it is (test/fixtures/kathara-dns): machine folders, shared/, shared.startup.
describe('buildLabFs on a Kathará lab folder', () => {
  it('carries the machine folders and shared/ byte for byte, and the lab folder under /lab', async () => {
    const labRoot = fixtureLab('kathara-dns');
    const work = mkdtempSync(join(tmpdir(), 'vnetlab-labfs-kathara-'));
    try {
      const { model } = await loadLab(labRoot);
      const plan = compile(model!, { ...FIXED_OPTIONS, runDir: join(work, 'run') });
      await buildLabFs(plan.labFs, { labRoot });
      const options = readFileSync(join(labRoot, 'dns1/etc/bind/named.conf.options'), 'utf8');
      expect(debugfs(plan.labFs.image, 'cat /machines/dns1/root/etc/bind/named.conf.options')).toBe(options);
      expect(debugfs(plan.labFs.image, 'cat /lab/dns1/etc/bind/named.conf.options')).toBe(options);
      expect(debugfs(plan.labFs.image, 'cat /lab/shared/motd')).toBe(readFileSync(join(labRoot, 'shared/motd'), 'utf8'));
      expect(Object.keys(listing(plan.labFs.image, '/machines')).sort()).toEqual(['dns1', 'pc1']);
      // shared.startup, then the machine's own startup, each as written.
      const startup = debugfs(plan.labFs.image, 'cat /machines/dns1/startup');
      expect(startup).toContain('cp /shared/motd /etc/motd');
      expect(startup).toContain(readFileSync(join(labRoot, 'dns1.startup'), 'utf8').trimEnd());
      expect(startup.indexOf('cp /shared/motd')).toBeLessThan(startup.indexOf('systemctl start bind9'));
      expect(debugfs(plan.labFs.image, 'cat /machines/pc1/root/etc/resolv.conf')).toBe(readFileSync(join(labRoot, 'pc1/etc/resolv.conf'), 'utf8'));
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

// Students run vnetlab as themselves: the image must still hold root's files, as Netkit and Kathará
// guests do. The build runs in a child process as `nobody` (the suite itself runs as root).
const canDropToNobody = process.getuid?.() === 0;
describe.skipIf(!canDropToNobody)(`buildLabFs as an ordinary user${canDropToNobody ? '' : ' (skipped: only root can run a build as nobody)'}`, () => {
  it('owns every file of the image by root', async () => {
    const work = mkdtempSync(join(tmpdir(), 'vnetlab-labfs-user-'));
    try {
      chmodSync(work, 0o777);
      const labRoot = join(work, 'lab');
      mkdirSync(join(labRoot, 'pc1', 'etc', 'frr'), { recursive: true });
      writeFileSync(join(labRoot, 'pc1', 'etc', 'frr', 'frr.conf'), 'router rip\n');
      const model = lab({ root: labRoot, machines: [machine('pc1', [], { files: [{ kind: 'dir', guestPath: '/', labPath: 'pc1', source: at(0, 'pc1') }] })] });
      const plan = compile(model, { ...FIXED_OPTIONS, runDir: join(work, 'run') });
      const planFile = join(work, 'labfs-plan.json');
      writeFileSync(planFile, JSON.stringify({ labFs: plan.labFs, labRoot }));
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', BUILD_AS_CHILD, planFile], {
        cwd: resolve(__dirname, '../..'),
        uid: 65534,
        gid: 65534,
        env: { PATH: process.env.PATH, HOME: work, TMPDIR: work, VNETLAB_UML_TMPDIR: work },
        encoding: 'utf8',
      });
      expect(child.stderr).toBe('');
      expect(child.status).toBe(0);
      expect(statSync(plan.labFs.image).uid).toBe(65534); // built by nobody…
      const owners = (dir: string) => debugfs(plan.labFs.image, `ls -l ${dir}`).split('\n').filter((l) => /^\s*\d+\s+\d+\s+\(/.test(l)).map((l) => l.trim().split(/\s+/).slice(3, 5).join(':'));
      for (const dir of ['/', '/machines/pc1', '/machines/pc1/root/etc', '/machines/pc1/root/etc/frr', '/lab/pc1/etc/frr']) {
        expect(new Set(owners(dir)), dir).toEqual(new Set(['0:0'])); // …owned by root inside
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

const BUILD_AS_CHILD = `
import { readFileSync } from 'node:fs';
const { buildLabFs } = await import('./src/main/guest/labfs.ts');
const { labFs, labRoot } = JSON.parse(readFileSync(process.argv[1], 'utf8'));
await buildLabFs(labFs, { labRoot });
`;
