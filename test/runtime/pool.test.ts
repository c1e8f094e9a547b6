// The warm pool on real UML guests (issue 12): `vnetlab pool up|status|down`, a Netkit lab whose
// machines take pooled guests and are then indistinguishable from cold ones (name, MAC, interfaces,
// /hostlab, /shared, placed files, startup and shutdown scripts, console, disk persistence, wipe),
// and an end that leaves nothing: `pool down`, `clean --all`, and kill -9 of the pool's process (its
// waiting guests power themselves off).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { hostPaths } from '../../src/main/paths.ts';
import { connectSupervisor } from '../../src/main/runtime/client.ts';
import { cleanAll } from '../../src/main/runtime/clean.ts';
import { poolDir } from '../../src/main/runtime/pool/pool-files.ts';
import { connectPool, poolTarget } from '../../src/main/runtime/pool/pool-client.ts';
import { processGroup, readRecords } from '../../src/main/runtime/records.ts';
import { findRunDir } from '../../src/main/runtime/run-dir.ts';
import { AppPool } from '../../src/main/service/app-pool.ts';
import { runCli } from '../support/host.ts';
import { eventually, waitUntil, processesMentioning, testEnv, type TestEnv } from './helpers.ts';

const LAB = {
  'lab.conf': 'LAB_DESCRIPTION="pool"\npc1[0]=lan\npc2[0]=lan\npc1[image]=tiny\npc2[image]=tiny\n',
  'pc1.startup': 'ip addr add 10.0.5.1/24 dev eth0\necho started-$(hostname) > /tmp/started\n',
  'pc2.startup': 'ip addr add 10.0.5.2/24 dev eth0\n',
  'pc1.shutdown': 'echo bye-from-$(hostname)\n',
  'pc1/etc/placed': 'from the machine folder\n',
  'shared/note': 'shared by all\n',
};

