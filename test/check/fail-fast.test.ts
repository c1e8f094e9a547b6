// "Check my work" fails fast: one shared clock for every timeout, `final` verdicts when a daemon is not
// running (vtysh's own words, captured from FRR on the debian image), a short grace when no routing
// daemon runs anywhere in the lab, results streamed as they are known, and cancellation. The last test
// grades a real two-host lab (tiny guests) whose route and reach checks cannot pass.
import { describe, expect, it } from 'vitest';
import type { Check, CheckResult } from '../../src/shared/checks.ts';
import type { ExecResult } from '../../src/shared/runtime-api.ts';
import { runCheckList, type LabExecutor } from '../../src/main/check/engine.ts';
import { openGradedLab } from '../../src/main/check/session.ts';
import { testHost } from './helpers.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const base = { description: 'd', points: 1, timeoutSec: 90, hidden: false, source: { file: 'lab.yaml', line: 1, column: 1 } };
const result = (stdout: string, stderr = '', exitCode = 0): ExecResult => ({ stdout, stderr, exitCode, timedOut: false });

function fakeClock() {
  let now = 0;
  return { now: () => now, sleep: async (ms: number) => void (now += ms) };
}

/** Process names of an FRR router without ospfd, as `cat /proc/[0-9]*\/comm` printed them on r1 of labs/ospf. */
const COMM_NO_OSPFD = 'bash\nkthreadd\nstaticd\nvnetlab-agent\nvnetlab-init\nwatchfrr\nzebra\n';
const COMM_OSPFD = `${COMM_NO_OSPFD}ospfd\n`;

function executor(comm: string, answer: (machine: string, command: string) => ExecResult): LabExecutor & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async exec(machine, command) {
      calls.push(`${machine}: ${command}`);
      await new Promise((r) => setTimeout(r, 1));
      return command.includes('/proc/[0-9]*/comm') ? result(comm) : answer(machine, command);
    },
  };
}

const ospfChecks = [
  { ...base, id: 'nbr', kind: 'frr', on: 'r1', command: 'show ip ospf neighbor', contains: 'Full' },
  { ...base, id: 'learned', kind: 'frr', on: 'r1', command: 'show ip route ospf', contains: '10.1.3.0/24' },
  { ...base, id: 'kernel-route', kind: 'route', on: 'r1', prefix: '10.1.3.0/24', expect: 'present' },
  { ...base, id: 'reach', kind: 'reach', from: 'pc1', to: '10.1.3.10', expect: 'success' },
] as Check[];

/** What r1 and pc1 of the OSPF lab answer with FRR running but ospfd not enabled. */
function unconfiguredOspf(machine: string, command: string): ExecResult {
  if (command.startsWith('vtysh') && command.includes('neighbor')) return result('', 'ospfd is not running\n', 1);
  if (command.startsWith('vtysh')) return result('');
  if (command.startsWith('ping')) return result('PING 10.1.3.10 (10.1.3.10): 56 data bytes\n\n--- 10.1.3.10 ping statistics ---\n1 packets transmitted, 0 packets received, 100% packet loss\n', '', 1);
  return result('[{"dst":"10.1.1.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"10.1.1.1","flags":[]}]\n');
}

