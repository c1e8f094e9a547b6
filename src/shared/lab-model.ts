// The one in-memory lab model. Both front doors (lab.yaml and Netkit/Kathará folders) produce it;
// the compiler, the editor and the grader consume it. Plain JSON data: no classes, no functions,
// so it crosses IPC/WebSocket unchanged and snapshots cleanly.

import type { Check } from './checks.ts';
import type { CableImpairments } from './plan.ts';

export type LabFormat = 'vnetlab' | 'netkit' | 'kathara';

export interface LabModel {
  format: LabFormat;
  /** Absolute path of the lab folder. Every relative path in the model is relative to it. */
  root: string;
  /** The file the lab was read from, relative to `root` (`lab.yaml` or `lab.conf`). */
  sourceFile: string;
  meta: LabMeta;
  machines: Machine[];
  /**
   * Every collision domain of the lab, complete as the readers return it: the declared ones, then
   * (hubs) those only named by interfaces. An interface naming a domain missing here is an error
   * (`unknown-domain`); use `domainsOf` where a model may come from elsewhere.
   */
  domains: CollisionDomain[];
  checks: Check[];
  /** Canvas positions of machines and domains by name. Never affects the compiled plan. */
  layout: Record<string, { x: number; y: number }>;
  /** Cables between two switches or hubs (lab.yaml `switch_links:`), with the VLANs they carry. */
  switchLinks?: SwitchLink[];
  /** Text notes and rectangles drawn on the canvas (lab.yaml `annotations:`). Never affect the plan. */
  annotations?: Annotation[];
  /** Script run on every machine before its own startup (Netkit/Kathará `shared.startup`). */
  sharedStartup?: Script;
  /** Script run on every machine at shutdown before its own shutdown (`shared.shutdown`). */
  sharedShutdown?: Script;
  /** Folder (relative to root) exposed read-only at /shared in every guest (Kathará `shared/`), if present. */
  sharedFolder?: string;
  /** Folder (relative to root) holding Netkit `ltest` scripts and signatures (`_test`), if present. */
  testFolder?: string;
  /**
   * Set when the lab file declares `params:`: the model is the variant drawn for `seed` (values as
   * text by parameter name). Such a model is not the file: saving it would lose the templates.
   */
  variant?: { seed: string; params: Record<string, string> };
}

/** A note (text) or a rectangle (with an optional label) on the canvas; x, y is its top-left corner in canvas units. */
export interface Annotation {
  type: 'note' | 'rect';
  x: number;
  y: number;
  text: string;
  /** A rectangle's size (a note sizes itself to its text). */
  width?: number;
  height?: number;
  /** CSS colour of a rectangle's fill (drawn light), `#rrggbb`. */
  color?: string;
}

export interface LabMeta {
  /** Short identifier: [a-z0-9][a-z0-9_-]*. Derived from the folder name when the lab does not say. */
  name: string;
  title?: string;
  /** Student instructions, Markdown. */
  description?: string;
  version?: string;
  authors: string[];
  email?: string;
  web?: string;
  /** Points a fresh copy of the lab scores before any work (lab.yaml `starting_score`, default 0). */
  startingScore?: number;
}

export type MachineKind = 'host' | 'router';

export interface Machine {
  name: string;
  /** Drawing hint only (icon on the canvas). */
  kind: MachineKind;
  /** vnetlab image name (`tiny`, `debian`). Kathará names are mapped when read; see `imageAlias`. */
  image: string;
  /** The image name as written in the lab file, when it was mapped (e.g. `kathara/frr`). */
  imageAlias?: string;
  /** Guest memory in MiB (UML `mem=`). */
  memoryMiB: number;
  cpus?: number;
  interfaces: Interface[];
  startup?: Script;
  shutdown?: Script;
  /** A command run after startup (Kathará `exec`, lab.yaml `exec`). Runs in the guest, never on the host. */
  exec?: string;
  files: FileEntry[];
  /** Machines that must be ready before this one boots (lab.dep, lab.yaml `depends_on`). */
  dependsOn: string[];
  sysctls: Record<string, string>;
  env: Record<string, string>;
  ipv6: boolean;
  /** Kathará `bridged`: attach an extra NIC to the host-NAT domain. */
  bridged: boolean;
  /** Number of extra terminals the lab asks for (Kathará `num_terms`); 1 by default. */
  consoles: number;
  /**
   * The grader's machine (lab.yaml `grader: true`): checks may run from it (`on:`/`from:` it), but no
   * console opens on it and no `vnetlab exec` reaches it, so a student cannot change what it observes.
   */
  grader?: boolean;
  /** Where the machine was declared, for diagnostics. */
  source: SourceRef;
}

