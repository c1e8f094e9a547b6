// A cable's or switch link's port is configured over the domain switch's management socket (runtime/
// network/switch-ports.ts). On a loaded host that console may answer too late, or hang up: that failure
// is passing, and the port is configured again a few times (retryTransient) before the cable is reported
// unwired; a refusal in the switch's own words is not. Against a fake vde_switch console here.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cablePlan } from '../../src/main/compiler/cables.ts';
import type { DaemonHandle, DaemonSpec, Register } from '../../src/main/runtime/launcher.ts';
import { FakeLauncher } from '../../src/main/runtime/fake-launcher.ts';
import { ProcessBook } from '../../src/main/runtime/process-book.ts';
import { Network } from '../../src/main/runtime/network/network.ts';
import { CONFIGURE_RETRY, REPLY_TIMEOUT_CODE, isTransient, retryTransient, switchCommands } from '../../src/main/runtime/network/switch-mgmt.ts';
import { waitUntil } from '../support/poll.ts';
import { fakeConsole, switchesPlan, switchPlan, type Answer } from '../support/fake-switch-console.ts';

let dir = '';
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

/** The fake launcher, with each switch's management console answering as `answers[domain]` says from the start. */
class ConsoleLauncher extends FakeLauncher {
  readonly consoles = new Map<string, ReturnType<typeof fakeConsole>>();
  constructor(private readonly answers: Record<string, (command: string, n: number) => Answer>) {
    super();
  }
  override async spawnDaemon(spec: DaemonSpec, register: Register): Promise<DaemonHandle> {
    const handle = await super.spawnDaemon(spec, register);
    const mgmt = spec.sockets.find((s) => s.endsWith('.mgmt'));
    if (mgmt) {
      const domain = mgmt.slice(mgmt.lastIndexOf('/') + 1, -'.mgmt'.length);
      const con = fakeConsole(mgmt, this.answers[domain]);
      this.consoles.set(domain, con);
      closers.push(con.close);
      await con.listen();
    }
    return handle;
  }
}

/** Two switches with VLAN 10 and a trunk between them: the link's port on each is configured over its console. */
function linkLab(answers: Record<string, (command: string, n: number) => Answer>) {
  dir = mkdtempSync(join(tmpdir(), 'vnl-swretry-'));
  const plan = switchesPlan(dir, [switchPlan(dir, 'sw1'), switchPlan(dir, 'sw2')], {
    switchLinks: [{ id: 'sw1--sw2', between: ['sw1', 'sw2'], plugged: true, filterMgmt: join(dir, 'l.wf'), impairments: {}, vlans: { tagged: [10] } }],
  });
  const launcher = new ConsoleLauncher(answers);
  const notes: string[] = [];
  return { launcher, notes, network: new Network(plan, launcher, new ProcessBook(), (m) => notes.push(m)) };
}

const LINK_PORT = ['vlan/create 10', 'port/create 31', 'vlan/addport 10 31'];

