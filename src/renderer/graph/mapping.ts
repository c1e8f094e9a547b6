// Lab model → cytoscape elements. Pure (no DOM, no cytoscape instance): the editor keeps the LabModel
// as the single source of truth, derives the graph from it after every edit, and this module is
// unit-tested headless in Node.
//
// Element ids say what they stand for, and match Diagnostic.target so diagnostics land on them:
//   machine:<name>            a machine node
//   domain:<name>             a hub/switch/internet node, or the edge of a point-to-point domain
//   iface:<machine>/eth<N>    the cable from a machine's interface to a domain node
//   link:<id>                 a cable between two switches (lab.yaml `switch_links:`; id `<a>--<b>`)

import { switchLinkIds, type LabModel, type Machine } from '../../shared/lab-model.ts';

export interface NodeData {
  id: string;
  /** What the node is, for styling and the properties panel. */
  role: 'machine' | 'domain';
  name: string;
  label: string;
  /** host/router for machines, hub/switch/internet for domains. */
  kind: 'host' | 'router' | 'hub' | 'switch' | 'internet';
}

export interface EdgeData {
  id: string;
  role: 'iface' | 'p2p' | 'swlink';
  source: string;
  target: string;
  /** Interface names drawn at the cable ends. */
  sourceLabel: string;
  targetLabel: string;
  /** Domain the cable belongs to. */
  domain: string;
  label: string;
}

export interface GraphNode {
  group: 'nodes';
  data: NodeData;
  /** Absent when the lab has no position for it: the editor lays those out automatically. */
  position?: { x: number; y: number };
}

export interface GraphEdge {
  group: 'edges';
  data: EdgeData;
}

export type GraphElement = GraphNode | GraphEdge;

export const machineId = (name: string): string => `machine:${name}`;
export const domainId = (name: string): string => `domain:${name}`;
export const ifaceId = (machine: string, index: number): string => `iface:${machine}/eth${index}`;
export const linkId = (id: string): string => `link:${id}`;

export type ElementRef =
  | { type: 'machine'; name: string }
  | { type: 'domain'; name: string }
  | { type: 'iface'; machine: string; index: number }
  | { type: 'link'; id: string };

/** Parses an element id (or a Diagnostic.target) back into what it names. */
export function parseElementId(id: string): ElementRef | undefined {
  const m = /^(machine|domain|iface|link):(.+)$/.exec(id);
  if (!m) return undefined;
  if (m[1] === 'link') return { type: 'link', id: m[2]! };
  if (m[1] === 'iface' || (m[1] === 'machine' && m[2]!.includes('/'))) {
    const im = /^(.+)\/eth(\d+)$/.exec(m[2]!);
    return im ? { type: 'iface', machine: im[1]!, index: Number(im[2]) } : undefined;
  }
  return { type: m[1] as 'machine' | 'domain', name: m[2]! };
}

/** Interfaces attached to each domain, in machine then index order. */
export function endpointsByDomain(model: LabModel): Map<string, { machine: string; index: number }[]> {
  const out = new Map<string, { machine: string; index: number }[]>();
  for (const d of model.domains) out.set(d.name, []);
  for (const m of model.machines) {
    for (const i of m.interfaces) {
      if (!out.has(i.domain)) out.set(i.domain, []);
      out.get(i.domain)!.push({ machine: m.name, index: i.index });
    }
  }
  return out;
}

/**
 * A domain is drawn as a plain cable between two machines when it joins exactly two different machines,
 * is a plain hub without NAT, and the lab gave it no position (so it was never drawn as a node).
 */
export function isPointToPoint(name: string, model: LabModel, endpoints = endpointsByDomain(model).get(name) ?? []): boolean {
  if (endpoints.length !== 2 || endpoints[0]!.machine === endpoints[1]!.machine) return false;
  if (model.layout[domainLayoutKey(name)]) return false;
  if (model.switchLinks?.some((l) => l.a === name || l.b === name)) return false;
  // Domains named only by interfaces (Netkit lab.conf) have no declaration: they are plain hubs.
  const domain = model.domains.find((d) => d.name === name);
  return !domain || (domain.kind === 'hub' && !domain.hostNat);
}

