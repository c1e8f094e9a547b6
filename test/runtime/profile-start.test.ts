// `vnetlab start --profile` and `--json` timestamps, and the guest's early boot done by the agent
// (`vnetlab-agent --init`, the guest's PID 1) on real UML guests: what the shell init did with
// forks must still be there — hostname and /etc/hosts, /hostlab and /shared read-only, the machine's
// files on the first boot only, sysctls (the image's, then the lab's), env, CRLF scripts, addresses,
// the startup log, the shutdown script — and the profile says where the time went.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, type TestEnv } from './helpers.ts';

const LAB = `lab:
  name: prof
machines:
  a:
    image: tiny
    memory: 64
    sysctls: {net.ipv4.ip_forward: 1, net.ipv4.conf.all.accept_redirects: 0}
    env: {MODE: lab}
    files:
      - {path: /etc/motd-lab, source: motd.txt}
    interfaces:
      - {domain: lan, ipv4: 10.0.0.1/24}
      - {domain: lan2}
    startup: "echo started-a > /tmp/started\\r\\necho \\"mode=$MODE\\"\\r\\n"
    shutdown: "echo bye-from-a\\r\\n"
  b:
    image: tiny
    memory: 64
    interfaces:
      - {domain: lan, ipv4: 10.0.0.2/24}
domains:
  lan: {kind: hub}
  lan2: {kind: hub}
`;

describe('start --profile, --json timestamps and the agent-side early boot (real UML)', () => {
  let t: TestEnv;
  let lab: string;
  let events: Record<string, unknown>[];

  beforeAll(async () => {
    t = testEnv();
    lab = t.lab('prof', { 'lab.yaml': LAB, 'motd.txt': 'first version\n', 'shared/readme': 'shared!\n' });
    const started = await t.cli(['start', lab, '--json', '--profile']);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    events = started.stdout.trim().split('\n').map((line) => JSON.parse(line));
  });

  afterAll(async () => {
    await t?.dispose();
  });

  it('stamps every --json line with the ms since the command began, in order', () => {
    const times = events.map((e) => e.t);
    for (const time of times) expect(typeof time).toBe('number');
    expect([...(times as number[])].sort((x, y) => x - y)).toEqual(times);
    expect(events).toContainEqual(expect.objectContaining({ type: 'machine-state', machine: 'a', state: 'ready' }));
    expect(events.at(-1)).toMatchObject({ type: 'result', ok: true });
  });

  it('profiles the lab and each machine: spawn, kernel, the init phases, startup, ready', () => {
    const profile = events.find((e) => e.type === 'profile') as {
      lab: Record<string, number>;
      machines: { machine: string; phases: [string, number][]; total: number }[];
    };
    expect(profile).toBeDefined();
    expect(profile.lab.done).toBeGreaterThanOrEqual(profile.lab.supervisor!);
    expect(profile.machines.map((m) => m.machine).sort()).toEqual(['a', 'b']);
    for (const m of profile.machines) {
      const names = m.phases.map(([n]) => n);
      expect(names).toEqual(['wait', 'ports', 'spawn', 'kernel', 'kernel-fs', 'hostname', 'lab-fs', 'files', 'sysctl', 'links', 'interfaces', 'startup', 'ready']);
      for (const [, ms] of m.phases) expect(ms).toBeGreaterThanOrEqual(0);
      expect(m.total).toBeGreaterThan(0);
    }
  });

  it('prints the profile as a table without --json', async () => {
    const again = await t.cli(['start', lab, '--profile']);
    expect(again.code).toBe(0);
    // Already running: nothing booted, so only the lab line.
    expect(again.stdout).toMatch(/^profile \(ms since the command began\): planned \d+/m);
  });

  it('gives the guest its identity, lab files, sysctls, env and addresses as before', async () => {
    const r = await t.cli([
      'exec', '-l', lab, 'a', '--',
      'hostname; grep -c "127.0.1.1.a$" /etc/hosts; cat /etc/motd-lab; cat /shared/readme; ls /hostlab/lab.yaml;' +
        ' touch /hostlab/x 2>/dev/null && echo hostlab-writable; cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/all/accept_redirects;' +
        ' cat /tmp/started; cat /var/log/vnetlab-startup.log; ip -4 addr show dev eth0 | grep -o "10.0.0.1/24"; ip link show eth1 | grep -o "state [A-Z]*\\|UP"; echo "MODE=$MODE"',
    ]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('a');
    expect(lines[1]).toBe('1');
    expect(r.stdout).toContain('first version\nshared!\n/hostlab/lab.yaml\n');
    expect(r.stdout).not.toContain('hostlab-writable');
    expect(r.stdout).toContain('1\n0\nstarted-a\n');
    expect(r.stdout).toMatch(/=== startup \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \w+ \d{4} ===\nmode=lab\n=== startup exited 0 ===/);
    expect(r.stdout).toContain('10.0.0.1/24');
    expect(r.stdout).toContain('UP');
    expect(r.stdout).toContain('MODE=lab');
    const ping = await t.cli(['exec', '-l', lab, 'a', '--', 'ping -c 1 -W 2 10.0.0.2']);
    expect(ping.code).toBe(0);
  });

  it('places the machine files on the first boot only, and runs the shutdown script on stop', async () => {
    await t.cli(['exec', '-l', lab, 'a', '--', 'echo edited > /etc/motd-lab']);
    expect((await t.cli(['stop', lab, 'a'])).code).toBe(0);
    expect((await t.cli(['start', lab, 'a'])).code).toBe(0);
    const r = await t.cli(['exec', '-l', lab, 'a', '--', 'cat /etc/motd-lab; grep -c "startup exited" /var/log/vnetlab-startup.log; cat /var/log/vnetlab-shutdown.log']);
    expect(r.stdout).toContain('edited\n2\n');
    expect(r.stdout).toContain('bye-from-a');
  });
});
