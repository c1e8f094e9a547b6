// The lab ↔ graph mapping and the editing operations, headless: cytoscape runs without a container
// in Node, so what the canvas will show is checked here without a browser.
import cytoscape from 'cytoscape';
import { describe, expect, it } from 'vitest';
import type { LabModel } from '../../src/shared/lab-model.ts';
import { labToElements, elementForTarget, parseElementId } from '../../src/renderer/graph/mapping.ts';
import {
  addNode, connect, copyElements, emptyLab, EditError, moveElements, pasteElements, removeElements,
  renameElement, snapToGrid, unplacedElementIds, updateDomain, newMachine,
} from '../../src/renderer/graph/edit.ts';
import { History } from '../../src/renderer/graph/history.ts';

const src = { file: 'lab.conf', line: 1, column: 1 };

/** A Netkit-like lab: r1 joins A (pc1, r1) and B (r1, pc2, pc3), no positions. */
function netkitLab(): LabModel {
  const m = (name: string, kind: 'host' | 'router', ifs: [number, string][]) => ({
    ...newMachine(name, kind),
    interfaces: ifs.map(([index, domain]) => ({ index, domain, ipv4: [], ipv6: [], source: src })),
  });
  return {
    ...emptyLab('/labs/x', 'x'),
    format: 'netkit', sourceFile: 'lab.conf',
    machines: [m('pc1', 'host', [[0, 'A']]), m('r1', 'router', [[0, 'A'], [1, 'B']]), m('pc2', 'host', [[0, 'B']]), m('pc3', 'host', [[0, 'B']])],
  };
}

function headless(model: LabModel) {
  return cytoscape({ headless: true, layout: { name: 'preset' }, elements: labToElements(model) as cytoscape.ElementDefinition[] });
}

describe('lab → cytoscape elements', () => {
  it('draws a two-machine domain as a cable and a shared domain as a node with labelled cable ends', () => {
    const cy = headless(netkitLab());
    expect(cy.nodes().map((n) => n.id()).sort()).toEqual(['domain:B', 'machine:pc1', 'machine:pc2', 'machine:pc3', 'machine:r1']);
    const a = cy.getElementById('domain:A');
    expect(a.isEdge()).toBe(true);
    expect(a.data('sourceLabel')).toBe('eth0');
    expect(a.data('targetLabel')).toBe('eth0');
    expect(a.source().id()).toBe('machine:pc1');
    const r1b = cy.getElementById('iface:r1/eth1');
    expect(r1b.source().id()).toBe('machine:r1');
    expect(r1b.target().id()).toBe('domain:B');
    expect(r1b.data('sourceLabel')).toBe('eth1');
    expect(cy.getElementById('domain:B').connectedEdges().length).toBe(3);
  });

  it('shows a switch, a host-NAT domain and a positioned hub as nodes even with two ends', () => {
    let lab = netkitLab();
    lab = updateDomain(lab, 'A', { kind: 'switch' });
    expect(headless(lab).getElementById('domain:A').isNode()).toBe(true);
    lab = updateDomain(netkitLab(), 'A', { hostNat: true });
    expect(headless(lab).getElementById('domain:A').data('kind')).toBe('internet');
    lab = moveElements(netkitLab(), { 'domain:A': { x: 5, y: 5 } });
    expect(headless(lab).getElementById('domain:A').position()).toEqual({ x: 5, y: 5 });
  });

  it('pins a diagnostic target on the element that shows it', () => {
    const lab = netkitLab();
    expect(elementForTarget(lab, 'machine:pc1')).toBe('machine:pc1');
    expect(elementForTarget(lab, 'machine:pc1/eth0')).toBe('domain:A');
    expect(elementForTarget(lab, 'machine:r1/eth1')).toBe('iface:r1/eth1');
    expect(elementForTarget(lab, 'domain:B')).toBe('domain:B');
    expect(elementForTarget(lab, 'machine:ghost')).toBeUndefined();
    expect(parseElementId('iface:r1/eth1')).toEqual({ type: 'iface', machine: 'r1', index: 1 });
  });

  it('lists the elements an automatic layout must place', () => {
    const lab = netkitLab();
    expect(unplacedElementIds(lab).sort()).toEqual(['domain:B', 'machine:pc1', 'machine:pc2', 'machine:pc3', 'machine:r1']);
    const placed = moveElements(lab, Object.fromEntries(unplacedElementIds(lab).map((id, i) => [id, { x: i, y: i }])));
    expect(unplacedElementIds(placed)).toEqual([]);
    // A layout never changes anything but positions.
    expect({ ...placed, layout: {} }).toEqual({ ...lab, layout: {} });
  });
});

