// The compiled run plan: everything the runtime needs to bring a lab up, and nothing it has to
// decide. Produced by the pure `compile()` in src/main/compiler; `vnetlab compile --json` prints it.
// Same lab + same options → byte-identical plan (no randomness, no clocks, sorted keys/arrays).

export interface CompileOptions {
  /** Per-lab run directory (sockets, pids, FIFOs, console logs). Short: Unix socket paths are limited to 108 bytes. */
  runDir: string;
  /** Per-lab persistent state directory (guest disks). Survives stop/start and reboots of the host. */
  stateDir: string;
  /** Folder holding built images: `<imageDir>/<name>.ext4`. */
  imageDir: string;
  /** UML kernel binary, e.g. /usr/bin/linux.uml. */
  kernel: string;
  /** Short stable id of the lab instance (derived from its absolute folder), used in umids. */
  labId: string;
  /**
   * The NIC syntax the kernel takes (src/main/compiler/nic.ts): `legacy` `ethN=vde,<port>,<mac>` (UML 6.1,
   * the default), or `vector` `vecN:transport=vde,vnl=vde://<port>,mac=<mac>` (6.12 without the old VDE
   * transport, 7.x). Found from the kernel binary by findKernel() (KernelInfo.nicSyntax).
   */
  nicSyntax?: 'legacy' | 'vector';
  /** The kernel's delay-loop figure on this host (`lpj=`, src/main/images/delay-loop.ts): guests skip calibrating it. */
  loopsPerJiffy?: number;
}

export interface Plan {
  /** 3: a guest's boot arguments are structure (GuestPlan.boot), rendered to argv by the launcher. */
  planVersion: 3;
  lab: { name: string; id: string; root: string; format: string };
  runDir: string;
  stateDir: string;
  /** Read-only ext4 image of lab files, built by the runtime from `labFs.entries` before boot, attached to every guest as ubd1. */
  labFs: LabFsPlan;
  switches: SwitchPlan[];
  /** One per machine interface: the cable between the NIC and its collision domain (see CablePlan). */
  cables: CablePlan[];
  guests: GuestPlan[];
  /** Boot order: each wave's guests may boot in parallel once every earlier wave is ready. */
  waves: string[][];
  /** Cables between two switches (lab.yaml `switch_links:`); absent when there are none. */
  switchLinks?: SwitchLinkPlan[];
}

export interface LabFsPlan {
  /** Path of the image file the runtime builds. */
  image: string;
  /** Files to put in the image: destination inside the image → source. Sorted by `dest`. */
  entries: LabFsEntry[];
}

export type LabFsEntry =
  /** Copy a file or a whole folder from the lab (absolute, already checked to be inside the lab). */
  | { dest: string; from: string; kind: 'file' | 'dir'; mode?: number }
  /** Literal content (scripts, generated interface config). */
  | { dest: string; content: string; mode?: number };

export interface SwitchPlan {
  domain: string;
  kind: 'hub' | 'switch';
  /** vde_switch control directory: guests attach with `ethN=vde,<ctlDir>`. */
  ctlDir: string;
  /** vde_switch management socket (for `vnetlab status` port counts). */
  mgmtSocket: string;
  /** Full argv, argv[0] is the program (`vde_switch`). Not daemonised: the supervisor owns the process. */
  argv: string[];
  /** Extra process for a host-NAT domain (`slirpvde`), started after the switch. */
  hostNat?: { argv: string[] };
  /**
   * A switch with VLANs or spanning tree: its ports are configured (over `mgmtSocket`) before cables
   * join them, so each cable end is pinned to a port of its own (`<ctlDir>[N]`), counted down from
   * `count - 1` (vde_switch gives unnamed connections, a capture's say, the lowest free ones).
   */
  ports?: { count: number; vlans: number[]; stp: boolean };
}

/** The VLANs of one switch port: carried untagged (an access port) and tagged (a trunk). */
export interface PortVlans {
  untagged?: number;
  tagged?: number[];
}

/**
 * A cable between two switches: a wirefilter joining a port of each (`wirefilter -v <a>[p]:<b>[q]
 * -M <filterMgmt>`), so it can be unplugged and impaired like a machine's cable (`out` is a → b).
 */
export interface SwitchLinkPlan {
  /** `<a>--<b>` (`-2`… for parallel ones): what `vnetlab link` and the API call it. */
  id: string;
  between: [string, string];
  plugged: boolean;
  filterMgmt: string;
  /** The VLANs both of its ports carry (on switches with VLANs). */
  vlans?: PortVlans;
  impairments: CableImpairments;
}

