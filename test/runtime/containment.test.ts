// A guest is hostile: its root (or a lab's startup script, with no one typing) tries every way of
// mounting the host's files through hostfs, which Debian's UML kernel has built in. With the sandbox
// (src/main/runtime/confinement.ts) and the hostfs= boot argument, none of it reads or writes a file
// planted on the host, the user's ~/.ssh, the lab folder or the image folder. The same probe against a
// guest with neither layer reads the planted file: the probe itself works, so these tests can fail.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOSTFS_ROOT_ARG } from '../../src/main/compiler/index.ts';
import type { GuestHandle } from '../../src/main/runtime/launcher.ts';
import { planLab, prepareHost } from '../../src/main/runtime/prepare.ts';
import { RealLauncher } from '../../src/main/runtime/real-launcher.ts';
import { confinementFor } from '../../src/main/runtime/confinement.ts';
import { hostHelper, landlockAbi } from '../../src/main/images/host-helpers.ts';
import { findKernel } from '../../src/main/images/kernel.ts';
import { hostPaths } from '../../src/main/paths.ts';
import { runCli } from '../support/host.ts';
import { REPO } from '../../bin/bundle-cache.mjs';
import { processGroup, readRecords } from '../../src/main/runtime/records.ts';
import { findRunDir } from '../../src/main/runtime/run-dir.ts';
import { testEnv, type TestEnv } from './helpers.ts';
import { guestArgv } from '../../src/main/runtime/guest-argv.ts';

const SECRET = `planted-secret-${process.pid}`;
const images = hostPaths(process.env).imageDir;
const canRun = existsSync(join(images, 'tiny.ext4'));
const hasLandlock = canRun && landlockAbi() > 0;

/** Every mount and every read and write a hostile root would try; prints what got through. */
function attackScript(paths: { plantDir: string; home: string; labDir: string; imageDir: string }): string {
  const reads = [`/m${paths.plantDir}/secret.txt`, '/m/secret.txt', '/m/shadow', '/m/etc/shadow', `/m${paths.home}/.ssh/id_rsa`, '/m/.ssh/id_rsa', `/m${paths.labDir}/lab.yaml`, '/m/lab.yaml'];
  const writes = ['/m', `/m${paths.plantDir}`, `/m${paths.labDir}`, `/m${paths.imageDir}`, `/m${paths.imageDir}/host`];
  const options = ['', '-o /', '-o /etc', '-o ../..', `-o ${paths.labDir}`, `-o ${paths.plantDir}`, `-o ${paths.home}`];
  return [
    'attack() {',
    '  umount /m 2>/dev/null; mkdir -p /m',
    '  if mount -t hostfs none /m "$@" 2>/dev/null; then echo "MOUNTED $*"; else echo "NOMOUNT $*"; return; fi',
    `  for f in ${reads.join(' ')}; do if cat "$f" >/tmp/got 2>/dev/null; then echo "READ $f: $(head -c 80 /tmp/got)"; fi; done`,
    `  for d in ${writes.join(' ')}; do if echo pwned > "$d/pwned" 2>/dev/null; then echo "WROTE $d"; fi; done`,
    '  for e in $(ls /m 2>/dev/null | head -3); do echo "LISTED $e"; done',
    '  umount /m 2>/dev/null',
    '}',
    ...options.map((o) => `attack ${o}`),
    'echo ATTACK-DONE',
  ].join('\n');
}

/** Fingerprint of the image folder's helpers and manifests (the kernel wrapper a guest once rewrote lives there). */
function imageFolderPrint(): string {
  const hash = createHash('sha256');
  const host = join(images, 'host');
  for (const name of existsSync(host) ? readdirSync(host).sort() : []) hash.update(name).update(readFileSync(join(host, name)));
  for (const name of readdirSync(images).filter((f) => f.endsWith('.json')).sort()) hash.update(name).update(readFileSync(join(images, name)));
  for (const name of readdirSync(images).filter((f) => f.endsWith('.ext4')).sort()) hash.update(`${name}:${statSync(join(images, name)).mtimeMs}`);
  return hash.digest('hex');
}

const sandboxSkip = !canRun ? " (skipped: no tiny image; build it with 'vnetlab image build tiny')" : !hasLandlock ? ' (skipped: this kernel has no Landlock, where vnetlab start refuses; the next block proves that)' : '';
const imageSkip = canRun ? '' : " (skipped: no tiny image; build it with 'vnetlab image build tiny')";

