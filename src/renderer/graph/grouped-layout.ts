// A layout that shows a big lab's topology (issue 22: 500 machines in a grid in name order, 335 of
// 500 cables across half the canvas). Each collision domain drawn as a node (hub, switch) is the
// centre of its group: the machines whose only cable goes to it sit on rings around it, so their
// cables are short and anyone can tell which domain a machine is on. Machines that join domains
// (routers), point-to-point machines and the groups are then placed by a small force layout (springs
// along cables, groups pushed apart), each connected part on its own, and the parts packed in rows.
//
// Why our own and not cytoscape-fcose or cola: a lab's structure is known (domains are stars), so
// the groups come out exact in one pass, in O(machines), the same lab gives the same drawing every
// time (no random start), and the force step runs on ~one body per domain, not on 500 machines.
// Pure: graph elements in, positions out (unit-tested headless).
import type { GraphElement } from './mapping.ts';

export interface Point {
  x: number;
  y: number;
}

/** Centre-to-centre room a machine takes on a ring (its 44 px shape and its name under it). */
const SLOT = 76;
const FIRST_RING = 110;
/** A group's first ring grows with its machines up to this radius; more go on outer rings. */
const MAX_FIRST_RING = 240;
const RING_STEP = 90;
/** Room around a group for the names on its outer ring. */
const GROUP_MARGIN = 40;
const LONE_RADIUS = 60;
const GAP = 40;

/** A domain and the machines whose every cable goes to it. */
export interface DomainGroup {
  domain: string;
  members: string[];
}

/** Group each domain node with the machines cabled only to it (ids as in the graph: machine:…, domain:…). */
export function domainGroups(elements: GraphElement[]): DomainGroup[] {
  const domains = elements.filter((e) => e.group === 'nodes' && e.data.role === 'domain').map((e) => e.data.id);
  const ends = new Map<string, Set<string>>();
  const add = (machine: string, other: string) => ends.set(machine, (ends.get(machine) ?? new Set()).add(other));
  for (const e of elements) {
    if (e.group !== 'edges') continue;
    if (e.data.role === 'iface') add(e.data.source, e.data.target);
    else if (e.data.role === 'p2p') {
      add(e.data.source, e.data.target);
      add(e.data.target, e.data.source);
    }
  }
  const members = new Map(domains.map((d) => [d, [] as string[]]));
  for (const [machine, others] of ends) {
    const [only] = others;
    if (others.size === 1 && members.has(only!)) members.get(only!)!.push(machine);
  }
  return domains.map((d) => ({ domain: d, members: members.get(d)!.sort(byName) }));
}

interface Body {
  id: string;
  r: number;
  x: number;
  y: number;
  group?: DomainGroup;
}

/** Positions for every node of the graph; `aspect` (width / height) is the shape of the canvas the parts are packed for. */
export function groupedLayout(elements: GraphElement[], aspect = 1.4): Record<string, Point> {
  const groups = domainGroups(elements);
  const inGroup = new Set(groups.flatMap((g) => g.members));
  const bodies = new Map<string, Body>();
  for (const g of groups) bodies.set(g.domain, { id: g.domain, r: groupRadius(g.members.length), x: 0, y: 0, group: g });
  for (const e of elements) if (e.group === 'nodes' && !bodies.has(e.data.id) && !inGroup.has(e.data.id)) bodies.set(e.data.id, { id: e.data.id, r: LONE_RADIUS, x: 0, y: 0 });
  // Springs between bodies: a member's cable stands for its group's hub.
  const bodyOf = (id: string) => bodies.get(id);
  const springs: [Body, Body][] = [];
  const seen = new Set<string>();
  for (const e of elements) {
    if (e.group !== 'edges') continue;
    const a = bodyOf(e.data.source);
    const b = bodyOf(e.data.target);
    if (!a || !b || a === b) continue;
    const key = [a.id, b.id].sort().join('\n');
    if (seen.has(key)) continue;
    seen.add(key);
    springs.push([a, b]);
  }
  const parts = components([...bodies.values()].sort((a, b) => byName(a.id, b.id)), springs);
  for (const part of parts) settle(part, springs.filter(([a]) => part.includes(a)));
  pack(parts, aspect);
  const out: Record<string, Point> = {};
  for (const b of bodies.values()) {
    out[b.id] = { x: Math.round(b.x), y: Math.round(b.y) };
    if (b.group) ringPositions(b.group.members.length).forEach((p, i) => (out[b.group!.members[i]!] = { x: Math.round(b.x + p.x), y: Math.round(b.y + p.y) }));
  }
  return out;
}

