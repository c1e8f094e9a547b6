// The `debian` image on real UML: FRR, the Quagga compatibility of old labs (router r1 of the Netkit lab
// test/fixtures/netkit-rip, unchanged: Quagga configs, `/etc/init.d/quagga start`), the service shims,
// kernel modules.
// The debian image takes minutes to build, so it is used from the image cache; CI builds it in .ci/run.
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyWritable } from '../support/host.ts';
import { fixtureLab } from '../support/fixtures.ts';
import { ensureImage, imageStatus } from '../../src/main/images/build.ts';
import { nicArgs } from '../../src/main/compiler/nic.ts';
import { findKernel, kernelHasIptables } from '../../src/main/images/kernel.ts';
import { bootGuest, startSwitch, stopAllGuests, type TestGuest, type TestSwitch } from './guest-helper.ts';

// The shared image cache of the user running the tests (resolved before anything changes HOME).
const cacheEnv = { ...process.env };
const status = imageStatus('debian', { env: cacheEnv });
const wanted = process.env.VNETLAB_TEST_DEBIAN === '1';
const runIt = wanted || !status.staleReason;
const skipReason = `skipped: the debian image is ${status.staleReason}; build it with 'sudo npx vnetlab image build debian' (a few minutes) or run with VNETLAB_TEST_DEBIAN=1`;
const lab = fixtureLab('netkit-rip');

