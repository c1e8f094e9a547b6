// The `tiny` root file system: Debian's static busybox and one symlink per applet (what
// `busybox --install -s` would do, but into a staging folder and without running anything as root).
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, chmodSync, mkdirSync, openSync, readFileSync, readSync, existsSync, symlinkSync, lstatSync, writeFileSync } from 'node:fs';
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
  if (applets.some((a) => a.endsWith('/wget')) && !wgetHasTimeout(busybox)) {
    // Debian's busybox-static is built without FEATURE_WGET_TIMEOUT, yet its wget still accepts -T and
    // stores the number through a NULL pointer: `wget -T 2 …` died of SIGSEGV (exit 139). The guest's copy
    // takes -T and ignores it. (A script in PATH could not help: busybox sh runs its applets before PATH.)
    const copy = join(root, 'bin/busybox');
    const patched = ignoreWgetTimeoutOption(readFileSync(copy));
    if (patched) {
      progress('busybox wget: -T accepted and ignored (this busybox was built without wget timeouts)');
      writeFileSync(copy, patched);
    } else progress('busybox wget: its options are not the ones expected; `wget -T` may crash in this image');
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

/** Whether this busybox's wget was built with timeouts (its usage then lists `-T SEC`). */
export function wgetHasTimeout(busybox: string): boolean {
  const help = spawnSync(busybox, ['wget', '--help'], { encoding: 'utf8' });
  return /-T SEC/.test(`${help.stdout}${help.stderr}`);
}

/**
 * wget's getopt32 specification in the binary, `^cqSO:o:P:Y:U:T:+t:n::` then NUL and its complementary
 * part up to a second NUL. `T:+` stores a number through the pointer wget passes for -T: NULL when
 * timeouts are compiled out. Without the `+`, -T takes a string, and getopt32 skips storing a string
 * through NULL. The literal holds a NUL, so the compiler keeps it out of merged string sections: no other
 * string shares its bytes, and shifting its tail left by one (and ending it with one more NUL) is safe.
 * Returns the patched binary, or undefined when the specification is not found exactly once.
 */
export function ignoreWgetTimeoutOption(binary: Buffer): Buffer | undefined {
  const text = binary.toString('latin1');
  const found = [...text.matchAll(/\^cqSO:[^\0]*?T:\+[^\0]*\0[^\0]*\0/g)];
  if (found.length !== 1) return undefined;
  const start = found[0]!.index;
  const literal = found[0]![0];
  const plus = start + literal.indexOf('T:+') + 2;
  const end = start + literal.length;
  const out = Buffer.from(binary);
  binary.copy(out, plus, plus + 1, end);
  out[end - 1] = 0;
  return out;
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
