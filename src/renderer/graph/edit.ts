// Editing operations on a LabModel, pure: each takes a model and returns a new one (the input is never
// mutated), so undo/redo is a stack of snapshots and every operation is unit-tested in Node.
// Element ids are those of ./mapping.ts.

import {
  DEFAULT_MEMORY_MIB,
  switchLinkIds,
  type CollisionDomain,
  type Interface,
  type LabModel,
  type Machine,
  type MachineKind,
  type SourceRef,
  type SwitchLink,
} from '../../shared/lab-model.ts';
import { domainLayoutKey, endpointsByDomain, isPointToPoint, linkId, parseElementId } from './mapping.ts';

export type PaletteKind = 'host' | 'router' | 'hub' | 'switch' | 'internet';

/** Edits that cannot be done say why, in words shown to the user. */
export class EditError extends Error {}

const NEW_SOURCE: SourceRef = { file: 'lab.yaml', line: 0, column: 0 };
const NAME_RE = /^[a-z0-9][a-z0-9_-]*$/i;

export function emptyLab(root: string, name: string): LabModel {
  return {
    format: 'vnetlab', root, sourceFile: 'lab.yaml',
    meta: { name, authors: [] },
    machines: [], domains: [], checks: [], layout: {},
  };
}

function clone(model: LabModel): LabModel {
  return structuredClone(model);
}

/** All names in use (machines and domains share one namespace, as in Netkit's lab.conf). */
function usedNames(model: LabModel): Set<string> {
  return new Set([...model.machines.map((m) => m.name), ...endpointsByDomain(model).keys()]);
}

/** `pc1`, `pc2`, ... or, for domains, Netkit-style `A`, `B`, ..., `Z`, `A1`... */
export function freshName(model: LabModel, prefix: string, taken: Set<string> = usedNames(model)): string {
  if (prefix === '') {
    for (let round = 0; ; round++) {
      for (let c = 65; c <= 90; c++) {
        const name = String.fromCharCode(c) + (round ? String(round) : '');
        if (!taken.has(name)) return name;
      }
    }
  }
  for (let n = 1; ; n++) if (!taken.has(`${prefix}${n}`)) return `${prefix}${n}`;
}

export function newMachine(name: string, kind: MachineKind): Machine {
  return {
    name, kind, image: kind === 'router' ? 'debian' : 'tiny', memoryMiB: DEFAULT_MEMORY_MIB,
    interfaces: [], files: [], dependsOn: [], sysctls: kind === 'router' ? { 'net.ipv4.ip_forward': '1' } : {},
    env: {}, ipv6: false, bridged: false, consoles: 1, source: NEW_SOURCE,
  };
}

/** Adds a palette item at a canvas position; returns the new model and the new element's id. */
export function addNode(model: LabModel, kind: PaletteKind, position: { x: number; y: number }): { model: LabModel; id: string } {
  const next = clone(model);
  if (kind === 'host' || kind === 'router') {
    const name = freshName(next, kind === 'host' ? 'pc' : 'r');
    next.machines.push(newMachine(name, kind));
    next.layout[name] = { ...position };
    return { model: next, id: `machine:${name}` };
  }
  const name = kind === 'internet' && !usedNames(next).has('internet') ? 'internet' : freshName(next, '');
  const domain: CollisionDomain = { name, kind: kind === 'internet' ? 'switch' : kind, hostNat: kind === 'internet', source: NEW_SOURCE };
  next.domains.push(domain);
  next.layout[domainLayoutKey(name)] = { ...position };
  return { model: next, id: `domain:${name}` };
}

function lowestFreeIndex(m: Machine): number {
  const used = new Set(m.interfaces.map((i) => i.index));
  let n = 0;
  while (used.has(n)) n++;
  return n;
}

function addInterface(m: Machine, domain: string): Interface {
  const iface: Interface = { index: lowestFreeIndex(m), domain, ipv4: [], ipv6: [], source: NEW_SOURCE };
  m.interfaces.push(iface);
  m.interfaces.sort((a, b) => a.index - b.index);
  return iface;
}

/**
 * Draws a cable from element `a` to element `b`. Machine ↔ domain adds an interface to the machine;
 * machine ↔ machine creates a point-to-point collision domain between two new interfaces; domain ↔
 * domain a switch link (its VLANs are set in the properties panel).
 */
