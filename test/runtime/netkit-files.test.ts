// Issue 24 on real UML guests, with Netkit-dialect labs the project wrote (test/fixtures/): a lab's
// shared/ folder copied onto / of every machine (shared/etc/hosts resolves everywhere, a machine's own
// folder still wins), machine-folder files under bin/ and sbin/ placed through the debian image's merged
// /usr, a file no guest can place reported as an error by `vnetlab start`, NICs that show their cable
// (`state UP`, `NO-CARRIER` once `vnetlab link --down` pulls it, also after a restart, and a NIC that
// `vnetlab apply` hot-plugs), and a BIND tree
// with its own root answering recursive queries on BIND 9.18.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { debianForTests } from '../support/debian.ts';
import { fixtureLab } from '../support/fixtures.ts';
import { waitUntil, testEnv, type TestEnv } from './helpers.ts';

const debian = debianForTests();

describe.skipIf(!debian.run)(`Netkit labs as Netkit ran them, on real UML (issue 24)${debian.skipNote}`, () => {
  let t: TestEnv;
  beforeAll(() => {
    t = testEnv();
  });
  afterAll(async () => {
    await t?.dispose();
  });

  const exec = async (lab: string, machine: string, command: string) => {
    const run = await t.cli(['exec', '-l', lab, machine, '--', command]);
    expect(run.code, `${machine}: ${command}\n${run.stdout}${run.stderr}`).toBe(0);
    return run.stdout;
  };

  it('shared/etc/hosts resolves on every machine, pc1/bin/tool runs as /bin/tool, a file in /proc is an error in start\'s output; carriers follow the cables', async () => {
    const lab = fixtureLab('netkit-shared-files');
    const start = await t.cli(['start', lab]);
    expect(start.code, start.stdout + start.stderr).toBe(0);
    // validate's warning, then the guest's own verdict, traced back to the lab file.
    expect(start.stderr).toMatch(/^pc2\/proc\/vnetlab-note: warning: pc2\/proc\/vnetlab-note cannot be placed at \/proc\/vnetlab-note on pc2/m);
    expect(start.stderr).toMatch(/^pc2\/proc\/vnetlab-note: error: pc2 could not place it at \/proc\/vnetlab-note \(.+\); the machine runs without it$/m);
    expect(start.stderr).not.toMatch(/error: (pc1|r1) could not place/);

    // shared/ onto /: the names of shared/etc/hosts resolve on pc1 and pc2; r1 has its own hosts file.
    const hosts = (machine: string, names: string) => exec(lab, machine, `getent hosts ${names} | tr -s ' '`);
    expect(await hosts('pc1', 'pc2 r1-a')).toBe('10.2.0.10 pc2\n10.1.0.1 r1-a\n');
    expect(await hosts('pc2', 'pc1')).toBe('10.1.0.10 pc1\n');
    expect(await hosts('r1', 'pc2')).toBe('10.2.0.10 pc2 pc2.from-r1\n');
    for (const machine of ['pc1', 'pc2', 'r1']) {
      expect(await exec(lab, machine, 'cat /shared-note.txt /shared/shared-note.txt')).toBe('This file came from shared/ of the lab.\n'.repeat(2));
      // Each machine's own name resolves too (the init adds it to a lab's hosts file, never rewrites it).
      expect(await exec(lab, machine, `getent hosts ${machine} >/dev/null && echo found`)).toBe('found\n');
    }
    // …across the router, by name.
    await exec(lab, 'pc1', 'ping -c 1 -W 3 pc2 >/dev/null');

    // bin/ and sbin/ through the merged-/usr links: /bin/tool is /usr/bin/tool, and pc1's startup ran sbin/lab-route.
    expect(await exec(lab, 'pc1', '/bin/tool')).toBe('tool from pc1/bin, run as /bin/tool\n');
    expect(await exec(lab, 'pc1', 'tool && readlink -f /bin/tool')).toBe('tool from pc1/bin, run as /usr/bin/tool\n/usr/bin/tool\n');
    expect(await exec(lab, 'pc1', 'ls -l /sbin/lab-route | cut -c1-10; ip route show default')).toBe('-rwxr-xr-x\ndefault via 10.1.0.1 dev eth0 \n');
    expect(await exec(lab, 'pc1', 'grep -c "cannot place" /var/log/vnetlab-startup.log || true')).toBe('0\n');
    expect(await exec(lab, 'pc2', 'cat /run/vnetlab/unplaced')).toMatch(/^\/run\/vnetlab\/labfs\/machines\/pc2\/root\/proc\/vnetlab-note\t\/proc\/vnetlab-note\t/);

    // Carrier: a plugged cable is `state UP` (not UNKNOWN), an unplugged one NO-CARRIER, in ip link and sysfs.
    const link = (machine: string, dev = 'eth0') => exec(lab, machine, `ip -o link show ${dev}; cat /sys/class/net/${dev}/operstate`);
    expect(await link('pc1')).toMatch(/<BROADCAST,MULTICAST,UP,LOWER_UP>.* state UP .*\nup\n$/);
    expect(await link('r1', 'eth1')).toMatch(/ state UP .*\nup\n$/);
    expect((await t.cli(['link', '-l', lab, 'pc1:eth0', '--down'])).code).toBe(0);
    expect(await link('pc1')).toMatch(/<NO-CARRIER,BROADCAST,MULTICAST,UP,LOWER_UP>.* state DORMANT .*\ndormant\n$/);
    expect(await link('r1')).toMatch(/ state UP /); // the other end of a hub keeps its own
    expect((await t.cli(['exec', '-l', lab, 'pc1', '--', 'ping -c 1 -W 1 10.1.0.1'])).code).not.toBe(0);
    // A machine restarted while its cable is out boots without carrier on it.
    expect((await t.cli(['restart', '-l', lab, 'pc1'])).code).toBe(0);
    expect(await link('pc1')).toMatch(/NO-CARRIER.* state DORMANT /);
    expect((await t.cli(['link', '-l', lab, 'pc1:eth0', '--up'])).code).toBe(0);
    expect(await link('pc1')).toMatch(/<BROADCAST,MULTICAST,UP,LOWER_UP>.* state UP .*\nup\n$/);
    // Files are placed once per disk: the restart did not place them again, nor rewrite the hosts file.
    expect(await hosts('pc1', 'pc2')).toBe('10.2.0.10 pc2\n');
    await waitUntil(() => t.cli(['exec', '-l', lab, 'pc1', '--', 'ping -c 1 -W 1 10.1.0.1']), (r) => r.code === 0, 10_000);
    expect((await t.cli(['stop', lab])).code).toBe(0);
  }, 300_000);

  it('a NIC hot-plugged by vnetlab apply comes up with its cable plugged (state UP), on tiny too', async () => {
    const lab = t.lab('hotplug', { 'lab.conf': 'pc1[0]=A\npc1[image]=tiny\npc2[0]=A\npc2[image]=tiny\n' });
    expect((await t.cli(['start', lab])).code).toBe(0);
    writeFileSync(join(lab, 'lab.conf'), 'pc1[0]=A\npc1[1]=B\npc1[image]=tiny\npc2[0]=A\npc2[image]=tiny\n');
    const applied = await t.cli(['apply', lab]);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    expect(applied.stderr).not.toMatch(/configuring the new eth1 failed/);
    expect(await exec(lab, 'pc1', 'cat /sys/class/net/eth0/operstate /sys/class/net/eth1/operstate')).toBe('up\nup\n');
    expect((await t.cli(['stop', lab])).code).toBe(0);
  }, 120_000);

  it('a BIND tree with its own root answers recursive queries (BIND 9.18 validation off, said in the startup log); with validation on it fails as the issue describes', async () => {
    const lab = fixtureLab('netkit-dns-root');
    const start = await t.cli(['start', lab]);
    expect(start.code, start.stdout + start.stderr).toBe(0);
    // Through the resolver of pc's resolv.conf: the lab's root delegates lab. to dnslab.
    expect(await exec(lab, 'pc', 'dig www.lab A +short +time=3 +tries=3')).toBe('10.0.0.80\n');
    expect(await exec(lab, 'pc', 'dig mail.lab A +short +time=3 +tries=3')).toBe('www.lab.\n10.0.0.80\n');
    expect(await exec(lab, 'pc', 'dig @10.0.0.3 lab NS +short')).toBe('dnslab.lab.\n');
    // What the startup logs say, and what the bind9 script changed.
    expect(await exec(lab, 'resolver', 'cat /var/log/vnetlab-startup.log')).toContain('bind9: the lab declares its own root zone (/etc/bind/named.conf:4 (zone "." type hint)): turned DNSSEC validation off in /etc/bind/named.conf.options (dnssec-validation no;)');
    expect(await exec(lab, 'resolver', 'grep -A1 "// vnetlab:" /etc/bind/named.conf.options')).toBe('\t// vnetlab: DNSSEC validation off: this lab has its own root zone\n\tdnssec-validation no;\n');
    expect(await exec(lab, 'rootns', 'cat /var/log/vnetlab-startup.log')).toMatch(/commented out options BIND 9\.18 refuses[\s\S]*added an options block|turned DNSSEC validation off in \/etc\/bind\/named\.conf/);
    // Without the change, BIND 9.18 validates against the real root's key and the lab's unsigned root fails.
    await exec(lab, 'resolver', "sed -i 's|dnssec-validation no;|dnssec-validation auto;|' /etc/bind/named.conf.options && /etc/init.d/named restart >/dev/null 2>&1");
    expect(await exec(lab, 'resolver', 'dig @127.0.0.1 www.lab A +time=3 +tries=2 | grep -o "status: [A-Z]*"')).toBe('status: SERVFAIL\n');
    // Started again the way labs start it, the script turns it off again.
    expect(await exec(lab, 'resolver', '/etc/init.d/bind9 restart 2>&1 >/dev/null')).toContain('turned DNSSEC validation off in /etc/bind/named.conf.options');
    expect(await exec(lab, 'resolver', 'grep "dnssec-validation" /etc/bind/named.conf.options')).toBe('\tdnssec-validation no; // vnetlab: DNSSEC validation off: this lab has its own root zone (was: dnssec-validation auto;)\n');
    expect(await exec(lab, 'resolver', 'dig @127.0.0.1 www.lab A +short +time=3 +tries=3')).toBe('10.0.0.80\n');
    expect((await t.cli(['stop', lab])).code).toBe(0);
  }, 300_000);
});
