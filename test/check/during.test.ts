// Checks that change the network (`during:`): parsed from lab.yaml, run after every other check and
// alone, with the touched cables restored afterwards even when the check fails.
import { describe, expect, it } from 'vitest';
import type { Check } from '../../src/shared/checks.ts';
import type { CableStatus, ExecResult } from '../../src/shared/runtime-api.ts';
import { runCheckList, type LabExecutor } from '../../src/main/check/engine.ts';
import type { CableChange } from '../../src/main/runtime/network/network.ts';
import { parseLabYaml } from '../../src/main/lab/lab-yaml.ts';
import { checkToYaml } from '../../src/main/lab/checks.ts';

const base = { description: 'd', points: 1, timeoutSec: 0, hidden: false, source: { file: 'lab.yaml', line: 1, column: 1 } };
const reply = (ok: boolean): ExecResult => ({ stdout: ok ? '1 packets transmitted, 1 packets received, 0% packet loss\n' : '1 packets transmitted, 0 packets received, 100% packet loss\n', stderr: '', exitCode: ok ? 0 : 1, timedOut: false });

/** A lab of two cables whose reachability depends on r1:eth2 being plugged (the test decides how). */
class FakeLab implements LabExecutor {
  readonly log: string[] = [];
  readonly state = new Map<string, CableStatus>([
    ['r1:eth2', { id: 'r1:eth2', machine: 'r1', interface: 'eth2', domain: 'r1r3', plugged: true, state: 'up', impairments: {} }],
    ['r2:eth0', { id: 'r2:eth0', machine: 'r2', interface: 'eth0', domain: 'r1r2', plugged: true, state: 'up', impairments: { out: { delayMs: 5 } } }],
  ]);
  constructor(private readonly reachableWhenUnplugged: boolean) {}
  async exec(machine: string, command: string): Promise<ExecResult> {
    this.log.push(`exec ${machine} ${command.split(' ')[0]} (r1:eth2 ${this.state.get('r1:eth2')!.plugged ? 'plugged' : 'unplugged'})`);
    return reply(this.state.get('r1:eth2')!.plugged || this.reachableWhenUnplugged);
  }
  cables = {
    list: async () => [...this.state.values()].map((c) => structuredClone(c)),
    change: async (id: string, change: CableChange) => {
      const c = this.state.get(id)!;
      this.log.push(`change ${id} ${JSON.stringify(change)}`);
      if (change.reset) c.impairments = {};
      if (change.plugged !== undefined) c.plugged = change.plugged;
      if (change.impair) for (const d of change.impair.direction === 'both' ? (['in', 'out'] as const) : [change.impair.direction]) c.impairments[d] = { ...c.impairments[d], ...change.impair.values };
      return structuredClone(c);
    },
  };
}

const failover = { ...base, id: 'failover', kind: 'reach', from: 'pc1', to: '10.1.3.10', expect: 'success', during: { unplug: ['r1:eth2'], link: { 'r2:eth0': { out: { lossPct: 10 } } } } } as Check;
const plain = { ...base, id: 'plain', kind: 'reach', from: 'pc1', to: '10.1.3.10', expect: 'success' } as Check;

describe('checks that change the network', () => {
  it('run after the others, with the cables changed, and put every cable back as it was', async () => {
    const lab = new FakeLab(true);
    const results = await runCheckList([failover, plain], lab);
    expect(results.map((r) => [r.id, r.passed])).toEqual([['failover', true], ['plain', true]]);
    // The plain check saw the network intact, although it comes second in the list.
    expect(lab.log[0]).toBe('exec pc1 ping (r1:eth2 plugged)');
    expect(lab.log).toContain('exec pc1 ping (r1:eth2 unplugged)');
    expect(lab.state.get('r1:eth2')).toMatchObject({ plugged: true, impairments: {} });
    expect(lab.state.get('r2:eth0')!.impairments).toEqual({ out: { delayMs: 5 } });
  });

  it('fail saying what was changed, and still restore the network', async () => {
    const lab = new FakeLab(false);
    const [result] = await runCheckList([failover], lab);
    expect(result!.passed).toBe(false);
    expect(result!.reason).toMatch(/cannot reach 10\.1\.3\.10.*\(with r1:eth2 unplugged, r2:eth0 impaired\)/);
    expect(lab.state.get('r1:eth2')!.plugged).toBe(true);
  });

  it('name a cable the lab does not have, and say so where the network cannot be changed', async () => {
    const lab = new FakeLab(true);
    const [wrong] = await runCheckList([{ ...failover, during: { unplug: ['r9:eth0'], link: {} } } as Check], lab);
    expect(wrong!.reason).toMatch(/the lab has no cable r9:eth0 \(cables: r1:eth2, r2:eth0\)/);
    const [nowhere] = await runCheckList([failover], { exec: lab.exec.bind(lab) });
    expect(nowhere!.reason).toMatch(/changes the network, which cannot be done here/);
  });

  it('are read from lab.yaml and written back the same', () => {
    const text = `lab: {name: f}
machines:
  pc1: {image: tiny, interfaces: [{domain: a}]}
domains: {a: {kind: hub}}
checks:
  - id: failover
    kind: reach
    from: pc1
    to: 10.0.0.2
    during:
      unplug: r1:eth2
      link: {r2:eth0: {loss: 30}}
`;
    const { model, diagnostics } = parseLabYaml(text, 'lab.yaml', '/lab');
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(model!.checks[0]!.during).toEqual({ unplug: ['r1:eth2'], link: { 'r2:eth0': { in: { lossPct: 30 }, out: { lossPct: 30 } } } });
    expect(checkToYaml(model!.checks[0]!).during).toEqual({ unplug: 'r1:eth2', link: { 'r2:eth0': { loss: 30 } } });
    const bad = parseLabYaml(text.replace('r1:eth2', 'r1-eth2'), 'lab.yaml', '/lab');
    expect(bad.diagnostics.some((d) => d.severity === 'error' && d.line === 11)).toBe(true);
  });
});
