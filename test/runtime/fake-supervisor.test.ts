// Supervisor logic against the fake launcher: waves, bounded parallelism, failure isolation, stop
// escalation, console sessions. Real processes are covered by the other files in this folder.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { GuestPlan, Plan } from '../../src/shared/plan.ts';
import type { LabEvent } from '../../src/shared/runtime-api.ts';
import { FakeLauncher, type FakeGuestBehaviour } from '../../src/main/runtime/fake-launcher.ts';
import { Supervisor } from '../../src/main/runtime/supervisor.ts';
import { cablePlan } from '../../src/main/compiler/cables.ts';
import { ConsoleSession, REPLAY_LIMIT_CHARS, SETTLE_QUIET_MS } from '../../src/main/runtime/console-session.ts';
import { fakeGuestPlan, fakeInterface } from '../support/fake-plan.ts';
import { waitUntil } from '../support/poll.ts';

function guest(name: string, dependsOn: string[] = []): GuestPlan {
  return fakeGuestPlan(name, { interfaces: [fakeInterface(name, 'A')], dependsOn });
}

function plan(waves: string[][], deps: Record<string, string[]> = {}): Plan {
  const names = waves.flat();
  return {
    planVersion: 3,
    lab: { name: 'fake', id: 'fake-00000000', root: '/nonexistent', format: 'yaml' },
    runDir: '/nonexistent/run',
    stateDir: '/nonexistent/state',
    labFs: { image: '/nonexistent/labfs.ext4', entries: [] },
    switches: [{ domain: 'A', kind: 'hub', ctlDir: '/nonexistent/sw/A', mgmtSocket: 'm', argv: ['vde_switch'] }],
    cables: names.map((n) => cablePlan('/nonexistent/c', { machine: n, interface: 'eth0', domain: 'A' })),
    guests: names.map((n) => guest(n, deps[n])),
    waves,
  };
}

function supervisor(p: Plan, behaviour: Record<string, FakeGuestBehaviour> = {}, parallel = 4) {
  const launcher = new FakeLauncher(behaviour);
  const sup = new Supervisor(p, launcher, { maxParallelBoots: parallel, consoleLogs: false, cadTimeoutMs: 50, haltTimeoutMs: 50, syncTimeoutMs: 50 });
  const events: LabEvent[] = [];
  sup.on('event', (e: LabEvent) => events.push(e));
  return { launcher, sup, events };
}

