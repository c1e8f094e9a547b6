// Every process a lab runs — guests, switches, cables, captures, host NAT — starts inside a Landlock
// sandbox (kernels/host/vnetlab-confine.c) that lets it reach only its own files. A guest is hostile:
// its root can mount hostfs (Debian's UML has it built in) or load a kernel module, which then runs as
// host code in the guest's process. Whatever it does, the sandbox holds: docs/security.md.
//
// Why Landlock and not namespaces: it needs no privilege and no setuid helper, works for any user and in
// an unprivileged pod, stacks with whatever confines vnetlab itself, and one static C file of ~150 lines
// applies it. Its limits (stat of a path is not a right it controls; Unix sockets are connected by path)
// are written down in docs/security.md.
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { GuestPlan } from '../../shared/plan.ts';
import { EnvironmentError } from '../errors.ts';
import { confineHelper, hostHelper, landlockAbi } from '../images/host-helpers.ts';
import { findKernel, whichTool, type KernelInfo } from '../images/kernel.ts';
import { createCowDisk } from '../images/backing.ts';
import { ourTmpfsFolder } from './host-tmpfs.ts';
import { programFiles } from './program-files.ts';

/** What one sandboxed process may reach; everything else on the host it may not. */
export interface SandboxRules {
  /** Read and execute (programs, their libraries). */
  exec: string[];
  read: string[];
  /** Read and write existing files (a guest's disk, /dev/null). */
  write: string[];
  /** Folders in which it may only create Unix sockets (a NIC's port: libvdeplug binds its socket there). */
  sockets: string[];
  /** Folders it owns outright. */
  create: string[];
  /** No TCP at all (guests, switches): only host NAT talks to the outside world. */
  noTcp: boolean;
  /** No abstract Unix sockets (X11, D-Bus…) and no signals to processes outside its sandbox. */
  scoped: boolean;
  noRandomize?: boolean;
  preload?: string;
  /**
   * Descriptors it keeps: 0 to keepFds-1 (default 3, stdin to stderr). Every other one it inherited is
   * closed before it runs — another guest's console master, a pipe of the user's shell — since a
   * descriptor is a right the sandbox does not see.
   */
  keepFds?: number;
}

/** How this host runs lab processes: inside the sandbox (the default) or, when the user asked, without. */
export type Confinement = { confined: true; helper: string } | { confined: false };

/** Set by `--unconfined` (documented in docs/security.md); never honoured by the classroom. */
export const UNCONFINED_ENV = 'VNETLAB_UNCONFINED';

export const NO_LANDLOCK_HINT =
  'enable Landlock in the host kernel (CONFIG_SECURITY_LANDLOCK=y and "landlock" in its lsm= list; check with: dmesg | grep -i landlock), or, only for a lab you trust completely, start it with --unconfined';

/**
 * The confinement to start lab processes with. Throws (exit 3) when the sandbox is not available and
 * the user did not say to run without it: `start` refuses rather than hand a guest the host's files.
 */
export function confinementFor(env: NodeJS.ProcessEnv = process.env, options: { allowUnconfined?: boolean } = {}): Confinement {
  if (options.allowUnconfined !== false && env[UNCONFINED_ENV] === '1') return { confined: false };
  const abi = landlockAbi(env);
  if (abi < 1) {
    throw new EnvironmentError(
      "this host's kernel has no Landlock, so vnetlab cannot keep guests away from your files (a guest's root could mount the host's file system through hostfs)",
      NO_LANDLOCK_HINT,
    );
  }
  return { confined: true, helper: confineHelper(env) };
}

/** The argv that runs `argv` inside the sandbox (or `argv` itself when unconfined). */
export function sandboxed(confinement: Confinement, rules: SandboxRules, argv: string[]): string[] {
  if (!confinement.confined) return argv;
  const out = [confinement.helper];
  const add = (flag: string, paths: string[]) => {
    for (const path of [...new Set(paths)]) out.push(flag, path);
  };
  add('--exec', rules.exec);
  add('--read', rules.read);
  add('--write', rules.write);
  add('--sockets', rules.sockets);
  add('--create', rules.create);
  if (rules.noTcp) out.push('--no-tcp');
  if (rules.scoped) out.push('--scoped');
  if (rules.noRandomize) out.push('--no-randomize');
  if (rules.preload) out.push('--preload', rules.preload);
  if (rules.keepFds !== undefined) out.push('--keep-fds', String(rules.keepFds));
  return [...out, '--', ...argv];
}

