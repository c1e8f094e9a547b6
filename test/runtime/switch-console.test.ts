// A switch with VLANs or spanning tree is configured over its management socket (runtime/network/
// switch-mgmt.ts), against a fake vde_switch console here. vde_switch makes that socket after its control
// socket (the daemon's readiness), and binds it before it listens: a switch link configured in between
// (a live `apply` adding a switch and links to it, under load) failed with ENOENT or ECONNREFUSED and
// stayed unwired, so the loop of test/runtime/vlans.test.ts never formed and no port was ever blocked.
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DaemonHandle, DaemonSpec, Register } from '../../src/main/runtime/launcher.ts';
import { FakeLauncher } from '../../src/main/runtime/fake-launcher.ts';
import { ProcessBook } from '../../src/main/runtime/process-book.ts';
import { Network } from '../../src/main/runtime/network/network.ts';
import { waitForConsole } from '../../src/main/runtime/network/switch-mgmt.ts';
import { readBlockedPorts } from '../../src/main/runtime/network/switch-ports.ts';
import { newSwitch } from '../../src/main/runtime/network/state.ts';
import { fakeConsole, switchesPlan, switchPlan } from '../support/fake-switch-console.ts';

let dir = '';
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

const sw1 = () => switchPlan(dir, 'sw1', { vlans: [10, 20], stp: true });

/**
 * The fake launcher, but each switch's management console comes up as vde_switch's does, after the
 * daemon is "ready": first missing (ENOENT), then a path nobody listens on (ECONNREFUSED), then answering.
 */
class LateConsoleLauncher extends FakeLauncher {
  readonly consoles = new Map<string, ReturnType<typeof fakeConsole>>();
  constructor(private readonly lateMs: number) {
    super();
  }
  override async spawnDaemon(spec: DaemonSpec, register: Register): Promise<DaemonHandle> {
    const handle = await super.spawnDaemon(spec, register);
    const mgmt = spec.sockets.find((s) => s.endsWith('.mgmt'));
    if (mgmt) {
      const con = fakeConsole(mgmt);
      this.consoles.set(mgmt, con);
      closers.push(con.close);
      setTimeout(() => writeFileSync(mgmt, ''), this.lateMs / 2); // bound, not listening yet
      setTimeout(() => {
        unlinkSync(mgmt);
        void con.listen();
      }, this.lateMs);
    }
    return handle;
  }
}

describe('a switch configured over its management socket', () => {
  it('is up only once its management console answers: a switch link to a switch just started is wired and its ports configured', async () => {
    dir = mkdtempSync(join(tmpdir(), 'vnl-swcon-'));
    const switches = [sw1(), switchPlan(dir, 'sw3', { vlans: [10, 20], stp: true, priority: 4096 })];
    const plan = switchesPlan(dir, switches, { switchLinks: [{ id: 'sw3--sw1', between: ['sw3', 'sw1'], plugged: true, filterMgmt: join(dir, 'c', 'l.wf'), impairments: {}, vlans: { tagged: [10, 20] } }] });
    const launcher = new LateConsoleLauncher(80);
    const notes: string[] = [];
    const network = new Network(plan, launcher, new ProcessBook(), (m) => notes.push(m));
    try {
      await network.up();
      expect(notes).toEqual([]);
      expect(network.cable('sw3--sw1')).toMatchObject({ state: 'up', plugged: true });
      expect(launcher.log).toContain('spawn-daemon the switch link sw3--sw1');
      for (const sw of switches) {
        // (The spanning tree's first read, `vlan/print`, may come in between.)
        expect(launcher.consoles.get(sw.mgmtSocket)!.commands.filter((c) => c !== 'vlan/print')).toEqual(['vlan/create 10', 'vlan/create 20', 'port/create 31', 'vlan/addport 10 31', 'vlan/addport 20 31']);
      }
    } finally {
      await network.down();
    }
  });

  it('waiting for the console stops when the switch exits first', async () => {
    dir = mkdtempSync(join(tmpdir(), 'vnl-swcon-'));
    const started = Date.now();
    await expect(waitForConsole(join(dir, 'never.mgmt'), new Promise((r) => setTimeout(r, 50)))).rejects.toThrow(/exited before it answered|ENOENT/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('a read of the port states that fails keeps the last known state (a blocked port does not flicker away)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'vnl-swcon-'));
    const sw = newSwitch(sw1());
    sw.pinned.set('sw1--sw2', 31);
    let print = 'VLAN 0000\n -- Port 0031 tagged=0 active=1 status=Discarding\nVLAN 0010\n -- Port 0031 tagged=1 active=1 status=Discarding';
    const con = fakeConsole(sw.plan.mgmtSocket, undefined, () => print);
    closers.push(con.close);
    await con.listen();
    expect(await readBlockedPorts(sw)).toEqual(['sw1--sw2']);
    expect([...sw.blocked]).toEqual([[31, [0, 10]]]);
    await con.close();
    closers.length = 0;
    expect(await readBlockedPorts(sw)).toEqual([]); // unreachable: no change reported…
    expect([...sw.blocked]).toEqual([[31, [0, 10]]]); // …and the last state kept
    const again = fakeConsole(sw.plan.mgmtSocket, undefined, () => print);
    closers.push(again.close);
    await again.listen();
    print = 'VLAN 0000\n -- Port 0031 tagged=0 active=1 status=Forwarding';
    expect(await readBlockedPorts(sw)).toEqual(['sw1--sw2']);
    expect([...sw.blocked]).toEqual([]);
  });
});
