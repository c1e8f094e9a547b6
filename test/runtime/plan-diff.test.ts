// What `apply` sees as a change (runtime/plan-diff.ts): a machine's startup script, files, sysctls…
// live in its lab-fs folder and are read at boot, so a change to them is one that machine restarts for
// (issue 23, 1.4: an edited startup script used to be "nothing to apply").
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/main/compiler/index.ts';
import { describeDiff, diffPlans, isEmptyDiff } from '../../src/main/runtime/plan-diff.ts';
import { at, domain, FIXED_OPTIONS, lab, machine } from '../compiler/model.ts';

const base = () =>
  lab({
    machines: [machine('pc1', ['A'], { startup: { text: 'echo v1 > /tmp/version', source: at(3) } }), machine('pc2', ['A'])],
    domains: [domain('A')],
  });

describe('plan diff', () => {
  it('the same lab: nothing to apply', () => {
    expect(isEmptyDiff(diffPlans(compile(base(), FIXED_OPTIONS), compile(base(), FIXED_OPTIONS)))).toBe(true);
  });

  it('a changed startup script, inline file or sysctl is a restart of that machine, and only that one', () => {
    const next = base();
    next.machines[0]!.startup = { text: 'echo v2 > /tmp/version', source: at(3) };
    next.machines[1]!.files = [{ kind: 'inline', guestPath: '/etc/motd', content: 'hello', source: at(9) }];
    next.machines[1]!.sysctls = { 'net.ipv4.ip_forward': '1' };
    const diff = diffPlans(compile(base(), FIXED_OPTIONS), compile(next, FIXED_OPTIONS));
    expect(diff.restartNeeded).toEqual([
      { machine: 'pc1', what: ['startup script'] },
      { machine: 'pc2', what: ['files', 'sysctls'] },
    ]);
    expect(describeDiff(diff, new Set(['pc1']))).toEqual(['~ machine pc1 restarts: startup script changed', '! pc2: files, sysctls changed; applies when pc2 starts again']);
  });

  it('memory is said once; a new interface is hot-plugged, not a restart', () => {
    const next = base();
    next.machines[0]!.memoryMiB = 256;
    next.machines[1]!.interfaces.push({ index: 1, domain: 'A', ipv4: ['10.0.0.9/24'], ipv6: [], source: at(7) });
    const diff = diffPlans(compile(base(), FIXED_OPTIONS), compile(next, FIXED_OPTIONS));
    expect(diff.restartNeeded).toEqual([{ machine: 'pc1', what: ['memory'] }]);
    expect(diff.addedCables.map((c) => c.id)).toEqual(['pc2:eth1']);
  });

  it('a machine restarted on request with nothing changed is said too', () => {
    const plan = compile(base(), FIXED_OPTIONS);
    expect(describeDiff(diffPlans(plan, plan), new Set(['pc2']))).toEqual(['~ machine pc2 restarts']);
  });
});
