// IPv6 after the start, in a lab that never speaks of it (src/main/guest/ipv6-later.ts): the guests boot
// without the ipv6 module (~40 ms of host CPU each, while the other guests boot), and get it once the
// start is over, or at once for a command. A lab that speaks of IPv6 has it during its startup, as ever.
// On real UML guests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSupervisor, type SupervisorClient } from '../../src/main/runtime/client.ts';
import { testEnv, type TestEnv } from './helpers.ts';

describe('IPv6 after the start (real UML)', () => {
  let t: TestEnv;
  const clients: SupervisorClient[] = [];

  beforeAll(() => {
    t = testEnv();
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await t?.dispose();
  });

  async function started(name: string, files: Record<string, string>): Promise<SupervisorClient> {
    const lab = t.lab(name, files);
    const r = await t.cli(['start', lab]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const sup = (await connectSupervisor(lab, t.env))!;
    clients.push(sup);
    return sup;
  }

  it('an IPv4 lab: no IPv6 during the startup, then IPv6 by itself once the start is over, with link-local addresses and the Netkit forwarding default', async () => {
    const sup = await started('v4', {
      'lab.conf': 'pc1[0]=A\npc2[0]=A\n',
      'pc1.startup': 'ip addr add 10.0.0.1/24 dev eth0\nls /proc/sys/net > /tmp/at-startup\n(sleep 3; ls /proc/sys/net > /tmp/three-seconds-later) &\n',
      'pc2.startup': 'ip addr add 10.0.0.2/24 dev eth0\n',
    });
    await new Promise((r) => setTimeout(r, 3500));
    const pc1 = await sup.exec('pc1', 'tr "\\n" " " < /tmp/at-startup; echo; tr "\\n" " " < /tmp/three-seconds-later; echo; cat /proc/sys/net/ipv6/conf/all/forwarding');
    const [atStartup, later, forwarding] = pc1.stdout.split('\n');
    expect(atStartup).not.toMatch(/ipv6/);
    expect(later).toMatch(/\bipv6\b/); // loaded with no command asking for it
    expect(forwarding).toBe('1');
    const pc2 = await sup.exec('pc2', 'ip -6 addr show dev eth0 | grep -c "inet6 fe80"; ping6 -c1 -W5 ff02::1%eth0 | grep -c "bytes from"');
    expect(pc2.stdout.split('\n').slice(0, 2)).toEqual(['1', '1']);
  });

  it('a command right after the start finds IPv6: it goes after the `6` on the guest\'s channel', async () => {
    const sup = await started('v4-exec', { 'lab.conf': 'pc1[0]=A\npc2[0]=A\n' });
    // Ask at once: the command line goes after the `6` on the same channel.
    const r = await sup.exec('pc1', 'test -d /proc/sys/net/ipv6 && echo has-ipv6');
    expect(r.stdout).toBe('has-ipv6\n');
  });

  it('a lab that speaks of IPv6 has it during its startup', async () => {
    const sup = await started('v6', {
      'lab.conf': 'pc1[0]=A\npc2[0]=A\n',
      'pc1.startup': 'ip -6 addr add 2001:db8::1/64 dev eth0 && echo added > /tmp/v6-added\nls /proc/sys/net > /tmp/at-startup\n',
    });
    const r = await sup.exec('pc1', 'cat /tmp/v6-added; grep -c ipv6 /tmp/at-startup; test -e /run/vnetlab/labfs/ipv6-later || echo no-marker');
    expect(r.stdout).toBe('added\n1\nno-marker\n');
  });
});