// ---- guests -------------------------------------------------------------------------------------

/**
 * Files every dynamically linked program reads at start; libvdeplug looks up the user's name (sent to
 * the switch with each connection) in the world-readable passwd database.
 */
const LOADER_FILES = ['/etc/ld.so.cache', '/etc/nsswitch.conf', '/etc/passwd', '/etc/group'];
const GUEST_DEVICES_READ = ['/dev/urandom', '/dev/random'];
const GUEST_DEVICES_WRITE = ['/dev/null'];
/** A guest's descriptors: its console (0–2) and its exec channel (3 to the guest, 4 from it). */
const GUEST_FDS = 5;

export interface GuestLaunch {
  /** The argv to exec (the helper's, when confined). */
  argv: string[];
  /** TMPDIR for the guest: its own folder for the memory file UML maps. */
  memoryDir: string;
}

/**
 * A guest may reach: its kernel (and the libraries and helper programs the kernel runs), its image and
 * lab-fs read only, its own disk, its memory folder, its lab's `uml` folder (its mconsole socket) and
 * the lab's cable ports (to bind its NICs' sockets). Not the image folder, the lab folder, the home, /etc.
 */
export function guestLaunch(confinement: Confinement, plan: GuestPlan, argv: string[], backingImage: string, memoryRoot: string): GuestLaunch {
  const memoryDir = guestMemoryFolder(memoryRoot, plan.umid);
  if (!confinement.confined) return { argv, memoryDir };
  const kernel = kernelOf(argv[0]!);
  const program = [kernel.binary, ...argv.slice(1)];
  const exec = kernelFiles(kernel);
  const umlDir = dirname(dirname(plan.mconsole));
  // The lab's port folder, also for a machine with no NIC yet: one hot-plugged by `apply` lands there.
  const ports = [...new Set([...plan.interfaces.map((i) => dirname(i.ctlDir)), join(dirname(umlDir), 'c')])];
  for (const dir of ports) mkdirSync(dir, { recursive: true, mode: 0o700 });
  mkdirSync(umlDir, { recursive: true, mode: 0o700 });
  ensureCow(plan.cow, backingImage);
  const rules: SandboxRules = {
    exec,
    read: [...LOADER_FILES, ...GUEST_DEVICES_READ, backingImage, plan.labFsImage].filter(existsSync),
    write: [plan.cow, ...GUEST_DEVICES_WRITE],
    sockets: ports,
    create: [memoryDir, umlDir],
    noTcp: true,
    scoped: true,
    noRandomize: kernel.noRandomize,
    preload: kernel.preload,
    keepFds: GUEST_FDS,
  };
  return { argv: sandboxed(confinement, rules, program), memoryDir };
}

export interface PooledPlacement {
  umid: string;
  /** The pool's `uml` folder (its guests' mconsole folders). */
  umlDir: string;
  cow: string;
  imagePath: string;
  /** The pooled guest's own folder (its FIFOs); the lab-fs of the lab that claims it is linked in here. */
  guestDir: string;
  /** The user's runtime root: the claiming lab's cable ports are somewhere below it. */
  runtimeRoot: string;
}

/**
 * A pooled guest boots before anyone knows its lab, so its sandbox names what it will need as folders:
 * its own folder (the claiming lab's lab-fs is linked into it, see stageLabFs), and the right to make
 * sockets, only sockets, anywhere in the user's runtime root (the lab's cable ports are there). It still
 * reads nothing there and writes nothing but its own disk.
 */
