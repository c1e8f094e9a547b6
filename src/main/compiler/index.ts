// LabModel + CompileOptions → Plan: the argv of every switch, every guest's boot arguments (as structure:
// the launcher renders them), their sockets, MACs and files, and the boot order. Pure and deterministic
// (no I/O, no clock, no randomness): the same lab compiles to byte-identical JSON, whatever the order of
// machines in the model or their canvas positions.
// The guest contract it implements is in docs/ARCHITECTURE.md.
import type { CollisionDomain, Interface, LabModel, Machine } from '../../shared/lab-model.ts';
import { domainsOf, switchLinkIds } from '../../shared/lab-model.ts';
import type { CablePlan, CompileOptions, GuestBoot, GuestPlan, Plan, PortVlans, SwitchLinkPlan, SwitchPlan } from '../../shared/plan.ts';
import { cablePlan, normaliseImpairments } from './cables.ts';
import { EnvironmentError } from '../errors.ts';
import { labFsEntries, type MachineFiles, type ResolvedInterface } from './labfs-entries.ts';
import { deriveMac, deriveUmid, IPV6_OFF_ARG, mconsolePath, pathComponent, sha256Hex, startupMac, switchComponent } from './names.ts';
import { guestMemoryMiB } from './memory.ts';
import { bootWaves, compareNames } from './waves.ts';

/** vde_switch's default port count; domains with more interfaces get room for them plus hot-plugged ones. */
const DEFAULT_SWITCH_PORTS = 32;
const SPARE_SWITCH_PORTS = 8;

/** slirpvde's network: the host (gateway) is .2, its DNS proxy .3, its DHCP pool starts at .15. */
const HOST_NAT_GATEWAY = '10.0.2.2/24';
/** Kathará `bridged` NICs get fixed addresses above slirpvde's DHCP pool, in machine-name order. */
const BRIDGED_FIRST_HOST = 100;
const BRIDGED_LAST_HOST = 254;
/** The domain bridged machines join when the lab declares no host-NAT domain of its own. */
const BRIDGED_DOMAIN = 'host-nat';

export { formatPlanJson } from './format.ts';

export const HOSTFS_ROOT_ARG = 'hostfs=/nonexistent/vnetlab-no-hostfs';

/**
 * The part of every guest's kernel command line that does not depend on the lab (docs/ARCHITECTURE.md):
 * console on the pty (fd 0/1), exec channel on the FIFOs (fd 3/4), root on the COW disk, our init.
 */
export const GUEST_BOOT_ARGS: readonly string[] = [
  // Skip two boot-time costs no lab needs (measured with printk.time=1 and initcall_debug on UML 6.1):
  // the RAID-6 algorithm benchmark spins 16 jiffies per algorithm, ~0.85 s of a 1.4 s kernel boot, and
  // burns that CPU in every guest of a parallel start (nothing here uses software RAID-6; md/btrfs RAID-6
  // would find no algorithm chosen); 256 legacy BSD ptys cost ~0.1 s to register (/dev/pts is what is used).
  'initcall_blacklist=raid6_select_algo',
  'pty.legacy_count=0',
  // Debian's UML kernel has hostfs built in: point its root at a folder that does not exist. Only a
  // second layer (`mount -o ../..` walks out of any prefix): the guest's Landlock sandbox is what keeps
  // it from the host's files (src/main/runtime/confinement.ts, docs/security.md).
  HOSTFS_ROOT_ARG,
  'con0=fd:0,fd:1',
  'con=null',
  'ssl0=fd:3,fd:4',
  'ssl=null',
  'root=/dev/ubda',
  'rw',
  'init=/sbin/vnetlab-init',
];

/**
 * What a guest boots with besides its memory, whatever machine it is (GuestBoot.shared): the pool's kinds
 * too. `loopsPerJiffy` (measured once per host, CompileOptions) spares every guest its delay-loop calibration.
 */
export function sharedBootArgs(machine: Pick<Machine, 'ipv6'>, loopsPerJiffy?: number): string[] {
  return [...GUEST_BOOT_ARGS, ...(loopsPerJiffy ? [`lpj=${loopsPerJiffy}`] : []), ...(machine.ipv6 ? [] : [IPV6_OFF_ARG])];
}

