// Which labs let their guests' IPv6 wait for the end of the start (src/main/guest/ipv6-later.ts): only
// those whose files say nothing that might be IPv6. A false "speaks of IPv6" costs a little time; a false
// "says nothing" would break a lab, so the cases below lean on what real labs write.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ipv6CanWait, speaksOfIpv6 } from '../../src/main/guest/ipv6-later.ts';

describe('speaksOfIpv6', () => {
  it.each([
    ['ip -6 addr add 2001:db8::1/64 dev eth0'],
    ['ip -6 route add default via fe80::1 dev eth0'],
    ['ping6 -c1 ff02::1%eth0'],
    ['ping -6 r1'],
    ['sysctl -w net.ipv6.conf.all.forwarding=1'],
    ['ip6tables -A INPUT -j DROP'],
    ['router ospf6\n ospf6 router-id 1.1.1.1'],
    ['router ripng'],
    ['ipv6 address 2001:db8:1::1/64'],
    ['iface eth0 inet6 static'],
    ['::1 localhost ip6-localhost'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001'],
    ['radvd -C /etc/radvd.conf'],
    ['r1[ipv6]="true"'],
    ['    inet6 fe80::a8c1:abff:fe11:2233/64 scope link'],
  ])('%s', (text) => expect(speaksOfIpv6(text)).toBe(true));

  it.each([
    ['ip addr add 10.0.0.1/24 dev eth0\nroute add default gw 10.0.0.254'],
    ['ifconfig eth0 hw ether 02:00:00:00:00:01 up'], // a MAC is six groups, not an address
    ['pc1[0]=A\npc1[1]=B\nr1[mem]=128'],
    ['router ospf\n network 10.0.0.0/8 area 0'],
    ['iptables -t nat -A POSTROUTING -o eth1 -j MASQUERADE'],
    ['echo "metric 6"; sleep 6'],
  ])('%s', (text) => expect(speaksOfIpv6(text)).toBe(false));
});

describe('ipv6CanWait', () => {
  const work = mkdtempSync(join(tmpdir(), 'vnl-ipv6-later-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const folder = (name: string, files: Record<string, string>) => {
    const root = join(work, name);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(root, path, '..'), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return root;
  };

  it('an IPv4 Netkit lab can wait', async () => {
    const lab = folder('v4', { 'lab.conf': 'pc1[0]=A\nr1[0]=A\n', 'pc1.startup': 'ip addr add 10.0.0.1/24 dev eth0\n', 'r1/etc/frr/frr.conf': 'router ospf\n network 10.0.0.0/24 area 0\n' });
    expect(await ipv6CanWait(lab)).toBe(true);
  });

  it('a lab that speaks of IPv6 anywhere, even deep in a machine folder, cannot', async () => {
    const lab = folder('v6', { 'lab.conf': 'pc1[0]=A\nr1[0]=A\n', 'pc1.startup': 'ip addr add 10.0.0.1/24 dev eth0\n', 'r1/etc/frr/frr.conf': 'router ospf6\n' });
    expect(await ipv6CanWait(lab)).toBe(false);
  });

  it('a file whose name speaks of IPv6 counts (a script run by name), and so does a file too big to read', async () => {
    expect(await ipv6CanWait(folder('named', { 'lab.conf': 'pc1[0]=A\n', 'shared/setup-ipv6.sh': 'true\n' }))).toBe(false);
    expect(await ipv6CanWait(folder('big', { 'lab.conf': 'pc1[0]=A\n', 'capture.bin': 'x'.repeat(5 * 1024 * 1024) }))).toBe(false);
  });
});