/** Layout keys are plain names: machines and domains share one namespace, as in Netkit's lab.conf. */
export const domainLayoutKey = (name: string): string => name;

function machineLabel(m: Machine): string {
  return m.name;
}

/** How a switch port's VLANs are drawn: `VLAN 10`, `trunk 10,20`, `VLAN 10 + trunk 20,30`. */
export function vlanLabel(spec: { vlan?: number; vlans?: number[] }): string {
  const parts = [spec.vlan !== undefined ? `VLAN ${spec.vlan}` : '', spec.vlans?.length ? `trunk ${spec.vlans.join(',')}` : ''].filter(Boolean);
  return parts.join(' + ');
}

export function labToElements(model: LabModel): GraphElement[] {
  const elements: GraphElement[] = [];
  const endpoints = endpointsByDomain(model);
  const domains = new Map(model.domains.map((d) => [d.name, d]));
  for (const m of model.machines) {
    const pos = model.layout[m.name];
    elements.push({
      group: 'nodes',
      data: { id: machineId(m.name), role: 'machine', name: m.name, label: machineLabel(m), kind: m.kind },
      ...(pos ? { position: { x: pos.x, y: pos.y } } : {}),
    });
  }
  for (const name of endpoints.keys()) {
    const domain = domains.get(name);
    const ends = endpoints.get(name)!;
    if (isPointToPoint(name, model, ends)) {
      const [a, b] = ends as [{ machine: string; index: number }, { machine: string; index: number }];
      elements.push({
        group: 'edges',
        data: {
          id: domainId(name), role: 'p2p', source: machineId(a.machine), target: machineId(b.machine),
          sourceLabel: `eth${a.index}`, targetLabel: `eth${b.index}`, domain: name, label: name,
        },
      });
      continue;
    }
    const kind = domain?.hostNat ? 'internet' : (domain?.kind ?? 'hub');
    const pos = model.layout[domainLayoutKey(name)];
    elements.push({
      group: 'nodes',
      data: { id: domainId(name), role: 'domain', name, label: name, kind },
      ...(pos ? { position: { x: pos.x, y: pos.y } } : {}),
    });
    const onSwitch = domain?.kind === 'switch';
    for (const e of ends) {
      const iface = onSwitch ? model.machines.find((m) => m.name === e.machine)?.interfaces.find((i) => i.index === e.index) : undefined;
      elements.push({
        group: 'edges',
        data: {
          id: ifaceId(e.machine, e.index), role: 'iface', source: machineId(e.machine), target: domainId(name),
          // The switch port's VLANs, along the cable (at the switch's end, several would crowd it).
          sourceLabel: `eth${e.index}`, targetLabel: '', domain: name, label: iface ? vlanLabel(iface) : '',
        },
      });
    }
  }
  const linkIds = switchLinkIds(model);
  (model.switchLinks ?? []).forEach((l, n) => {
    if (!endpoints.has(l.a) || !endpoints.has(l.b) || l.a === l.b) return;
    elements.push({
      group: 'edges',
      data: { id: linkId(linkIds[n]!), role: 'swlink', source: domainId(l.a), target: domainId(l.b), sourceLabel: '', targetLabel: '', domain: l.a, label: vlanLabel(l) },
    });
  });
  return elements;
}

/** Which element shows a Diagnostic.target: the interface's cable, else its machine, else the node itself. */
export function elementForTarget(model: LabModel, target: string): string | undefined {
  const ref = parseElementId(target);
  if (!ref) return undefined;
  if (ref.type === 'iface') {
    const machine = model.machines.find((m) => m.name === ref.machine);
    const iface = machine?.interfaces.find((i) => i.index === ref.index);
    if (!iface) return machine ? machineId(ref.machine) : undefined;
    return isPointToPoint(iface.domain, model) ? domainId(iface.domain) : ifaceId(ref.machine, ref.index);
  }
  if (ref.type === 'machine') return model.machines.some((m) => m.name === ref.name) ? machineId(ref.name) : undefined;
  if (ref.type === 'link') return switchLinkIds(model).includes(ref.id) ? linkId(ref.id) : undefined;
  return endpointsByDomain(model).has(ref.name) ? domainId(ref.name) : undefined;
}