/** The file of an image in the image folder. */
export function imagePathOf(imageDir: string, image: string): string {
  return `${trimSlash(imageDir)}/${pathComponent(image, 'image')}.ext4`;
}

export function compile(model: LabModel, options: CompileOptions): Plan {
  checkOptions(options);
  const runDir = trimSlash(options.runDir);
  const stateDir = trimSlash(options.stateDir);
  const layout: HostLayout = {
    runDir,
    stateDir,
    imageDir: trimSlash(options.imageDir),
    switchDir: `${runDir}/sw`,
    cableDir: `${runDir}/c`,
    umlDir: `${runDir}/uml`,
    labFsImage: `${runDir}/labfs.ext4`,
  };
  const machines = [...model.machines].sort((a, b) => compareNames(a.name, b.name));
  const { domains, bridgedDomain } = collectDomains(model, machines);
  const wiring = wireMachines(model.meta.name, machines, bridgedDomain);
  const attached = new Map<string, number>();
  for (const nics of wiring.values()) for (const nic of nics) attached.set(nic.domain, (attached.get(nic.domain) ?? 0) + 1);
  const kinds = new Map(domains.map((d) => [d.name, d.kind]));
  const links = switchLinkPlans(model, layout.cableDir, kinds);
  for (const l of links) for (const d of l.between) attached.set(d, (attached.get(d) ?? 0) + 1);
  const vlansOn = vlansByDomain(wiring, links, kinds);
  const switches = domains.map((d) => switchPlan(d, layout.switchDir, attached.get(d.name) ?? 0, model.meta.name, vlansOn.get(d.name)));
  const cables = machines.flatMap((m) =>
    wiring.get(m.name)!.map((n) => {
      const vlans = kinds.get(n.domain) === 'switch' ? portVlans(n.vlan, n.vlans) : undefined;
      return cablePlan(layout.cableDir, { machine: m.name, interface: n.name, domain: n.domain, impairments: n.link, ...(vlans ? { vlans } : {}) });
    }),
  );
  const guests = machines.map((m) => guestPlan(m, wiring.get(m.name)!, cables, layout, options));
  const machineFiles: MachineFiles[] = machines.map((m) => ({
    machine: m,
    dirName: pathComponent(m.name, 'm'),
    interfaces: wiring.get(m.name)!.map((n): ResolvedInterface => ({ name: n.name, addresses: n.addresses })),
  }));

  return {
    planVersion: 3,
    lab: { name: model.meta.name, id: options.labId, root: model.root, format: model.format },
    runDir,
    stateDir,
    labFs: { image: layout.labFsImage, entries: labFsEntries(model, machineFiles) },
    switches,
    cables,
    guests,
    waves: bootWaves(new Map(machines.map((m) => [m.name, m.dependsOn]))),
    ...(links.length ? { switchLinks: links } : {}),
  };
}

/** The VLANs of a port, or undefined for a plain one (the switch's default VLAN, untagged). */
function portVlans(untagged: number | undefined, tagged: number[] | undefined): PortVlans | undefined {
  if (untagged === undefined && !tagged?.length) return undefined;
  return { ...(untagged !== undefined ? { untagged } : {}), ...(tagged?.length ? { tagged: [...new Set(tagged)].sort((a, b) => a - b) } : {}) };
}

/** Switch links in the lab's order, with their ids; VLANs only where both ends are switches. */
function switchLinkPlans(model: LabModel, cableDir: string, kinds: Map<string, string>): SwitchLinkPlan[] {
  const ids = switchLinkIds(model);
  return (model.switchLinks ?? []).flatMap((l, n) => {
    if (!kinds.has(l.a) || !kinds.has(l.b) || l.a === l.b) return [];
    const id = ids[n]!;
    const vlans = kinds.get(l.a) === 'switch' && kinds.get(l.b) === 'switch' ? portVlans(l.vlan, l.vlans) : undefined;
    return [{ id, between: [l.a, l.b] as [string, string], plugged: true, filterMgmt: `${cableDir}/l-${sha256Hex(id).slice(0, 8)}.wf`, impairments: normaliseImpairments(l.link), ...(vlans ? { vlans } : {}) }];
  });
}