export function connect(model: LabModel, a: string, b: string): { model: LabModel; id: string } {
  const ra = parseElementId(a);
  const rb = parseElementId(b);
  if (!ra || !rb || ra.type === 'iface' || rb.type === 'iface' || ra.type === 'link' || rb.type === 'link') throw new EditError('A cable joins two machines, a machine and a hub/switch, or two hubs/switches.');
  if (a === b) throw new EditError('A cable needs two different ends.');
  const next = clone(model);
  if (ra.type === 'domain' && rb.type === 'domain') {
    for (const name of [ra.name, rb.name]) if (!endpointsByDomain(next).has(name)) throw new EditError(`There is no hub or switch ${name}.`);
    next.switchLinks = [...(next.switchLinks ?? []), { a: ra.name, b: rb.name, source: NEW_SOURCE }];
    const ids = switchLinkIds(next);
    return { model: next, id: linkId(ids[ids.length - 1]!) };
  }
  const machine = (name: string) => {
    const m = next.machines.find((x) => x.name === name);
    if (!m) throw new EditError(`There is no machine ${name}.`);
    return m;
  };
  if (ra.type === 'machine' && rb.type === 'machine') {
    const name = freshName(next, '');
    next.domains.push({ name, kind: 'hub', hostNat: false, source: NEW_SOURCE });
    addInterface(machine(ra.name), name);
    addInterface(machine(rb.name), name);
    return { model: next, id: `domain:${name}` };
  }
  const m = machine(ra.type === 'machine' ? ra.name : rb.name);
  const domain = ra.type === 'domain' ? ra.name : rb.name;
  if (!endpointsByDomain(next).has(domain)) throw new EditError(`There is no hub or switch ${domain}.`);
  const iface = addInterface(m, domain);
  return { model: next, id: `iface:${m.name}/eth${iface.index}` };
}

/** Removes the given elements; cables go with their machines, and point-to-point domains with their cable. */
export function removeElements(model: LabModel, ids: readonly string[]): LabModel {
  let next = clone(model);
  const p2pBefore = pointToPointDomains(next);
  const goneMachines = new Set<string>();
  const goneDomains = new Set<string>();
  const goneIfaces: { machine: string; index: number }[] = [];
  const goneLinks = new Set<string>();
  for (const id of ids) {
    const ref = parseElementId(id);
    if (!ref) continue;
    if (ref.type === 'machine') goneMachines.add(ref.name);
    else if (ref.type === 'domain') goneDomains.add(ref.name);
    else if (ref.type === 'link') goneLinks.add(ref.id);
    else goneIfaces.push(ref);
  }
  next.machines = next.machines.filter((m) => !goneMachines.has(m.name));
  for (const name of goneMachines) delete next.layout[name];
  // A point-to-point cable whose machine is gone disappears too (its other end would dangle).
  for (const d of p2pBefore) {
    const ends = endpointsByDomain(model).get(d) ?? [];
    if (ends.some((e) => goneMachines.has(e.machine))) goneDomains.add(d);
  }
  for (const m of next.machines) {
    m.interfaces = m.interfaces.filter((i) => !goneDomains.has(i.domain) && !goneIfaces.some((g) => g.machine === m.name && g.index === i.index));
    m.dependsOn = m.dependsOn.filter((d) => !goneMachines.has(d));
  }
  next.domains = next.domains.filter((d) => !goneDomains.has(d.name));
  for (const name of goneDomains) delete next.layout[domainLayoutKey(name)];
  // Switch links go with either of their switches, or on their own.
  if (next.switchLinks) {
    const linkIds = switchLinkIds(next);
    next.switchLinks = next.switchLinks.filter((l, n) => !goneLinks.has(linkIds[n]!) && !goneDomains.has(l.a) && !goneDomains.has(l.b));
    if (next.switchLinks.length === 0) delete next.switchLinks;
  }
  next = dropUnusedImplicitDomains(next);
  return next;
}

function pointToPointDomains(model: LabModel): string[] {
  const ends = endpointsByDomain(model);
  return [...ends.keys()].filter((name) => isPointToPoint(name, model, ends.get(name)!));
}