describe('editing', () => {
  it('builds two hosts on a switch from the palette and cables', () => {
    let lab = emptyLab('/tmp/l', 'l');
    let r = addNode(lab, 'host', { x: 0, y: 0 });
    lab = r.model;
    expect(r.id).toBe('machine:pc1');
    lab = addNode(lab, 'host', { x: 200, y: 0 }).model;
    r = addNode(lab, 'switch', { x: 100, y: 100 });
    lab = r.model;
    expect(r.id).toBe('domain:A');
    lab = connect(lab, 'machine:pc1', 'domain:A').model;
    const c = connect(lab, 'domain:A', 'machine:pc2');
    lab = c.model;
    expect(c.id).toBe('iface:pc2/eth0');
    expect(lab.machines.map((m) => m.interfaces.map((i) => `eth${i.index}@${i.domain}`))).toEqual([['eth0@A'], ['eth0@A']]);
    expect(lab.domains).toMatchObject([{ name: 'A', kind: 'switch', hostNat: false }]);
    const cy = headless(lab);
    expect(cy.edges().length).toBe(2);
  });

  it('a cable between two machines creates a point-to-point domain; deleting it removes both interfaces', () => {
    let lab = addNode(addNode(emptyLab('/tmp/l', 'l'), 'router', { x: 0, y: 0 }).model, 'router', { x: 9, y: 9 }).model;
    const c = connect(lab, 'machine:r1', 'machine:r2');
    lab = c.model;
    expect(c.id).toBe('domain:A');
    expect(headless(lab).getElementById('domain:A').isEdge()).toBe(true);
    lab = connect(lab, 'machine:r1', 'machine:r2').model;
    expect(lab.machines[0]!.interfaces.map((i) => `eth${i.index}@${i.domain}`)).toEqual(['eth0@A', 'eth1@B']);
    lab = removeElements(lab, ['domain:A']);
    expect(lab.machines.map((m) => m.interfaces.map((i) => `eth${i.index}@${i.domain}`))).toEqual([['eth1@B'], ['eth1@B']]);
    expect(lab.domains.map((d) => d.name)).toEqual(['B']);
    // The next cable reuses the free eth0.
    lab = connect(lab, 'machine:r1', 'machine:r2').model;
    expect(lab.machines[0]!.interfaces.map((i) => i.index)).toEqual([0, 1]);
  });

  it('deleting a machine takes its cables, and its point-to-point links, with it', () => {
    let lab = netkitLab();
    lab = removeElements(lab, ['machine:pc1']);
    expect(lab.machines.find((m) => m.name === 'r1')!.interfaces.map((i) => i.domain)).toEqual(['B']);
    lab = removeElements(lab, ['iface:pc3/eth0']);
    expect(lab.machines.find((m) => m.name === 'pc3')!.interfaces).toEqual([]);
  });

  it('refuses cables that make no sense, with a reason', () => {
    let lab = addNode(addNode(emptyLab('/tmp/l', 'l'), 'hub', { x: 0, y: 0 }).model, 'switch', { x: 1, y: 1 }).model;
    // Two hubs/switches are joined by a switch link (issue 23); one cannot be cabled to itself.
    expect(connect(lab, 'domain:A', 'domain:B').id).toBe('link:A--B');
    expect(() => connect(lab, 'domain:A', 'domain:A')).toThrow(EditError);
    lab = addNode(lab, 'host', { x: 0, y: 0 }).model;
    expect(() => connect(lab, 'machine:pc1', 'machine:pc1')).toThrow(/two different ends/);
  });

  it('renames everywhere and refuses clashes and bad names', () => {
    let lab = netkitLab();
    lab.checks = [{ kind: 'reach', id: 'c', description: '', points: 1, timeoutSec: 1, hidden: false, source: src, from: 'pc1', to: 'pc2', expect: 'success' }];
    lab.machines[2]!.dependsOn = ['r1'];
    lab = moveElements(lab, { 'machine:r1': { x: 1, y: 2 } });
    const r = renameElement(lab, 'machine:r1', 'gw');
    expect(r.id).toBe('machine:gw');
    expect(r.model.layout.gw).toEqual({ x: 1, y: 2 });
    expect(r.model.machines[2]!.dependsOn).toEqual(['gw']);
    const r2 = renameElement(r.model, 'machine:pc1', 'alice');
    expect(r2.model.checks[0]).toMatchObject({ from: 'alice', to: 'pc2' });
    const r3 = renameElement(r2.model, 'domain:B', 'lan');
    expect(r3.model.machines.find((m) => m.name === 'gw')!.interfaces.map((i) => i.domain)).toEqual(['A', 'lan']);
    expect(() => renameElement(r3.model, 'machine:gw', 'pc2')).toThrow(/already used/);
    expect(() => renameElement(r3.model, 'machine:gw', 'bad name')).toThrow(/not a valid name/);
  });

  it('copy/paste keeps the cables between copied nodes and drops the others', () => {
    let lab = netkitLab();
    lab = moveElements(lab, { 'machine:pc2': { x: 0, y: 0 }, 'machine:pc3': { x: 10, y: 0 }, 'domain:B': { x: 5, y: 5 }, 'machine:pc1': { x: 0, y: 9 }, 'machine:r1': { x: 9, y: 9 } });
    // pc2 + pc3 + their switch B (r1 not copied: its cable to B is dropped).
    const clip = copyElements(lab, ['machine:pc2', 'machine:pc3', 'domain:B']);
    const p = pasteElements(lab, clip, { x: 100, y: 0 });
    expect(p.ids.sort()).toEqual(['domain:C', 'machine:pc4', 'machine:pc5']);
    const pc4 = p.model.machines.find((m) => m.name === 'pc4')!;
    expect(pc4.interfaces.map((i) => i.domain)).toEqual(['C']);
    expect(p.model.layout.pc4).toEqual({ x: 100, y: 0 });
    const cy = headless(p.model);
    expect(cy.getElementById('domain:C').connectedEdges().map((e) => e.source().id()).sort()).toEqual(['machine:pc4', 'machine:pc5']);
    // Copying both ends of a point-to-point cable copies the cable; one end alone does not.
    const both = pasteElements(lab, copyElements(lab, ['machine:pc1', 'machine:r1']), { x: 0, y: 50 });
    expect(headless(both.model).getElementById('domain:C').isEdge()).toBe(true);
    const one = pasteElements(lab, copyElements(lab, ['machine:pc1']), { x: 0, y: 50 });
    expect(one.model.machines.find((m) => m.name === 'pc4')!.interfaces).toEqual([]);
    // The original is untouched.
    expect(lab.machines.length).toBe(4);
  });

  it('snaps to the grid', () => {
    expect(snapToGrid({ x: 37, y: 12 }, 20)).toEqual({ x: 40, y: 20 });
  });
});

describe('undo/redo', () => {
  it('walks back and forth through edits, and a new edit drops the redo branch', () => {
    const h = new History(emptyLab('/tmp/l', 'l'));
    expect(h.canUndo).toBe(false);
    h.push(addNode(h.current, 'host', { x: 0, y: 0 }).model);
    h.push(addNode(h.current, 'host', { x: 1, y: 0 }).model);
    h.push(h.current); // no change → no step
    expect(h.current.machines.length).toBe(2);
    expect(h.undo().machines.length).toBe(1);
    expect(h.undo().machines.length).toBe(0);
    expect(h.canUndo).toBe(false);
    expect(h.redo().machines.length).toBe(1);
    h.push(addNode(h.current, 'router', { x: 0, y: 0 }).model);
    expect(h.canRedo).toBe(false);
    expect(h.current.machines.map((m) => m.name)).toEqual(['pc1', 'r1']);
  });
});