/** Every VLAN used on each switch (by its machines' ports and its links), to create before ports join them. */
function vlansByDomain(wiring: Map<string, Nic[]>, links: SwitchLinkPlan[], kinds: Map<string, string>): Map<string, number[]> {
  const sets = new Map<string, Set<number>>();
  const add = (domain: string, vlans: PortVlans | undefined) => {
    if (!vlans || kinds.get(domain) !== 'switch') return;
    const set = sets.get(domain) ?? new Set<number>();
    for (const v of [...(vlans.untagged !== undefined ? [vlans.untagged] : []), ...(vlans.tagged ?? [])]) set.add(v);
    sets.set(domain, set);
  };
  for (const nics of wiring.values()) for (const n of nics) add(n.domain, portVlans(n.vlan, n.vlans));
  for (const l of links) for (const d of l.between) add(d, l.vlans);
  return new Map([...sets].map(([d, set]) => [d, [...set].sort((a, b) => a - b)]));
}

/** Host folders of one lab, from the options. */
interface HostLayout {
  runDir: string;
  stateDir: string;
  imageDir: string;
  switchDir: string;
  cableDir: string;
  umlDir: string;
  labFsImage: string;
}

interface Nic {
  name: string;
  index: number;
  domain: string;
  mac: string;
  addresses: string[];
  link?: Interface['link'];
  vlan?: number;
  vlans?: number[];
}

/** Each machine's NICs in index order, with their MACs, plus the NIC of a Kathará `bridged` machine. */
function wireMachines(labName: string, machines: Machine[], bridgedDomain: string | undefined): Map<string, Nic[]> {
  const wiring = new Map<string, Nic[]>();
  let bridgedHost = BRIDGED_FIRST_HOST;
  for (const m of machines) {
    const nics: Nic[] = [...m.interfaces]
      .sort((a, b) => a.index - b.index)
      .map((i) => ({
        name: `eth${i.index}`,
        index: i.index,
        domain: i.domain,
        mac: i.mac?.toLowerCase() ?? startupMac(m.startup?.text, i.index) ?? deriveMac(labName, m.name, i.index),
        addresses: [...i.ipv4, ...i.ipv6],
        ...(i.link ? { link: i.link } : {}),
        ...(i.vlan !== undefined ? { vlan: i.vlan } : {}),
        ...(i.vlans?.length ? { vlans: i.vlans } : {}),
      }));
    if (m.bridged && bridgedDomain) {
      // Kathará attaches a bridged device to the host as one more NIC after the lab's own.
      const index = nics.length > 0 ? nics[nics.length - 1]!.index + 1 : 0;
      const address = bridgedHost <= BRIDGED_LAST_HOST ? [`10.0.2.${bridgedHost++}/24`] : [];
      nics.push({ name: `eth${index}`, index, domain: bridgedDomain, mac: deriveMac(labName, m.name, index), addresses: address });
    }
    wiring.set(m.name, nics);
  }
  return wiring;
}

function switchPlan(domain: CollisionDomain, switchDir: string, attached: number, labName: string, vlans: number[] = []): SwitchPlan {
  const ctlDir = `${switchDir}/${switchComponent(switchDir, domain.name)}`;
  const mgmtSocket = `${ctlDir}.mgmt`;
  const ports = Math.max(DEFAULT_SWITCH_PORTS, attached + SPARE_SWITCH_PORTS);
  const argv = ['vde_switch', '-s', ctlDir, '-M', mgmtSocket, '-n', String(ports)];
  if (domain.kind === 'hub') argv.push('-x');
  const stp = domain.kind === 'switch' && !!domain.stp;
  if (stp) {
    // Fast spanning tree, with a MAC of its own derived from the names: the same lab elects the same root every time.
    argv.push('-F', '--macaddr', deriveMac(labName, `switch:${domain.name}`, 0));
    if (domain.stp!.priority !== undefined) argv.push('--priority', String(domain.stp!.priority));
  }
  const plan: SwitchPlan = { domain: domain.name, kind: domain.kind, ctlDir, mgmtSocket, argv };
  if (stp || vlans.length) plan.ports = { count: ports, vlans, stp };
  if (domain.hostNat) plan.hostNat = { argv: ['slirpvde', '-s', ctlDir, '-H', HOST_NAT_GATEWAY, '-D'] };
  return plan;
}

