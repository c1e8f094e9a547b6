// Real-UML failure handling: a guest whose startup script fails or hangs is reported by name while
// the rest of the lab runs; a supervisor killed with -9 in the middle of a start leaves processes
// that `vnetlab clean` finds from the on-disk records and ends.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retainImage } from '../../src/main/images/backing.ts';
import { hostPaths, labIdFor } from '../../src/main/paths.ts';
import { isRecordedProcessAlive, readRecords } from '../../src/main/runtime/records.ts';
import { findRunDir, listSockets } from '../../src/main/runtime/run-dir.ts';
import { eventually, waitUntil, processesMentioning, testEnv, type TestEnv } from './helpers.ts';

const host = (name: string, ip: string, startup?: string) => `
  ${name}:
    image: tiny
    memory: 64
    interfaces:
      - {domain: lan, ipv4: ${ip}/24}${startup ? `\n    startup: |\n      ${startup}` : ''}`;

describe('failing guests (real UML)', () => {
  let t: TestEnv;
  beforeAll(() => {
    t = testEnv();
  });
  afterAll(async () => {
    await t?.dispose();
  });

  it('reports a hanging and a failing startup by name while the others run', async () => {
    const lab = t.lab('faulty', {
      'lab.yaml': `lab:\n  name: faulty\nmachines:${host('good', '10.0.1.1')}${host('broken', '10.0.1.2', 'echo about to fail; exit 3')}${host('stuck', '10.0.1.3', 'sleep 600')}\ndomains:\n  lan: {kind: hub}\n`,
    });
    const start = await t.cli(['start', lab, '--timeout', '12']);
    expect(start.code).toBe(1);
    expect(start.stderr).toMatch(/stuck failed: .*not ready/);
    expect(start.stderr).toMatch(/last console lines of stuck/);
    expect(start.stderr).toMatch(/1 machine\(s\) failed to start: stuck\. The others \(.*good.*\) are running/);
    expect(start.stderr).toMatch(/startup script of broken exited with 3/);
    expect(start.stderr).toContain('about to fail');
    const ping = await t.cli(['exec', '-l', lab, 'good', '--', 'ping -c 1 10.0.1.2']);
    expect(ping.code).toBe(0);
    const status = JSON.parse((await t.cli(['status', lab, '--json'])).stdout);
    const states = Object.fromEntries(status.machines.map((m: { name: string; state: string }) => [m.name, m.state]));
    expect(states).toEqual({ good: 'ready', broken: 'ready', stuck: 'failed' });
    const runDir = findRunDir(lab, hostPaths(t.env))!;
    expect((await t.cli(['stop', lab])).code).toBe(0);
    expect(await eventually(() => processesMentioning(runDir), (p) => p.length === 0, 5_000)).toEqual([]);
  });

  it('boots a disk over the image it was made from after a rebuild, and says to wipe when that is gone', async () => {
    // A private image folder: the shared images must not be touched.
    const imageDir = join(t.base, 'images');
    const image = join(imageDir, 'tiny.ext4');
    const lab = t.lab('rebuilt', { 'lab.yaml': `lab:\n  name: rebuilt\nmachines:${host('h0', '10.0.3.1')}\ndomains:\n  lan: {kind: hub}\n` });
    const saved = t.env.VNETLAB_IMAGE_DIR;
    t.env.VNETLAB_IMAGE_DIR = imageDir;
    try {
      expect((await t.cli(['start', lab])).code).toBe(0);
      expect((await t.cli(['exec', '-l', lab, 'h0', '--', 'echo kept > /root/note; sync'])).code).toBe(0);
      expect((await t.cli(['stop', lab])).code).toBe(0);
      // What an image rebuild does: keep the old file under its build time, put a new file in place.
      retainImage(image, 'tiny', '2026-01-01T00:00:00.000Z');
      execFileSync('cp', ['--sparse=always', image, `${image}.new`]);
      utimesSync(`${image}.new`, new Date('2026-02-01'), new Date('2026-02-01'));
      renameSync(`${image}.new`, image);
      const overOld = await t.cli(['start', lab]);
      expect(overOld.code, overOld.stderr).toBe(0);
      expect((await t.cli(['exec', '-l', lab, 'h0', '--', 'cat /root/note'])).stdout).toBe('kept\n');
      expect((await t.cli(['stop', lab])).code).toBe(0);
      // Once the old image is gone (pruned), the disk cannot boot: say what to do.
      for (const f of readdirSync(imageDir).filter((f) => f.startsWith('tiny@'))) rmSync(join(imageDir, f));
      const again = await t.cli(['start', lab, '--timeout', '30']);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('h0 failed: could not start: the disk of h0 was made from a tiny image that no longer exists\nstart h0 over from the lab files: vnetlab wipe h0');
      expect((await t.cli(['wipe', '-l', lab, '--yes'])).code).toBe(0);
      const fresh = await t.cli(['start', lab]);
      expect(fresh.code, fresh.stderr).toBe(0);
      expect((await t.cli(['stop', lab])).code).toBe(0);
    } finally {
      t.env.VNETLAB_IMAGE_DIR = saved;
    }
  });

  it('clean ends everything after the supervisor was killed with -9 in the middle of a start', async () => {
    // c's startup script holds the start open, so the kill lands while the start is in progress.
    const lab = t.lab('orphans', {
      'lab.yaml': `lab:\n  name: orphans\nmachines:${host('a', '10.0.2.1')}${host('b', '10.0.2.2')}${host('c', '10.0.2.3', 'sleep 60')}\ndomains:\n  lan: {kind: hub}\n`,
    });
    const starting = t.cli(['start', lab]);
    // Wait until all three kernels run: each has made its mconsole socket. A guest still in its
    // start gate is the pty's session leader and dies of the hang-up when the supervisor's master
    // closes; that leaves nothing to clean, and would make which guests clean kills a matter of timing.
    const kernelsUp = (d: string | undefined) => {
      const guests = d ? readRecords(d).filter((r) => r.kind === 'guest') : [];
      return guests.length === 3 && guests.every((g) => g.sockets.some((s) => existsSync(join(s, 'mconsole'))));
    };
    const runDir = await eventually(() => findRunDir(lab, hostPaths(t.env)), kernelsUp, 60_000);
    expect(kernelsUp(runDir)).toBe(true);
    const supervisor = readRecords(runDir!).find((r) => r.kind === 'supervisor')!;
    expect(isRecordedProcessAlive(supervisor)).toBe(true);
    process.kill(supervisor.pid, 'SIGKILL');
    const interrupted = await starting;
    expect(interrupted.code).not.toBe(0);
    expect(interrupted.stderr).toMatch(/supervisor went away/);
    expect(processesMentioning(runDir!).length).toBeGreaterThan(0); // guests and switch outlive it
    // Every one of them was recorded before it ran (the launcher's start gate): clean finds them all.
    const recorded = new Set(readRecords(runDir!).map((r) => r.pid));
    for (const p of processesMentioning(runDir!)) {
      // One may end between the listing and this read (a guest helper whose peer went with the
      // supervisor): only what is still alive needs a record.
      let stat: string;
      try {
        stat = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
      } catch {
        continue;
      }
      const group = Number(stat.split(') ')[1]!.split(' ')[2]);
      expect(recorded.has(group) || recorded.has(p.pid), p.cmdline).toBe(true);
    }

    // The guests' memory folders (/dev/shm/vnetlab-<uid>/<umid>) outlive the supervisor too: clean takes them.
    const memoryFolders = readRecords(runDir!).filter((r) => r.kind === 'guest').flatMap((r) => r.sockets.filter((s) => /\/vnetlab-\d+\/[^/]+$/.test(s)));
    expect(memoryFolders.length).toBeGreaterThan(0);
    const clean = await t.cli(['clean', lab]);
    expect(clean.code).toBe(0);
    for (const folder of memoryFolders) expect(existsSync(folder), folder).toBe(false);
    for (const name of ['a', 'b', 'c']) expect(clean.stdout).toMatch(new RegExp(`^killed guest ${name} `, 'm'));
    expect(clean.stdout).toMatch(/killed switch lan/);
    expect(clean.stdout).toContain(`removed ${runDir}`);
    expect(await eventually(() => processesMentioning(runDir!), (p) => p.length === 0, 5_000)).toEqual([]);
    expect(listSockets(runDir!)).toEqual([]);
    // clean removes run-time files only: the lab's state dir (guest disks) is kept.
    expect(existsSync(join(hostPaths(t.env).stateRoot, 'labs', runDir!.split('/').pop()!, 'disks'))).toBe(true);
  });

  it('after the supervisor of a running lab died, the next start shuts its guests down cleanly (work kept) and starts afresh', async () => {
    const lab = t.lab('adopt', { 'lab.yaml': `lab:\n  name: adopt\nmachines:${host('a', '10.0.3.1')}${host('b', '10.0.3.2')}\ndomains:\n  lan: {kind: hub}\n` });
    expect((await t.cli(['start', lab])).code).toBe(0);
    // Written to the guest's page cache only: a kill would lose it, a clean shutdown keeps it.
    expect((await t.cli(['exec', '-l', lab, 'a', '--', 'echo homework > /root/work.txt'])).code).toBe(0);
    const runDir = findRunDir(lab, hostPaths(t.env))!;
    const supervisor = readRecords(runDir).find((r) => r.kind === 'supervisor')!;
    const guestPids = readRecords(runDir).filter((r) => r.kind === 'guest').map((r) => r.pid);
    process.kill(supervisor.pid, 'SIGKILL');
    await waitUntil(() => isRecordedProcessAlive(supervisor), (alive) => !alive, 5_000);
    const again = await t.cli(['start', lab]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/previous supervisor of adopt died; shutting down what it left running/);
    const status = JSON.parse((await t.cli(['status', lab, '--json'])).stdout) as { machines: { pid: number; state: string }[] };
    expect(status.machines.every((m) => m.state === 'ready' && !guestPids.includes(m.pid))).toBe(true);
    expect((await t.cli(['exec', '-l', lab, 'a', '--', 'cat /root/work.txt'])).stdout).toBe('homework\n');
    expect((await t.cli(['stop', lab])).code).toBe(0);
  });

  it('three starts of one lab at once: one supervisor, every start succeeds, nobody is told to clean', async () => {
    const lab = t.lab('trio', { 'lab.yaml': `lab:\n  name: trio\nmachines:${host('a', '10.0.6.1')}${host('b', '10.0.6.2')}\ndomains:\n  lan: {kind: hub}\n` });
    const results = await Promise.all([1, 2, 3].map(() => t.cli(['start', lab])));
    for (const r of results) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/clean/);
    }
    const runDir = findRunDir(lab, hostPaths(t.env))!;
    const supervisors = processesMentioning(runDir).filter((p) => /supervisor/.test(p.cmdline));
    expect(supervisors).toHaveLength(1);
    // Only one was ever spawned: a second would have lost the lock and said so in the log, and on a
    // loaded host still been running when the three starts returned.
    expect(readFileSync(join(runDir, 'supervisor.log'), 'utf8')).not.toMatch(/another supervisor owns this lab/);
    const guests = readRecords(runDir).filter((r) => r.kind === 'guest');
    expect(guests.map((g) => g.name).sort()).toEqual(['a', 'b']);
    expect((await t.cli(['stop', lab])).code).toBe(0);
  });

  it('a misspelt machine is refused at once, leaving nothing behind', async () => {
    const lab = t.lab('typo', { 'lab.yaml': `lab:\n  name: typo\nmachines:${host('a', '10.0.4.1')}\ndomains:\n  lan: {kind: hub}\n` });
    const r = await t.cli(['start', lab, 'nosuch']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no machine named 'nosuch' in lab typo[\s\S]*machines: a/);
    const runDir = findRunDir(lab, hostPaths(t.env));
    expect(runDir ? readRecords(runDir).filter((rec) => isRecordedProcessAlive(rec)) : []).toEqual([]);
  });

  it('stop wins over a start in progress, even one whose supervisor is not up yet', async () => {
    // The guests stay booting (not ready) until their startup script ends: a guest boots in well under a
    // second, sooner than a `vnetlab stop` process starts, and the stop must land while they boot.
    const lab = t.lab('race', { 'lab.yaml': `lab:\n  name: race\nmachines:${host('a', '10.0.5.1', 'sleep 30')}${host('b', '10.0.5.2', 'sleep 30')}\ndomains:\n  lan: {kind: hub}\n` });
    for (const when of ['before the supervisor answers', 'while guests boot']) {
      const starting = t.cli(['start', lab]);
      if (when === 'while guests boot') {
        // A guest of this start, running (a record left by the round before would not do).
        await waitUntil(() => findRunDir(lab, hostPaths(t.env)), (d) => !!d && readRecords(d).some((r) => r.kind === 'guest' && isRecordedProcessAlive(r)), 30_000);
      } else {
        // Once the start has said it is starting (before that, a stop rightly finds nothing to stop).
        const intent = join(hostPaths(t.env).runtimeRoot, labIdFor(lab, 'race'), 'start.intent');
        expect(await eventually(() => existsSync(intent), (e) => e, 30_000)).toBe(true);
      }
      const stopped = await t.cli(['stop', lab]);
      expect(stopped.code, `${when}: ${stopped.stderr}`).toBe(0);
      const start = await starting;
      expect(start.code, `${when}: ${start.stdout}${start.stderr}`).toBe(1);
      expect(start.stderr).toMatch(/cancelled|start interrupted/);
      // And the lab does not come up behind the user's back.
      await new Promise((r) => setTimeout(r, 2_000));
      const runDir = findRunDir(lab, hostPaths(t.env));
      expect(runDir ? processesMentioning(runDir) : [], when).toEqual([]);
      // Nor a record of a guest: the next start would take it for one of its own.
      expect(runDir ? readRecords(runDir).map((r) => `${r.kind} ${r.name}`) : [], when).toEqual([]);
    }
  });
});