export function pooledGuestLaunch(confinement: Confinement, argv: string[], place: PooledPlacement, memoryRoot: string): GuestLaunch {
  const memoryDir = guestMemoryFolder(memoryRoot, place.umid);
  if (!confinement.confined) return { argv, memoryDir };
  const kernel = kernelOf(argv[0]!);
  for (const dir of [place.umlDir, place.guestDir]) mkdirSync(dir, { recursive: true, mode: 0o700 });
  ensureCow(place.cow, place.imagePath);
  const rules: SandboxRules = {
    exec: kernelFiles(kernel),
    read: [...LOADER_FILES, ...GUEST_DEVICES_READ, place.imagePath, place.guestDir].filter(existsSync),
    write: [place.cow, ...GUEST_DEVICES_WRITE],
    sockets: [place.runtimeRoot],
    create: [memoryDir, place.umlDir],
    noTcp: true,
    scoped: true,
    noRandomize: kernel.noRandomize,
    preload: kernel.preload,
    keepFds: GUEST_FDS,
  };
  return { argv: sandboxed(confinement, rules, [kernel.binary, ...argv.slice(1)]), memoryDir };
}

/**
 * The lab-fs image where a pooled guest's sandbox lets it read (`staged`, in its own folder): a hard
 * link (same file system: both are in the runtime root), a copy where a link cannot be made.
 */
export function stageLabFs(labFsImage: string, staged: string): void {
  rmSync(staged, { force: true });
  try {
    linkSync(labFsImage, staged);
  } catch {
    copyFileSync(labFsImage, staged);
  }
}

/**
 * A per-guest folder for the memory file, in a private `vnetlab-<uid>` folder of the memory root (tmpfs).
 * Only its name: the launcher makes it with makeMemoryFolder once the guest is recorded (with the folder
 * among its files) and before its gate opens, so a launcher killed in between leaves nothing unrecorded.
 */
export function guestMemoryFolder(memoryRoot: string, umid: string): string {
  return join(ourTmpfsFolder(memoryRoot), umid);
}