export interface Interface {
  /** 0 for eth0, 1 for eth1, ... */
  index: number;
  /** Name of the collision domain the interface is attached to. */
  domain: string;
  /** Fixed MAC (lowercase, colon-separated); otherwise the compiler derives one from names. */
  mac?: string;
  /** IPv4 addresses in CIDR form, configured by the guest init before the startup script runs. */
  ipv4: string[];
  /** IPv6 addresses in CIDR form. */
  ipv6: string[];
  /** Impairments of this interface's cable (lab.yaml `link:`), per direction; absent = a perfect cable. */
  link?: CableImpairments;
  /**
   * On a switch: the VLAN of the switch port this interface plugs into, untagged (an access port;
   * lab.yaml `vlan:`). Absent: the switch's default VLAN.
   */
  vlan?: number;
  /** On a switch: VLANs the port carries tagged (a trunk to a router or a host with VLAN subinterfaces; lab.yaml `vlans:`). */
  vlans?: number[];
  source: SourceRef;
}

/**
 * A cable between two collision domains (lab.yaml `switch_links:`): two switches (or hubs) joined port
 * to port. On switches, `vlan` is the VLAN its two ports carry untagged and `vlans` those they carry
 * tagged (a trunk). Its id (`vnetlab link`, the canvas) is `<a>--<b>`, with `-2`, `-3`… for parallel ones.
 */
export interface SwitchLink {
  a: string;
  b: string;
  vlan?: number;
  vlans?: number[];
  link?: CableImpairments;
  source: SourceRef;
}

export type DomainKind = 'hub' | 'switch';

export interface CollisionDomain {
  name: string;
  /** `hub` repeats every frame to every port (Netkit/Kathará behaviour, the default); `switch` learns MACs. */
  kind: DomainKind;
  /** Attach the domain to the host through slirpvde (NAT, no root): guests get 10.0.2.0/24 with gateway 10.0.2.2. */
  hostNat: boolean;
  /**
   * A switch runs (fast) spanning tree (lab.yaml `stp: true`, or `stp: {priority: N}`): loops of switch
   * links are broken by blocking ports. The lowest priority (then the lowest switch MAC) is the root.
   */
  stp?: { priority?: number };
  source: SourceRef;
}

export interface Script {
  /** The script text exactly as written (CRLF is tolerated by the guest). */
  text: string;
  source: SourceRef;
}

/** A file or folder to place in a guest, relative to the lab folder. */
export type FileEntry =
  | { kind: 'file'; guestPath: string; labPath: string; mode?: number; source: SourceRef }
  | { kind: 'dir'; guestPath: string; labPath: string; source: SourceRef }
  | { kind: 'inline'; guestPath: string; content: string; mode?: number; source: SourceRef };

export interface SourceRef {
  /** Relative to the lab root. */
  file: string;
  line: number;
  column: number;
}

/** Minimum memory a Debian 6.1 UML kernel boots with reliably (32M does not). */
/** A machine as the lab readers start one, before its options apply: a host with one console, IPv6, default memory. */
export function defaultMachine(name: string, image: string, source: SourceRef, overrides: Partial<Machine> = {}): Machine {
  return {
    name,
    kind: 'host',
    image,
    memoryMiB: DEFAULT_MEMORY_MIB,
    interfaces: [],
    files: [],
    dependsOn: [],
    sysctls: {},
    env: {},
    ipv6: true,
    bridged: false,
    consoles: 1,
    source,
    ...overrides,
  };
}

export const MIN_MEMORY_MIB = 64;
export const DEFAULT_MEMORY_MIB = 128;
export const MAX_MEMORY_MIB = 4096;

/**
 * The model's collision domains, plus a hub for each domain an interface names that the list lacks
 * (Netkit and Kathará declare domains only that way). The readers store this in `model.domains`;
 * everything else reads `model.domains`, or this for a model from elsewhere (a client, a test).
 */
export function domainsOf(model: Pick<LabModel, 'domains' | 'machines'>): CollisionDomain[] {
  const known = new Set(model.domains.map((d) => d.name));
  const implicit: CollisionDomain[] = [];
  for (const m of model.machines) {
    for (const i of m.interfaces) {
      if (known.has(i.domain)) continue;
      known.add(i.domain);
      implicit.push({ name: i.domain, kind: 'hub', hostNat: false, source: i.source });
    }
  }
  return implicit.length ? [...model.domains, ...implicit] : model.domains;
}

/** VLAN ids a switch port may carry (802.1Q; 0 and 4095 are reserved). */
export const MIN_VLAN = 1;
export const MAX_VLAN = 4094;

/** The id of each switch link, in the model's order: `<a>--<b>`, then `<a>--<b>-2`… for parallel ones. */
export function switchLinkIds(model: Pick<LabModel, 'switchLinks'>): string[] {
  const seen = new Map<string, number>();
  return (model.switchLinks ?? []).map((l) => {
    const base = `${l.a}--${l.b}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base}-${n}`;
  });
}
