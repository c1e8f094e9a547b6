// The `tiny` root file system: Debian's static busybox and one symlink per applet (what
// `busybox --install -s` would do, but into a staging folder and without running anything as root).
import { execFileSync } from 'node:child_process';
import { closeSync, copyFileSync, chmodSync, mkdirSync, openSync, readSync, existsSync, symlinkSync, lstatSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EnvironmentError } from '../../errors.ts';
import { requireTool } from '../kernel.ts';
import { writeGuestFile, type Progress } from './common.ts';

export function stageBusyboxRoot(root: string, env: NodeJS.ProcessEnv, progress: Progress): void {
  const busybox = requireTool('busybox', env);
  if (!isStaticElf(busybox)) {
    throw new EnvironmentError(`${busybox} is linked dynamically; a guest needs the static busybox`, 'install it with: sudo apt-get install busybox-static');
  }
  progress(`installing ${busybox} and its applets`);
  mkdirSync(join(root, 'bin'), { recursive: true });
  copyFileSync(busybox, join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  const applets = execFileSync(join(root, 'bin/busybox'), ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const applet of applets) {
    const link = join(root, applet);
    if (exists(link)) continue;
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync('/bin/busybox', link);
  }

  writeGuestFile(root, 'etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  writeGuestFile(root, 'etc/shadow', 'root::19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n', 0o640);
  writeGuestFile(root, 'etc/group', 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n');
  writeGuestFile(root, 'etc/profile', [
    'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    "PS1='\\h:\\w\\$ '",
    '[ -r /run/vnetlab/env ] && while IFS= read -r line; do export "$line"; done < /run/vnetlab/env',
    '',
  ].join('\n'));
  writeGuestFile(root, 'etc/hosts', '127.0.0.1\tlocalhost\n');
  writeGuestFile(root, 'etc/resolv.conf', '');
  writeGuestFile(root, 'etc/fstab', '');
  // Name lookups of ports and protocols (nc, netstat, iptables-less tools) work with these two lines each.
  writeGuestFile(root, 'etc/protocols', 'ip\t0\tIP\nicmp\t1\tICMP\ntcp\t6\tTCP\nudp\t17\tUDP\nipv6-icmp\t58\tIPv6-ICMP\n');
  writeGuestFile(root, 'etc/services', 'ssh\t22/tcp\ndomain\t53/tcp\ndomain\t53/udp\nhttp\t80/tcp\nbootps\t67/udp\nbootpc\t68/udp\n');
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** True when an ELF file has no program interpreter (PT_INTERP), i.e. it runs without a libc. */
export function isStaticElf(path: string): boolean {
  if (!existsSync(path)) return false;
  const fd = openSync(path, 'r');
  try {
    const header = Buffer.alloc(64);
    readSync(fd, header, 0, 64, 0);
    if (header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2) return false; // ELF, 64-bit
    const phoff = Number(header.readBigUInt64LE(32));
    const phentsize = header.readUInt16LE(54);
    const phnum = header.readUInt16LE(56);
    const table = Buffer.alloc(phentsize * phnum);
    readSync(fd, table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) if (table.readUInt32LE(i * phentsize) === 3) return false; // PT_INTERP
    return true;
  } finally {
    closeSync(fd);
  }
}
