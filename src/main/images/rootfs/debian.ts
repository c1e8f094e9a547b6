// The `debian` root file system: `debootstrap --variant=minbase`, then the manifest's packages installed
// in a chroot (kernels/build/debian-chroot.sh), then vnetlab's service shims. Downloaded packages are
// kept in the image dir's build cache, so a rebuild (new init, new kernel) downloads nothing.
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { EnvironmentError } from '../../errors.ts';
import { requireTool, whichTool } from '../kernel.ts';
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

  stageDebianShims(root, progress);
}

/** vnetlab's service shims and small adaptations of a Debian root (or of the overlay of a rootless build). */
export function stageDebianShims(root: string, progress: Progress): void {
  progress('installing the service shims (systemctl, service, quagga on FRR, bind9, old init script names)');
  mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
  const shims = join(GUEST_DIR, 'debian');
  for (const file of readdirSync(join(shims, 'sbin'))) install(join(shims, 'sbin', file), join(root, 'usr/local/sbin', file));
  for (const file of readdirSync(join(shims, 'init.d'))) install(join(shims, 'init.d', file), join(root, 'etc/init.d', file));
  symlinkSync('quagga', join(root, 'etc/init.d/zebra'));
  // Init scripts under the names older (Netkit-era) labs call them.
  for (const [old, now] of [['bind', 'bind9'], ['squid3', 'squid'], ['inetd', 'openbsd-inetd'], ['dovecot-imapd', 'dovecot']] as const) {
    if (existsSync(join(root, 'etc/init.d', now)) && !existsSync(join(root, 'etc/init.d', old))) symlinkSync(now, join(root, 'etc/init.d', old));
  }
  // Commands older labs type that bookworm names differently.
  symlinkSync('/usr/bin/vim.tiny', join(root, 'usr/local/bin/vim'));
  writeGuestFile(root, 'usr/local/bin/ping6', '#!/bin/sh\nexec ping -6 "$@"\n', 0o755);
  writeGuestFile(root, 'etc/fstab', '# vnetlab: the guest init mounts everything\n');
  writeGuestFile(root, 'etc/profile.d/vnetlab.sh', '[ -r /run/vnetlab/env ] && while IFS= read -r line; do export "$line"; done < /run/vnetlab/env\n');
  // Kathará devices forward IP packets; labs rely on it.
  writeGuestFile(root, 'etc/sysctl.d/90-vnetlab.conf', 'net.ipv4.ip_forward=1\nnet.ipv6.conf.all.forwarding=1\n');
}

