// Switch links and VLANs on the canvas, headless (issue 23, section 2): switches cabled to switches are
// edges of their own (`link:<id>`) labelled with the VLANs they carry; a machine's cable to a switch
// carries its port's VLAN; the editor draws, renames, copies and deletes them; the panel's VLAN text.
import { describe, expect, it } from 'vitest';
import { connect, copyElements, EditError, emptyLab, newMachine, parseVlans, pasteElements, removeElements, renameElement, updateDomain, updateSwitchLink } from '../../src/renderer/graph/edit.ts';
import { elementForTarget, labToElements, parseElementId, vlanLabel } from '../../src/renderer/graph/mapping.ts';
import type { LabModel } from '../../src/shared/lab-model.ts';

const src = { file: 'lab.yaml', line: 1, column: 1 };

function lab(): LabModel {
  const pc = (name: string, domain: string, vlan?: number) => ({ ...newMachine(name, 'host'), interfaces: [{ index: 0, domain, ipv4: [], ipv6: [], source: src, ...(vlan ? { vlan } : {}) }] });
  return {
    ...emptyLab('/labs/v', 'v'),
    machines: [pc('pc1', 'sw1', 10), pc('pc2', 'sw2', 10), { ...pc('r1', 'sw1'), interfaces: [{ index: 0, domain: 'sw1', ipv4: [], ipv6: [], vlans: [10, 20], source: src }] }],
    domains: [{ name: 'sw1', kind: 'switch', hostNat: false, stp: {}, source: src }, { name: 'sw2', kind: 'switch', hostNat: false, source: src }],
    switchLinks: [{ a: 'sw1', b: 'sw2', vlans: [10, 20], source: src }],
    layout: { sw1: { x: 0, y: 0 }, sw2: { x: 200, y: 0 } },
  };
}

const edge = (model: LabModel, id: string) => labToElements(model).find((e) => e.data.id === id)?.data as Record<string, unknown> | undefined;

describe('switch links on the canvas', () => {
  it("draws a link between two switch nodes, with its VLANs, and each port's VLAN on the machine's cable", () => {
    const model = lab();
    expect(edge(model, 'link:sw1--sw2')).toMatchObject({ role: 'swlink', source: 'domain:sw1', target: 'domain:sw2', label: 'trunk 10,20' });
    expect(edge(model, 'iface:pc1/eth0')).toMatchObject({ label: 'VLAN 10' });
    expect(edge(model, 'iface:r1/eth0')).toMatchObject({ label: 'trunk 10,20' });
    expect(parseElementId('link:sw1--sw2')).toEqual({ type: 'link', id: 'sw1--sw2' });
    expect(elementForTarget(model, 'link:sw1--sw2')).toBe('link:sw1--sw2');
    expect(vlanLabel({ vlan: 5, vlans: [7, 8] })).toBe('VLAN 5 + trunk 7,8');
  });

  it('a hub with two machines and a switch link stays a node (it is no point-to-point cable)', () => {
    const model = lab();
    model.machines.push({ ...newMachine('pc3', 'host'), interfaces: [{ index: 0, domain: 'h', ipv4: [], ipv6: [], source: src }] }, { ...newMachine('pc4', 'host'), interfaces: [{ index: 0, domain: 'h', ipv4: [], ipv6: [], source: src }] });
    model.domains.push({ name: 'h', kind: 'hub', hostNat: false, source: src });
    expect(labToElements(model).some((e) => e.data.id === 'domain:h' && e.group === 'edges')).toBe(true);
    model.switchLinks!.push({ a: 'h', b: 'sw2', source: src });
    expect(labToElements(model).find((e) => e.data.id === 'domain:h')!.group).toBe('nodes');
  });

  it('the cable tool joins two switches with a link; a second one is -2', () => {
    const one = connect(lab(), 'domain:sw2', 'domain:sw1');
    expect(one.id).toBe('link:sw2--sw1');
    const two = connect(one.model, 'domain:sw1', 'domain:sw2');
    expect(two.id).toBe('link:sw1--sw2-2');
    expect(() => connect(lab(), 'domain:sw1', 'domain:sw1')).toThrow(EditError);
  });

  it('deleting a link, or a switch, takes the links away; renaming a switch renames it in its links', () => {
    expect(removeElements(lab(), ['link:sw1--sw2']).switchLinks).toBeUndefined();
    expect(removeElements(lab(), ['domain:sw2']).switchLinks).toBeUndefined();
    const renamed = renameElement(lab(), 'domain:sw2', 'core').model;
    expect(renamed.switchLinks).toEqual([expect.objectContaining({ a: 'sw1', b: 'core' })]);
  });

  it('copy and paste bring links between copied switches along', () => {
    const model = lab();
    const clip = copyElements(model, ['domain:sw1', 'domain:sw2']);
    const pasted = pasteElements(model, clip, { x: 40, y: 40 }).model;
    expect(pasted.switchLinks!.map((l) => `${l.a}-${l.b}`)).toEqual(['sw1-sw2', 'A-B']);
  });

  it('the panel edits VLANs and spanning tree', () => {
    const model = updateSwitchLink(lab(), 'sw1--sw2', (l) => Object.assign(l, { vlan: 30 }));
    expect(model.switchLinks![0]).toMatchObject({ vlan: 30, vlans: [10, 20] });
    expect(parseVlans(' 10 ', '20, 10 20')).toEqual({ vlan: 10, vlans: [10, 20] });
    expect(parseVlans('', '')).toEqual({});
    expect(() => parseVlans('x', '')).toThrow(EditError);
    expect(updateDomain(lab(), 'sw1', { stp: undefined }).domains[0]!.stp).toBeUndefined();
    expect(updateDomain(lab(), 'sw2', { stp: { priority: 4096 } }).domains[1]!.stp).toEqual({ priority: 4096 });
  });
});
