// A 500-machine lab against the fake launcher (issue 22): status answers from what the supervisor
// keeps (no /proc read on the caller's time), the memory refresh gives the event loop its turn every
// few milliseconds, and a stop goes in bounded slots, gracefully, saying how far it got.
import { describe, expect, it } from 'vitest';
import type { GuestPlan, Plan } from '../../src/shared/plan.ts';
import type { LabEvent } from '../../src/shared/runtime-api.ts';
import { FakeLauncher } from '../../src/main/runtime/fake-launcher.ts';
import { Supervisor } from '../../src/main/runtime/supervisor.ts';
import { cablePlan } from '../../src/main/compiler/cables.ts';
import { GuestMemory, type ProcReader } from '../../src/main/runtime/proc-memory.ts';
import { stopCounter } from '../../src/main/runtime/stop-slots.ts';
import { fakeGuestPlan, fakeInterface } from '../support/fake-plan.ts';
import { waitUntil } from '../support/poll.ts';

const N = 500;

function guest(name: string): GuestPlan {
  return fakeGuestPlan(name, { interfaces: [fakeInterface(name, `d${Math.floor(Number(name.slice(1)) / 10)}`)] });
}

function bigPlan(): Plan {
  const names = Array.from({ length: N }, (_, i) => `h${i}`);
  const domains = [...new Set(names.map((n) => guest(n).interfaces[0]!.domain))];
  return {
    planVersion: 3,
    lab: { name: 'big', id: 'big-00000000', root: '/nonexistent', format: 'yaml' },
    runDir: '/nonexistent/run',
    stateDir: '/nonexistent/state',
    labFs: { image: '/nonexistent/labfs.ext4', entries: [] },
    switches: domains.map((d) => ({ domain: d, kind: 'hub' as const, ctlDir: `/nonexistent/sw/${d}`, mgmtSocket: 'm', argv: ['vde_switch'] })),
    cables: names.map((n) => cablePlan('/nonexistent/c', { machine: n, interface: 'eth0', domain: guest(n).interfaces[0]!.domain })),
    guests: names.map(guest),
    waves: [names],
  };
}

/** A /proc where every fake guest is one process of 40 MB (PSS; 30 MB resident); counts the reads, and can make each one slow. */
function fakeProc(readMs = 0): ProcReader & { reads: number } {
  const busy = () => {
    const until = performance.now() + readMs;
    while (performance.now() < until);
  };
  const reader = {
    reads: 0,
    children: () => (reader.reads++, []),
    group: (pid: number) => (reader.reads++, pid),
    rollup: (pid: number) => (reader.reads++, busy(), `${pid}-${pid} ---p 0 0:0 0 [rollup]\nPss: 40960 kB\n`),
    residentBytes: () => (reader.reads++, 30 * 1024 * 1024),
  };
  return reader;
}

describe('a 500-machine lab (fake launcher)', () => {
  it('status answers from what the supervisor keeps: no /proc read on its time, memory refreshed in the background', async () => {
    const proc = fakeProc();
    const sup = new Supervisor(bigPlan(), new FakeLauncher(), { maxParallelBoots: N, consoleLogs: false, memory: { reader: proc, minPeriodMs: 60_000 } });
    const result = await sup.start();
    expect(result.started).toHaveLength(N);
    // Each guest got a first figure when it became ready (its leader's resident memory, one read; its
    // PSS comes with the background refresh): status right after a start shows memory.
    const first = sup.status();
    expect(first.machines.filter((m) => m.state === 'ready')).toHaveLength(N);
    expect(first.machines.every((m) => m.rssBytes === 30 * 1024 * 1024)).toBe(true);
    expect(proc.reads).toBe(N);
    // Now many status calls (an app and a CLI loop polling): none of them reads /proc.
    const readsBefore = proc.reads;
    for (let i = 0; i < 20; i++) sup.status();
    expect(proc.reads).toBe(readsBefore);
    await sup.shutdown('crash');
  });

  it('the background refresh lets the event loop run every few milliseconds, however many guests', async () => {
    const proc = fakeProc(1); // 1 ms per guest: a 500 ms refresh in one go would stall every console for 500 ms
    // The first refresh is due as soon as the guests are added (minPeriodMs 0); the heartbeat runs beside it.
    const memory = new GuestMemory({ reader: proc, sliceMs: 4, minPeriodMs: 0 });
    let ticks = 0;
    let beating = true;
    const beat = () => {
      ticks++;
      if (beating) setImmediate(beat);
    };
    for (let pid = 1000; pid < 1000 + N; pid++) memory.add(pid);
    setImmediate(beat);
    await waitUntil(() => memory.refreshes, (n) => n >= 1, 10_000, 1);
    beating = false;
    memory.stop();
    expect(memory.refreshes).toBe(1);
    // Each slice reads at most ~5 guests (4 ms at ≥ 1 ms each): ≥ 100 turns of the event loop in 500 reads.
    expect(ticks).toBeGreaterThanOrEqual(50);
    expect(memory.lastRefreshMs).toBeGreaterThanOrEqual(N * 1);
  });

  it('stop takes the guests down gracefully in bounded slots and says how far it got', async () => {
    const launcher = new FakeLauncher();
    const sup = new Supervisor(bigPlan(), launcher, { maxParallelBoots: N, maxParallelStops: 40, consoleLogs: false, cadTimeoutMs: 5_000, haltTimeoutMs: 5_000, memory: { reader: fakeProc() } });
    await sup.start();
    const progress: string[] = [];
    sup.on('event', (e: LabEvent) => e.type === 'progress' && progress.push(e.message));
    launcher.log.length = 0;
    await sup.stop();
    // Every guest got `cad` (its shutdown script: disk synced), none needed halt or SIGKILL.
    expect(launcher.log.filter((l) => l.startsWith('cad '))).toHaveLength(N);
    expect(launcher.log.filter((l) => l.startsWith('halt ') || l.startsWith('kill '))).toEqual([]);
    // At most 40 between their `cad` and their exit at any moment.
    let inFlight = 0;
    let most = 0;
    for (const line of launcher.log) {
      if (line.startsWith('cad ')) most = Math.max(most, ++inFlight);
      if (line.startsWith('exit ')) inFlight--;
    }
    expect(most).toBe(40);
    expect(progress.at(-1)).toBe(`stopped ${N} of ${N}`);
    expect(progress.every((p) => /^stopped \d+ of 500$/.test(p))).toBe(true);
    expect(sup.status().machines.every((m) => m.state === 'stopped')).toBe(true);
    await sup.shutdown('crash');
  });

  it('stop progress: at most twice a second, always the last, nothing for one or two guests', () => {
    let t = 0;
    const said: string[] = [];
    const count = stopCounter(5, (m) => said.push(m), () => t);
    for (const step of [1000, 100, 100, 400, 10]) {
      t += step;
      count();
    }
    expect(said).toEqual(['stopped 1 of 5', 'stopped 4 of 5', 'stopped 5 of 5']);
    const quiet: string[] = [];
    const two = stopCounter(2, (m) => quiet.push(m));
    two();
    two();
    expect(quiet).toEqual([]);
  });
});
