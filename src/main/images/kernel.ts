// Kernel and host tool discovery. Every missing piece is an EnvironmentError (exit 3) that names the
// exact command which installs it, so a student never has to guess a Debian package name.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnvironmentError } from '../errors.ts';
import { hostPaths } from '../paths.ts';

export const DEFAULT_KERNEL = '/usr/bin/linux.uml';
export const UML_MODULES_ROOT = '/usr/lib/uml/modules';
const UML_PACKAGES = 'sudo apt-get install user-mode-linux vde2 uml-utilities';

/** The host tools vnetlab runs, and the command that installs each one. */
export const HOST_TOOLS = {
  'linux.uml': UML_PACKAGES,
  vde_switch: UML_PACKAGES,
  uml_mconsole: UML_PACKAGES,
  'mkfs.ext4': 'sudo apt-get install e2fsprogs',
  busybox: 'sudo apt-get install busybox-static',
  debootstrap: 'sudo apt-get install debootstrap',
  cc: 'sudo apt-get install gcc libc6-dev',
  unshare: 'sudo apt-get install util-linux',
  chroot: 'sudo apt-get install coreutils',
  setarch: 'sudo apt-get install util-linux',
} as const;
export type HostTool = keyof typeof HOST_TOOLS;

export interface KernelInfo {
  /**
   * What to execute as the kernel (argv[0]): the UML binary itself, or on hosts that need it a
   * wrapper that runs it with the AMX fix preloaded (see kernels/host/uml-xstate-fix.c).
   */
  path: string;
  /** The UML kernel binary. */
  binary: string;
  /** `linux.uml --version`, e.g. 6.1.176. */
  version: string;
  /** `/usr/lib/uml/modules/<version>`, or undefined when the kernel ships no modules there. */
  modulesDir?: string;
  /** The VDE network transports the binary has, found without running it (kernelNetworking). */
  networking: KernelNetworking;
  /** The NIC syntax the compiler emits for this kernel (src/main/compiler/nic.ts). */
  nicSyntax: 'legacy' | 'vector';
  /**
   * What `path`'s wrapper does before it execs `binary`, for launchers that start the kernel themselves
   * (the sandbox helper, src/main/runtime/confinement.ts): the AMX fix to preload, no address randomisation.
   */
  preload?: string;
  noRandomize: boolean;
}

export interface KernelNetworking {
  /** `ethN=vde,…`: UML's old VDE transport (CONFIG_UML_NET_VDE; removed in Linux 6.16). */
  legacyVde: boolean;
  /** `vecN:transport=vde,vnl=…`: the vector driver's VDE transport (Linux ≥ 6.12, runs vdeplug4's vde_plug). */
  vectorVde: boolean;
}

const networkingCache = new Map<string, { mtimeMs: number; size: number; networking: KernelNetworking }>();

/**
 * Which VDE transports a UML binary has, from its bytes (no need to run it: a 7.x kernel built against a
 * newer C library cannot even start on an older host). Messages only each driver prints:
 * the old transport's "UML vde_transport" description and its `vde_user_init` error, the vector
 * transport's "vde: seqpacket socketpair" error. When the binary embeds its config (CONFIG_IKCONFIG),
 * `# CONFIG_UML_NET_VDE is not set` settles the old one.
 */
export function kernelNetworking(binary: string): KernelNetworking {
  const st = statSync(binary);
  const cached = networkingCache.get(binary);
  if (cached && cached.mtimeMs === st.mtimeMs && cached.size === st.size) return cached.networking;
  const bytes = readFileSync(binary);
  const has = (text: string) => bytes.includes(text);
  const networking: KernelNetworking = {
    legacyVde: !has('# CONFIG_UML_NET_VDE is not set') && (has('UML vde_transport') || has('vde_user_init: vde_open failed')),
    vectorVde: has('vde: seqpacket socketpair'),
  };
  networkingCache.set(binary, { mtimeMs: st.mtimeMs, size: st.size, networking });
  return networking;
}

