// The `debian` root file system: `debootstrap --variant=minbase`, then the manifest's packages installed
// in a chroot (kernels/build/debian-chroot.sh), then vnetlab's service shims. Downloaded packages are
// kept in the image dir's build cache, so a rebuild (new init, new kernel) downloads nothing.
import { chmodSync, copyFileSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { EnvironmentError } from '../../errors.ts';
import { requireTool } from '../kernel.ts';
import { BUILD_SCRIPTS_DIR, GUEST_DIR, type ImageManifest } from '../manifest.ts';
import { run, writeGuestFile, type Progress } from './common.ts';

export async function stageDebianRoot(root: string, manifest: ImageManifest, options: { env: NodeJS.ProcessEnv; progress: Progress; cacheDir: string }): Promise<void> {
  const { env, progress, cacheDir } = options;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new EnvironmentError(`building the '${manifest.name}' image needs root (debootstrap and chroot)`, `run: sudo env "PATH=$PATH" npx vnetlab image build ${manifest.name}`);
  }
  const debootstrap = requireTool('debootstrap', env);
  const unshare = requireTool('unshare', env);
  requireTool('chroot', env);
  const debs = join(cacheDir, 'debs');
  const aptCache = join(cacheDir, 'apt');
  mkdirSync(debs, { recursive: true });
  mkdirSync(aptCache, { recursive: true });
  const childEnv = { ...env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' };
  const log = (line: string) => {
    if (/^(I:|E:|W:|apt-get|packages|Setting up|Get:|Unpacking)/.test(line)) progress(line.replace(/^I: /, 'debootstrap: '));
  };

  progress(`debootstrap ${manifest.variant} ${manifest.suite} from ${manifest.mirror} (packages cached in ${debs})`);
  await run(debootstrap, [`--variant=${manifest.variant}`, `--cache-dir=${debs}`, manifest.suite!, root, manifest.mirror!], { env: childEnv, onLine: log });

  progress(`installing ${manifest.packages.length} packages`);
  await run(unshare, ['--mount', '--propagation', 'private', 'sh', join(BUILD_SCRIPTS_DIR, 'debian-chroot.sh'), root, aptCache, ...manifest.packages], {
    env: childEnv,
    onLine: log,
  });

  progress('installing the service shims (systemctl, service, quagga on FRR, bind9)');
  const shims = join(GUEST_DIR, 'debian');
  for (const file of readdirSync(join(shims, 'sbin'))) install(join(shims, 'sbin', file), join(root, 'usr/local/sbin', file));
  for (const file of readdirSync(join(shims, 'init.d'))) install(join(shims, 'init.d', file), join(root, 'etc/init.d', file));
  symlinkSync('quagga', join(root, 'etc/init.d/zebra'));
  // Commands older labs type that bookworm names differently.
  symlinkSync('/usr/bin/vim.tiny', join(root, 'usr/local/bin/vim'));
  writeGuestFile(root, 'usr/local/bin/ping6', '#!/bin/sh\nexec ping -6 "$@"\n', 0o755);
  writeGuestFile(root, 'etc/fstab', '# vnetlab: the guest init mounts everything\n');
  writeGuestFile(root, 'etc/profile.d/vnetlab.sh', '[ -r /run/vnetlab/env ] && while IFS= read -r line; do export "$line"; done < /run/vnetlab/env\n');
  // Kathará devices forward IP packets; labs rely on it.
  writeGuestFile(root, 'etc/sysctl.d/90-vnetlab.conf', 'net.ipv4.ip_forward=1\nnet.ipv6.conf.all.forwarding=1\n');
}

function install(from: string, to: string): void {
  mkdirSync(join(to, '..'), { recursive: true });
  copyFileSync(from, to);
  chmodSync(to, 0o755);
}
