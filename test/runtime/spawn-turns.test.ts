// Two things about how the real launcher makes processes and pipes, on real processes:
//  - a burst of daemon spawns (a new supervisor's network) held the loop for tens of ms, consoles and
//    requests waiting: daemons are now forked by the daemon spawner (daemon-spawner.ts), and what the
//    supervisor still forks itself takes a turn of the event loop each (RealLauncher.spawnTurn);
//  - the guests' exec channel FIFOs are made once, by one process, and a FIFO already there is used as it
//    is (fifos.ts: prepareHost makes them on the starting side, the supervisor finds them).
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { GuestPlan } from '../../src/shared/plan.ts';
import { makeGuestFifos } from '../../src/main/runtime/fifos.ts';
import type { DaemonHandle } from '../../src/main/runtime/launcher.ts';
import { RealLauncher } from '../../src/main/runtime/real-launcher.ts';
import { hostHelper } from '../../src/main/images/host-helpers.ts';

let dir = '';
const daemons: DaemonHandle[] = [];
afterEach(async () => {
  for (const d of daemons.splice(0)) {
    d.kill('SIGKILL');
    await d.exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

describe('RealLauncher spawns', () => {
  it('daemons are forked by the daemon spawner, never by this process', async () => {
    dir = mkdtempSync(join(tmpdir(), 'vnetlab-spawn-turns-'));
    // Unconfined: what is tested is who forks, not the sandbox (covered by containment.test.ts).
    const launcher = new RealLauncher({ confined: false });
    const parents: { pid: number; exe: string }[] = [];
    try {
      const spawned = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          launcher.spawnDaemon({ what: `sleeper ${i}`, argv: ['sleep', '30'], logFile: join(dir, `${i}.log`), sockets: [], folders: [dir] }, (p) => {
            const stat = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
            const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
            parents.push({ pid: parent, exe: readlinkSync(`/proc/${parent}/exe`) });
          }),
        ),
      );
      for (const d of spawned) {
        d.kill('SIGKILL');
        await d.exited;
      }
    } finally {
      await launcher.close();
    }
    expect(parents).toHaveLength(8);
    // A fork of this process (~60 MB) held its only thread 5-15 ms per daemon under load.
    expect(parents.map((p) => p.pid)).not.toContain(process.pid);
    expect(new Set(parents.map((p) => p.pid)).size).toBe(1);
    expect(parents[0]!.exe).toBe(hostHelper('vnetlab-spawner'));
  });

  it('what this process still spawns (guests, a capture) takes a turn of the event loop each', async () => {
    const launcher = new RealLauncher({ confined: false });
    let turns = 0;
    let counting = true;
    const count = () => {
      turns++;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    const turnOfSpawn: number[] = [];
    await Promise.all(Array.from({ length: 8 }, () => launcher.spawnTurn().then(() => turnOfSpawn.push(turns))));
    counting = false;
    // Eight asked in one tick: each in a turn of its own, with the loop free between them.
    expect(new Set(turnOfSpawn).size).toBe(8);
  });
});

describe('makeGuestFifos', () => {
  const guest = (name: string): GuestPlan => ({ name, execChannel: { toGuest: join(dir, name, 'to'), fromGuest: join(dir, name, 'from') } }) as unknown as GuestPlan;

  it('makes the missing FIFOs (0600, in 0700 folders), keeps a FIFO already there, and replaces anything else', async () => {
    dir = mkdtempSync(join(tmpdir(), 'vnetlab-fifos-'));
    await makeGuestFifos([guest('h0')]);
    const kept = lstatSync(join(dir, 'h0', 'to'));
    expect(kept.isFIFO()).toBe(true);
    expect((kept.mode & 0o777).toString(8)).toBe('600');
    expect((statSync(join(dir, 'h0')).mode & 0o777).toString(8)).toBe('700');
    mkdirSync(join(dir, 'h1'), { mode: 0o700 });
    writeFileSync(join(dir, 'h1', 'to'), 'a leftover that is no FIFO\n');
    await makeGuestFifos([guest('h0'), guest('h1')]);
    expect(lstatSync(join(dir, 'h0', 'to')).ino).toBe(kept.ino); // the same FIFO: not made again
    for (const path of ['h0/from', 'h1/to', 'h1/from']) expect(lstatSync(join(dir, path)).isFIFO(), path).toBe(true);
  });
});
