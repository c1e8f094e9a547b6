// Netkit and Kathará lab folders started unchanged, on real UML, from the hand-written labs of
// test/fixtures/ (every clone has them; the external corpus gets the same treatment in corpus*.test.ts):
// MACs from a Kathará lab.conf and from startup files (`ip link set … address`, `ifconfig … hw ether`)
// end up on the NICs and in the neighbours' ARP caches, static routes added by hand route, a MAC changed
// by hand on a running NIC keeps its routes, machine folders land on /, and a BIND server with IPv6 off,
// shared/ and shared.startup answers on 32 MB. The first two run on `tiny` when the debian image is not
// built (their startup files only use ip, ifconfig and route, which busybox has; there, MAC changes on an
// up NIC fail as kernels/README.md says, so only the MACs the NICs boot with are checked); the DNS lab
// needs debian.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostPaths } from '../../src/main/paths.ts';
import { findRunDir } from '../../src/main/runtime/run-dir.ts';
import { debianForTests } from '../support/debian.ts';
import { fixtureLab } from '../support/fixtures.ts';
import { eventually, processesMentioning, testEnv, type TestEnv } from './helpers.ts';

const debian = debianForTests();

describe('Netkit and Kathará folders on real UML (test/fixtures)', () => {
  let t: TestEnv;
  beforeAll(() => {
    t = testEnv();
  });
  afterAll(async () => {
    await t?.dispose();
  });

  /** Starts a fixture lab as it is, on debian when it is ready, else on tiny (`onTiny`), else skipped by the caller. */
  async function start(lab: string, onTiny: boolean): Promise<void> {
    if (onTiny && !debian.run) t.env.VNETLAB_IMAGE_OVERRIDE = 'tiny';
    else delete t.env.VNETLAB_IMAGE_OVERRIDE;
    const run = await t.cli(['start', lab]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
  }
  const exec = async (lab: string, machine: string, command: string) => {
    const run = await t.cli(['exec', '-l', lab, machine, '--', command]);
    expect(run.code, `${machine}: ${command}\n${run.stdout}${run.stderr}`).toBe(0);
    return run.stdout;
  };
  const macOf = (lab: string, machine: string, dev: string) => exec(lab, machine, `cat /sys/class/net/${dev}/address`);
  /** The MAC a machine's ARP cache holds for an address (from /proc: same on busybox and Debian). */
  const arpEntry = async (lab: string, machine: string, address: string) => {
    const table = await exec(lab, machine, 'cat /proc/net/arp');
    return new RegExp(`^${address.replace(/\./g, '\\.')}\\s+\\S+\\s+\\S+\\s+(\\S+)`, 'm').exec(table)?.[1];
  };

  it(`Kathará static routing: lab.conf and startup MACs on the NICs, routes added by hand, a MAC changed by hand${debian.run ? '' : ' (on tiny, the debian image not being ready: no MAC changed by hand)'}`, async () => {
    const lab = fixtureLab('kathara-static-routing');
    await start(lab, true);
    // r1 and pc1 from lab.conf's "/MAC" suffixes; r2 and pc2 from `ip link set dev eth0 address …` (upper case) in their startup.
    expect(await macOf(lab, 'r1', 'eth0')).toBe('02:00:00:0a:00:01\n');
    expect(await macOf(lab, 'r1', 'eth1')).toBe('02:00:00:0b:00:01\n');
    expect(await macOf(lab, 'pc1', 'eth0')).toBe('02:00:00:0a:00:10\n');
    expect(await macOf(lab, 'r2', 'eth0')).toBe('02:00:00:0c:00:01\n');
    expect(await macOf(lab, 'pc2', 'eth0')).toBe('02:00:00:0c:00:20\n');
    // The startups' own commands succeeded (once: "SIOCSIFHWADDR: Device or resource busy"). Not on tiny,
    // where busybox's sh runs its ip applet without the MAC shim (kernels/README.md): the MAC is right there too.
    if (debian.run) for (const machine of ['r2', 'pc2']) expect(await exec(lab, machine, 'cat /var/log/vnetlab-startup.log')).not.toMatch(/busy|exited [1-9]/i);

    // The routes are the student's job: none yet, so pc2's LAN is unreachable from pc1.
    expect((await t.cli(['exec', '-l', lab, 'pc1', '--', 'ping -c 1 -W 1 10.3.0.20'])).code).not.toBe(0);
    await exec(lab, 'pc1', 'ip route add default via 10.1.0.1 dev eth0');
    await exec(lab, 'pc2', 'ip route add default via 10.3.0.1 dev eth0');
    await exec(lab, 'r1', 'ip route add 10.3.0.0/24 via 10.2.0.2 dev eth1');
    await exec(lab, 'r2', 'ip route add 10.1.0.0/24 via 10.2.0.1 dev eth1');
    await exec(lab, 'pc1', 'ping -c 2 -W 2 10.3.0.20');
    // ARP across the MACs the lab chose, on both LANs.
    expect(await arpEntry(lab, 'pc1', '10.1.0.1')).toBe('02:00:00:0a:00:01');
    expect(await arpEntry(lab, 'pc2', '10.3.0.1')).toBe('02:00:00:0c:00:01');
    expect(await arpEntry(lab, 'r2', '10.3.0.20')).toBe('02:00:00:0c:00:20');

    // A student changing a MAC by hand on a running NIC, both ways: it takes, and r1's route survives
    // (the debian image's MAC shim; tiny's busybox applets go around it, kernels/README.md).
    if (debian.run) {
      expect(await exec(lab, 'r1', 'ip link set dev eth1 address 02:00:00:00:00:09 && cat /sys/class/net/eth1/address && ip route show 10.3.0.0/24')).toMatch(
        /^02:00:00:00:00:09\n10\.3\.0\.0\/24 via 10\.2\.0\.2 dev eth1 ?\n$/,
      );
      expect(await exec(lab, 'r1', 'ifconfig eth1 hw ether 02:00:00:00:00:0a && cat /sys/class/net/eth1/address')).toBe('02:00:00:00:00:0a\n');
      expect(await exec(lab, 'pc1', 'ping -c 1 -W 3 10.3.0.20 >/dev/null && echo reached')).toBe('reached\n');
    }

    const runDir = findRunDir(lab, hostPaths(t.env))!;
    expect((await t.cli(['stop', lab])).code).toBe(0);
    expect(await eventually(() => processesMentioning(runDir), (p) => p.length === 0, 5_000)).toEqual([]);
  }, 240_000);

  it(`Netkit ARP: \`ifconfig … hw ether\` MACs on the NICs, routes from \`route add\`, a machine folder on /, lab.dep${debian.run ? '' : ' (on tiny: the debian image is not ready)'}`, async () => {
    const lab = fixtureLab('netkit-arp');
    await start(lab, true);
    expect(await macOf(lab, 'r1', 'eth0')).toBe('02:00:00:01:00:01\n');
    expect(await macOf(lab, 'r2', 'eth0')).toBe('02:00:00:02:00:01\n');
    expect(await macOf(lab, 'pc2', 'eth0')).toBe('02:00:00:02:00:10\n');
    if (debian.run) for (const machine of ['r1', 'r2', 'pc2']) expect(await exec(lab, machine, 'cat /var/log/vnetlab-startup.log')).not.toMatch(/busy|exited [1-9]/i);
    await exec(lab, 'pc1', 'ping -c 1 -W 3 192.168.2.10');
    await exec(lab, 'pc2', 'ping -c 1 -W 3 192.168.1.10');
    expect(await arpEntry(lab, 'pc1', '192.168.1.1')).toBe('02:00:00:01:00:01');
    expect(await arpEntry(lab, 'r2', '192.168.2.10')).toBe('02:00:00:02:00:10');
    // pc1/ is copied onto pc1's /.
    expect(await exec(lab, 'pc1', 'cat /etc/motd')).toBe(readFileSync(join(lab, 'pc1/etc/motd'), 'utf8'));
    // lab.dep: pc2 booted once r1 and r2 were ready (its uptime is the shortest of the three).
    const uptime = async (m: string) => Number((await exec(lab, m, 'cut -d" " -f1 /proc/uptime')).trim());
    const [pc2, r1, r2] = [await uptime('pc2'), await uptime('r1'), await uptime('r2')];
    expect(pc2).toBeLessThan(Math.min(r1, r2));
    expect((await t.cli(['stop', lab])).code).toBe(0);
  }, 240_000);

  it.skipIf(!debian.run)(`Kathará DNS: a BIND server with 9.11-era options, IPv6 off, 32 MB, shared/ and shared.startup${debian.skipNote}`, async () => {
    const lab = fixtureLab('kathara-dns');
    await start(lab, false);
    const status = await t.cli(['status', lab]);
    expect(status.stdout.match(/ ready /g), status.stdout).toHaveLength(2);
    // Straight to the server, and through pc1's resolv.conf (its machine folder): a CNAME, then its A.
    expect((await exec(lab, 'pc1', 'dig @10.53.0.1 lab.test SOA +short +time=3 +tries=3')).trim()).toBe('dns1.lab.test. admin.lab.test. 2024010101 3600 600 86400 300');
    expect(await exec(lab, 'pc1', 'dig www.lab.test A +short +time=3 +tries=3')).toBe('pc1.lab.test.\n10.53.0.10\n');
    // BIND 9.18 refuses dnssec-enable and dnssec-lookaside: `systemctl start bind9` commented them out.
    expect(await exec(lab, 'dns1', 'grep -c "^[[:space:]]*// vnetlab:" /etc/bind/named.conf.options')).toBe('2\n');
    for (const machine of ['dns1', 'pc1']) {
      // ipv6="false": no address at all, not even link-local or ::1.
      expect(await exec(lab, machine, 'cat /proc/net/if_inet6')).toBe('');
      // shared.startup ran before the machine's own, with shared/ at /shared.
      expect(await exec(lab, machine, 'cat /etc/motd')).toBe(readFileSync(join(lab, 'shared/motd'), 'utf8'));
    }
    expect((await t.cli(['stop', lab])).code).toBe(0);
  }, 240_000);
});