describe('supervisor with the fake launcher', () => {
  it('boots wave by wave: no guest of a wave spawns before the previous wave is ready', async () => {
    const { launcher, sup } = supervisor(plan([['r1', 'r2'], ['pc1', 'pc2']], { pc1: ['r1'], pc2: ['r2'] }), { r1: { bootMs: 30 }, r2: { bootMs: 10 } });
    const result = await sup.start();
    expect(result).toMatchObject({ ok: true, failed: [] });
    const log = launcher.log;
    expect(log[0]).toBe('spawn-daemon the switch of collision domain A');
    const lastRouterReady = Math.max(log.indexOf('ready r1'), log.indexOf('ready r2'));
    expect(Math.min(log.indexOf('spawn pc1'), log.indexOf('spawn pc2'))).toBeGreaterThan(lastRouterReady);
    expect(sup.status().machines.every((m) => m.state === 'ready')).toBe(true);
    await sup.shutdown();
  });

  it("fails a machine whose cable's port did not start, says why, and starts the others", async () => {
    const launcher = new FakeLauncher({}, { failingDaemons: /port of cable pc1:eth0/ });
    const sup = new Supervisor(plan([['pc1', 'pc2']]), launcher, { maxParallelBoots: 4, consoleLogs: false });
    const result = await sup.start();
    expect(result.started).toEqual(['pc2']);
    expect(result.failed).toHaveLength(1);
    expect(result.failed[0]!.machine).toBe('pc1');
    expect(result.failed[0]!.error).toContain('no port for its cable eth0 (the port of cable pc1:eth0 exited: fake failure)');
    // Its kernel never ran: it would have come up without eth0 and said it was ready.
    expect(launcher.log).not.toContain('spawn pc1');
    expect(launcher.log).toContain('ready pc2');
    await sup.shutdown();
  });

  it("answers the start before the guests' IPv6 wave, which goes a few guests at a time", async () => {
    const names = Array.from({ length: 40 }, (_, i) => `g${String(i).padStart(2, '0')}`);
    const launcher = new FakeLauncher();
    let inFlight = 0;
    let most = 0;
    const spawnGuest = launcher.spawnGuest.bind(launcher);
    // Each guest's `6` takes a while, as loading the module does in a real guest.
    launcher.spawnGuest = async (...args) => {
      const handle = await spawnGuest(...args);
      handle.agent.ipv6Now = async () => {
        launcher.log.push(`ipv6 ${args[0].name}`);
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
      };
      return handle;
    };
    const sup = new Supervisor(plan([names]), launcher, { maxParallelBoots: 40, consoleLogs: false, cadTimeoutMs: 50, haltTimeoutMs: 50, syncTimeoutMs: 50 });
    const result = await sup.start();
    expect(result.ok).toBe(true);
    // The answer is out before any guest is asked (hundreds at once held a 500-machine start's answer ~6 s).
    expect(launcher.log.filter((l) => l.startsWith('ipv6 '))).toEqual([]);
    await waitUntil(() => launcher.log.filter((l) => l.startsWith('ipv6 ')).length, (asked) => asked === 40, 5_000, 10);
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(2 * availableParallelism());
    await sup.shutdown();
  });

  it('boots each guest once its own cables are up, not after the whole network (cables come up in boot order)', async () => {
    const names = Array.from({ length: 24 }, (_, i) => `g${String(i).padStart(2, '0')}`);
    const p = plan([names]);
    const launcher = new FakeLauncher({}, { daemonMs: 5 });
    const sup = new Supervisor(p, launcher, { maxParallelBoots: 24, consoleLogs: false });
    const result = await sup.start();
    expect(result).toMatchObject({ ok: true, failed: [] });
    const log = launcher.log;
    const at = (line: string) => {
      const i = log.indexOf(line);
      expect(i, line).toBeGreaterThanOrEqual(0);
      return i;
    };
    for (const [i, name] of names.entries()) {
      const cable = p.cables[i]!;
      expect(cable.machine).toBe(name);
      // Never before its own port and wire are ready…
      expect(at(`spawn ${name}`)).toBeGreaterThan(at(`daemon-up the wire of cable ${cable.id}`));
      expect(at(`spawn ${name}`)).toBeGreaterThan(at(`daemon-up the port of cable ${cable.id}`));
    }
    // …but the first guests before the last cables: 8 cables start at a time, in the order guests boot.
    expect(at(`spawn ${names[0]}`)).toBeLessThan(at(`spawn-daemon the port of cable ${p.cables.at(-1)!.id}`));
    // The start still returns with the whole network up.
    expect(sup.status().cables.map((c) => c.state)).toEqual(names.map(() => 'up'));
    expect(log.filter((l) => l.startsWith('daemon-up the wire of cable'))).toHaveLength(names.length);
    await sup.shutdown();
  });

  it('two starts at once boot each guest once and both wait for all of them', async () => {
    const names = ['a', 'b', 'c', 'd'];
    const { launcher, sup } = supervisor(plan([names]), Object.fromEntries(names.map((n) => [n, { bootMs: 20 }])), 2);
    const [first, second] = await Promise.all([sup.start(), sup.start(['c', 'd'])]);
    for (const n of names) expect(launcher.log.filter((l) => l === `spawn ${n}`)).toHaveLength(1);
    expect(first.started.sort()).toEqual(names);
    expect(second.started.sort()).toEqual(['c', 'd']);
    expect(sup.status().machines.every((m) => m.state === 'ready')).toBe(true);
    await sup.shutdown();
  });

  it('never boots more guests at once than the limit', async () => {
    const names = Array.from({ length: 9 }, (_, i) => `h${i}`);
    const behaviour = Object.fromEntries(names.map((n) => [n, { bootMs: 15 }]));
    const { launcher, sup } = supervisor(plan([names]), behaviour, 3);
    await sup.start();
    expect(launcher.maxConcurrentBoots).toBe(3);
    await sup.shutdown();
  });

  it('a guest that panics, exits or hangs fails by name while the others run', async () => {
    const { sup, events } = supervisor(plan([['ok1', 'panics', 'exits', 'hangs', 'ok2']]), {
      panics: { fails: 'panic' },
      exits: { fails: 'exit' },
      hangs: { fails: 'hang' },
    });
    const result = await sup.start([], { timeoutMs: 200 });
    expect(result.ok).toBe(false);
    const failed = Object.fromEntries(result.failed.map((f) => [f.machine, f.error]));
    expect(Object.keys(failed).sort()).toEqual(['exits', 'hangs', 'panics']);
    expect(failed.panics).toMatch(/kernel panic/);
    expect(failed.panics).toMatch(/Attempted to kill init/); // the console tail is part of the error
    expect(failed.exits).toMatch(/exited during boot/);
    expect(failed.hangs).toMatch(/not ready after/);
    expect(result.started.sort()).toEqual(['ok1', 'ok2']);
    expect(sup.state('ok1')).toBe('ready');
    expect(events).toContainEqual(expect.objectContaining({ type: 'machine-state', machine: 'panics', state: 'failed' }));
    await sup.shutdown();
  });

  it('starting a failed machine replaces its guest instead of booting a second one beside it', async () => {
    const { launcher, sup } = supervisor(plan([['stuck']]), { stuck: { fails: 'hang' } });
    const first = await sup.start([], { timeoutMs: 30 });
    expect(first.failed.map((f) => f.machine)).toEqual(['stuck']);
    expect(sup.status().machines[0]!.pid).toBeDefined(); // kept running so its console can be read
    await sup.start([], { timeoutMs: 30 });
    // The first guest was ended before the second was spawned: never two at once.
    const events = launcher.log.filter((l) => /^(spawn|kill|exit) stuck/.test(l));
    expect(events, launcher.log.join('\n')).toEqual(['spawn stuck', 'kill stuck SIGKILL', 'exit stuck', 'spawn stuck']);
    await sup.crash();
  });

  it('stop wins over start: machines queued or booting are stopped and reported as such, not as started', async () => {
    const { launcher, sup } = supervisor(plan([['r1'], ['pc1', 'pc2']], { pc1: ['r1'], pc2: ['r1'] }), { r1: { bootMs: 40 }, pc1: { bootMs: 40 }, pc2: { bootMs: 40 } });
    const starting = sup.start();
    await new Promise((r) => setTimeout(r, 10)); // r1 is booting, pc1 and pc2 wait for it
    await sup.stop();
    const result = await starting;
    expect(result.ok).toBe(false);
    expect(result.started).toEqual([]);
    expect(result.stopped.sort()).toEqual(['pc1', 'pc2', 'r1']);
    expect(launcher.log).not.toContain('spawn pc1');
    expect(sup.status().machines.every((m) => m.state === 'stopped' && m.pid === undefined)).toBe(true);
  });

  it('a stop returns only once a guest it caught mid-spawn is stopped too; one caught waiting for its cables never spawns', async () => {
    for (const when of ['mid-spawn', 'waiting for its cables'] as const) {
      // pc1's spawn takes 300 ms; or its cables do (the port of its cable takes 300 ms to come up).
      const slowPort = (what: string) => (what.startsWith('the port of cable') ? 300 : 0);
      const launcher = new FakeLauncher(when === 'mid-spawn' ? { pc1: { spawnMs: 300, bootMs: 5_000 } } : { pc1: { bootMs: 5_000 } }, when === 'mid-spawn' ? {} : { daemonMs: slowPort });
      const sup = new Supervisor(plan([['pc1']]), launcher, { maxParallelBoots: 4, consoleLogs: false, cadTimeoutMs: 50, haltTimeoutMs: 50, syncTimeoutMs: 50 });
      const starting = sup.start();
      await new Promise((r) => setTimeout(r, 100)); // pc1's boot is under way, with no process to stop yet
      await sup.shutdown('stop');
      // Nothing of pc1 runs once the stop has returned: the supervisor exits right after a full stop.
      const spawned = launcher.log.includes('spawn pc1');
      expect(spawned, when).toBe(when === 'mid-spawn');
      if (spawned) expect(launcher.log, when).toContain('exit pc1');
      expect(await starting, when).toMatchObject({ ok: false, started: [], stopped: ['pc1'] });
      // …and it is seen as gone: stopped, no pid (nor a record, with a run dir) left to a later start.
      expect(sup.status().machines.find((m) => m.name === 'pc1'), when).toMatchObject({ state: 'stopped', pid: undefined });
    }
  });

  it('a crash that catches a guest mid-spawn kills it at once, without its shutdown', async () => {
    const launcher = new FakeLauncher({ pc1: { spawnMs: 200, bootMs: 5_000 } });
    const sup = new Supervisor(plan([['pc1']]), launcher, { maxParallelBoots: 4, consoleLogs: false, cadTimeoutMs: 50, haltTimeoutMs: 50, syncTimeoutMs: 50 });
    const starting = sup.start();
    await new Promise((r) => setTimeout(r, 50));
    await sup.crash();
    expect(launcher.log).toContain('kill pc1 SIGKILL');
    expect(launcher.log).not.toContain('cad pc1');
    expect(await starting).toMatchObject({ stopped: ['pc1'] });
    expect(sup.status().machines.find((m) => m.name === 'pc1')).toMatchObject({ state: 'crashed', pid: undefined });
  });

  it('a start asked for before the last full stop reached the supervisor boots nothing', async () => {
    const { launcher, sup } = supervisor(plan([['a']]));
    const askedAt = Date.now();
    await new Promise((r) => setTimeout(r, 2));
    await sup.stop();
    const result = await sup.start([], { requestedAt: askedAt });
    expect(result).toMatchObject({ ok: false, started: [], stopped: ['a'] });
    expect(launcher.log).not.toContain('spawn a');
  });

  it('stop escalates cad → the kernel syncs and remounts its disks read-only → halt → SIGKILL for a guest that ignores both', async () => {
    const { launcher, sup } = supervisor(plan([['stubborn', 'polite']]), { stubborn: { ignores: ['cad', 'halt'] } });
    await sup.start();
    await sup.stop();
    const forStubborn = launcher.log.filter((l) => /stubborn/.test(l) && /^(cad|sysrq|halt|kill|exit)/.test(l));
    expect(forStubborn).toEqual(['cad stubborn', 'sysrq s stubborn', 'sysrq u stubborn', 'halt stubborn', 'kill stubborn SIGKILL', 'exit stubborn']);
    expect(launcher.log).not.toContain('sysrq s polite');
    expect(launcher.log).not.toContain('halt polite');
    expect(sup.state('stubborn')).toBe('stopped');
    expect(sup.state('polite')).toBe('stopped');
  });

  it("asks a ready guest's agent to halt first: no mconsole `cad` (a host process per guest) when it takes the request", async () => {
    const { launcher, sup } = supervisor(plan([['modern', 'old']]), { modern: { agentHalts: true } });
    await sup.start();
    await sup.stop();
    expect(launcher.log).toContain('ask-halt modern');
    expect(launcher.log).not.toContain('cad modern');
    // An agent that does not answer (an image built before `H`) still gets `cad`.
    expect(launcher.log.filter((l) => / old$/.test(l) && /^(ask-halt|cad)/.test(l))).toEqual(['ask-halt old', 'cad old']);
    expect(sup.state('modern')).toBe('stopped');
    expect(sup.state('old')).toBe('stopped');
  });

  it('goes idle once every machine is stopped, and crash kills at once', async () => {
    const { launcher, sup } = supervisor(plan([['a', 'b']]));
    await sup.start();
    let idle = false;
    sup.on('idle', () => (idle = true));
    await sup.crash(['a']);
    expect(launcher.log).toContain('kill a SIGKILL');
    expect(launcher.log).not.toContain('cad a');
    expect(sup.state('a')).toBe('crashed');
    await new Promise((r) => setTimeout(r, 5));
    expect(idle).toBe(false); // b still runs
    await sup.stop(['b']);
    await new Promise((r) => setTimeout(r, 5));
    expect(idle).toBe(true);
  });

  // Wipe (runtime/wipe.ts) is the CLI's: test/runtime/two-hosts.test.ts and cli-errors.test.ts.
  it('restart boots the machine again', async () => {
    const { launcher, sup } = supervisor(plan([['a']]));
    await sup.start();
    const r = await sup.restart('a');
    expect(r.ok).toBe(true);
    expect(launcher.log.filter((l) => l === 'spawn a')).toHaveLength(2);
    await sup.stop();
    await expect(sup.start(['nope'])).rejects.toThrow(/no machine named 'nope'/);
  });

  it('consoles replay recent output to late viewers and serve several viewers at once', async () => {
    const { launcher, sup } = supervisor(plan([['a']]));
    await sup.start();
    await new Promise((r) => setTimeout(r, SETTLE_QUIET_MS + 20)); // the boot has settled: this is no boot log
    launcher.output('a', 'login: ');
    const first: string[] = [];
    const v1 = sup.console('a').attach({ onData: (d) => first.push(d) });
    expect(first.join('')).toContain('login: ');
    const second: string[] = [];
    const v2 = sup.console('a').attach({ onData: (d) => second.push(d) });
    v1.write('ls\r');
    await new Promise((r) => setTimeout(r, 30));
    expect(first.join('')).toContain('ls\r');
    // The fake guest echoes its input: the Enter the first look sent to start the console's shell, then ls.
    expect(second.join('')).toContain('login: \rls\r');
    v2.resize(120, 40);
    expect(launcher.log).toContain('resize a 120x40');
    v1.detach();
    v2.detach();
    await sup.shutdown();
  });
});