describe('a transient failure to configure a switch port is tried again', () => {
  it('a console that hangs up on the first commands, then answers: the switch link is wired, nothing reported', async () => {
    const { launcher, notes, network } = linkLab({ sw1: (_c, n) => (n < 2 ? 'hang-up' : 'ok') });
    try {
      await network.up();
      expect(notes).toEqual([]);
      expect(network.cable('sw1--sw2')).toMatchObject({ state: 'up', plugged: true });
      expect(launcher.log).toContain('spawn-daemon the switch link sw1--sw2');
      // Hung up on twice at the first command (VLAN 10's creation), then configured from there.
      expect(launcher.consoles.get('sw1')!.commands).toEqual(['vlan/create 10', 'vlan/create 10', ...LINK_PORT]);
      expect(launcher.consoles.get('sw2')!.commands).toEqual(LINK_PORT);
    } finally {
      await network.down();
    }
  });

  it('a console too slow to answer (the reply timeout), then answering: the cable is wired, nothing reported', async () => {
    dir = mkdtempSync(join(tmpdir(), 'vnl-swretry-'));
    const cable = cablePlan(join(dir, 'c'), { machine: 'pc1', interface: 'eth0', domain: 'sw1', vlans: { untagged: 10 } });
    mkdirSync(join(dir, 'c'), { recursive: true });
    const launcher = new ConsoleLauncher({ sw1: (_c, n) => (n === 0 ? 'silent' : 'ok') });
    const notes: string[] = [];
    const network = new Network(switchesPlan(dir, [switchPlan(dir, 'sw1')], { cables: [cable] }), launcher, new ProcessBook(), (m) => notes.push(m));
    try {
      await network.up();
      expect(notes).toEqual([]);
      expect(network.cable('pc1:eth0')).toMatchObject({ state: 'up', plugged: true, domain: 'sw1' });
      expect(launcher.log).toContain('spawn-daemon the wire of cable pc1:eth0');
      expect(launcher.consoles.get('sw1')!.commands).toEqual(['vlan/create 10', 'vlan/create 10', 'port/create 31', 'port/setvlan 31 10']);
    } finally {
      await network.down();
    }
  }, 20_000);

  it('a console that always hangs up: reported after the bounded tries, soon, and the link stays down', async () => {
    const { launcher, notes, network } = linkLab({ sw1: () => 'hang-up' });
    const started = Date.now();
    try {
      await network.up();
      expect(Date.now() - started).toBeLessThan(3_000); // 100 + 200 + 400 ms between the 4 tries
      expect(launcher.consoles.get('sw1')!.commands).toEqual(Array(CONFIGURE_RETRY.attempts).fill('vlan/create 10'));
      expect(notes).toHaveLength(1);
      expect(notes[0]).toMatch(/^switch link sw1--sw2: the switch at \S+sw1\.mgmt closed its management connection before it answered 'vlan\/create 10' \(after 4 tries\)$/);
      expect(network.cable('sw1--sw2')).toMatchObject({ state: 'down' });
      expect(launcher.log).not.toContain('spawn-daemon the switch link sw1--sw2');
    } finally {
      await network.down();
    }
  });

  it('a refusal in the switch’s own words (an unknown command) is reported at once, not tried again', async () => {
    const { launcher, notes, network } = linkLab({ sw1: (c) => (c.startsWith('vlan/addport') ? { code: 1038, text: 'Function not implemented' } : 'ok') });
    try {
      await network.up();
      expect(notes).toEqual([`switch link sw1--sw2: the switch refused 'vlan/addport 10 31': Function not implemented (1038)`]);
      expect(launcher.consoles.get('sw1')!.commands).toEqual(LINK_PORT); // once
      expect(network.cable('sw1--sw2')).toMatchObject({ state: 'down' });
    } finally {
      await network.down();
    }
  });

  it('stops trying once the network is taken down', async () => {
    const { launcher, notes, network } = linkLab({ sw1: () => 'hang-up' });
    const starting = network.up().catch((err: Error) => err);
    await waitUntil(() => launcher.consoles.get('sw1')?.commands.length ?? 0, (n) => n >= 1, 5_000, 5);
    const stopping = Date.now();
    await network.down();
    await starting;
    expect(Date.now() - stopping).toBeLessThan(1_000);
    const tries = launcher.consoles.get('sw1')!.commands.length;
    expect(tries).toBeLessThan(CONFIGURE_RETRY.attempts);
    await new Promise((r) => setTimeout(r, 900)); // longer than the backoff left: no try comes after
    expect(launcher.consoles.get('sw1')!.commands.length).toBe(tries);
    expect(launcher.log).not.toContain('spawn-daemon the switch link sw1--sw2');
    expect(notes.every((n) => n.startsWith('switch link sw1--sw2: '))).toBe(true);
  });
});

describe('retryTransient and the errors of a switch console', () => {
  const coded = (code?: string) => Object.assign(new Error(`failed${code ? ` (${code})` : ''}`), code ? { code } : {});
  const quick = { attempts: 4, firstDelayMs: 1, maxDelayMs: 8 };

  it('tells a passing failure from a lasting one by its code', () => {
    for (const code of ['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', REPLY_TIMEOUT_CODE]) expect(isTransient(coded(code))).toBe(true);
    for (const err of [coded(), coded('EACCES'), new Error(`the switch refused 'x': Function not implemented (1038)`), undefined]) expect(isTransient(err)).toBe(false);
  });

  it('tries a transient failure again, at most `attempts` times, and says how many it took', async () => {
    let tries = 0;
    expect(await retryTransient(async () => (++tries < 3 ? Promise.reject(coded('ECONNREFUSED')) : 'ok'), () => true, quick)).toBe('ok');
    expect(tries).toBe(3);
    tries = 0;
    await expect(retryTransient(() => (tries++, Promise.reject(coded(REPLY_TIMEOUT_CODE))), () => true, quick)).rejects.toMatchObject({ message: 'failed (ETIMEDOUT) (after 4 tries)', code: REPLY_TIMEOUT_CODE });
    expect(tries).toBe(4);
  });

  it('does not try again after a lasting failure, or once told to stop (the switch exited, the network goes down)', async () => {
    let tries = 0;
    const lasting = coded();
    await expect(retryTransient(() => (tries++, Promise.reject(lasting)), () => true, quick)).rejects.toBe(lasting);
    expect(tries).toBe(1);
    tries = 0;
    let running = true;
    await expect(retryTransient(() => (tries++, (running = false), Promise.reject(coded('ECONNREFUSED'))), () => running, quick)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(tries).toBe(1);
  });

  it('a console that does not answer in time fails with the timeout code; one that hangs up, with ECONNRESET; none, with ENOENT', async () => {
    dir = mkdtempSync(join(tmpdir(), 'vnl-swretry-'));
    const silent = fakeConsole(join(dir, 'silent.mgmt'), () => 'silent');
    const rude = fakeConsole(join(dir, 'rude.mgmt'), () => 'hang-up');
    closers.push(silent.close, rude.close);
    await Promise.all([silent.listen(), rude.listen()]);
    await expect(switchCommands(join(dir, 'silent.mgmt'), ['vlan/create 10'], 50)).rejects.toMatchObject({ code: REPLY_TIMEOUT_CODE, message: expect.stringMatching(/did not answer 'vlan\/create 10'/) });
    await expect(switchCommands(join(dir, 'rude.mgmt'), ['vlan/create 10'], 5_000)).rejects.toMatchObject({ code: 'ECONNRESET', message: expect.stringMatching(/closed its management connection/) });
    await expect(switchCommands(join(dir, 'none.mgmt'), ['vlan/create 10'])).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