/** Point-to-point domains with no cable left are dropped (drawn domain nodes stay even when empty). */
function dropUnusedImplicitDomains(model: LabModel): LabModel {
  const ends = endpointsByDomain(model);
  model.domains = model.domains.filter((d) => (ends.get(d.name)?.length ?? 0) > 0 || model.layout[domainLayoutKey(d.name)] || d.hostNat || d.kind === 'switch');
  return model;
}

export function validName(name: string): boolean {
  return NAME_RE.test(name) && name.length <= 64;
}

/** Renames a machine or domain everywhere it is referred to (interfaces, layout, dependencies, checks). */
export function renameElement(model: LabModel, id: string, newName: string): { model: LabModel; id: string } {
  const ref = parseElementId(id);
  if (!ref || ref.type === 'iface' || ref.type === 'link') throw new EditError('Only machines and hubs/switches have names.');
  if (!validName(newName)) throw new EditError(`"${newName}" is not a valid name: use letters, digits, "-" and "_", starting with a letter or digit.`);
  if (newName === ref.name) return { model, id };
  if (usedNames(model).has(newName)) throw new EditError(`The name ${newName} is already used in this lab.`);
  const next = clone(model);
  if (ref.type === 'machine') {
    const m = next.machines.find((x) => x.name === ref.name);
    if (!m) throw new EditError(`There is no machine ${ref.name}.`);
    m.name = newName;
    moveKey(next.layout, ref.name, newName);
    for (const other of next.machines) other.dependsOn = other.dependsOn.map((d) => (d === ref.name ? newName : d));
    for (const c of next.checks) renameInCheck(c as unknown as Record<string, unknown>, ref.name, newName);
    return { model: next, id: `machine:${newName}` };
  }
  const d = next.domains.find((x) => x.name === ref.name);
  if (d) d.name = newName;
  else next.domains.push({ name: newName, kind: 'hub', hostNat: false, source: NEW_SOURCE });
  for (const m of next.machines) for (const i of m.interfaces) if (i.domain === ref.name) i.domain = newName;
  for (const l of next.switchLinks ?? []) {
    if (l.a === ref.name) l.a = newName;
    if (l.b === ref.name) l.b = newName;
  }
  moveKey(next.layout, domainLayoutKey(ref.name), domainLayoutKey(newName));
  return { model: next, id: `domain:${newName}` };
}

function moveKey(layout: LabModel['layout'], from: string, to: string): void {
  if (layout[from]) {
    layout[to] = layout[from]!;
    delete layout[from];
  }
}

function renameInCheck(check: Record<string, unknown>, from: string, to: string): void {
  for (const key of ['on', 'from', 'to']) if (check[key] === from) check[key] = to;
}

/** Records canvas positions (never affects the compiled plan). */
export function moveElements(model: LabModel, positions: Record<string, { x: number; y: number }>): LabModel {
  const next = clone(model);
  for (const [id, pos] of Object.entries(positions)) {
    const ref = parseElementId(id);
    if (!ref || ref.type === 'iface' || ref.type === 'link') continue;
    next.layout[ref.type === 'machine' ? ref.name : domainLayoutKey(ref.name)] = { x: Math.round(pos.x), y: Math.round(pos.y) };
  }
  return next;
}

export function snapToGrid(pos: { x: number; y: number }, grid: number): { x: number; y: number } {
  return { x: Math.round(pos.x / grid) * grid, y: Math.round(pos.y / grid) * grid };
}

/** What the clipboard holds: the copied machines and domain nodes, and only the cables between them. */
export interface Clipboard {
  machines: Machine[];
  domains: CollisionDomain[];
  layout: LabModel['layout'];
  /** Switch links between copied switches. */
  switchLinks?: SwitchLink[];
}