/** What a normal user needs for a rootless build; the EnvironmentError names the missing piece and its fix. */
export function checkRootlessBuild(env: NodeJS.ProcessEnv): string {
  const mmdebstrap = whichTool('mmdebstrap', env);
  if (!mmdebstrap || !whichTool('newuidmap', env)) {
    throw new EnvironmentError('building the debian image without root needs mmdebstrap and newuidmap', 'install them once: sudo apt-get install mmdebstrap uidmap (or build as root: sudo env "PATH=$PATH" npx vnetlab image build debian, or import an exported image: vnetlab image import FILE)');
  }
  const { username, uid } = userInfo();
  const ranges = (file: string) => {
    try {
      return readFileSync(file, 'utf8').split('\n').some((line) => line.startsWith(`${username}:`) || line.startsWith(`${uid}:`));
    } catch {
      return false;
    }
  };
  if (!ranges('/etc/subuid') || !ranges('/etc/subgid')) {
    throw new EnvironmentError(`building the debian image without root needs subordinate user and group ids for '${username}' (/etc/subuid, /etc/subgid), and there are none`, `add them once: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${username}`);
  }
  const probe = spawnSync('unshare', ['--user', '--map-root-user', 'true'], { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (probe.status !== 0) {
    throw new EnvironmentError(`building the debian image without root needs user namespaces, and this system refuses them (${(probe.stderr || `unshare exited ${probe.status}`).trim().split('\n')[0]})`, 'enable them (Debian: sudo sysctl -w kernel.unprivileged_userns_clone=1; Ubuntu 24.04+: an AppArmor profile for mmdebstrap, or sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0), or import an exported image: vnetlab image import FILE');
  }
  return mmdebstrap;
}

/**
 * The debian image without root: mmdebstrap --mode=unshare installs the same packages as the root build
 * (minbase, merged /usr as debootstrap does it, the manifest's packages without recommends, no
 * documentation, no service started) inside a user namespace mapped onto the user's subordinate ids;
 * then, in the same mapping (mmdebstrap --unshare-helper), kernels/build/debian-rootless-hook.sh finishes
 * the root, lays `overlay` (init, agent, modules, shims, staged by the caller as the user) over it and
 * writes the ext4 image. Device nodes cannot be made in a user namespace: they are added to the image
 * afterwards with debugfs, as the root build has them.
 */
export async function buildDebianImageRootless(manifest: ImageManifest, options: { overlay: string; image: string; mkfs: string; sizeArg: string; label: string; staging: string; cacheDir: string; env: NodeJS.ProcessEnv; progress: Progress }): Promise<void> {
  const { env, progress } = options;
  const mmdebstrap = checkRootlessBuild(env);
  const debugfs = whichTool('debugfs', env);
  if (!debugfs) throw new EnvironmentError('debugfs is not installed (vnetlab needs it to build images without root)', 'install it with: sudo apt-get install e2fsprogs');
  const cache = join(options.cacheDir, 'mmdebstrap');
  mkdirSync(cache, { recursive: true });
  // A normal user's PATH on Debian has no sbin, where chroot and mkfs live: the build's hooks need them.
  const childEnv = { ...env, LC_ALL: 'C', TMPDIR: options.staging, PATH: `${env.PATH ?? '/usr/bin:/bin'}:/usr/local/sbin:/usr/sbin:/sbin` };
  const onLine = (line: string) => {
    if (/^(I:|E:|W:|writing|root finished)/.test(line)) progress(line.replace(/^I: /, 'mmdebstrap: '));
  };
  // What the namespace's root (a subordinate id, not the user) must reach: the staging folder (traverse
  // only), the overlay as a tar owned by root (readable), the image file (writable while mkfs runs).
  const overlayTar = join(options.staging, 'overlay.tar');
  await run('tar', ['-C', options.overlay, '--owner=0', '--group=0', '--numeric-owner', '--exclude=./lib', '--exclude=./sbin', '--exclude=./bin', '-cf', overlayTar, '.']);
  chmodSync(overlayTar, 0o644);
  chmodSync(options.staging, 0o711);
  closeSync(openSync(options.image, 'w', 0o666));
  chmodSync(options.image, 0o666);
  const rootfs = join(options.staging, 'rootfs');
  const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
  const args = [
    '--mode=unshare',
    `--variant=${manifest.variant}`,
    '--format=directory',
    `--include=${manifest.packages.join(',')}`,
    '--aptopt=Apt::Install-Recommends "false"',
    // /bin, /sbin, /lib as symlinks into /usr, set up before anything is unpacked, as debootstrap does.
    '--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr',
    '--skip=download/empty',
    `--setup-hook=mkdir -p "$1/etc/dpkg/dpkg.cfg.d" "$1/var/cache/apt/archives" && cp ${q(join(BUILD_SCRIPTS_DIR, '01-vnetlab-nodoc'))} "$1/etc/dpkg/dpkg.cfg.d/"`,
    `--setup-hook=sync-in ${cache} /var/cache/apt/archives/`,
    `--essential-hook=printf '#!/bin/sh\nexit 101\n' > "$1/usr/sbin/policy-rc.d" && chmod 755 "$1/usr/sbin/policy-rc.d"`,
    `--customize-hook=sync-out /var/cache/apt/archives ${cache}`,
    manifest.suite!,
    rootfs,
    manifest.mirror!,
  ];
  progress(`mmdebstrap --mode=unshare ${manifest.variant} ${manifest.suite} with ${manifest.packages.length} packages, no root (packages cached in ${cache})`);
  try {
    await run(mmdebstrap, args, { env: childEnv, onLine });
    await run(mmdebstrap, ['--unshare-helper', 'sh', join(BUILD_SCRIPTS_DIR, 'debian-rootless-hook.sh'), rootfs, overlayTar, options.image, options.mkfs, options.sizeArg, options.label], { env: childEnv, onLine });
  } finally {
    chmodSync(options.image, 0o644);
    chmodSync(options.staging, 0o700);
    // Whatever is left of the root belongs to subordinate ids: only the namespace can delete it.
    if (existsSync(rootfs)) spawnSync(mmdebstrap, ['--unshare-helper', 'find', rootfs, '-mindepth', '1', '-delete'], { env: childEnv, stdio: 'ignore' });
  }
  progress('adding the device nodes (debugfs)');
  const nodes: [string, number, number][] = [['console', 5, 1], ['full', 1, 7], ['null', 1, 3], ['ptmx', 5, 2], ['random', 1, 8], ['tty', 5, 0], ['urandom', 1, 9], ['zero', 1, 5]];
  // debugfs's mknod takes a name in the current directory, not a path.
  const script = [
    'cd /dev',
    ...nodes.flatMap(([name, major, minor]) => [`rm ${name}`, `mknod ${name} c ${major} ${minor}`, `sif ${name} mode 020666`]),
    // What debootstrap also leaves in /dev (the guest mounts devtmpfs over it anyway).
    'mkdir pts', 'mkdir shm', 'symlink fd /proc/self/fd', 'symlink stdin /proc/self/fd/0', 'symlink stdout /proc/self/fd/1', 'symlink stderr /proc/self/fd/2',
  ].join('\n');
  const cmds = join(options.staging, 'debugfs.cmds');
  writeFileSync(cmds, `${script}\n`);
  await run(debugfs, ['-w', '-f', cmds, options.image]);
}

function install(from: string, to: string): void {
  mkdirSync(join(to, '..'), { recursive: true });
  copyFileSync(from, to);
  chmodSync(to, 0o755);
}