export function makeMemoryFolder(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** Remove a guest's memory folder once it has exited (UML unlinks its file right after mapping it). */
export function removeMemoryFolder(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * UML creates a missing COW disk itself, which would need the right to create files next to it (the
 * other machines' disks). We make it first (as uml_mkcow would), so the guest gets that one file only.
 */
function ensureCow(cow: string, backingImage: string): void {
  if (existsSync(cow)) return;
  mkdirSync(dirname(cow), { recursive: true, mode: 0o700 });
  createCowDisk(cow, backingImage);
}

/** The kernel behind argv[0]: findKernel()'s wrapper is replaced by what it would have done. */
function kernelOf(argv0: string): Pick<KernelInfo, 'binary' | 'preload' | 'noRandomize' | 'nicSyntax'> {
  try {
    const kernel = findKernel();
    if (argv0 === kernel.path || argv0 === kernel.binary) return kernel;
  } catch {
    // a kernel findKernel() does not know: run argv[0] as it is
  }
  return { binary: argv0, noRandomize: false, nicSyntax: 'legacy' };
}

/**
 * What a guest process executes: its kernel and libraries, the AMX fix, and UML's VDE transport
 * (vdeplug4's libvdeplug loads its transports as plugins and may run vde_plug; the vector driver runs
 * it through /bin/sh).
 */
function kernelFiles(kernel: Pick<KernelInfo, 'binary' | 'preload' | 'nicSyntax'>): string[] {
  return [...programFiles(kernel.binary), ...(kernel.preload ? [kernel.preload] : []), ...vdePlugFiles(), ...(kernel.nicSyntax === 'vector' ? whichShell() : [])];
}

/** vdeplug4's vde_plug, which the vector driver's VDE transport runs (UML ≥ 6.12), and its plugins. */
function vdePlugFiles(): string[] {
  const plug = whichTool('vde_plug');
  if (!plug) return [];
  return [...programFiles(plug), ...vdePlugins()];
}

let pluginFiles: string[] | undefined;

/** vdeplug4's libvdeplug loads its transports (vde, hub, cmd…) as plugins from here, with their libraries. */
function vdePlugins(): string[] {
  if (pluginFiles) return pluginFiles;
  const dirs = ['/usr/lib/x86_64-linux-gnu/vdeplug', '/usr/lib/vdeplug', '/usr/local/lib/vdeplug'].filter(existsSync);
  const plugins = dirs.flatMap((dir) => readdirSync(dir).filter((f) => f.endsWith('.so')).map((f) => join(dir, f)));
  pluginFiles = [...new Set([...dirs, ...plugins.flatMap((plugin) => programFiles(plugin))])];
  return pluginFiles;
}

function whichShell(): string[] {
  return ['/bin/sh'].filter(existsSync).map((p) => realpathSync(p));
}

// ---- tshark -------------------------------------------------------------------------------------

/** What tshark reads besides its own files: the system's libraries (its plugins' too), Wireshark's data, the time zone. */
const TSHARK_READ = ['/usr/lib', '/lib', '/usr/lib64', '/lib64', '/usr/share/wireshark', '/etc/wireshark', '/etc/localtime', '/usr/share/zoneinfo'];

/**
 * The command line that runs tshark in the sandbox. tshark dissects what guests send — hostile bytes,
 * through Wireshark's thousands of dissectors written in C — so a packet that breaks one must find
 * nothing around it: tshark may run, the system's libraries and Wireshark's data may be read, then only
 * the files it is given (`read`). A capture it reads from a pipe goes through dumpcap, which writes a file
 * of its own: `tmpDir` (to be its TMPDIR) is then the one folder it may write in, and dumpcap may run.
 * No TCP, no abstract sockets, no signals out.
 */
export function sandboxedTshark(confinement: Confinement, tshark: string, args: string[], options: { read?: string[]; tmpDir?: string } = {}): string[] {
  if (!confinement.confined) return [tshark, ...args];
  const dumpcap = options.tmpDir ? whichTool('dumpcap') : undefined;
  const rules: SandboxRules = {
    exec: [...programFiles(tshark), ...(dumpcap ? programFiles(dumpcap) : [])],
    read: [...TSHARK_READ, ...LOADER_FILES, ...GUEST_DEVICES_READ, ...(options.read ?? [])].filter(existsSync),
    write: GUEST_DEVICES_WRITE,
    sockets: [],
    create: options.tmpDir ? [options.tmpDir] : [],
    noTcp: true,
    scoped: true,
  };
  return sandboxed(confinement, rules, [tshark, ...args]);
}

let tsharkSandbox: Confinement | undefined;

/**
 * The sandbox tshark runs in: the labs' own, even for a lab started --unconfined (tshark needs nothing
 * more, and a classroom worker never runs unconfined). Where there is none (no Landlock), no lab could
 * run but one started --unconfined, whose packets its user chose to trust: tshark then runs as it is.
 */
export function tsharkConfinement(): Confinement {
  if (!tsharkSandbox) {
    try {
      tsharkSandbox = confinementFor(process.env, { allowUnconfined: false });
    } catch {
      tsharkSandbox = { confined: false };
    }
  }
  return tsharkSandbox;
}

// ---- daemons ------------------------------------------------------------------------------------

/**
 * A switch, a cable's port or wire, a capture or host NAT: its program, and the lab's network folders
 * (`folders`), where it makes its control folders and sockets. Only host NAT may use TCP, and it reads
 * the host's resolver files to answer the guests' DNS.
 */
export function daemonArgv(confinement: Confinement, argv: string[], folders: string[], options: { hostNat?: boolean } = {}): string[] {
  if (!confinement.confined) return argv;
  const program = whichTool(argv[0]!) ?? argv[0]!;
  for (const dir of folders) mkdirSync(dir, { recursive: true, mode: 0o700 });
  const resolver = options.hostNat ? ['/etc/resolv.conf', '/etc/hosts', '/etc/nsswitch.conf', '/etc/host.conf', '/etc/gai.conf'].filter(existsSync) : [];
  // Host NAT reaches the internet, never the host itself (kernels/host/vnetlab-nat-guard.c).
  const guard = options.hostNat ? hostHelper('vnetlab-nat-guard') : undefined;
  const rules: SandboxRules = {
    exec: [...programFiles(program), ...vdePlugins(), ...(guard ? [guard] : [])],
    read: [...LOADER_FILES, ...resolver, ...GUEST_DEVICES_READ].filter(existsSync),
    write: GUEST_DEVICES_WRITE,
    sockets: [],
    create: folders,
    noTcp: !options.hostNat,
    scoped: true,
    preload: guard,
  };
  return sandboxed(confinement, rules, [program, ...argv.slice(1)]);
}