export interface GuestPlan {
  name: string;
  umid: string;
  image: string;
  imagePath: string;
  cow: string;
  /** The lab-fs image (ubd1, read only): the guest's sandbox may read it. */
  labFsImage: string;
  memoryMiB: number;
  /**
   * The guest's kernel command line as structure (docs/ARCHITECTURE.md, "Kernel command line"); only the
   * launcher renders it to argv (src/main/runtime/guest-argv.ts). Its parts:
   * - shared: `boot.kernel`, `mem=<memoryMiB>M` and `boot.shared`: what every guest of that kernel, image
   *   and memory boots with; a pooled guest boots with exactly these (the pool's kinds are keyed on them);
   * - placement: `umid`, `boot.umlDir`, `cow` over `imagePath`: where this guest's files are;
   * - hot-plug: `labFsImage` and `interfaces`, in `boot.nicSyntax`: given at boot, or to a pooled guest
   *   through mconsole `config`;
   * - identity: `boot.name` (and, for vector NICs, which to rename): sent to a pooled guest's agent.
   */
  boot: GuestBoot;
  /** Directory holding the guest's FIFOs, console log and pid file. */
  dir: string;
  /** Exec channel: the runtime opens `toGuest` for writing as fd 3 of the guest... see docs/ARCHITECTURE.md. */
  execChannel: { toGuest: string; fromGuest: string };
  /** The UML management console socket (`uml_mconsole <path> cad|halt|sysrq`). */
  mconsole: string;
  /** `ctlDir` is the cable's port (CablePlan.portCtlDir), never the domain switch itself. */
  /** `addresses` (CIDR) are what the guest init configures; a NIC hot-plugged by `apply` gets them the same way. */
  interfaces: { name: string; domain: string; mac: string; ctlDir: string; addresses: string[] }[];
  dependsOn: string[];
  /** Extra consoles asked for (Kathará `num_terms` > 1). */
  consoles: number;
  /** The grader's machine: no console, and exec only for the grader (ExecOptions.grader). */
  grader?: boolean;
}

export interface GuestBoot {
  /** argv[0]: the UML kernel (or findKernel()'s wrapper around it). */
  kernel: string;
  /**
   * The arguments every guest shares besides `mem=`: the guest contract's (console on fd 0/1, exec channel
   * on fd 3/4, root on the COW disk, our init, the boot-time skips) and the lab's IPv6 switch.
   */
  shared: string[];
  /** UML's folder of management folders (`uml_dir=`): the mconsole socket is `<umlDir>/<umid>/mconsole`. */
  umlDir: string;
  /** The syntax the kernel takes NICs in (src/main/compiler/nic.ts), at boot and hot-plugged. */
  nicSyntax: 'legacy' | 'vector';
  /** `vnl_name`: the guest's folder in the lab-fs, `/machines/<name>`. */
  name: string;
}

/**
 * A cable: one machine interface ↔ one collision domain, Marionnet's shape. The guest NIC plugs into
 * the cable's own tiny hub (its "port", a `vde_switch -x`), and a `wirefilter` joins that port to the
 * domain's switch. Unplugging ends the wirefilter, moving it starts one towards another domain, and
 * impairments are set live on its management socket; the guest's NIC is never touched, so its
 * addresses and routes survive all of it (and a restarted domain switch only needs new wirefilters).
 */
export interface CablePlan {
  /** `<machine>:<interface>`, e.g. `pc1:eth0`: what `vnetlab link` and the API call it. */
  id: string;
  machine: string;
  interface: string;
  /** The domain it is plugged into when the lab starts. */
  domain: string;
  /** Plugged when the lab starts (false: the cable starts unplugged). */
  plugged: boolean;
  /** The port's control directory: the guest NIC attaches here (`ethN=vde,<portCtlDir>,<mac>`). */
  portCtlDir: string;
  /** Full argv of the port hub; argv[0] is `vde_switch`. */
  portArgv: string[];
  /** wirefilter's management socket. */
  filterMgmt: string;
  /** Impairments applied when the cable is plugged (empty: a perfect cable). */
  impairments: CableImpairments;
  /** The VLANs of its port on a switch with VLANs (absent: the switch's default VLAN, untagged). */
  vlans?: PortVlans;
}

/** Per direction: `out` is from the machine into the domain, `in` from the domain to the machine. */
export interface CableImpairments {
  out?: Impairment;
  in?: Impairment;
}

export interface Impairment {
  /** Frames dropped, percent (0–100). */
  lossPct?: number;
  /** Added one-way delay, ms, and its uniform jitter (±ms). */
  delayMs?: number;
  jitterMs?: number;
  /** Frames duplicated, percent (0–100). */
  dupPct?: number;
  /** Bandwidth limit, bits per second. */
  rateBps?: number;
  /** Frames of 1500 bytes that get one flipped bit, percent (smaller frames proportionally fewer). */
  corruptPct?: number;
}
