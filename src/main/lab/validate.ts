// Semantic checks of a lab model, whichever file it came from: the things a schema cannot see
// (names, references, addresses, cycles, paths, limits). Pure: no disk access (see files.ts).
import { isIP } from 'node:net';
import type { Check } from '../../shared/checks.ts';
import type { Diagnostic } from '../../shared/diagnostics.ts';
import { MAX_MEMORY_MIB, MAX_VLAN, MIN_MEMORY_MIB, MIN_VLAN, switchLinkIds, type Interface, type LabModel, type Machine, type SourceRef } from '../../shared/lab-model.ts';
import { formatNetwork, isBroadcastAddress, isNetworkAddress, networkOf, parseCidr, type Cidr } from './addresses.ts';
import { checkIdDiagnostics } from './checks.ts';
import { didYouMean, error, info, sortDiagnostics, warning } from './diag.ts';
import { guestPathProblem, labPathProblem } from './lab-paths.ts';
import { DOMAIN_NAME, MACHINE_NAME, MAX_DOMAINS, MAX_FILE_BYTES, MAX_INTERFACES, MAX_MACHINES } from './limits.ts';

const LAB_NAME = /^[a-z0-9][a-z0-9_-]*$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const SYSCTL_KEY = /^[a-z0-9_][a-z0-9_./-]*$/i;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function validateLab(model: LabModel): Diagnostic[] {
  const out: Diagnostic[] = [];
  const labAt: SourceRef = { file: model.sourceFile, line: 1, column: 1 };
  if (!LAB_NAME.test(model.meta.name)) {
    out.push(warning('invalid-lab-name', `lab name '${model.meta.name}' should use only lowercase letters, digits, '-' and '_'`, labAt, { hint: 'it names the lab\'s folders on the host; vnetlab cleans it up when it does not fit' }));
  }
  if (model.machines.length === 0) out.push(warning('no-machines', 'the lab has no machines', labAt));
  if (model.machines.length > MAX_MACHINES) out.push(error('too-many-machines', `the lab has ${model.machines.length} machines; vnetlab allows at most ${MAX_MACHINES}`, labAt));
  if (model.domains.length > MAX_DOMAINS) out.push(error('too-many-domains', `the lab has ${model.domains.length} collision domains; vnetlab allows at most ${MAX_DOMAINS}`, labAt));

  const machineNames = new Set<string>();
  for (const m of model.machines) {
    if (machineNames.has(m.name)) out.push(error('duplicate-machine', `machine '${m.name}' is defined twice`, m.source, { target: `machine:${m.name}`, hint: 'rename one of them' }));
    machineNames.add(m.name);
    out.push(...machineDiagnostics(m));
  }
  out.push(...domainDiagnostics(model));
  out.push(...switchDiagnostics(model));
  out.push(...addressDiagnostics(model));
  out.push(...dependencyDiagnostics(model, machineNames));
  out.push(...validateChecks(model, model.checks));
  for (const [what, folder] of [['shared folder', model.sharedFolder], ['test folder', model.testFolder]] as const) {
    const problem = folder === undefined ? undefined : labPathProblem(folder);
    if (problem) out.push(error('path-escapes-lab', `the ${what} '${folder}' is refused: ${problem}`, labAt, { hint: 'lab paths are relative to the lab folder and stay inside it' }));
  }
  const domainNames = new Set(model.domains.map((d) => d.name));
  for (const name of Object.keys(model.layout)) {
    if (!machineNames.has(name) && !domainNames.has(name)) out.push(info('layout-unknown', `the layout has a position for '${name}', which is neither a machine nor a collision domain; it is ignored`, labAt));
  }
  return sortDiagnostics(out);
}