describe.skipIf(!runIt)(`debian image${runIt ? '' : ` (${skipReason})`}`, () => {
  const work = mkdtempSync(join(tmpdir(), 'vnl-deb-'));
  let guest: TestGuest;
  const switches: TestSwitch[] = [];

  beforeAll(async () => {
    const image = await ensureImage('debian', { env: cacheEnv });
    // The lab-fs as the runtime lays it out: the lab folder, and r1's folder to place onto /.
    const tree = join(work, 'labfs');
    copyWritable(lab, join(tree, 'lab'));
    mkdirSync(join(tree, 'machines/r1'), { recursive: true });
    copyWritable(join(lab, 'r1'), join(tree, 'machines/r1/root'));
    copyWritable(join(lab, 'r1.startup'), join(tree, 'machines/r1/startup'));
    const labFs = join(work, 'labfs.ext4');
    execFileSync('mkfs.ext4', ['-q', '-F', '-d', tree, labFs, '16M']);
    // r1[0]=A, r1[1]=B: two collision domains.
    for (const domain of ['A', 'B']) switches.push(startSwitch(join(work, `sw-${domain}`)));
    await new Promise((r) => setTimeout(r, 300)); // vde_switch creates its control socket
    guest = bootGuest({
      image,
      name: 'r1',
      memMiB: 128,
      labFs,
      // In the kernel's NIC syntax (ethN=vde on 6.1, vecN:transport=vde on 6.12/7.x: test:kernels).
      extraArgs: nicArgs(findKernel().nicSyntax, [
        { name: 'eth0', ctlDir: switches[0]!.dir, mac: '02:00:00:00:01:00' },
        { name: 'eth1', ctlDir: switches[1]!.dir, mac: '02:00:00:00:01:01' },
      ]),
    });
  });

  afterAll(async () => {
    await stopAllGuests();
    for (const s of switches) s.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('runs the lab startup (ifconfig …; /etc/init.d/quagga start) successfully', async () => {
    expect(await guest.waitReady(90_000)).toBe(0);
    const log = await guest.client.exec('cat /var/log/vnetlab-startup.log');
    // What Netkit's Quagga printed (Netkit test signatures recorded it); FRR's own messages go to a log.
    expect(log.stdout).toContain('Loading capability module if not yet done.\nStarting Quagga daemons (prio:10): zebra ripd.\n');
    expect((await guest.client.exec('cat /var/log/vnetlab-frr-start.log')).stdout).toContain('Started watchfrr');
  });

  it('runs FRR from the Quagga configs: zebra and ripd up, RIP on the lab networks', async () => {
    const version = await guest.client.exec("vtysh -c 'show version'");
    expect(version.exitCode).toBe(0);
    expect(version.stdout).toMatch(/FRRouting/);
    expect((await guest.client.exec('pidof zebra && pidof ripd')).exitCode).toBe(0);
    const rip = await guest.client.exec("vtysh -c 'show ip rip'");
    expect(rip.stdout).toMatch(/C\(i\)\s+10\.10\.1\.0\/24/);
    expect(rip.stdout).toMatch(/C\(i\)\s+10\.10\.12\.0\/30/);
    // The daemons file was translated: ripd on, the others off.
    const daemons = await guest.client.exec("grep -E '^(ripd|bgpd|ospfd)=' /etc/frr/daemons");
    expect(daemons.stdout.split('\n').filter(Boolean).sort()).toEqual(['bgpd=no', 'ospfd=no', 'ripd=yes']);
  });

  it('turns off the FRR-only BGP defaults in Quagga BGP configs', async () => {
    const r = await guest.client.exec(
      "printf 'router bgp 100\\n neighbor 10.0.0.2 remote-as 200\\n network 1.0.0.0/8\\r\\n' > /etc/quagga/bgpd.conf && vnetlab-quagga-to-frr && cat /etc/frr/bgpd.conf",
    );
    expect(r.stdout.split('\n').slice(0, 3)).toEqual(['router bgp 100', ' no bgp ebgp-requires-policy', ' no bgp network import-check']);
    expect(r.stdout).not.toContain('\r');
  });

  it('starts the classic services by their old names without systemd', async () => {
    const r = await guest.client.exec('/etc/init.d/bind9 start >/dev/null && pidof named >/dev/null && echo named-up; systemctl start apache2 >/dev/null 2>&1; curl -s -o /dev/null -w "%{http_code}\\n" http://127.0.0.1/; systemctl is-active apache2', { timeoutMs: 60_000 });
    expect(r.stdout.split('\n')).toEqual(['named-up', '200', 'active', '']);
  });

  it('starts BIND 9.11-era configs (dnssec-enable, dnssec-lookaside…) that 9.18 would refuse', async () => {
    // The Kathará dns lab ships such a named.conf.options; it must run unchanged.
    const r = await guest.client.exec(
      "/etc/init.d/named stop >/dev/null 2>&1; printf 'options {\\n\\tdirectory \"/var/cache/bind\";\\n\\tdnssec-enable yes;\\n    dnssec-lookaside auto;\\n};\\n' > /etc/bind/named.conf.options && " +
        'systemctl start bind9 >/dev/null 2>&1 && sleep 1 && pidof named >/dev/null && echo named-up; grep -c "^[[:space:]]*// vnetlab:" /etc/bind/named.conf.options',
      { timeoutMs: 60_000 },
    );
    expect(r.stdout.split('\n')).toEqual(['named-up', '2', '']);
  });

  it('has the kernel modules and tools labs rely on: bridge, 802.1Q, netem, IP forwarding, IPv6', async () => {
    const r = await guest.client.exec(
      'brctl addbr br0 && echo bridge; ip link add link eth1 name eth1.10 type vlan id 10 && echo vlan; tc qdisc add dev eth0 root netem delay 5ms && echo netem; cat /proc/sys/net/ipv4/ip_forward; test -d /proc/sys/net/ipv6 && echo ipv6',
      { timeoutMs: 30_000 },
    );
    expect(r.stdout.split('\n')).toEqual(['bridge', 'vlan', 'netem', '1', 'ipv6', '']);
  });

  // Debian's UML 7.x kernel is built without legacy x_tables and without nftables' ip family: no
  // iptables in its guests, whatever the image carries (kernels/README.md; kernels/custom-kernel has them).
  const iptables = kernelHasIptables(findKernel());
  it.skipIf(iptables === false)(`has iptables NAT (legacy backend)${iptables === false ? ` (skipped: kernel ${findKernel().version} has no iptable_nat, as Debian builds its UML 7.x)` : ''}`, async () => {
    const r = await guest.client.exec('iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE && echo nat', { timeoutMs: 30_000 });
    expect(r.stdout + r.stderr).toBe('nat\n');
  });

  it('has the commands older labs type', async () => {
    const tools = ['vim', 'ping6', 'telnet', 'vconfig', 'dhcrelay', 'dhclient', 'dhcpd', 'radvd', 'tcpdump', 'traceroute', 'dig', 'iperf3', 'nc', 'curl', 'ifconfig', 'route', 'arping', 'ethtool', 'sshd'];
    const r = await guest.client.exec(`for t in ${tools.join(' ')}; do command -v $t >/dev/null || echo "missing $t"; done; grep -q '^zebra[[:space:]]*2601/tcp' /etc/services && echo zebra-port; cat /etc/resolv.conf | wc -c`);
    expect(r.stdout).toBe('zebra-port\n0\n');
  });

  it('has no service running that the lab did not start', async () => {
    const r = await guest.client.exec('for d in sshd dhcpd radvd; do pidof $d && echo "$d is running"; done; true');
    expect(r.stdout).toBe('');
  });
});