describe('the warm pool (real UML)', () => {
  let t: TestEnv;
  let lab: string;
  let pool: string;

  const poolStatus = async () => JSON.parse((await t.cli(['pool', 'status', '--json'])).stdout) as { running: boolean; claimed: number; images: { image: string; ready: number; booting: number; rssBytes: number; memoryMiB: number }[] };
  const startProfile = async () => {
    const r = await t.cli(['start', lab, '--profile']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    t = testEnv();
    lab = t.lab('plab', LAB);
    pool = poolDir(hostPaths(t.env));
    const up = await t.cli(['pool', 'up', '--size', '2']);
    expect(up.stderr).toMatch(/booting 2 tiny guests/);
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/pool: 2 tiny guests ready \(128 MiB each at most; \d+ MiB resident now\)/);
  }, 120_000);

  afterAll(async () => {
    await cleanAll(hostPaths(t.env));
    await t?.dispose();
  });

  it('says what it keeps, and refuses a size it cannot honour', async () => {
    const status = await poolStatus();
    expect(status.running).toBe(true);
    expect(status.images).toEqual([expect.objectContaining({ image: 'tiny', ready: 2, booting: 0, memoryMiB: 128 })]);
    expect(status.images[0]!.rssBytes).toBeGreaterThan(10 * 2 ** 20);
    const table = await t.cli(['pool', 'status']);
    expect(table.stdout).toMatch(/tiny\s+2\s+2\s+0\s+128 MiB each/);
    const bad = await t.cli(['pool', 'up', '--size', 'lots']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--size must be a whole number from 0 to 64, got 'lots'/);
    const huge = await t.cli(['pool', 'up', '--size', '64', '--memory', '4096']);
    expect(huge.code).toBe(2);
    expect(huge.stderr).toMatch(/more than half of this machine's memory/);
    // What the socket is asked to boot is checked like a plan, even from our own user.
    const client = (await connectPool(hostPaths(t.env)))!;
    const target = poolTarget('tiny', 1, 128, t.env);
    const refused = async (change: Partial<typeof target>) => client.call('up', { targets: [{ ...target, ...change }] }).then(() => 'accepted', (e: Error) => e.message);
    expect(await refused({ shared: ['/bin/sh', '-c', 'touch /tmp/pwned'] })).toMatch(/does not boot the kernel this host uses/);
    expect(await refused({ shared: [...target.shared, 'eth0=tuntap,,,1.2.3.4'] })).toMatch(/name devices or a machine/);
    expect(await refused({ shared: [...target.shared, 'init=/bin/sh'] })).toMatch(/kernel arguments a guest of a lab never has/);
    expect(await refused({ imagePath: '/etc/passwd' })).toMatch(/its image is not in/);
    client.close();
    expect((await poolStatus()).images).toEqual([expect.objectContaining({ ready: 2 })]);
  });

  it('starts the lab from pooled guests, which take each machine\'s identity', async () => {
    const profile = await startProfile();
    // Both machines took a pooled guest: their time starts at the claim, not at a kernel boot.
    expect(profile).toMatch(/\bclaim\b/);
    expect(profile).not.toMatch(/^\s+machine .*\bkernel\b/m);
    expect((await poolStatus()).claimed).toBe(2);

    const status = JSON.parse((await t.cli(['status', lab, '--json'])).stdout);
    const mac = status.machines.find((m: { name: string }) => m.name === 'pc1').interfaces[0].mac;
    const look = await t.cli(['exec', lab, 'pc1', '--', 'hostname; cat /sys/class/net/eth0/address; ls /sys/class/net | tr "\\n" " "; echo; cat /hostlab/lab.conf /shared/note /etc/placed /tmp/started; ping -c 1 -W 3 10.0.5.2 | grep -c "bytes from"']);
    expect(look.code).toBe(0);
    expect(look.stdout.split('\n')).toEqual([
      'pc1',
      mac,
      'eth0 lo ',
      ...LAB['lab.conf'].trim().split('\n'),
      'shared by all',
      'from the machine folder',
      'started-pc1',
      '1',
      '',
    ]);
    // /hostlab and /shared are read-only, as on a cold guest.
    const write = await t.cli(['exec', lab, 'pc2', '--', 'touch /hostlab/x 2>&1; touch /shared/x 2>&1; hostname']);
    expect(write.stdout).toMatch(/Read-only file system[\s\S]*Read-only file system[\s\S]*pc2/);
  });

  it('gives a console that shows the boot, takes typing, and has the viewer\'s size', async () => {
    const sup = (await connectSupervisor(lab, t.env))!;
    try {
      let seen = '';
      const viewer = await sup.attachConsole('pc1', { onData: (d) => (seen += d), cols: 111, rows: 33 });
      // As for a cold guest: once ready, the kernel's boot leaves the replay (docs/app.md) and stays in
      // the console log, which has it from the pooled guest's first line.
      expect(seen).not.toMatch(/Linux version/);
      expect(readFileSync(join(findRunDir(lab, hostPaths(t.env))!, 'guests', 'pc1', 'console.log'), 'latin1')).toMatch(/Linux version/);
      // The console's host side is a FIFO: the guest agent applies the viewer's size (a moment later).
      const size = await eventually(async () => (await t.cli(['exec', lab, 'pc1', '--', 'stty -F /dev/tty0 size'])).stdout.trim(), (s) => s === '33 111', 10_000, 0);
      expect(size).toBe('33 111');
      viewer.write('echo console-$((40+2)); stty size\r');
      await waitUntil(() => seen, (s) => /console-42\s+33 111/.test(s), 15_000);
      expect(seen.slice(-600)).toMatch(/console-42\s+33 111/);
      viewer.detach();
    } finally {
      sup.close();
    }
  });

  it('refills in the background, and keeps the disk across stop and start (cold: the disk exists)', async () => {
    const refilled = await eventually(poolStatus, (s) => s.images[0]?.ready === 2, 60_000, 250);
    expect(refilled.images[0]).toEqual(expect.objectContaining({ ready: 2, booting: 0 }));
    expect((await t.cli(['exec', lab, 'pc1', '--', 'echo mine > /root/work && sync'])).code).toBe(0);
    const stop = await t.cli(['stop', lab]);
    expect(stop.code).toBe(0);
    // The shutdown script ran in the pooled guest (its output goes to the console log).
    const runDir = findRunDir(lab, hostPaths(t.env))!;
    expect(readFileSync(join(runDir, 'guests', 'pc1', 'console.log'), 'utf8')).toMatch(/bye-from-pc1/);

    const profile = await startProfile();
    expect(profile).toMatch(/^\s+machine .*\bkernel\b/m); // both disks exist: cold boots
    expect(profile).not.toMatch(/\bclaim\b/);
    expect((await t.cli(['exec', lab, 'pc1', '--', 'cat /root/work; hostname'])).stdout).toBe('mine\npc1\n');
    expect((await poolStatus()).images[0]!.ready).toBe(2); // nothing was taken

    // Wiped, a machine starts from the lab files again: from the pool, without the old work.
    await t.cli(['stop', lab]);
    expect((await t.cli(['wipe', '--yes', lab, 'pc1'])).code).toBe(0);
    const again = await startProfile();
    const header = again.split('\n').find((l) => /^\s+machine /.test(l)) ?? '';
    expect(header).toMatch(/\bclaim\b/); // pc1 from the pool,
    expect(header).toMatch(/\bkernel\b/); // pc2 cold
    expect((await t.cli(['exec', lab, 'pc1', '--', 'cat /root/work 2>&1; cat /etc/placed'])).stdout).toMatch(/No such file[\s\S]*from the machine folder/);
    expect((await poolStatus()).claimed).toBe(3);
    expect((await t.cli(['stop', lab])).code).toBe(0);
  }, 180_000);

  it('pool down ends every pooled guest and the pool process; a lab then boots cold', async () => {
    const down = await t.cli(['pool', 'down']);
    expect(down.code).toBe(0);
    expect(down.stdout).toBe('pool stopped\n');
    expect(processesMentioning(pool)).toEqual([]);
    expect(existsSync(join(pool, 'pool.sock'))).toBe(false);
    expect(readdirSync(join(pool, 'records'))).toEqual([]);
    expect((await poolStatus()).running).toBe(false);
  });

  it('kill -9 of the pool process: its waiting guests power themselves off, lab guests it handed out live on; the next pool cleans up', async () => {
    expect((await t.cli(['pool', 'up', '--size', '1'])).code).toBe(0);
    // pc1 (wiped) takes the pooled guest; the pool boots another one, which waits.
    expect((await t.cli(['wipe', '--yes', lab, 'pc1'])).code).toBe(0);
    expect(await startProfile()).toMatch(/\bclaim\b/);
    const waiting = await eventually(poolStatus, (s) => s.images[0]?.ready === 1, 60_000, 250);
    expect(waiting.images[0]!.ready).toBe(1);
    const pc1 = JSON.parse((await t.cli(['status', lab, '--json'])).stdout).machines.find((m: { name: string }) => m.name === 'pc1').pid as number;
    // The lab's guest still names the pool's folders on its command line: tell it apart by its process group.
    const poolOnly = () => processesMentioning(pool).filter((p) => processGroup(p.pid) !== pc1);
    const owner = JSON.parse(readFileSync(join(pool, 'pool.lock'), 'utf8')).pid as number;
    expect(poolOnly().length).toBeGreaterThan(1);
    // The guests' memory folders (/dev/shm/vnetlab-<uid>/pool-…): pc1's, now the lab's, and the waiting one's.
    const memoryFolders = [...readRecords(findRunDir(lab, hostPaths(t.env))!), ...readRecords(pool)]
      .filter((r) => r.kind === 'guest')
      .flatMap((r) => r.sockets.filter((f) => /\/vnetlab-\d+\/pool-[^/]+$/.test(f)));
    expect(memoryFolders.length).toBe(2);
    process.kill(owner, 'SIGKILL');
    const left = await eventually(poolOnly, (p) => p.length === 0, 20_000);
    expect(left).toEqual([]);
    expect((await t.cli(['exec', lab, 'pc1', '--', 'hostname'])).stdout).toBe('pc1\n');
    expect((await t.cli(['stop', lab])).code).toBe(0);
    // A new pool takes over the folder and removes what the dead one left.
    expect((await t.cli(['pool', 'up', '--size', '1'])).code).toBe(0);
    expect(readdirSync(join(pool, 'guests'))).toHaveLength(1);
    // clean --all ends the pool too.
    const clean = await t.cli(['clean', '--all']);
    expect(clean.stdout).toMatch(/killed pool process/);
    expect(processesMentioning(pool)).toEqual([]);
    expect(existsSync(pool)).toBe(false);
    // Neither the lab's stop nor the pool's clean-up leaves a guest's memory folder behind.
    expect(memoryFolders.filter((f) => existsSync(f))).toEqual([]);
  }, 120_000);

  it('replaces its waiting guests when their image file is rebuilt (they would never match a lab again)', async () => {
    // A private image folder: changing the shared image's file would break other labs' disks.
    const images = join(t.base, 'images');
    mkdirSync(images);
    const shared = hostPaths(t.env).imageDir;
    execFileSync('cp', ['--sparse=always', join(shared, 'tiny.ext4'), join(shared, 'tiny.json'), images]);
    const env = { ...t.env, VNETLAB_IMAGE_DIR: images, VNETLAB_RUNTIME_DIR: join(t.base, 'r2'), VNETLAB_STATE_DIR: join(t.base, 's2') };
    const cli = (args: string[]) => runCli(args, { env, cwd: t.base });
    const status = async () => JSON.parse((await cli(['pool', 'status', '--json'])).stdout) as { images: { key: string; ready: number }[] };
    // This pool lives outside the test env's folders: end it even when an expectation below fails.
    onTestFinished(() => cleanAll(hostPaths(env)).then(() => undefined));
    expect((await cli(['pool', 'up', '--size', '1'])).code).toBe(0);
    const before = (await status()).images[0]!;
    expect(before.ready).toBe(1);
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(images, 'tiny.ext4'), later, later); // what a rebuild does to the key: a new mtime
    const pool = (await connectPool(hostPaths(env)))!;
    expect(await pool.call('claim', { key: before.key })).toBeNull(); // the old kind is gone at once
    pool.close();
    const after = await eventually(status, (s) => s.images[0]?.ready === 1 && s.images[0].key !== before.key, 60_000, 250);
    expect(after.images).toEqual([expect.objectContaining({ ready: 1 })]);
    expect(after.images[0]!.key).not.toBe(before.key);
    expect((await cli(['pool', 'down'])).code).toBe(0);
    expect(processesMentioning(join(t.base, 'r2'))).toEqual([]);
  }, 120_000);

  it("the app's pool follows the open lab, and ends with the app (closed, or killed with -9)", async () => {
    await t.cli(['wipe', '--yes', lab]);
    const logged: string[] = [];
    const appPool = new AppPool(4, t.env, (l) => logged.push(l));
    appPool.follow(lab);
    const status = await eventually(poolStatus, (s) => s.images[0]?.ready === 2, 60_000, 250);
    // Two fresh machines of one kind: two guests, not the four it may keep.
    expect(status.images).toEqual([expect.objectContaining({ image: 'tiny', size: 2, ready: 2, memoryMiB: 128 })]);
    expect(logged).toEqual([]);
    await appPool.close();
    expect(await eventually(() => processesMentioning(pool), (p) => p.length === 0, 20_000)).toEqual([]);

    // An app killed with -9 takes its pool along (the pool watches its owner).
    const script = `import { ensurePool } from ${JSON.stringify(join(process.cwd(), 'src/main/runtime/pool/pool-client.ts'))};
      const pool = await ensurePool(process.env, { owned: true });
      console.log(pool.started ? 'started' : 'joined');
      process.kill(process.pid, 'SIGKILL');`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: t.env, encoding: 'utf8' });
    expect(child.stdout.trim()).toBe('started');
    expect(child.signal).toBe('SIGKILL');
    expect(await eventually(() => processesMentioning(pool), (p) => p.length === 0, 20_000)).toEqual([]);
  }, 120_000);
});