describe('console session', () => {
  function fakePty() {
    const listeners: ((d: string) => void)[] = [];
    return {
      emit: (d: string) => listeners.forEach((l) => l(d)),
      pty: { onData: (l: (d: string) => void) => listeners.push(l), write: () => {}, resize: () => {} },
    };
  }

  it('keeps the replay buffer bounded', () => {
    const s = new ConsoleSession('x/0');
    const chunk = 'y'.repeat(10_000);
    for (let i = 0; i < 60; i++) s.push(chunk);
    s.push('END');
    const seen: string[] = [];
    s.attach({ onData: (d) => seen.push(d) });
    const replayed = seen.join('');
    expect(replayed.length).toBeLessThanOrEqual(REPLAY_LIMIT_CHARS);
    expect(replayed.endsWith('END')).toBe(true);
    s.dispose();
  });

  it('logs output to a file that rotates at 1 MB', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vlog-'));
    try {
      const log = join(dir, 'console.log');
      const s = new ConsoleSession('x/0', log);
      for (let i = 0; i < 12; i++) {
        s.push(`${String(i).padStart(2, '0')}${'.'.repeat(100_000)}\n`);
        s.attach({ onData: () => {} }).detach(); // attaching flushes the batch to the log
      }
      expect(statSync(`${log}.1`).size).toBeGreaterThan(1024 * 1024);
      expect(readFileSync(log, 'utf8').startsWith('11')).toBe(true); // the newest output, in a fresh file
      s.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('batches output: many small writes reach a viewer as few chunks', async () => {
    const s = new ConsoleSession('x/0');
    const p = fakePty();
    s.bindPty(p.pty);
    const chunks: string[] = [];
    s.attach({ onData: (d) => chunks.push(d) });
    for (let i = 0; i < 100; i++) p.emit(`${i} `);
    await new Promise((r) => setTimeout(r, 30));
    expect(chunks.join('')).toContain('0 1 2 ');
    expect(chunks.length).toBeLessThan(5);
    s.dispose();
  });
});
