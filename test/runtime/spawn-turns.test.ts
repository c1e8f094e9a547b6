// Two things about how the real launcher makes processes and pipes, on real processes:
//  - each spawn takes a turn of the event loop of its own (RealLauncher.spawnTurn): a burst of daemon
//    spawns (a new supervisor's network) held the loop for tens of ms, consoles and requests waiting;
//  - the guests' exec channel FIFOs are made once, by one process, and a FIFO already there is used as it
//    is (fifos.ts: prepareHost makes them on the starting side, the supervisor finds them).
import { lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { GuestPlan } from '../../src/shared/plan.ts';
import { makeGuestFifos } from '../../src/main/runtime/fifos.ts';
import type { DaemonHandle } from '../../src/main/runtime/launcher.ts';
import { RealLauncher } from '../../src/main/runtime/real-launcher.ts';

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
  it('each daemon spawn has a turn of the event loop of its own, however many are asked at once', async () => {
    dir = mkdtempSync(join(tmpdir(), 'vnetlab-spawn-turns-'));
    // Unconfined: what is tested is when the spawns happen, not the sandbox (covered by containment.test.ts).
    const launcher = new RealLauncher({ confined: false });
    let turns = 0;
    let counting = true;
    const count = () => {
      turns++;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    const turnOfSpawn: number[] = [];
    try {
      const spawned = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          launcher.spawnDaemon(
            { what: `sleeper ${i}`, argv: ['sleep', '30'], logFile: join(dir, `${i}.log`), sockets: [], folders: [dir] },
            () => turnOfSpawn.push(turns),
          ),
        ),
      );
      daemons.push(...spawned);
    } finally {
      counting = false;
    }
    expect(turnOfSpawn).toHaveLength(8);
    // Eight spawns asked in one tick: before, all eight ran in the same turn (one value, eight times).
    expect(new Set(turnOfSpawn).size).toBe(8);
    for (const d of daemons) expect(d.pid).toBeGreaterThan(0);
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