/** The syntax to use: the old one while the kernel has it (what every 6.1 guest used so far), else the vector one. */
export function nicSyntaxOf(networking: KernelNetworking): 'legacy' | 'vector' {
  return networking.legacyVde || !networking.vectorVde ? 'legacy' : 'vector';
}

/**
 * Whether `iptables` (filter and NAT tables) can work in guests of this kernel: the debian image uses
 * iptables' legacy backend (Debian's UML kernels have no nftables `ip` family), which needs
 * `iptable_nat`, as a module or built in. Debian's UML 7.x is built without legacy x_tables
 * (`# CONFIG_NETFILTER_XTABLES_LEGACY is not set`) and without nftables' ip family, so iptables works in
 * none of its guests. Undefined when the kernel has no module folder to tell (a custom kernel with
 * everything built in, kernels/custom-kernel/).
 */
export function kernelHasIptables(kernel: Pick<KernelInfo, 'modulesDir'>): boolean | undefined {
  if (!kernel.modulesDir) return undefined;
  const listed = (file: string) => {
    try {
      return /(^|\/)iptable_nat\.ko\b/m.test(readFileSync(join(kernel.modulesDir!, file), 'utf8'));
    } catch {
      return false;
    }
  };
  return listed('modules.dep') || listed('modules.builtin');
}

export interface KernelOptions {
  /** A kernel chosen in the user's settings (after VNETLAB_KERNEL, before the default). */
  config?: { kernel?: string };
  env?: NodeJS.ProcessEnv;
}

const versionCache = new Map<string, { mtimeMs: number; version: string }>();

/** Finds the UML kernel: `$VNETLAB_KERNEL`, then the configured one, then /usr/bin/linux.uml. */
export function findKernel(options: KernelOptions = {}): KernelInfo {
  const env = options.env ?? process.env;
  const fromEnv = env.VNETLAB_KERNEL;
  const chosen = fromEnv || options.config?.kernel;
  const path = chosen || DEFAULT_KERNEL;
  if (!isExecutable(path)) {
    if (chosen) {
      const where = fromEnv ? 'VNETLAB_KERNEL' : 'the vnetlab settings';
      throw new EnvironmentError(`the UML kernel ${path} (from ${where}) does not exist or is not executable`, `fix ${where}, or unset it to use ${DEFAULT_KERNEL}`);
    }
    throw new EnvironmentError(`no User-Mode Linux kernel found at ${DEFAULT_KERNEL}`, `install it with: ${UML_PACKAGES}`);
  }
  const { version, networking } = kernelFacts(path, env);
  const modulesDir = join(env.VNETLAB_UML_MODULES_ROOT || UML_MODULES_ROOT, version);
  const launch = launchWrapper(path, env, needsXstateFix(env));
  return {
    path: launch.path,
    binary: path,
    version,
    modulesDir: existsSync(modulesDir) ? modulesDir : undefined,
    networking,
    nicSyntax: nicSyntaxOf(networking),
    preload: launch.preload,
    noRandomize: launch.noRandomize,
  };
}

/**
 * A kernel's version (it runs `--version`) and transports (it reads all 10+ MB of the binary) cost ~30 ms,
 * in every command and every supervisor that starts a lab: kept in the image folder, for the binary's
 * exact size, mtime and inode, so only a changed kernel is looked at again.
 */
