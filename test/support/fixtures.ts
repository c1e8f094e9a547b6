// The hand-written Netkit and Kathará labs of test/fixtures/: what the project proves about those
// formats, it proves on these (every clone has them; the external corpus is test/support/corpus.ts).
//
//   kathara-static-routing  Kathará dialect, runs on tiny or debian: pc1 — r1 — r2 — pc2 on hubs A, B, C, "/MAC"
//                           suffixes in lab.conf, MACs set by startup files with `ip link set … address`, the
//                           static routes left for the student (commented out)
//   kathara-options         reader only: LAB_* metadata, image aliases (kathara/base, kathara/frr), ipv6=false,
//                           a bridged machine with num_terms, a Docker-only `port`, an image vnetlab does not know
//   kathara-dns             a BIND server (9.11-era options 9.18 refuses) and a client, ipv6=false, 32m of memory,
//                           shared/ and shared.startup, machine folders
//   netkit-arp              Netkit dialect: `ifconfig … hw ether`, `route add`, lab.dep with a continuation line,
//                           [mem]=32, a machine folder, _test/ scripts and the signatures vnetlab recorded for them
//                           on the debian image (`vnetlab check test/fixtures/netkit-arp --ltest`)
//   netkit-rip              Netkit dialect with machines=, Quagga configs in machine folders (zebra + ripd, started
//                           by `/etc/init.d/quagga start` and `service quagga start`), a host with a folder, lab.dep
//   netkit-shared-files     Netkit dialect: shared/etc/hosts copied onto / of every machine (r1's own folder has its
//                           own), pc1/bin/tool and pc1/sbin/lab-route (merged /usr on debian), a file in pc2/proc/ that
//                           no guest can place
//   netkit-dns-root         Netkit dialect: a DNS tree with its own root (a root server, the server of lab., a
//                           recursive resolver with hints naming the lab's root), BIND 9 configs of that era started
//                           as /etc/init.d/bind and bind9, lab.dep
//   netkit-services         Netkit dialect: squid, exim4 + dovecot (IMAP), telnet through openbsd-inetd, snmpd and an
//                           OpenVPN tunnel whose static key comes from shared/, all started by their init scripts
//   kathara-lab-ext         reader only: lab.ext bridging a domain (and one lab.conf does not use) to host interfaces
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const FIXTURES = resolve(import.meta.dirname, '../fixtures');

export type FixtureLab = 'kathara-static-routing' | 'kathara-options' | 'kathara-dns' | 'kathara-lab-ext' | 'netkit-arp' | 'netkit-rip' | 'netkit-shared-files' | 'netkit-dns-root' | 'netkit-services';

/** The folder of a fixture lab (use it read-only; copy it with copyWritable to change it). */
export function fixtureLab(name: FixtureLab): string {
  return join(FIXTURES, name);
}

/** Every fixture lab folder. */
export function fixtureLabs(): string[] {
  return readdirSync(FIXTURES, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(FIXTURES, entry.name))
    .sort();
}