function machineDiagnostics(m: Machine): Diagnostic[] {
  const out: Diagnostic[] = [];
  const target = `machine:${m.name}`;
  if (!MACHINE_NAME.test(m.name)) {
    out.push(error('invalid-name', `machine name '${m.name}' is not valid: use lowercase letters, digits, '-' and '_', starting with a letter or digit (at most 63)`, m.source, { target, hint: `for example '${suggestName(m.name)}'` }));
  }
  if (!Number.isInteger(m.memoryMiB) || m.memoryMiB < MIN_MEMORY_MIB || m.memoryMiB > MAX_MEMORY_MIB) {
    out.push(error('memory-out-of-range', `machine '${m.name}' asks for ${m.memoryMiB} MiB of memory; it must be a whole number from ${MIN_MEMORY_MIB} to ${MAX_MEMORY_MIB}`, m.source, { target, hint: `${MIN_MEMORY_MIB} is enough for the tiny image, 128 for debian with FRR` }));
  }
  if (m.interfaces.length > MAX_INTERFACES) out.push(error('too-many-interfaces', `machine '${m.name}' has ${m.interfaces.length} interfaces; vnetlab allows at most ${MAX_INTERFACES}`, m.source, { target }));
  const byIndex = new Map<number, Interface>();
  for (const i of m.interfaces) {
    if (byIndex.has(i.index)) out.push(error('duplicate-interface', `machine '${m.name}' declares eth${i.index} twice`, i.source, { target: `${target}/eth${i.index}` }));
    byIndex.set(i.index, i);
    if (!DOMAIN_NAME.test(i.domain)) {
      out.push(error('invalid-domain-name', `collision domain name '${i.domain}' (on ${m.name} eth${i.index}) is not valid: use letters, digits, '.', '-' and '_' (at most 63)`, i.source, { target: `${target}/eth${i.index}` }));
    }
  }
  // Past the limit on the count, a numbering report would only repeat it.
  if (m.interfaces.length <= MAX_INTERFACES) out.push(...numberingDiagnostics(m, byIndex));
  for (const f of m.files) {
    const gp = guestPathProblem(f.guestPath);
    if (gp) out.push(error('invalid-guest-path', `file '${f.guestPath}' of machine '${m.name}': ${gp}`, f.source, { target }));
    if (f.kind !== 'inline') {
      const lp = labPathProblem(f.labPath);
      if (lp) out.push(error('path-escapes-lab', `file '${f.labPath}' of machine '${m.name}' is refused: ${lp}`, f.source, { target, hint: 'put the file inside the lab folder and give its path relative to it' }));
    } else if (utf8Bytes(f.content) > MAX_FILE_BYTES) {
      out.push(error('file-too-large', `inline file '${f.guestPath}' of machine '${m.name}' is larger than 64 MiB`, f.source, { target }));
    }
  }
  for (const key of Object.keys(m.sysctls)) {
    if (!SYSCTL_KEY.test(key)) out.push(error('invalid-sysctl', `sysctl '${key}' of machine '${m.name}' is not a sysctl name (like net.ipv4.ip_forward)`, m.source, { target }));
  }
  for (const key of Object.keys(m.env)) {
    if (!ENV_KEY.test(key)) out.push(error('invalid-env', `environment variable '${key}' of machine '${m.name}' is not a valid name (letters, digits, '_')`, m.source, { target }));
  }
  return out;
}

/** eth numbers: below the limit, from eth0, without gaps. */
function numberingDiagnostics(m: Machine, byIndex: Map<number, Interface>): Diagnostic[] {
  const target = `machine:${m.name}`;
  const beyond = m.interfaces.find((i) => i.index >= MAX_INTERFACES);
  if (beyond) return [error('too-many-interfaces', `machine '${m.name}' has eth${beyond.index}; vnetlab allows eth0 to eth${MAX_INTERFACES - 1}`, beyond.source, { target })];
  const highest = Math.max(-1, ...byIndex.keys());
  const missing = Array.from({ length: highest + 1 }, (_, n) => n).filter((n) => !byIndex.has(n));
  if (missing.length === 0) return [];
  const after = m.interfaces.find((i) => i.index > missing[0]!) ?? m.interfaces[0]!;
  const names = missing.slice(0, 5).map((n) => `eth${n}`).join(', ') + (missing.length > 5 ? ` and ${missing.length - 5} more` : '');
  return [error('interface-gap', `machine '${m.name}' has eth${highest} but no ${names}: interfaces must be numbered from eth0 without gaps`, after.source, { target, hint: 'renumber the interfaces, or attach the missing ones to a collision domain' })];
}