function guestPlan(m: Machine, nics: Nic[], cables: CablePlan[], layout: HostLayout, options: CompileOptions): GuestPlan {
  const fileName = pathComponent(m.name, 'm');
  const umid = deriveUmid(options.labId, m.name, layout.umlDir);
  const dir = `${layout.runDir}/guests/${fileName}`;
  const imagePath = imagePathOf(layout.imageDir, m.image);
  const cow = `${layout.stateDir}/disks/${fileName}.cow`;
  const memoryMiB = guestMemoryMiB(m);
  const portOf = (iface: string) => cables.find((c) => c.machine === m.name && c.interface === iface)!.portCtlDir;
  const interfaces = nics.map((n) => ({ name: n.name, domain: n.domain, mac: n.mac, ctlDir: portOf(n.name), addresses: n.addresses }));
  const boot: GuestBoot = {
    kernel: options.kernel,
    shared: sharedBootArgs(m, options.loopsPerJiffy),
    umlDir: layout.umlDir,
    nicSyntax: options.nicSyntax ?? 'legacy',
    // The guest finds its files under /machines/<vnl_name>: the same folder name the lab-fs uses.
    name: fileName,
  };
  return {
    name: m.name,
    umid,
    image: m.image,
    imagePath,
    cow,
    labFsImage: layout.labFsImage,
    memoryMiB,
    boot,
    dir,
    execChannel: { toGuest: `${dir}/to-guest`, fromGuest: `${dir}/from-guest` },
    mconsole: mconsolePath(layout.umlDir, umid),
    interfaces,
    dependsOn: [...new Set(m.dependsOn)].sort(compareNames),
    consoles: m.consoles,
    ...(m.grader ? { grader: true } : {}),
  };
}

/**
 * Every domain a switch is needed for, sorted by name: the declared ones, any an interface names
 * without declaring it (the reader reports that; the plan still wires it as a hub), and the host-NAT
 * domain for Kathará `bridged` machines.
 */
function collectDomains(model: LabModel, machines: Machine[]): { domains: CollisionDomain[]; bridgedDomain?: string } {
  // The readers give complete domains; domainsOf also covers a model built elsewhere (a client, a test).
  const byName = new Map(domainsOf(model).map((d) => [d.name, d]));
  let bridgedDomain: string | undefined;
  const firstBridged = machines.find((m) => m.bridged);
  if (firstBridged) {
    const natDomains = [...byName.values()].filter((d) => d.hostNat).map((d) => d.name).sort(compareNames);
    bridgedDomain = natDomains[0];
    if (!bridgedDomain) {
      bridgedDomain = BRIDGED_DOMAIN;
      for (let n = 2; byName.has(bridgedDomain); n++) bridgedDomain = `${BRIDGED_DOMAIN}-${n}`;
      byName.set(bridgedDomain, { name: bridgedDomain, kind: 'switch', hostNat: true, source: firstBridged.source });
    }
  }
  return { domains: [...byName.values()].sort((a, b) => compareNames(a.name, b.name)), bridgedDomain };
}

/**
 * Host folders (from the environment, not the lab) end up on the UML command line (the kernel itself
 * is only argv[0]), where a space splits an argument and a comma splits `ubd0=<cow>,<image>` and
 * `ethN=vde,<dir>,<mac>`: refuse them with a clear message.
 */
function checkOptions(options: CompileOptions): void {
  const folders: [string, string, string][] = [
    ['run directory', options.runDir, 'VNETLAB_RUNTIME_DIR'],
    ['state directory', options.stateDir, 'VNETLAB_STATE_DIR'],
    ['image directory', options.imageDir, 'VNETLAB_IMAGE_DIR'],
  ];
  if (!options.kernel.startsWith('/')) throw new EnvironmentError(`the kernel must be an absolute path, got '${options.kernel}'`, 'set VNETLAB_KERNEL to an absolute path');
  for (const [what, path, variable] of folders) {
    if (!path.startsWith('/')) throw new EnvironmentError(`the ${what} must be an absolute path, got '${path}'`, `set ${variable} to an absolute path`);
    if (/[\s,]/.test(path)) {
      throw new EnvironmentError(`the ${what} '${path}' contains a space or a comma, which the UML kernel command line cannot carry`, `set ${variable} to a path without spaces or commas`);
    }
  }
}

function trimSlash(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}
