// The agent's own netlink and module work on a real UML guest (kernels/guest/agent/vnetlab-agent.c,
// add_lab_addresses, load_ipv6, halt_guest): lab.yaml addresses land as `ip addr add` put them, a
// refused address is said on the console and in the startup log while the boot goes on, and a stop
// through the agent still runs the lab's shutdown and keeps what was written.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, type TestEnv } from './helpers.ts';

const LAB = `lab:
  name: addrs
machines:
  a:
    image: tiny
    memory: 64
    sysctls: {net.ipv6.conf.eth1.disable_ipv6: 1}
    interfaces:
      - {domain: lan, ipv4: 10.0.0.1/24, ipv6: 2001:db8::1/64}
      - {domain: lan2, ipv4: 10.0.2.1/24, ipv6: 2001:db8:2::1/64}
    shutdown: "echo bye > /root/bye"
  b:
    image: tiny
    memory: 64
    interfaces:
      - {domain: lan, ipv6: 2001:db8::2/64}
domains:
  lan: {kind: hub}
  lan2: {kind: hub}
`;

describe('lab addresses, IPv6 and the halt, done by the guest agent (real UML)', () => {
  let t: TestEnv;
  let lab: string;
  const sh = async (machine: string, command: string) => (await t.cli(['exec', '-l', lab, machine, '--', command])).stdout;

  beforeAll(async () => {
    t = testEnv();
    lab = t.lab('addrs', { 'lab.yaml': LAB });
    const started = await t.cli(['start', lab]);
    expect(started.code).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await t?.dispose();
  });

  it('puts every address on its NIC as `ip addr add` would (no broadcast asked, scope global)', async () => {
    const eth0 = await sh('a', 'ip addr show dev eth0');
    expect(eth0).toMatch(/inet 10\.0\.0\.1\/24 scope global eth0/);
    expect(eth0).toMatch(/inet6 2001:db8::1\/64 scope global/);
    expect(await sh('a', 'ip -4 addr show dev eth1')).toMatch(/inet 10\.0\.2\.1\/24 scope global eth1/);
    // IPv6 came up as a module, with neighbour discovery working across the hub (once duplicate address
    // detection has let the fresh addresses go: one echo a second for up to 10 s).
    expect(await sh('a', 'grep -c "^ipv6 " /proc/modules')).toBe('1\n');
    const ping = 'for i in 1 2 3 4 5 6 7 8 9 10; do ping -c 1 -W 1 2001:db8::1 >/dev/null && exit 0; done; exit 1';
    expect((await t.cli(['exec', '-l', lab, 'b', '--', ping])).code).toBe(0);
  });

  it('says which address the kernel refused, and why, and the guest is ready all the same', async () => {
    const log = await sh('a', 'cat /var/log/vnetlab-startup.log');
    expect(log).toContain('ip addr add 2001:db8:2::1/64 dev eth1: Permission denied');
    expect(await sh('a', 'ip -6 addr show dev eth1')).not.toContain('2001:db8:2::1');
  });

  it('stops through the agent: the shutdown script runs, and what was written is on the disk at the next start', async () => {
    await sh('a', 'echo kept > /root/note');
    expect((await t.cli(['stop', lab, 'a'])).code).toBe(0);
    expect((await t.cli(['start', lab, 'a'])).code).toBe(0);
    expect(await sh('a', 'cat /root/note /root/bye')).toBe('kept\nbye\n');
  }, 120_000);
});
