// Switch links, VLANs and spanning tree in the lab model (issue 23, section 2): read from lab.yaml,
// validated (VLANs only on switches, ids 1–4094, a loop without spanning tree), written back the same,
// kept through a Netkit folder's vnetlab.yaml, and compiled into switch ports and wirefilters.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/main/compiler/index.ts';
import { loadLab, parseLabYaml, validateLab, writeLabYaml, writeNetkitLab } from '../../src/main/lab/index.ts';
import { switchLinkIds, type LabModel } from '../../src/shared/lab-model.ts';
import { FIXED_OPTIONS } from '../compiler/model.ts';
import { cleanupTempLabs, REPO, tempLab } from './helpers.ts';

afterAll(cleanupTempLabs);

const LAB = join(REPO, 'labs', 'vlans');
const codes = (model: LabModel) => validateLab(model).map((d) => `${d.severity}:${d.code}`);

function parse(text: string): LabModel {
  const result = parseLabYaml(text, 'lab.yaml', '/srv/lab');
  expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return result.model!;
}

const SMALL = `lab: {name: small}
machines:
  pc1: {image: tiny, interfaces: [{domain: sw1, ipv4: 10.0.0.1/24, vlan: 10}]}
  pc2: {image: tiny, interfaces: [{domain: sw2, ipv4: 10.0.0.2/24, vlan: 10}]}
  r1: {image: tiny, interfaces: [{domain: sw1, vlans: [20, 10]}]}
domains:
  sw1: {kind: switch, stp: {priority: 4096}}
  sw2: {kind: switch, stp: true}
switch_links:
  - {between: [sw1, sw2], vlans: [10, 20], link: {delay: 5}}
  - {between: [sw1, sw2], vlan: 10}
`;

describe('switch links and VLANs in lab.yaml', () => {
  it('reads ports, links and spanning tree; ids name parallel links apart', () => {
    const model = parse(SMALL);
    expect(model.machines.find((m) => m.name === 'pc1')!.interfaces[0]).toMatchObject({ domain: 'sw1', vlan: 10 });
    expect(model.machines.find((m) => m.name === 'r1')!.interfaces[0]!.vlans).toEqual([10, 20]);
    expect(model.domains.map((d) => [d.name, d.stp])).toEqual([['sw1', { priority: 4096 }], ['sw2', {}]]);
    expect(model.switchLinks!.map((l) => [l.a, l.b, l.vlan, l.vlans])).toEqual([['sw1', 'sw2', undefined, [10, 20]], ['sw1', 'sw2', 10, undefined]]);
    expect(model.switchLinks![0]!.link).toEqual({ out: { delayMs: 5 }, in: { delayMs: 5 } });
    expect(switchLinkIds(model)).toEqual(['sw1--sw2', 'sw1--sw2-2']);
    // Two parallel links make a loop, but both switches run spanning tree.
    expect(codes(model)).toEqual([]);
  });

  it('writes them back as written', () => {
    const model = parse(SMALL);
    const again = parse(writeLabYaml(model));
    for (const key of ['switchLinks', 'domains', 'machines'] as const) expect(JSON.stringify(again[key], (k, v) => (k === 'source' ? undefined : v))).toBe(JSON.stringify(model[key], (k, v) => (k === 'source' ? undefined : v)));
    expect(writeLabYaml(model)).toMatch(/switch_links:\n {2}- \{ between: \[ sw1, sw2 \], vlans: \[ 10, 20 \], link: \{ delay: 5 \} \}/);
  });

  it('says what is wrong: VLANs on a hub, a bad id, a link to an unknown or the same domain, a loop without spanning tree', () => {
    const bad = parse(`lab: {name: bad}
machines:
  pc1: {image: tiny, interfaces: [{domain: hub1, vlan: 10}]}
  pc2: {image: tiny, interfaces: [{domain: sw1, vlan: 7, vlans: [7]}]}
  pc3: {image: tiny, interfaces: [{domain: sw2}]}
domains:
  hub1: {kind: hub}
  sw1: {kind: switch}
  sw2: {kind: switch}
  sw3: {kind: switch}
switch_links:
  - {between: [sw1, sw2]}
  - {between: [sw2, sw3]}
  - {between: [sw3, sw1]}
  - {between: [sw1, swx]}
  - {between: [sw2, sw2]}
`);
    expect(codes(bad)).toEqual(expect.arrayContaining(['error:vlan-on-hub', 'error:vlan-twice', 'error:unknown-domain', 'error:link-to-itself', 'warning:switch-loop']));
    const loop = validateLab(bad).find((d) => d.code === 'switch-loop')!;
    expect(loop.message).toMatch(/switch link sw3--sw1 closes a loop/);
    expect(loop.hint).toMatch(/stp: true.*sw1, sw2, sw3/);
    expect(loop.target).toBe('link:sw3--sw1');
    // A switch with only switch links (a core switch) is not "dangling".
    expect(codes(bad)).not.toContain('warning:dangling-domain');
    const model = parse(SMALL);
    model.machines[0]!.interfaces[0]!.vlan = 5000; // a model from the editor: not schema-checked
    expect(codes(model)).toContain('error:invalid-vlan');
  });

  it('the shipped labs/vlans is valid', async () => {
    const { model, diagnostics } = await loadLab(LAB);
    expect(diagnostics.filter((d) => d.severity !== 'info')).toEqual([]);
    expect(switchLinkIds(model!)).toEqual(['sw1--sw2', 'sw1--sw3', 'sw2--sw3']);
  });

  it('a Netkit folder keeps them in vnetlab.yaml (lab.conf cannot say them)', async () => {
    const { model } = await loadLab(LAB);
    const dir = tempLab();
    await writeNetkitLab(model!, dir);
    const back = (await loadLab(dir)).model!;
    const strip = (m: LabModel) => JSON.stringify({ links: m.switchLinks, domains: m.domains.map((d) => [d.name, d.kind, d.stp]), ports: m.machines.map((x) => x.interfaces.map((i) => [x.name, i.vlan, i.vlans])) }, (k, v) => (k === 'source' ? undefined : v));
    expect(strip(back)).toBe(strip(model!));
  });
});

