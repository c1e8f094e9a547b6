// The layout of big labs (src/renderer/graph/grouped-layout.ts, issue 22): each domain with its
// machines around it, short cables, no two nodes on top of each other, the same drawing every time.
import { describe, expect, it } from 'vitest';
import { domainGroups, groupedLayout } from '../../src/renderer/graph/grouped-layout.ts';
import { labToElements, type GraphElement } from '../../src/renderer/graph/mapping.ts';
import { emptyLab, newMachine } from '../../src/renderer/graph/edit.ts';
import type { LabModel } from '../../src/shared/lab-model.ts';

const src = { file: 'lab.yaml', line: 1, column: 1 };

/** The lab: 500 hosts, 10 per hub, no positions. */
function hubs(n: number): LabModel {
  const machines = Array.from({ length: n }, (_, i) => ({ ...newMachine(`h${i}`, 'host'), interfaces: [{ index: 0, domain: `d${Math.floor(i / 10)}`, ipv4: [], ipv6: [], source: src }] }));
  const domains = Array.from({ length: Math.ceil(n / 10) }, (_, d) => ({ name: `d${d}`, kind: 'hub' as const, hostNat: false, source: src }));
  return { ...emptyLab('/labs/big', 'big'), machines, domains };
}

/** bench/ui.ts's lab: 30 LANs of 9 hosts on a switch, each LAN's router also on a backbone hub. */
function routed(): LabModel {
  const machines: LabModel['machines'] = [];
  const domains: LabModel['domains'] = [{ name: 'backbone', kind: 'hub', hostNat: false, source: src }];
  for (let lan = 1; lan <= 30; lan++) {
    domains.push({ name: `lan${lan}`, kind: 'switch', hostNat: false, source: src });
    machines.push({ ...newMachine(`r${lan}`, 'router'), interfaces: [{ index: 0, domain: `lan${lan}`, ipv4: [], ipv6: [], source: src }, { index: 1, domain: 'backbone', ipv4: [], ipv6: [], source: src }] });
    for (let h = 1; h <= 9; h++) machines.push({ ...newMachine(`h${lan}-${h}`, 'host'), interfaces: [{ index: 0, domain: `lan${lan}`, ipv4: [], ipv6: [], source: src }] });
  }
  return { ...emptyLab('/labs/routed', 'routed'), machines, domains };
}

function measure(elements: GraphElement[], at: Record<string, { x: number; y: number }>) {
  const nodes = elements.filter((e) => e.group === 'nodes').map((e) => e.data.id);
  let overlaps = 0;
  for (let i = 0; i < nodes.length; i++) {
    for (let j = i + 1; j < nodes.length; j++) {
      const a = at[nodes[i]!]!;
      const b = at[nodes[j]!]!;
      // Two shapes (44 px) with less than 6 px between them.
      if (Math.abs(a.x - b.x) < 50 && Math.abs(a.y - b.y) < 50) overlaps++;
    }
  }
  const lengths = elements.filter((e) => e.group === 'edges').map((e) => Math.hypot(at[e.data.source]!.x - at[e.data.target]!.x, at[e.data.source]!.y - at[e.data.target]!.y));
  const xs = nodes.map((n) => at[n]!.x);
  const ys = nodes.map((n) => at[n]!.y);
  const span = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys));
  return { overlaps, longest: Math.max(...lengths), span, placed: nodes.every((n) => Number.isFinite(at[n]?.x) && Number.isFinite(at[n]?.y)) };
}

describe('grouped layout', () => {
  it('500 machines on 50 hubs: each hub with its 10 machines around it, short cables, no overlaps', () => {
    const elements = labToElements(hubs(500));
    const at = groupedLayout(elements);
    const m = measure(elements, at);
    expect(m.placed).toBe(true);
    expect(m.overlaps).toBe(0);
    // Every cable is a spoke of its own hub's ring (the grid drew 335 of 500 across half the canvas).
    expect(m.longest).toBeLessThan(150);
    expect(m.longest / m.span).toBeLessThan(0.05);
    expect(domainGroups(elements).find((g) => g.domain === 'domain:d7')!.members).toEqual(Array.from({ length: 10 }, (_, i) => `machine:h${70 + i}`));
  });

  it('routers sit between their LAN and the backbone; hosts around their LAN switch', () => {
    const elements = labToElements(routed());
    const at = groupedLayout(elements);
    const m = measure(elements, at);
    expect(m.overlaps).toBe(0);
    const groups = domainGroups(elements);
    expect(groups.find((g) => g.domain === 'domain:lan3')!.members).toHaveLength(9); // r3 is on two domains: not a member
    expect(groups.find((g) => g.domain === 'domain:backbone')!.members).toEqual([]);
    // A router's two cables are short next to the drawing.
    const dist = (a: string, b: string) => Math.hypot(at[a]!.x - at[b]!.x, at[a]!.y - at[b]!.y);
    for (let lan = 1; lan <= 30; lan++) expect(dist(`machine:r${lan}`, `domain:lan${lan}`)).toBeLessThan(m.span / 4);
    const backbone = Array.from({ length: 30 }, (_, i) => dist(`machine:r${i + 1}`, 'domain:backbone'));
    expect(Math.max(...backbone)).toBeLessThan(m.span * 0.75);
  });

  it('is the same every time, and quick', () => {
    const elements = labToElements(routed());
    const t0 = performance.now();
    const first = groupedLayout(elements);
    const ms = performance.now() - t0;
    expect(groupedLayout(elements)).toEqual(first);
    expect(ms).toBeLessThan(5_000); // a generous bound for a loaded machine: it takes ~0.1 s
  });
});