function domainDiagnostics(model: LabModel): Diagnostic[] {
  const out: Diagnostic[] = [];
  const attached = new Map<string, Array<{ machine: Machine; iface: Interface }>>();
  for (const m of model.machines) {
    for (const i of m.interfaces) {
      const ports = attached.get(i.domain);
      if (ports) ports.push({ machine: m, iface: i });
      else attached.set(i.domain, [{ machine: m, iface: i }]);
    }
  }
  const seen = new Set<string>();
  const machineNames = new Set(model.machines.map((m) => m.name));
  // A switch cabled to another counts as something at the other end.
  const linked = new Set((model.switchLinks ?? []).flatMap((l) => [l.a, l.b]));
  for (const d of model.domains) {
    const target = `domain:${d.name}`;
    if (seen.has(d.name)) out.push(error('duplicate-domain', `collision domain '${d.name}' is defined twice`, d.source, { target }));
    seen.add(d.name);
    if (!DOMAIN_NAME.test(d.name)) out.push(error('invalid-domain-name', `collision domain name '${d.name}' is not valid: use letters, digits, '.', '-' and '_' (at most 63)`, d.source, { target }));
    if (machineNames.has(d.name)) out.push(warning('name-clash', `'${d.name}' is both a machine and a collision domain; the canvas cannot tell them apart`, d.source, { target }));
    const ports = attached.get(d.name) ?? [];
    if (linked.has(d.name)) continue;
    if (ports.length === 0 && !d.hostNat) {
      out.push(warning('dangling-domain', `collision domain '${d.name}' has no machine attached`, d.source, { target, hint: 'attach an interface to it or remove it' }));
    } else if (ports.length === 1 && !d.hostNat) {
      const only = ports[0]!;
      out.push(warning('single-ended-domain', `collision domain '${d.name}' has only one machine (${only.machine.name} eth${only.iface.index}): nothing is at the other end`, d.source, { target, hint: 'attach a second machine, or set host_nat to reach the host' }));
    }
  }
  for (const [name, ports] of attached) {
    if (!seen.has(name)) {
      const first = ports[0]!;
      out.push(error('unknown-domain', `${first.machine.name} eth${first.iface.index} is attached to collision domain '${name}', which is not defined`, first.iface.source, { target: `machine:${first.machine.name}/eth${first.iface.index}` }));
    }
  }
  return out;
}

/**
 * Switch links and VLANs: a link joins two known, different domains; VLANs only on switches (a hub has no
 * ports to configure), ids 1–4094, a VLAN not both untagged and tagged on one port; a loop of links
 * whose switches do not all run spanning tree floods frames forever.
 */