/** Rings of machines around a hub (radius, how many on it): one ring as wide as its machines need, up to a point, then more rings outside it. */
function rings(count: number): { r: number; n: number }[] {
  const out: { r: number; n: number }[] = [];
  const first = Math.min(MAX_FIRST_RING, Math.max(FIRST_RING, (count * SLOT) / (2 * Math.PI)));
  for (let left = count, r = first; left > 0; r += RING_STEP) {
    const n = Math.min(left, Math.max(6, Math.floor((2 * Math.PI * r) / SLOT + 1e-9)));
    out.push({ r, n });
    left -= n;
  }
  return out;
}

function groupRadius(count: number): number {
  if (count === 0) return LONE_RADIUS;
  return rings(count).at(-1)!.r + GROUP_MARGIN;
}

/** Offsets from the hub of each member, ring by ring, clockwise from the top. */
export function ringPositions(count: number): Point[] {
  const out: Point[] = [];
  rings(count).forEach(({ r, n }, ring) => {
    // Alternate rings are turned half a slot, so names on neighbouring rings do not line up.
    const turn = ring % 2 ? Math.PI / n : 0;
    for (let i = 0; i < n; i++) {
      const a = -Math.PI / 2 + turn + (2 * Math.PI * i) / n;
      out.push({ x: r * Math.cos(a), y: r * Math.sin(a) });
    }
  });
  return out;
}

/** Connected parts, each in a stable order (breadth first from its first body by name). */
function components(bodies: Body[], springs: [Body, Body][]): Body[][] {
  const next = new Map<Body, Body[]>(bodies.map((b) => [b, []]));
  for (const [a, b] of springs) {
    next.get(a)!.push(b);
    next.get(b)!.push(a);
  }
  const done = new Set<Body>();
  const parts: Body[][] = [];
  for (const start of bodies) {
    if (done.has(start)) continue;
    const part = [start];
    done.add(start);
    for (let i = 0; i < part.length; i++) {
      for (const n of next.get(part[i]!)!.sort((a, b) => byName(a.id, b.id))) {
        if (!done.has(n)) {
          done.add(n);
          part.push(n);
        }
      }
    }
    parts.push(part);
  }
  return parts;
}

/**
 * A deterministic force layout of one connected part: bodies start as a radial tree (the most cabled
 * body in the middle, each ring of the tree further out, each subtree in a wedge as wide as it needs),
 * then springs pull cabled bodies to just clear of each other, every pair pushes apart, and a cooling
 * step bounds each move; overlaps are then taken out pair by pair.
 */
function settle(part: Body[], springs: [Body, Body][]): void {
  if (part.length === 1) return;
  radialStart(part, springs);
  const mean = part.reduce((s, b) => s + b.r, 0) / part.length;
  const n = part.length;
  const iterations = Math.max(60, Math.min(300, Math.floor(4e7 / (n * n))));
  const index = new Map(part.map((b, i) => [b, i]));
  // A body with many cables (a backbone hub) holds each of them loosely, so that a router stays by its
  // own LAN rather than crowding round the backbone.
  const degree = new Map<Body, number>();
  for (const [a, b] of springs) for (const x of [a, b]) degree.set(x, (degree.get(x) ?? 0) + 1);
  const stiffness = springs.map(([a, b]) => 0.2 / Math.sqrt(degree.get(a)! * degree.get(b)!));
  for (let it = 0; it < iterations; it++) {
    const step = (mean / 2) * (1 - it / iterations) + 1;
    const fx = new Float64Array(n);
    const fy = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const a = part[i]!;
        const b = part[j]!;
        let dx = b.x - a.x;
        let dy = b.y - a.y;
        let d = Math.hypot(dx, dy);
        if (d < 1e-6) [dx, dy, d] = [1, 0, 1];
        const clear = a.r + b.r + GAP;
        // Far bodies barely push; overlapping ones push hard.
        const push = (clear * clear) / (d * d) + (d < clear ? (clear - d) / 2 : 0);
        fx[i]! -= (dx / d) * push;
        fy[i]! -= (dy / d) * push;
        fx[j]! += (dx / d) * push;
        fy[j]! += (dy / d) * push;
      }
    }
    for (const [k, [a, b]] of springs.entries()) {
      const i = index.get(a)!;
      const j = index.get(b)!;
      const dx = b.x - a.x;
      const dy = b.y - a.y;
      const d = Math.hypot(dx, dy) || 1;
      const pull = (d - (a.r + b.r + GAP)) * stiffness[k]!;
      fx[i]! += (dx / d) * pull;
      fy[i]! += (dy / d) * pull;
      fx[j]! -= (dx / d) * pull;
      fy[j]! -= (dy / d) * pull;
    }
    for (let i = 0; i < n; i++) {
      const f = Math.hypot(fx[i]!, fy[i]!);
      if (f < 1e-9) continue;
      const move = Math.min(step, f);
      part[i]!.x += (fx[i]! / f) * move;
      part[i]!.y += (fy[i]! / f) * move;
    }
  }
  for (let pass = 0; pass < 100; pass++) {
    let moved = false;
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const a = part[i]!;
        const b = part[j]!;
        const dx = b.x - a.x;
        const dy = b.y - a.y;
        const d = Math.hypot(dx, dy) || 1;
        const overlap = a.r + b.r + GAP / 2 - d;
        if (overlap <= 0) continue;
        moved = true;
        a.x -= (dx / d) * (overlap / 2);
        a.y -= (dy / d) * (overlap / 2);
        b.x += (dx / d) * (overlap / 2);
        b.y += (dy / d) * (overlap / 2);
      }
    }
    if (!moved) break;
  }
}