function kernelFacts(path: string, env: NodeJS.ProcessEnv): { version: string; networking: KernelNetworking } {
  const st = statSync(path);
  const stamp = `${st.size}:${st.mtimeMs}:${st.ino}`;
  const file = join(hostPaths(env).imageDir, 'host', 'kernel-facts.json');
  // The supervisor asks for every guest it boots: the file is read once per process and kernel.
  const memoKey = `${file}\0${path}`;
  const inMemory = factsRead.get(memoKey);
  if (inMemory?.stamp === stamp) return inMemory.facts;
  const remember = (facts: { version: string; networking: KernelNetworking }) => (factsRead.set(memoKey, { stamp, facts }), facts);
  let known: Record<string, { stamp: string; version: string; networking: KernelNetworking }> = {};
  try {
    known = JSON.parse(readFileSync(file, 'utf8'));
    const kept = known[path];
    if (kept?.stamp === stamp && typeof kept.version === 'string' && typeof kept.networking?.legacyVde === 'boolean' && typeof kept.networking.vectorVde === 'boolean') {
      return remember({ version: kept.version, networking: kept.networking });
    }
  } catch {
    known = {}; // none yet, or unreadable: look at the kernel
  }
  const facts = { version: kernelVersion(path), networking: kernelNetworking(path) };
  try {
    mkdirSync(dirname(file), { recursive: true });
    const partial = `${file}.${process.pid}.partial`;
    writeFileSync(partial, `${JSON.stringify({ ...known, [path]: { stamp, ...facts } }, null, 2)}\n`);
    renameSync(partial, file);
  } catch {
    // a read-only image folder: looked at again next time
  }
  return remember(facts);
}
const factsRead = new Map<string, { stamp: string; facts: { version: string; networking: KernelNetworking } }>();

/**
 * UML 6.1 counts the gap between the end of its binary and its (randomised) brk as "exec-shield gap"
 * physical memory and carves the page structs for it out of the memory it was given: with ASLR a
 * guest started with mem=64M had 36–52 MB usable, a different amount at every boot (so one BIND
 * server in seven thrashed without swap and never became ready). Without address randomisation for
 * the UML process (setarch -R) the gap is 0 and every guest gets the same 53 MB of its 64.
 * VNETLAB_UML_NORANDMAPS=0 turns it off.
 */
export function needsNoRandomize(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.VNETLAB_UML_NORANDMAPS !== '0' && whichTool('setarch', env) !== undefined;
}

/**
 * UML 6.1 panics at the first user process on CPUs with AMX ("ptrace set fp regs failed, errno = 14"):
 * see kernels/host/uml-xstate-fix.c. VNETLAB_UML_XSTATE_FIX=1/0 forces the fix on or off.
 */
export function needsXstateFix(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.VNETLAB_UML_XSTATE_FIX === '1') return true;
  if (env.VNETLAB_UML_XSTATE_FIX === '0') return false;
  if (cpuHasAmx === undefined) {
    try {
      cpuHasAmx = /^flags\s*:.*\bamx_tile\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
    } catch {
      cpuHasAmx = false;
    }
  }
  return cpuHasAmx;
}
/** The CPU's flags do not change while we run: read once (findKernel runs for every guest a lab boots). */
let cpuHasAmx: boolean | undefined;

/**
 * The kernel itself when it needs neither fix; else a wrapper script next to the images, built once
 * per source change: `<imageDir>/host/linux.uml-<hash>` =
 * `LD_PRELOAD=uml-xstate-fix-<hash>.so exec setarch <arch> -R <kernel> "$@"` (either part as needed).
 * The wrapper and setarch exec, so the kernel keeps the pid the runtime recorded.
 */