describe.skipIf(!hasLandlock)(`containment: a guest cannot reach the host (real guests)${sandboxSkip}`, () => {
  let t: TestEnv;
  let plantDir = '';
  let paths: { plantDir: string; home: string; labDir: string; imageDir: string };
  let labDir = '';
  let before = '';

  beforeAll(() => {
    t = testEnv();
    plantDir = join(t.base, 'planted');
    mkdirSync(plantDir, { recursive: true });
    writeFileSync(join(plantDir, 'secret.txt'), `${SECRET}\n`);
    mkdirSync(join(t.env.HOME!, '.ssh'), { recursive: true, mode: 0o700 });
    writeFileSync(join(t.env.HOME!, '.ssh', 'id_rsa'), `${SECRET}-key\n`, { mode: 0o600 });
    labDir = t.lab('solo', { 'lab.yaml': 'lab:\n  name: solo\nmachines:\n  pc1:\n    image: tiny\n    memory: 64\n' });
    paths = { plantDir, home: t.env.HOME!, labDir, imageDir: images };
    // vnetlab builds its host helpers and kernel wrapper on first use: build them now, so that the
    // fingerprint changes only if something else writes there.
    for (const helper of ['vnetlab-confine', 'vnetlab-mconsole', 'vnetlab-nat-guard'] as const) hostHelper(helper);
    findKernel();
    before = imageFolderPrint();
  });

  afterAll(async () => {
    await t?.dispose();
  });

  /** Nothing on the host changed: the planted files, no `pwned` anywhere, the image folder as it was. */
  function expectHostUntouched(output: string): void {
    expect(output).toContain('ATTACK-DONE');
    expect(output).not.toMatch(/^(READ|WROTE|LISTED) /m);
    expect(output).not.toContain(SECRET);
    expect(readFileSync(join(plantDir, 'secret.txt'), 'utf8')).toBe(`${SECRET}\n`);
    for (const dir of [plantDir, labDir, images, join(images, 'host'), t.env.HOME!]) expect(existsSync(join(dir, 'pwned')), `${dir}/pwned`).toBe(false);
    expect(imageFolderPrint()).toBe(before);
  }

  it('root in a running guest mounts hostfs every way and reaches nothing', async () => {
    expect((await t.cli(['start', labDir])).code).toBe(0);
    const run = await t.cli(['exec', '-l', labDir, 'pc1', '--', 'sh', '-c', attackScript(paths)]);
    expectHostUntouched(run.stdout + run.stderr);
    // Every process of the lab was started through the sandbox helper (its records keep the argv).
    const records = join(t.env.VNETLAB_RUNTIME_DIR!, readdirSync(t.env.VNETLAB_RUNTIME_DIR!).find((d) => d.startsWith('solo-'))!, 'records');
    const argv0 = readdirSync(records)
      .map((f) => JSON.parse(readFileSync(join(records, f), 'utf8')) as { kind: string; argv: string[] })
      .filter((r) => r.kind !== 'supervisor')
      .map((r) => `${r.kind}:${r.argv[0]!.split('/').pop()!.replace(/-[0-9a-f]{12}$/, '')}`);
    expect(argv0).toEqual(['guest:vnetlab-confine']);
    expect((await t.cli(['stop', labDir])).code).toBe(0);
  });

  it("a lab's startup script does the same at boot, unattended, and reaches nothing", async () => {
    const hostile = t.lab('hostile', {
      'lab.conf': 'pc1[0]=A\npc1[image]=tiny\npc1[mem]=64\npc2[0]=A\npc2[image]=tiny\npc2[mem]=64\n',
      'pc1.startup': `${attackScript({ ...paths, labDir: join(t.base, 'hostile') })} > /root/attack.log 2>&1\n`,
      'pc2.startup': '',
    });
    expect((await t.cli(['start', hostile])).code).toBe(0);
    const log = await t.cli(['exec', '-l', hostile, 'pc1', '--', 'cat', '/root/attack.log']);
    expectHostUntouched(log.stdout);
    expect(existsSync(join(hostile, 'pwned'))).toBe(false);
    // Switches and cables of a Netkit lab run in the sandbox too.
    const records = join(t.env.VNETLAB_RUNTIME_DIR!, readdirSync(t.env.VNETLAB_RUNTIME_DIR!).find((d) => d.startsWith('hostile-'))!, 'records');
    const kinds = readdirSync(records)
      .map((f) => JSON.parse(readFileSync(join(records, f), 'utf8')) as { kind: string; argv: string[] })
      .filter((r) => r.kind !== 'supervisor');
    expect(new Set(kinds.map((r) => r.kind))).toEqual(new Set(['guest', 'switch', 'port', 'wire']));
    for (const r of kinds) expect(r.argv[0], `${r.kind} ${r.argv.join(' ')}`).toMatch(/\/vnetlab-confine-[0-9a-f]{12}$/);
    expect((await t.cli(['stop', hostile])).code).toBe(0);
  });

  /** One guest of the solo lab, started by the real launcher with a chosen confinement and without the hostfs= layer. */
  async function bareGuest(confined: boolean): Promise<{ guest: GuestHandle; output: string }> {
    const { plan } = await planLab(labDir, { env: t.env });
    await prepareHost(plan, { env: t.env });
    const planned = plan.guests[0]!;
    const guestPlan = { ...planned, boot: { ...planned.boot, shared: planned.boot.shared.filter((a) => a !== HOSTFS_ROOT_ARG) } };
    expect(guestArgv(guestPlan).some((a) => a.startsWith('hostfs='))).toBe(false);
    const launcher = new RealLauncher(confined ? confinementFor(t.env) : { confined: false });
    const guest = await launcher.spawnGuest(guestPlan, { cols: 80, rows: 24 }, () => {});
    guest.console.onData(() => {}); // read its console, as the supervisor does, or its boot stalls on a full pty
    try {
      await guest.agent.waitReady(90_000);
      const result = await guest.agent.exec(attackScript(paths), { timeoutMs: 60_000 });
      return { guest, output: result.stdout + result.stderr };
    } finally {
      guest.kill('SIGKILL');
      await guest.exited;
    }
  }

  /** What each descriptor of a process points at (`socket:[…]`, a path…), by number. */
  function descriptors(pid: number): Map<number, string> {
    const fds = new Map<number, string>();
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        fds.set(Number(fd), readlinkSync(`/proc/${pid}/fd/${fd}`));
      } catch {
        // closed meanwhile
      }
    }
    return fds;
  }

  it("no lab process holds a descriptor it was not given: not another guest's console, not one the user's shell leaked", async () => {
    const lab = t.lab('fds', { 'lab.conf': 'pc1[0]=A\npc1[image]=tiny\npc1[mem]=64\npc2[0]=A\npc2[image]=tiny\npc2[mem]=64\n', 'pc1.startup': '', 'pc2.startup': '' });
    // As a user's shell may leave one open: a descriptor without close-on-exec (node marks the low ones
    // close-on-exec when it starts, not those above ~30), here fd 60 of `vnetlab start` (bash: dash takes one digit).
    const leakedFile = join(plantDir, `leaked-${SECRET}`);
    writeFileSync(leakedFile, SECRET);
    const started = await new Promise<number | null>((resolve) => {
      const shell = 'exec "$0" "$1" start "$2" 60<"$3"';
      const child = spawn('/bin/bash', ['-c', shell, process.execPath, join(REPO, 'bin/vnetlab.mjs'), lab, leakedFile], { env: t.env, stdio: ['ignore', 'ignore', 'inherit'] });
      child.on('exit', (code) => resolve(code));
    });
    expect(started).toBe(0);
    try {
      const records = readRecords(findRunDir(lab, hostPaths(t.env))!);
      const supervisor = records.find((r) => r.kind === 'supervisor')!;
      // The supervisor holds what could leak: the consoles' masters, and the descriptor it inherited.
      const held = [...descriptors(supervisor.pid).values()];
      expect(held.filter((target) => target === '/dev/ptmx')).toHaveLength(2);
      expect(held).toContain(leakedFile);
      const labProcesses = records.filter((r) => r.kind !== 'supervisor');
      expect(new Set(labProcesses.map((r) => r.kind))).toEqual(new Set(['guest', 'switch', 'port', 'wire']));
      for (const r of labProcesses) {
        for (const [fd, target] of descriptors(r.pid)) {
          expect(target, `${r.kind} ${r.pid} fd ${fd}`).not.toBe(leakedFile);
          expect(target, `${r.kind} ${r.pid} fd ${fd}`).not.toBe('/dev/ptmx');
          // A guest's own console is its 0–2; no other terminal.
          if (fd > 2) expect(target, `${r.kind} ${r.pid} fd ${fd}`).not.toMatch(/^\/dev\/pts\//);
        }
      }
      // A guest's kernel is several host processes (its helpers, one per user process): none has it either.
      const guest = labProcesses.find((r) => r.kind === 'guest')!;
      const helpers = readdirSync('/proc').filter((p) => /^\d+$/.test(p) && p !== String(guest.pid) && processGroup(Number(p)) === guest.pid);
      expect(helpers.length).toBeGreaterThan(0);
      for (const pid of helpers) for (const target of descriptors(Number(pid)).values()) expect(target).not.toBe(leakedFile);
    } finally {
      expect((await t.cli(['stop', lab])).code).toBe(0);
    }
  });

  it('the sandbox alone holds: hostfs mounts (no hostfs= prefix) but every read and write is refused', async () => {
    const { output } = await bareGuest(true);
    // The mounts succeed here, so it is the sandbox, not the missing prefix, that stops the rest.
    expect(output).toMatch(/^MOUNTED -o \/$/m);
    expectHostUntouched(output);
  });

  it('the probe works: with neither layer, the same guest reads the planted file (what the sandbox stops)', async () => {
    const { output } = await bareGuest(false);
    expect(output).toContain(SECRET);
    expect(output).toMatch(/^READ /m);
    // Its writes landed: remove them, then the host is as the other tests found it.
    for (const dir of [plantDir, labDir, join(images, 'host'), images, t.env.HOME!]) {
      if (existsSync(join(dir, 'pwned'))) rmSync(join(dir, 'pwned'));
    }
  });
});