describe('compiling switch links and VLANs', () => {
  it('switches with VLANs or STP get their ports configured; cables carry their VLANs; links become wirefilters', () => {
    const plan = compile(parse(SMALL), FIXED_OPTIONS);
    const sw1 = plan.switches.find((s) => s.domain === 'sw1')!;
    expect(sw1.argv).toEqual(expect.arrayContaining(['-F', '--macaddr', '--priority', '4096']));
    expect(sw1.argv[sw1.argv.indexOf('--macaddr') + 1]).toMatch(/^02:[0-9a-f]{2}(:[0-9a-f]{2}){4}$/);
    expect(sw1.ports).toEqual({ count: 32, vlans: [10, 20], stp: true });
    expect(plan.cables.find((c) => c.id === 'pc1:eth0')!.vlans).toEqual({ untagged: 10 });
    expect(plan.cables.find((c) => c.id === 'r1:eth0')!.vlans).toEqual({ tagged: [10, 20] });
    expect(plan.switchLinks!.map((l) => [l.id, l.between, l.vlans])).toEqual([
      ['sw1--sw2', ['sw1', 'sw2'], { tagged: [10, 20] }],
      ['sw1--sw2-2', ['sw1', 'sw2'], { untagged: 10 }],
    ]);
    expect(plan.switchLinks![0]!.filterMgmt).toMatch(/^\/run\/vnetlab\/test\/c\/l-[0-9a-f]{8}\.wf$/);
    // The same lab compiles to the same plan; a lab without VLANs to one without any of this.
    expect(JSON.stringify(compile(parse(SMALL), FIXED_OPTIONS))).toBe(JSON.stringify(plan));
    const plain = compile(parse('lab: {name: p}\nmachines:\n  a: {image: tiny, interfaces: [lan]}\n  b: {image: tiny, interfaces: [lan]}\ndomains:\n  lan: {kind: switch}\n'), FIXED_OPTIONS);
    expect(plain.switches[0]!.ports).toBeUndefined();
    expect(plain.switchLinks).toBeUndefined();
    expect(plain.switches[0]!.argv).not.toContain('-F');
  });
});