function launchWrapper(kernel: string, env: NodeJS.ProcessEnv, xstateFix: boolean): { path: string; preload?: string; noRandomize: boolean } {
  const setarch = needsNoRandomize(env) ? whichTool('setarch', env) : undefined;
  if (!xstateFix && !setarch) return { path: kernel, noRandomize: false };
  const dir = join(hostPaths(env).imageDir, 'host');
  const key = `${kernel}\0${setarch ?? ''}\0${xstateFix}\0${dir}`;
  const known = wrappersMade.get(key);
  if (known && existsSync(known.path) && (!known.preload || existsSync(known.preload))) return known;
  const source = fileURLToPath(new URL('../../../kernels/host/uml-xstate-fix.c', import.meta.url));
  const hash = createHash('sha256')
    .update(xstateFix ? readFileSync(source) : '')
    .update(kernel)
    .update(setarch ?? '')
    .digest('hex')
    .slice(0, 12);
  const library = join(dir, `uml-xstate-fix-${hash}.so`);
  const wrapper = join(dir, `linux.uml-${hash}`);
  const made = { path: wrapper, preload: xstateFix ? library : undefined, noRandomize: !!setarch };
  if (existsSync(wrapper) && (!xstateFix || existsSync(library))) return remember(made);
  mkdirSync(dir, { recursive: true });
  const suffix = `.${process.pid}.tmp`;
  const lines = ['#!/bin/sh'];
  if (xstateFix) {
    const cc = requireTool('cc', env);
    try {
      execFileSync(cc, ['-shared', '-fPIC', '-O2', '-o', library + suffix, source, '-ldl'], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      throw new EnvironmentError(`this CPU has AMX, and UML 6.1 needs a small fix to run on it, which failed to compile: ${String((err as { stderr?: Buffer }).stderr ?? err).trim().split('\n')[0]}`, 'install a C compiler: sudo apt-get install gcc libc6-dev');
    }
    renameSync(library + suffix, library);
    lines.push('# UML 6.1 on an AMX CPU: see kernels/host/uml-xstate-fix.c in vnetlab.', `LD_PRELOAD=${library}\${LD_PRELOAD:+:\$LD_PRELOAD}`, 'export LD_PRELOAD');
  }
  if (setarch) {
    lines.push('# No address randomisation: UML would count the randomised brk gap as memory (see needsNoRandomize in vnetlab).');
    lines.push(`exec ${setarch} "$(uname -m)" -R ${kernel} "$@"`);
  } else lines.push(`exec ${kernel} "$@"`);
  writeFileSync(wrapper + suffix, `${lines.join('\n')}\n`, { mode: 0o755 });
  renameSync(wrapper + suffix, wrapper);
  return remember(made);

  function remember(wrapperMade: typeof made): typeof made {
    wrappersMade.set(key, wrapperMade);
    return wrapperMade;
  }
}
/** Wrappers this process made or found (hashing the fix's source again for every guest cost ~1 ms each). */
const wrappersMade = new Map<string, { path: string; preload?: string; noRandomize: boolean }>();

function kernelVersion(path: string): string {
  const mtimeMs = statSync(path).mtimeMs;
  const cached = versionCache.get(path);
  if (cached && cached.mtimeMs === mtimeMs) return cached.version;
  let out: string;
  try {
    // UML prints its version and exits without booting.
    out = execFileSync(path, ['--version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new EnvironmentError(`${path} --version failed: ${(err as Error).message.split('\n')[0]}`, `is ${path} a User-Mode Linux kernel? Reinstall with: ${UML_PACKAGES}`);
  }
  const version = out.trim().split(/\s+/).find((w) => /^\d+\.\d+/.test(w));
  if (!version) throw new EnvironmentError(`cannot read the kernel version from '${path} --version' (it printed: ${out.trim().slice(0, 80)})`);
  versionCache.set(path, { mtimeMs, version });
  return version;
}

/** Absolute path of a host tool, or an EnvironmentError with the command that installs it. */
export function requireTool(tool: HostTool, env: NodeJS.ProcessEnv = process.env): string {
  const found = whichTool(tool, env);
  if (!found) throw new EnvironmentError(`${tool} is not installed (vnetlab needs it)`, `install it with: ${HOST_TOOLS[tool]}`);
  return found;
}

/** Looks in PATH and in the sbin folders, which a non-root PATH often lacks (mkfs.ext4, debootstrap). */
export function whichTool(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  // The supervisor asks for the same few tools for every guest it boots (a PATH walk of ~10 folders
  // each): a tool found stays the answer while it is still there; one not found is looked for again.
  const key = `${name}\0${env.PATH ?? ''}`;
  const known = toolsFound.get(key);
  if (known && isExecutable(known)) return known;
  const dirs = [...(env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) {
      toolsFound.set(key, candidate);
      return candidate;
    }
  }
  toolsFound.delete(key);
  return undefined;
}
const toolsFound = new Map<string, string>();

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
