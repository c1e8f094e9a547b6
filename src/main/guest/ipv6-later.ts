// Whether a lab's guests may get IPv6 after the lab's start rather than during their boot.
//
// IPv6 is a module in Debian's UML kernel, and loading it is ~40 ms of host CPU a guest: a fifth of a
// tiny guest's boot, spent while the lab's other machines still boot. A lab whose files never speak of
// IPv6 (most IPv4 teaching labs) does not need it before its machines are ready: the lab-fs then carries
// IPV6_LATER_FILE, the guest agent leaves the module out of the boot, and the supervisor sends `6` once
// the start is over, or at once for a machine someone uses (a command, a console). A daemon that opens
// an IPv6 socket meanwhile loads the module itself (the kernel's net-pf-10 alias). The scan errs towards
// IPv6 at boot: any file that might speak of it (a word, an address, `ip -6`) keeps the old behaviour.
import { lstat, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** At the lab-fs root: the agent reads it as /run/vnetlab/labfs/ipv6-later (kernels/guest/agent, boot_guest). */
export const IPV6_LATER_FILE = 'ipv6-later';

/**
 * What speaks of IPv6 in a lab's files: the words (ipv6, inet6, ip6tables, ping6, ospf6d, ripngd,
 * dhcpv6, radvd, fe80…), `ip -6`/`ping -6`, and addresses: `::` anywhere, or eight hex groups (a MAC has
 * six). False hits only cost the lab its early IPv6, as before.
 */
const SPEAKS_OF_IPV6 = /ipv6|inet6|ip6|icmp6|ping6|traceroute6|ospf6|ripng|dhcp6|dhcpv6|radvd|ndisc|fe80|(^|[^\w-])-6\b|::|\b([0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b/i;
/** A file bigger than this is not read (a capture, an image): it counts as speaking of IPv6. */
const MAX_FILE_BYTES = 4 * 1024 * 1024;
/** Past this much text, give up and keep IPv6 at boot. */
const MAX_TOTAL_BYTES = 64 * 1024 * 1024;

/** True when nothing under `folder` speaks of IPv6 (symlinks are not followed: the staged lab-fs has none). */
export async function ipv6CanWait(folder: string): Promise<boolean> {
  let total = 0;
  const walk = async (dir: string): Promise<boolean> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (SPEAKS_OF_IPV6.test(entry.name)) return false;
      if (entry.isDirectory()) {
        if (!(await walk(path))) return false;
      } else if (entry.isFile()) {
        const { size } = await lstat(path);
        total += size;
        if (size > MAX_FILE_BYTES || total > MAX_TOTAL_BYTES) return false;
        if (speaksOfIpv6(await readText(path))) return false;
      }
    }
    return true;
  };
  return walk(folder);
}

export function speaksOfIpv6(text: string): boolean {
  return SPEAKS_OF_IPV6.test(text);
}

async function readText(path: string): Promise<string> {
  const file = await open(path, 'r');
  try {
    return (await file.readFile()).toString('latin1');
  } finally {
    await file.close();
  }
}
