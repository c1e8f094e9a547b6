// Which cables of the drawing a captured frame crosses, from its Ethernet addresses: out of the cable of
// the interface that owns its source MAC, through the switch (and the switch links of that Ethernet
// segment), into the cable of the interface that owns its destination MAC, or of every other interface
// of the segment for a broadcast or multicast. Pure (the lab model, the running lab's MACs, the drawing's
// elements): unit-tested headless, used by packet-flow.ts to move a dot along each track.
import type { LabModel } from '../shared/lab-model.ts';
import { elementForTarget, labToElements, machineId, type EdgeData } from './graph/mapping.ts';

/** One cable crossed, from node `from` to node `to` (element ids of the drawing). */
export interface Hop {
  edge: string;
  from: string;
  to: string;
}

/** An interface of a running machine, as the status names it (`eth0`). */
export interface NicMac {
  machine: string;
  name: string;
  domain: string;
  mac: string;
}

/** Every track of one frame (a broadcast fans out), at most this many. */
const MAX_TRACKS = 12;

export class PacketRoutes {
  private readonly edges = new Map<string, EdgeData>();
  private readonly byMac = new Map<string, NicMac>();
  /** The domains of the captured Ethernet segment (the capture's domain and those switch-linked to it). */
  readonly segment: Set<string>;

  constructor(
    private readonly model: LabModel,
    nics: NicMac[],
    /** What is captured: a cable (`pc1:eth0`) or a collision domain. */
    target: string,
  ) {
    for (const e of labToElements(model)) if (e.group === 'edges') this.edges.set(e.data.id, e.data);
    for (const n of nics) this.byMac.set(n.mac.toLowerCase(), n);
    const cable = /^(.+):(eth\d+)$/.exec(target);
    const domain = cable ? nics.find((n) => n.machine === cable[1] && n.name === cable[2])?.domain ?? model.machines.find((m) => m.name === cable[1])?.interfaces.find((i) => `eth${i.index}` === cable[2])?.domain : target;
    this.segment = this.connected(domain);
  }

  /** The tracks a frame from `src` to `dst` (MACs) takes across the drawing; empty when none is drawn. */
  tracks(src: string | undefined, dst: string | undefined): Hop[][] {
    if (!src || !dst) return [];
    const from = this.nic(src);
    const broadcast = (parseInt(dst.slice(0, 2), 16) & 1) === 1;
    const to = broadcast ? [...this.byMac.values()].filter((n) => this.segment.has(n.domain) && n !== from) : [this.nic(dst)].filter((n): n is NicMac => !!n);
    const out: Hop[][] = [];
    for (const nic of to) {
      const track = this.track(from, nic);
      if (track.length) out.push(track);
      if (out.length >= MAX_TRACKS) break;
    }
    // A frame from an unknown sender to nobody drawn (or a unicast to an unknown MAC): its sender's cable at least.
    if (!out.length && from) {
      const first = this.cableHop(from, true);
      if (first) out.push([first]);
    }
    return out;
  }

  /** The interface owning a MAC, when it is in the captured segment. */
  private nic(mac: string): NicMac | undefined {
    const n = this.byMac.get(mac.toLowerCase());
    return n && this.segment.has(n.domain) ? n : undefined;
  }

  private track(from: NicMac | undefined, to: NicMac): Hop[] {
    if (from && from.domain === to.domain && from.machine !== to.machine) {
      // A point-to-point domain is one cable between the two machines.
      const p2p = this.edges.get(`domain:${from.domain}`);
      if (p2p) return [{ edge: p2p.id, from: machineId(from.machine), to: machineId(to.machine) }];
    }
    const out = from ? this.cableHop(from, true) : undefined;
    const into = this.cableHop(to, false);
    if (!into || (from && !out)) return [];
    // From a sender that is no machine (host NAT's gateway): it appears at the receiver's switch.
    const between = out ? this.linkPath(out.to, into.from) : [];
    if (!between) return [];
    return [...(out ? [out] : []), ...between, into];
  }

  /** The cable of an interface, leaving its machine (`out`) or entering it. */
  private cableHop(nic: NicMac, out: boolean): Hop | undefined {
    const id = elementForTarget(this.model, `iface:${nic.machine}/${nic.name}`);
    const edge = id ? this.edges.get(id) : undefined;
    if (!edge || edge.role === 'p2p') return undefined;
    const machine = machineId(nic.machine);
    const other = edge.source === machine ? edge.target : edge.source;
    return out ? { edge: edge.id, from: machine, to: other } : { edge: edge.id, from: other, to: machine };
  }

  /** Switch links from one switch node to another (breadth first), as hops. */
  private linkPath(a: string, b: string): Hop[] | undefined {
    if (a === b) return [];
    const links = [...this.edges.values()].filter((e) => e.role === 'swlink');
    const came = new Map<string, Hop>();
    const queue = [a];
    const seen = new Set(queue);
    while (queue.length) {
      const node = queue.shift()!;
      if (node === b) break;
      for (const l of links) {
        const next = l.source === node ? l.target : l.target === node ? l.source : undefined;
        if (!next || seen.has(next)) continue;
        seen.add(next);
        came.set(next, { edge: l.id, from: node, to: next });
        queue.push(next);
      }
    }
    const path: Hop[] = [];
    for (let node = b; node !== a; ) {
      const hop = came.get(node);
      if (!hop) return undefined;
      path.unshift(hop);
      node = hop.from;
    }
    return path;
  }

  /** The capture's domain and every domain switch-linked to it. */
  private connected(domain: string | undefined): Set<string> {
    const out = new Set<string>();
    if (!domain) return out;
    const todo = [domain];
    while (todo.length) {
      const d = todo.pop()!;
      if (out.has(d)) continue;
      out.add(d);
      for (const l of this.model.switchLinks ?? []) {
        if (l.a === d) todo.push(l.b);
        if (l.b === d) todo.push(l.a);
      }
    }
    return out;
  }
}