export function copyElements(model: LabModel, ids: readonly string[]): Clipboard {
  const machines = new Set<string>();
  const domains = new Set<string>();
  for (const id of ids) {
    const ref = parseElementId(id);
    if (ref?.type === 'machine') machines.add(ref.name);
    if (ref?.type === 'domain') domains.add(ref.name);
  }
  // A point-to-point cable comes along when both its machines are copied.
  const ends = endpointsByDomain(model);
  for (const d of pointToPointDomains(model)) if (ends.get(d)!.every((e) => machines.has(e.machine))) domains.add(d);
  const copied = model.machines.filter((m) => machines.has(m.name)).map((m) => {
    const c = structuredClone(m);
    c.interfaces = c.interfaces.filter((i) => domains.has(i.domain));
    c.dependsOn = c.dependsOn.filter((d) => machines.has(d));
    return c;
  });
  const copiedDomains = [...domains].map((name) => structuredClone(model.domains.find((d) => d.name === name) ?? { name, kind: 'hub' as const, hostNat: false, source: NEW_SOURCE }));
  const layout: LabModel['layout'] = {};
  for (const m of machines) if (model.layout[m]) layout[m] = { ...model.layout[m]! };
  for (const d of domains) if (model.layout[domainLayoutKey(d)]) layout[domainLayoutKey(d)] = { ...model.layout[domainLayoutKey(d)]! };
  const links = (model.switchLinks ?? []).filter((l) => domains.has(l.a) && domains.has(l.b)).map((l) => structuredClone(l));
  return { machines: copied, domains: copiedDomains, layout, ...(links.length ? { switchLinks: links } : {}) };
}

/** Pastes a clipboard under fresh names, shifted by `offset`; returns the new element ids (to select them). */
export function pasteElements(model: LabModel, clip: Clipboard, offset: { x: number; y: number }): { model: LabModel; ids: string[] } {
  const next = clone(model);
  const taken = usedNames(next);
  const rename = new Map<string, string>();
  const nameFor = (old: string, prefix: string) => {
    const base = prefix || '';
    const name = freshName(next, base, taken);
    taken.add(name);
    rename.set(old, name);
    return name;
  };
  const ids: string[] = [];
  const shifted = (key: string) => (clip.layout[key] ? { x: clip.layout[key]!.x + offset.x, y: clip.layout[key]!.y + offset.y } : undefined);
  const domainNames = new Map<string, string>();
  for (const d of clip.domains) {
    const name = freshName(next, '', taken);
    taken.add(name);
    domainNames.set(d.name, name);
    next.domains.push({ ...structuredClone(d), name });
    const pos = shifted(domainLayoutKey(d.name));
    if (pos) next.layout[domainLayoutKey(name)] = pos;
  }
  for (const m of clip.machines) {
    const prefix = /^(.*?)\d*$/.exec(m.name)![1] || (m.kind === 'router' ? 'r' : 'pc');
    nameFor(m.name, prefix);
  }
  for (const m of clip.machines) {
    const c = structuredClone(m);
    c.name = rename.get(m.name)!;
    c.interfaces = c.interfaces.map((i) => ({ ...i, domain: domainNames.get(i.domain)!, mac: undefined }));
    c.dependsOn = c.dependsOn.map((d) => rename.get(d)!);
    next.machines.push(c);
    const pos = shifted(m.name);
    if (pos) next.layout[c.name] = pos;
    ids.push(`machine:${c.name}`);
  }
  for (const [, name] of domainNames) {
    const isNode = !!next.layout[domainLayoutKey(name)];
    if (isNode) ids.push(`domain:${name}`);
  }
  if (clip.switchLinks?.length) next.switchLinks = [...(next.switchLinks ?? []), ...clip.switchLinks.map((l) => ({ ...structuredClone(l), a: domainNames.get(l.a)!, b: domainNames.get(l.b)! }))];
  for (const m of next.machines) for (const i of m.interfaces) if (i.mac === undefined) delete i.mac;
  return { model: next, ids };
}

/** Replaces one machine (properties panel edits); the name is changed with renameElement. */
export function updateMachine(model: LabModel, name: string, change: (m: Machine) => void): LabModel {
  const next = clone(model);
  const m = next.machines.find((x) => x.name === name);
  if (!m) throw new EditError(`There is no machine ${name}.`);
  change(m);
  return next;
}

/** Sets a domain's kind (hub/switch), host NAT or spanning tree; declares it when it was only named by interfaces. */
export function updateDomain(model: LabModel, name: string, change: Partial<Pick<CollisionDomain, 'kind' | 'hostNat' | 'stp'>>): LabModel {
  const next = clone(model);
  let d = next.domains.find((x) => x.name === name);
  if (!d) {
    d = { name, kind: 'hub', hostNat: false, source: NEW_SOURCE };
    next.domains.push(d);
  }
  Object.assign(d, change);
  if ('stp' in change && change.stp === undefined) delete d.stp;
  return next;
}

