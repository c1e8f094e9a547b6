// The NIC syntax of the kernel command line: the same lab compiles to `ethN=vde,<port>,<mac>` for a
// kernel with UML's old VDE transport (6.1) and to `vecN:transport=vde,vnl=vde://<port>,mac=<mac>` plus
// `vnl_vec=` (the guest init renames vecN to ethN) for one that only has the vector driver's (6.12 as
// Debian builds it, 7.x). Both plans are snapshots; nothing else in the plan may differ.
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile, formatPlanJson } from '../../src/main/compiler/index.ts';
import { nicArg, nicArgs, nicRenameArg, nicRenameCommand } from '../../src/main/compiler/nic.ts';
import { guestArgv, hotplugArgs, identityArgs } from '../../src/main/runtime/guest-argv.ts';
import { loadLab } from '../../src/main/lab/index.ts';
import type { CompileOptions, Plan } from '../../src/shared/plan.ts';

const labs = resolve(import.meta.dirname, '../../labs');
const base: CompileOptions = {
  runDir: '/run/vnetlab/test',
  stateDir: '/var/lib/vnetlab/labs/test',
  imageDir: '/var/cache/vnetlab/images',
  kernel: '/usr/bin/linux.uml',
  labId: 'static-routing-00000000',
};

async function plan(nicSyntax?: 'legacy' | 'vector'): Promise<Plan> {
  const { model } = await loadLab(join(labs, 'static-routing'));
  return compile({ ...model!, root: '/LAB_ROOT' }, { ...base, ...(nicSyntax ? { nicSyntax } : {}) });
}

describe('NIC syntax per kernel', () => {
  it('legacy is the default: a plan without nicSyntax is the legacy plan (existing snapshots stay)', async () => {
    expect(formatPlanJson(await plan())).toBe(formatPlanJson(await plan('legacy')));
    await expect(formatPlanJson(await plan('legacy'))).toMatchFileSnapshot('__snapshots__/static-routing.plan.json');
  });

  it('vector: vecN:transport=vde on the same ports with the same MACs, and vnl_vec listing them', async () => {
    const vector = await plan('vector');
    await expect(formatPlanJson(vector)).toMatchFileSnapshot('__snapshots__/static-routing.vector.plan.json');
    const r1 = vector.guests.find((g) => g.name === 'r1')!;
    const argv = guestArgv(r1);
    const nics = argv.filter((a) => /^(eth|vec)\d/.test(a));
    expect(nics).toEqual(r1.interfaces.map((i, n) => `vec${n}:transport=vde,vnl=vde://${i.ctlDir},mac=${i.mac}`));
    expect(argv).toContain(`vnl_vec=${r1.interfaces.map((_, n) => n).join(',')}`);
    // A pooled guest gets the same NICs hot-plugged, and is told which to rename with its name.
    expect(hotplugArgs(r1).slice(1)).toEqual(nics);
    expect(identityArgs(r1)).toEqual([`vnl_name=r1`, `vnl_vec=${r1.interfaces.map((_, n) => n).join(',')}`]);
  });

  it('only the NIC syntax differs between the two plans, and with it only the NIC arguments', async () => {
    const legacy = await plan('legacy');
    const vector = await plan('vector');
    const strip = (p: Plan) => ({ ...p, guests: p.guests.map((g) => ({ ...g, boot: { ...g.boot, nicSyntax: 'legacy' } })) });
    expect(strip(vector)).toEqual(legacy);
    const nicless = (g: Plan['guests'][number]) => guestArgv(g).filter((a) => !/^(eth|vec)\d|^vnl_vec=/.test(a));
    expect(vector.guests.map(nicless)).toEqual(legacy.guests.map(nicless));
    for (const g of legacy.guests) expect(guestArgv(g).filter((a) => /^eth\d+=vde,/.test(a))).toHaveLength(g.interfaces.length);
  });

  it('the syntax functions: NIC, hot-plug rename, and bad names', () => {
    expect(nicArg('legacy', 'eth2', '/r/c/pc1.eth2', '02:00:00:00:00:01')).toBe('eth2=vde,/r/c/pc1.eth2,02:00:00:00:00:01');
    expect(nicArg('vector', 'eth2', '/r/c/pc1.eth2', '02:00:00:00:00:01')).toBe('vec2:transport=vde,vnl=vde:///r/c/pc1.eth2,mac=02:00:00:00:00:01');
    expect(nicRenameArg('vector', ['eth0', 'eth3'])).toBe('vnl_vec=0,3');
    expect(nicRenameArg('legacy', ['eth0'])).toBeUndefined();
    expect(nicRenameArg('vector', [])).toBeUndefined();
    expect(nicArgs(undefined, [])).toEqual([]);
    expect(nicRenameCommand('vector', 'eth1')).toBe('ip link set dev vec1 name eth1');
    expect(nicRenameCommand('legacy', 'eth1')).toBe('');
    expect(() => nicArg('vector', 'wlan0', '/x', '02:00:00:00:00:01')).toThrow(/not called ethN/);
  });
});