describe.skipIf(!canRun)(`containment: no sandbox, no start${imageSkip}`, () => {
  let t: TestEnv;
  beforeAll(() => {
    t = testEnv();
  });
  afterAll(async () => {
    await t?.dispose();
  });

  it('start refuses on a kernel without Landlock, saying what to enable; --unconfined starts anyway', async () => {
    const lab = t.lab('old-kernel', { 'lab.yaml': 'lab:\n  name: oldk\nmachines:\n  pc1:\n    image: tiny\n    memory: 64\n' });
    const env = { ...t.env, VNETLAB_LANDLOCK_ABI: '0' };
    const run = async (args: string[]) => {
      const r = await runCli(args, { env, cwd: t.base });
      return { code: r.code, out: r.stdout + r.stderr };
    };
    const refused = await run(['start', lab]);
    expect(refused.code).toBe(3);
    expect(refused.out).toMatch(/no Landlock/);
    expect(refused.out).toMatch(/CONFIG_SECURITY_LANDLOCK/);
    expect(refused.out).toMatch(/--unconfined/);
    expect(refused.out).not.toMatch(/\n\s+at /); // no stack trace
    const runtime = t.env.VNETLAB_RUNTIME_DIR!;
    expect(existsSync(runtime) ? readdirSync(runtime).filter((d) => d.startsWith('oldk-')) : []).toEqual([]); // nothing started
    const trusted = await run(['start', lab, '--unconfined']);
    expect(trusted.code, trusted.out).toBe(0);
    expect((await run(['stop', lab])).code).toBe(0);
  });

  it('a classroom worker never starts without the sandbox, even when told to run unconfined', async () => {
    const cfg = join(t.base, 'classroom.yaml');
    mkdirSync(join(t.base, 'cdata'), { recursive: true, mode: 0o700 });
    writeFileSync(cfg, `name: C\ndata_dir: ${join(t.base, 'cdata')}\nlisten: {host: 127.0.0.1, port: 0}\nlabs: [{id: two-hosts, path: ${join(import.meta.dirname, '..', '..', 'labs', 'two-hosts')}}]\nworkers: {local: 1}\n`);
    const { code, stdout, stderr } = await runCli(['classroom', 'worker', '--config', cfg, '--listen', `unix:${join(t.base, 'cdata', 'w.sock')}`], {
      cwd: t.base,
      env: { ...t.env, VNETLAB_LANDLOCK_ABI: '0', VNETLAB_UNCONFINED: '1' },
    });
    const out = stdout + stderr;
    expect(code).toBe(3);
    expect(out).toMatch(/no Landlock/);
  });
});