function switchDiagnostics(model: LabModel): Diagnostic[] {
  const out: Diagnostic[] = [];
  const domains = new Map(model.domains.map((d) => [d.name, d]));
  const vlanProblems = (what: string, spec: { vlan?: number; vlans?: number[] }, kinds: (string | undefined)[], source: SourceRef, target: string) => {
    const all = [...(spec.vlan !== undefined ? [spec.vlan] : []), ...(spec.vlans ?? [])];
    if (all.length === 0) return;
    for (const v of all) {
      if (!Number.isInteger(v) || v < MIN_VLAN || v > MAX_VLAN) out.push(error('invalid-vlan', `${what}: VLAN ${String(v)} is not a VLAN id (${MIN_VLAN}–${MAX_VLAN})`, source, { target }));
    }
    if (spec.vlan !== undefined && spec.vlans?.includes(spec.vlan)) out.push(error('vlan-twice', `${what}: VLAN ${spec.vlan} is both untagged (vlan) and tagged (vlans)`, source, { target, hint: 'a port carries a VLAN one way: untagged for a host, tagged on a trunk' }));
    if (kinds.some((k) => k !== 'switch')) out.push(error('vlan-on-hub', `${what}: VLANs need a switch, but ${kinds.length > 1 ? 'an end of it is' : 'it is on'} a hub`, source, { target, hint: 'make the collision domain a switch (kind: switch), or remove vlan/vlans' }));
  };
  for (const m of model.machines) {
    for (const i of m.interfaces) vlanProblems(`${m.name} eth${i.index}`, i, [domains.get(i.domain)?.kind], i.source, `machine:${m.name}/eth${i.index}`);
  }
  const ids = switchLinkIds(model);
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    while (parent.has(x) && parent.get(x) !== x) x = parent.get(x)!;
    return x;
  };
  const loops: string[][] = [];
  (model.switchLinks ?? []).forEach((l, n) => {
    const id = ids[n]!;
    const target = `link:${id}`;
    const missing = [l.a, l.b].filter((d) => !domains.has(d));
    for (const d of missing) {
      const close = didYouMean(d, domains.keys());
      out.push(error('unknown-domain', `switch link ${id} joins '${d}', which is not a collision domain of this lab${close ? ` (did you mean '${close}'?)` : ''}`, l.source, { target }));
    }
    if (l.a === l.b) out.push(error('link-to-itself', `switch link ${id} joins ${l.a} to itself`, l.source, { target, hint: 'a switch link joins two different switches' }));
    if (missing.length || l.a === l.b) return;
    vlanProblems(`switch link ${id}`, l, [domains.get(l.a)!.kind, domains.get(l.b)!.kind], l.source, target);
    const [ra, rb] = [find(l.a), find(l.b)];
    if (ra === rb) loops.push([l.a, l.b, id]);
    else parent.set(ra, rb);
  });
  for (const [a, b, id] of loops) {
    const root = find(a!);
    const members = model.domains.filter((d) => find(d.name) === root);
    const without = members.filter((d) => d.kind !== 'switch' || !d.stp).map((d) => d.name);
    if (without.length) {
      out.push(warning('switch-loop', `switch link ${id} closes a loop (${a} and ${b} are already joined): without spanning tree, broadcast frames go round it forever`, model.switchLinks![ids.indexOf(id!)]!.source, { target: `link:${id}`, hint: `turn on spanning tree (stp: true) on ${without.join(', ')}` }));
    }
  }
  for (const d of model.domains) {
    if (d.stp && d.kind !== 'switch') out.push(warning('stp-on-hub', `collision domain '${d.name}' is a hub: spanning tree (stp) needs a switch and is ignored`, d.source, { target: `domain:${d.name}`, hint: 'make it a switch (kind: switch)' }));
    if (d.stp?.priority !== undefined && !(Number.isInteger(d.stp.priority) && d.stp.priority >= 0 && d.stp.priority <= 65535)) {
      out.push(error('invalid-stp-priority', `collision domain '${d.name}': spanning tree priority ${d.stp.priority} is not a number from 0 to 65535`, d.source, { target: `domain:${d.name}` }));
    }
  }
  return out;
}