describe('check my work fails fast', () => {
  it('stops at once when vtysh says the daemon is not running, in the grader too', async () => {
    const ex = executor(COMM_NO_OSPFD, unconfiguredOspf);
    const [nbr] = await runCheckList([ospfChecks[0]!], ex, { clock: fakeClock() });
    expect(nbr).toMatchObject({ passed: false, attempts: 1, reason: 'ospfd is not running on r1, so "show ip ospf neighbor" has no answer' });
  });

  it('with failFast, gives up after the grace when no routing daemon runs in the lab, saying why', async () => {
    const ex = executor(COMM_NO_OSPFD, unconfiguredOspf);
    const clock = fakeClock();
    const streamed: CheckResult[] = [];
    const results = await runCheckList(ospfChecks, ex, { clock, failFast: true, machines: ['r1', 'r2', 'pc1'], onResult: (r) => streamed.push(r) });
    expect(results.map((r) => r.passed)).toEqual([false, false, false, false]);
    for (const r of results.slice(1)) {
      expect(r.reason).toMatch(/no routing daemon runs in the lab, so this will not change by itself/);
      expect(r.durationMs).toBeLessThanOrEqual(6_000);
    }
    // Every machine was looked at once, and each result was reported as it came.
    expect(ex.calls.filter((c) => c.includes('/proc/[0-9]*/comm')).map((c) => c.split(':')[0]).sort()).toEqual(['pc1', 'r1', 'r2']);
    expect(streamed.map((r) => r.id).sort()).toEqual(['kernel-route', 'learned', 'nbr', 'reach']);
    expect(clock.now()).toBeLessThan(20_000);
  });

  it('keeps retrying while a routing daemon runs (the lab may be converging)', async () => {
    const ex = executor(COMM_OSPFD, unconfiguredOspf);
    const [learned] = await runCheckList([ospfChecks[1]!], ex, { clock: fakeClock(), failFast: true, machines: ['r1'] });
    expect(learned!.passed).toBe(false);
    expect(learned!.durationMs).toBeGreaterThanOrEqual(90_000);
    expect(learned!.reason).not.toMatch(/routing daemon/);
  });

  it('gives a lab whose switches run spanning tree 30 s to settle before saying a path will not change', async () => {
    const ex = executor(COMM_NO_OSPFD, unconfiguredOspf);
    const [reach] = await runCheckList([ospfChecks[3]!], ex, { clock: fakeClock(), failFast: true, spanningTree: true, machines: ['pc1'] });
    expect(reach!.passed).toBe(false);
    expect(reach!.durationMs).toBeGreaterThanOrEqual(30_000);
    expect(reach!.durationMs).toBeLessThan(40_000);
    expect(reach!.reason).toMatch(/no routing daemon runs in the lab and its spanning tree had 30 s to settle, so this will not change by itself/);
  });

  it('runs every timeout on one clock started with the list, not one after another', async () => {
    const ex = executor(COMM_OSPFD, unconfiguredOspf);
    const clock = fakeClock();
    const sameMachine = [ospfChecks[1]!, ospfChecks[2]!, { ...ospfChecks[1]!, id: 'again' }] as Check[];
    await runCheckList(sameMachine, ex, { clock });
    // Three checks of 90 s on r1 used to take 270 s; on one clock the list ends near 90 s.
    expect(clock.now()).toBeLessThan(100_000);
  });

  it('is cancellable: what has not finished is reported as not checked', async () => {
    const controller = new AbortController();
    const ex = executor(COMM_OSPFD, unconfiguredOspf);
    const pending = runCheckList(ospfChecks.slice(1), ex, { failFast: true, signal: controller.signal, machines: ['r1', 'pc1'] });
    setTimeout(() => controller.abort(), 300);
    const results = await pending;
    expect(results.some((r) => r.reason === 'not checked: the check was cancelled')).toBe(true);
  });

  it('grades a real lab whose routes cannot appear in seconds, not minutes (tiny guests)', async () => {
    const host = testHost('failfast');
    try {
      const lab = join(host.root, 'lonely');
      mkdirSync(lab, { recursive: true });
      writeFileSync(
        join(lab, 'lab.yaml'),
        `lab:\n  name: lonely\nmachines:\n  pc1:\n    image: tiny\n    memory: 64\n    interfaces:\n      - {domain: lan, ipv4: 10.0.0.1/24}\n  pc2:\n    image: tiny\n    memory: 64\n    interfaces:\n      - {domain: lan, ipv4: 10.0.0.2/24}\ndomains:\n  lan: {kind: hub}\n`,
      );
      const graded = await openGradedLab(lab, { env: host.env });
      try {
        const checks = [
          { ...base, id: 'route', kind: 'route', on: 'pc1', prefix: '10.9.0.0/16', expect: 'present' },
          { ...base, id: 'reach', kind: 'reach', from: 'pc1', to: '10.9.0.1', expect: 'success' },
          { ...base, id: 'neighbour', kind: 'reach', from: 'pc1', to: '10.0.0.2', expect: 'success' },
        ] as Check[];
        const results = await runCheckList(checks, graded.executor, { failFast: true, machines: ['pc1', 'pc2'], hosts: graded.hosts });
        expect(results.map((r) => [r.id, r.passed])).toEqual([
          ['route', false],
          ['reach', false],
          ['neighbour', true],
        ]);
        expect(results[0]!.reason).toMatch(/^pc1 has no route to 10.9.0.0\/16 .*no routing daemon runs in the lab/);
        expect(results[1]!.reason).toMatch(/pc1 (has no route to|cannot reach) 10.9.0.1.*no routing daemon runs in the lab/);
        // Each gave up after its grace (a few attempts), not after 90 s of them.
        for (const r of results.slice(0, 2)) expect(r.attempts).toBeLessThan(6);
      } finally {
        await graded.close();
      }
    } finally {
      await host.cleanup();
    }
  });
});