/** Changes one switch link (its VLANs), found by its id (`link:<id>` without the prefix). */
export function updateSwitchLink(model: LabModel, id: string, change: (l: SwitchLink) => void): LabModel {
  const next = clone(model);
  const n = switchLinkIds(next).indexOf(id);
  if (n < 0 || !next.switchLinks) throw new EditError(`There is no switch link ${id}.`);
  change(next.switchLinks[n]!);
  return next;
}

/** A port's VLANs as typed in the panel: `vlan` a number or empty, `vlans` a list like "10, 20". */
export function parseVlans(vlan: string, vlans: string): { vlan?: number; vlans?: number[] } {
  const one = vlan.trim() === '' ? undefined : Number(vlan.trim());
  const many = vlans.split(/[,\s]+/).map((v) => v.trim()).filter(Boolean).map(Number);
  if ((one !== undefined && !Number.isInteger(one)) || many.some((v) => !Number.isInteger(v))) throw new EditError('A VLAN is a whole number from 1 to 4094, like 10; several are written 10, 20.');
  return { ...(one !== undefined ? { vlan: one } : {}), ...(many.length ? { vlans: [...new Set(many)].sort((a, b) => a - b) } : {}) };
}

/** Names of machines/domains without a canvas position (they need an automatic layout). */
export function unplacedElementIds(model: LabModel): string[] {
  const out: string[] = [];
  for (const m of model.machines) if (!model.layout[m.name]) out.push(`machine:${m.name}`);
  const ends = endpointsByDomain(model);
  for (const [name, e] of ends) {
    if (!isPointToPoint(name, model, e) && !model.layout[domainLayoutKey(name)]) out.push(`domain:${name}`);
  }
  return out;
}

/** True when a machine's interfaces are not eth0, eth1, … without gaps (a cable was deleted). */
export function hasInterfaceGaps(m: Machine): boolean {
  return [...m.interfaces].sort((a, b) => a.index - b.index).some((iface, n) => iface.index !== n);
}

/**
 * Renumbers a machine's interfaces eth0, eth1, … in their current order, keeping each one's cable,
 * addresses and MAC (after a deleted cable left "eth1 but no eth0"). Startup scripts are not rewritten.
 */
export function renumberInterfaces(model: LabModel, name: string): LabModel {
  return updateMachine(model, name, (m) => {
    m.interfaces.sort((a, b) => a.index - b.index);
    m.interfaces.forEach((iface, n) => {
      iface.index = n;
    });
  });
}

/** Checks the properties panel can write: the common kinds, with the defaults the lab reader uses. */
export type AuthoredCheck =
  | { kind: 'reach'; from: string; to: string; expect: 'success' | 'failure' }
  | { kind: 'route'; on: string; prefix: string; via?: string }
  | { kind: 'daemon'; on: string; daemon: string }
  | { kind: 'command'; on: string; run: string; stdoutContains?: string };

/** Adds a check (a daemon check is a command check: `pidof DAEMON` must succeed). Returns its id. */
export function addCheck(model: LabModel, check: AuthoredCheck, description: string, points = 1): { model: LabModel; id: string } {
  const next = clone(model);
  const taken = new Set(next.checks.map((c) => c.id));
  let n = next.checks.length + 1;
  while (taken.has(`check-${n}`)) n++;
  const id = `check-${n}`;
  const base = { id, description, points, timeoutSec: 10, hidden: false, source: NEW_SOURCE };
  switch (check.kind) {
    case 'reach':
      next.checks.push({ ...base, kind: 'reach', from: check.from, to: check.to, expect: check.expect });
      break;
    case 'route':
      next.checks.push({ ...base, kind: 'route', on: check.on, prefix: check.prefix, ...(check.via ? { via: check.via } : {}), expect: 'present' });
      break;
    case 'daemon':
      next.checks.push({ ...base, kind: 'command', on: check.on, run: `pidof ${check.daemon}`, exitCode: 0 });
      break;
    case 'command':
      next.checks.push({ ...base, kind: 'command', on: check.on, run: check.run, ...(check.stdoutContains ? { stdoutContains: check.stdoutContains } : {}) });
      break;
  }
  return { model: next, id };
}

export function removeCheck(model: LabModel, id: string): LabModel {
  const next = clone(model);
  next.checks = next.checks.filter((c) => c.id !== id);
  return next;
}