function addressDiagnostics(model: LabModel): Diagnostic[] {
  const out: Diagnostic[] = [];
  const owners = new Map<string, string>();
  const macOwners = new Map<string, string>();
  const subnetsByDomain = new Map<string, Array<{ cidr: Cidr; where: string; source: SourceRef }>>();
  for (const m of model.machines) {
    for (const i of m.interfaces) {
      const where = `${m.name} eth${i.index}`;
      const target = `machine:${m.name}/eth${i.index}`;
      if (i.mac !== undefined) {
        if (!MAC.test(i.mac)) out.push(error('invalid-mac', `${where}: '${i.mac}' is not a MAC address (like 02:00:00:00:00:01)`, i.source, { target }));
        else {
          if (parseInt(i.mac.slice(0, 2), 16) & 1) out.push(warning('multicast-mac', `${where}: ${i.mac} is a multicast MAC address; frames to it are flooded and the guest may refuse it`, i.source, { target, hint: 'use an even first byte, e.g. 02:…' }));
          const other = macOwners.get(i.mac);
          if (other) out.push(warning('duplicate-mac', `${where} has MAC ${i.mac}, already used by ${other}`, i.source, { target }));
          else macOwners.set(i.mac, where);
        }
      }
      for (const [family, list] of [[4, i.ipv4], [6, i.ipv6]] as const) {
        for (const text of list) {
          const cidr = parseCidr(text, family);
          if (!cidr) {
            out.push(error('invalid-address', `${where}: '${text}' is not an IPv${family} address in CIDR form (like ${family === 4 ? '10.0.0.1/24' : '2001:db8::1/64'})`, i.source, { target }));
            continue;
          }
          const key = `${family}:${cidr.value}`;
          const other = owners.get(key);
          if (other) out.push(warning('duplicate-address', `${where} has ${cidr.address}, already used by ${other}`, i.source, { target, hint: 'two machines with the same address confuse ARP; give each its own' }));
          else owners.set(key, where);
          if (isNetworkAddress(cidr)) out.push(warning('network-address', `${where}: ${text} is the network address of ${formatNetwork(cidr)} (its host bits are all zero)`, i.source, { target, hint: 'pick an address inside the subnet' }));
          if (isBroadcastAddress(cidr)) out.push(warning('broadcast-address', `${where}: ${text} is the broadcast address of ${formatNetwork(cidr)}`, i.source, { target, hint: 'pick an address inside the subnet' }));
          // On a switch with VLANs, each VLAN is a link of its own.
          const link = `${family}:${i.domain}${i.vlan !== undefined ? `\u0000${i.vlan}` : ''}`;
          const onDomain = subnetsByDomain.get(link) ?? [];
          onDomain.push({ cidr, where, source: i.source });
          subnetsByDomain.set(link, onDomain);
        }
      }
    }
  }
  // In one collision domain, interfaces normally share one subnet; a different prefix length or
  // subnet on one of them is the classic mistake that makes pings fail one way.
  for (const [key, entries] of subnetsByDomain) {
    const [domainName, vlan] = key.slice(2).split('\u0000');
    const domain = domainName!;
    const named = vlan === undefined ? `'${domain}'` : `'${domain}' (VLAN ${vlan})`;
    const first = entries[0]!;
    for (const e of entries.slice(1)) {
      if (e.cidr.prefix !== first.cidr.prefix) {
        out.push(warning('mask-mismatch', `${e.where} uses /${e.cidr.prefix} on collision domain ${named} while ${first.where} uses /${first.cidr.prefix}`, e.source, { target: `domain:${domain}`, hint: 'interfaces on one link normally share the prefix length' }));
      } else if (networkOf(e.cidr) !== networkOf(first.cidr)) {
        out.push(info('subnet-mismatch', `${e.where} is in ${formatNetwork(e.cidr)} but ${first.where}, on the same collision domain ${named}, is in ${formatNetwork(first.cidr)}`, e.source, { target: `domain:${domain}`, hint: 'fine if you mean two subnets on one link; otherwise they cannot talk directly' }));
      }
    }
  }
  return out;
}

