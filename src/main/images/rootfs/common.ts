// What every vnetlab image carries whatever its base: the guest init, the exec agent (compiled here,
// static, with the host's C compiler), the kernel's modules, and the folders the init expects.
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnvironmentError } from '../../errors.ts';
import { kernelHasIptables, requireTool, whichTool, type KernelInfo } from '../kernel.ts';
import { GUEST_DIR } from '../manifest.ts';

export type Progress = (message: string) => void;

/**
 * mkfs.ext4's extended options for an image: root owns its root folder, and the inode tables are zeroed
 * now, once, in the shared image. Left lazy (mkfs's default), every guest's kernel zeroes them itself in
 * the background after its boot (the `ext4lazyinit` thread): host CPU while a lab runs, and 8 MB of
 * zeros written into each guest's disk. kernels/build/debian-rootless-hook.sh passes the same.
 */
export const IMAGE_MKFS_EXTENDED = 'root_owner=0:0,lazy_itable_init=0';

/** Folders the init mounts on or writes to; created in every image so the init never has to guess. */
const GUEST_FOLDERS = ['proc', 'sys', 'dev', 'run', 'tmp', 'root', 'etc', 'hostlab', 'shared', 'var/log', 'var/lib/vnetlab', 'usr/sbin', 'sbin', 'lib/modules'];

export function installGuestFiles(root: string, kernel: KernelInfo, env: NodeJS.ProcessEnv, progress: Progress): void {
  for (const folder of GUEST_FOLDERS) mkdirSync(join(root, folder), { recursive: true });
  chmodSync(join(root, 'tmp'), 0o1777);
  chmodSync(join(root, 'root'), 0o700);

  // ip/ifconfig ahead of the real ones: MAC changes on an up NIC (see the shim for why).
  mkdirSync(join(root, 'usr/local/sbin'), { recursive: true });
  copyFileSync(join(GUEST_DIR, 'common/usr/local/sbin/vnetlab-mac-shim'), join(root, 'usr/local/sbin/vnetlab-mac-shim'));
  chmodSync(join(root, 'usr/local/sbin/vnetlab-mac-shim'), 0o755);
  for (const name of ['ip', 'ifconfig']) {
    rmSync(join(root, 'usr/local/sbin', name), { force: true });
    symlinkSync('vnetlab-mac-shim', join(root, 'usr/local/sbin', name));
  }

  progress('compiling the exec agent (cc -static)');
  compileAgent(join(root, 'usr/sbin/vnetlab-agent'), env);
  // The agent is the init (`init=/sbin/vnetlab-init`, kernels/guest/agent/vnetlab-agent.c): the kernel
  // execs it directly, where a shell script cost each boot a busybox and an exec more.
  rmSync(join(root, 'sbin/vnetlab-init'), { force: true });
  symlinkSync('/usr/sbin/vnetlab-agent', join(root, 'sbin/vnetlab-init'));

  if (kernel.modulesDir) {
    progress(`copying kernel modules ${kernel.version}`);
    const target = join(root, 'lib/modules', kernel.version);
    try {
      cpSync(kernel.modulesDir, target, { recursive: true, verbatimSymlinks: true });
    } catch (err) {
      throw new EnvironmentError(`cannot copy the kernel modules from ${kernel.modulesDir}: ${(err as Error).message}`, 'reinstall them: sudo apt-get install --reinstall user-mode-linux');
    }
    stripModules(target, env, progress);
    // Debian ships modules.dep with the modules; regenerate it when the host can, in case it was not.
    const depmod = whichTool('depmod', env);
    if (depmod) execFileSync(depmod, ['-b', root, kernel.version], { stdio: 'ignore' });
    else if (!existsSync(join(target, 'modules.dep'))) progress(`warning: no depmod on the host and no modules.dep in ${kernel.modulesDir}: modprobe will not find modules`);
    if (kernelHasIptables(kernel) === false) {
      progress(`warning: kernel ${kernel.version} has no iptables tables (no iptable_nat; Debian's UML 7.x is built without legacy x_tables and nftables' ip family): iptables will fail in guests; a kernel built with kernels/custom-kernel/vnetlab.config has them`);
    }
  } else {
    progress(`warning: no modules for kernel ${kernel.version} in /usr/lib/uml/modules: bridges, VLANs, netem and NAT will not work in guests`);
  }
}

/**
 * Debian's UML modules carry their debug info (105 MB, ipv6.ko 2.7 MB of which 0.7 MB is code and data).
 * A guest reads a whole module file to load it: through its disk, into its own page cache and a vmalloc
 * copy, all of it guest memory the host backs. Every guest loads ipv6 at boot, so the debug info costs
 * every guest ~2 MB and the time to read it. `strip --strip-debug` is what the kernel's own
 * `make modules_install INSTALL_MOD_STRIP=1` does; the modules are not signed (nothing to break).
 */
export function stripModules(dir: string, env: NodeJS.ProcessEnv, progress: Progress): void {
  const strip = whichTool('strip', env);
  if (!strip) {
    progress('note: no `strip` on the host (sudo apt-get install binutils): the kernel modules keep their debug info, and guests use more memory');
    return;
  }
  const modules: string[] = [];
  const walk = (folder: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(folder, entry.name));
      else if (entry.isFile() && entry.name.endsWith('.ko')) modules.push(join(folder, entry.name)); // .ko.xz/.zst: left as they are
    }
  };
  walk(dir);
  progress(`stripping the debug info of ${modules.length} kernel modules`);
  for (let i = 0; i < modules.length; i += 500) {
    try {
      execFileSync(strip, ['--strip-debug', ...modules.slice(i, i + 500)], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim().split('\n')[0];
      throw new EnvironmentError(`cannot strip the kernel modules copied into ${dir}: ${stderr || (err as Error).message}`, 'check that binutils works: strip --version');
    }
  }
}

export function compileAgent(output: string, env: NodeJS.ProcessEnv): void {
  const cc = requireTool('cc', env);
  try {
    execFileSync(cc, ['-static', '-O2', '-o', output, join(GUEST_DIR, 'agent/vnetlab-agent.c')], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '');
    throw new EnvironmentError(`cannot compile the guest agent: ${stderr.trim().split('\n').slice(-3).join(' / ') || (err as Error).message}`, 'a static C library is needed: sudo apt-get install gcc libc6-dev');
  }
}

/** Writes a file into the staging root, creating its folder. */
export function writeGuestFile(root: string, path: string, content: string, mode = 0o644): void {
  const target = join(root, path);
  mkdirSync(join(target, '..'), { recursive: true });
  writeFileSync(target, content, { mode });
  chmodSync(target, mode);
}

/** Runs a build step; its stderr becomes part of the error when it fails. */
export function run(cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv; onLine?: (line: string) => void } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { env: options.env, maxBuffer: 64 * 2 ** 20 }, (err, _stdout, stderr) => {
      if (err) reject(new EnvironmentError(`${cmd.split('/').pop()} failed: ${String(stderr).trim().split('\n').slice(-12).join('\n  ') || err.message}`));
      else resolve();
    });
    if (options.onLine) {
      let buffered = '';
      child.stdout?.on('data', (d: Buffer) => {
        buffered += d.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) options.onLine!(line);
      });
    }
  });
}