/** Initial positions: a breadth-first tree from the most cabled body, drawn radially. */
function radialStart(part: Body[], springs: [Body, Body][]): void {
  const next = new Map<Body, Body[]>(part.map((b) => [b, []]));
  for (const [a, b] of springs) {
    next.get(a)!.push(b);
    next.get(b)!.push(a);
  }
  const root = [...part].sort((a, b) => next.get(b)!.length - next.get(a)!.length || byName(a.id, b.id))[0]!;
  const children = new Map<Body, Body[]>(part.map((b) => [b, []]));
  const depth = new Map<Body, number>([[root, 0]]);
  const order = [root];
  for (let i = 0; i < order.length; i++) {
    const b = order[i]!;
    for (const n of [...next.get(b)!].sort((x, y) => byName(x.id, y.id))) {
      if (depth.has(n)) continue;
      depth.set(n, depth.get(b)! + 1);
      children.get(b)!.push(n);
      order.push(n);
    }
  }
  // A subtree's wedge follows the room its bodies take.
  const weight = new Map<Body, number>();
  for (const b of [...order].reverse()) weight.set(b, 2 * b.r + GAP + children.get(b)!.reduce((s, c) => s + weight.get(c)!, 0));
  // Ring radii: far enough out for the widest bodies, and long enough for all on that ring.
  const levels: Body[][] = [];
  for (const b of order) (levels[depth.get(b)!] ??= []).push(b);
  const radius = [0];
  for (let d = 1; d < levels.length; d++) {
    const reach = radius[d - 1]! + Math.max(...levels[d - 1]!.map((b) => b.r)) + Math.max(...levels[d]!.map((b) => b.r)) + GAP;
    const around = levels[d]!.reduce((s, b) => s + 2 * b.r + GAP, 0) / (2 * Math.PI);
    radius.push(Math.max(reach, around));
  }
  const place = (b: Body, from: number, to: number) => {
    const d = depth.get(b)!;
    const mid = (from + to) / 2;
    b.x = radius[d]! * Math.cos(mid);
    b.y = radius[d]! * Math.sin(mid);
    const total = children.get(b)!.reduce((s, c) => s + weight.get(c)!, 0);
    let at = from;
    for (const c of children.get(b)!) {
      const span = ((to - from) * weight.get(c)!) / total;
      place(c, at, at + span);
      at += span;
    }
  };
  place(root, -Math.PI / 2, (3 * Math.PI) / 2);
}

/** Parts in rows, biggest first, the whole about `aspect` times as wide as it is tall. */
function pack(parts: Body[][], aspect: number): void {
  const boxes = parts.map((part) => {
    const x1 = Math.min(...part.map((b) => b.x - b.r));
    const y1 = Math.min(...part.map((b) => b.y - b.r));
    const x2 = Math.max(...part.map((b) => b.x + b.r));
    const y2 = Math.max(...part.map((b) => b.y + b.r));
    return { part, x1, y1, w: x2 - x1, h: y2 - y1 };
  });
  boxes.sort((a, b) => b.part.length - a.part.length || b.w * b.h - a.w * a.h || byName(a.part[0]!.id, b.part[0]!.id));
  const area = boxes.reduce((s, b) => s + (b.w + GAP) * (b.h + GAP), 0);
  const rowWidth = Math.max(Math.sqrt(area * Math.min(4, Math.max(0.25, aspect))), ...boxes.map((b) => b.w));
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  for (const box of boxes) {
    if (x > 0 && x + box.w > rowWidth) {
      x = 0;
      y += rowHeight + GAP;
      rowHeight = 0;
    }
    for (const b of box.part) {
      b.x += x - box.x1;
      b.y += y - box.y1;
    }
    x += box.w + GAP;
    rowHeight = Math.max(rowHeight, box.h);
  }
}

function byName(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