function dependencyDiagnostics(model: LabModel, names: Set<string>): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const m of model.machines) {
    for (const dep of m.dependsOn) {
      if (!names.has(dep)) {
        const close = didYouMean(dep, names);
        out.push(error('unknown-machine', `machine '${m.name}' depends on '${dep}', which is not a machine of this lab${close ? ` (did you mean '${close}'?)` : ''}`, m.source, { target: `machine:${m.name}` }));
      }
    }
  }
  // Depth-first search for cycles; each cycle is reported once, at its first machine.
  const graph = new Map(model.machines.map((m) => [m.name, m.dependsOn.filter((d) => names.has(d))]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const reported = new Set<string>();
  const visit = (name: string) => {
    state.set(name, 'visiting');
    stack.push(name);
    for (const dep of graph.get(name) ?? []) {
      if (state.get(dep) === 'visiting') {
        const cycle = [...stack.slice(stack.indexOf(dep)), dep];
        const key = [...cycle.slice(0, -1)].sort().join(',');
        if (!reported.has(key)) {
          reported.add(key);
          const at = model.machines.find((m) => m.name === dep)!;
          out.push(error('dependency-cycle', `machines depend on each other in a cycle: ${cycle.join(' → ')}`, at.source, { target: `machine:${dep}`, hint: 'remove one of these dependencies so that some machine can boot first' }));
        }
      } else if (!state.has(dep)) visit(dep);
    }
    stack.pop();
    state.set(name, 'done');
  };
  for (const m of model.machines) if (!state.has(m.name)) visit(m.name);
  return out;
}

/** Checks against a lab: unique ids, valid regular expressions, machines that exist. Also for a separate checks file. */
export function validateChecks(model: LabModel, checks: Check[]): Diagnostic[] {
  const names = new Set(model.machines.map((m) => m.name));
  const out: Diagnostic[] = checkIdDiagnostics(checks);
  for (const c of checks) {
    if (c.kind === 'capture') {
      out.push(...captureDiagnostics(model, c, names));
      continue;
    }
    const machine = c.kind === 'reach' ? c.from : c.on;
    if (!names.has(machine)) {
      const close = didYouMean(machine, names);
      out.push(error('unknown-machine', `check '${c.id}' runs on '${machine}', which is not a machine of this lab${close ? ` (did you mean '${close}'?)` : ''}`, c.source, { target: `check:${c.id}` }));
    }
    if (c.kind === 'reach' && /^[a-z0-9_-]+$/i.test(c.to) && !/^[0-9.]+$/.test(c.to) && !names.has(c.to)) {
      out.push(warning('unknown-target', `check '${c.id}' pings '${c.to}', which is neither an address nor a machine of this lab`, c.source, { target: `check:${c.id}`, hint: 'use an IP address or a machine name' }));
    }
  }
  return out;
}

/** A capture check: its cable is an interface of a machine of the lab, its trigger's machine exists, its match names machines or addresses. */
function captureDiagnostics(model: LabModel, c: Extract<Check, { kind: 'capture' }>, names: Set<string>): Diagnostic[] {
  const out: Diagnostic[] = [];
  const target = { target: `check:${c.id}` };
  const [machine = '', nic = ''] = c.cable.split(':');
  const m = model.machines.find((x) => x.name === machine);
  if (!m) {
    const close = didYouMean(machine, names);
    out.push(error('unknown-machine', `check '${c.id}' watches cable '${c.cable}', but '${machine}' is not a machine of this lab${close ? ` (did you mean '${close}'?)` : ''}`, c.source, target));
  } else {
    const index = Number(nic.slice(3));
    const count = m.interfaces.length + (m.bridged ? 1 : 0);
    if (!(index < count)) out.push(error('unknown-cable', `check '${c.id}' watches cable '${c.cable}', but ${machine} has ${count === 0 ? 'no interfaces' : count === 1 ? 'only eth0' : `interfaces eth0…eth${count - 1}`}`, c.source, { ...target, hint: 'a cable is machine:ethN, one of the machine\'s interfaces' }));
  }
  if (c.trigger && !names.has(c.trigger.on)) {
    const close = didYouMean(c.trigger.on, names);
    out.push(error('unknown-machine', `check '${c.id}' runs its trigger on '${c.trigger.on}', which is not a machine of this lab${close ? ` (did you mean '${close}'?)` : ''}`, c.source, target));
  }
  for (const side of ['src', 'dst'] as const) {
    const value = c.match?.[side];
    if (value !== undefined && !isIP(value) && !names.has(value)) {
      out.push(error('unknown-target', `check '${c.id}': match.${side} '${value}' is neither an IP address nor a machine of this lab`, c.source, { ...target, hint: 'use an IP address or a machine name' }));
    }
  }
  return out;
}

/** UTF-8 size of a string, without encoding it when its length already decides (a char is 1 to 3 bytes). */
function utf8Bytes(text: string): number {
  if (text.length > MAX_FILE_BYTES || text.length * 3 <= MAX_FILE_BYTES) return text.length;
  return Buffer.byteLength(text);
}

function suggestName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[-_]+/, '').slice(0, 63) || 'pc1';
}
