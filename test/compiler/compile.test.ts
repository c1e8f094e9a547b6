// The compiler on hand-built models: the exact argv of the guest contract, determinism, waves, MACs,
// socket-path limits and the lab-fs entries. Pure, so no guest is booted here (test/guest boots them).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile, formatPlanJson } from '../../src/main/compiler/index.ts';
import { MAX_SOCKET_PATH, VDE_PORT_SOCKET_SUFFIX } from '../../src/main/compiler/names.ts';
import { EnvironmentError } from '../../src/main/errors.ts';
import type { LabFsEntry, Plan } from '../../src/shared/plan.ts';
import { labIdFor } from '../../src/main/paths.ts';
import { FIXED_OPTIONS, at, domain, lab, machine } from './model.ts';
import { guestArgv } from '../../src/main/runtime/guest-argv.ts';

function entry(plan: Plan, dest: string): LabFsEntry | undefined {
  return plan.labFs.entries.find((e) => e.dest === dest);
}

function content(plan: Plan, dest: string): string {
  const e = entry(plan, dest);
  if (!e || !('content' in e)) throw new Error(`no literal entry ${dest}`);
  return e.content;
}

const twoHosts = () =>
  lab({
    machines: [machine('pc2', ['A']), machine('pc1', ['A', 'B'], { memoryMiB: 256 })],
    domains: [domain('B', { kind: 'switch' }), domain('A')],
  });

describe('compile', () => {
  it('emits the guest boot arguments of the contract; the launcher renders them in its order', () => {
    const plan = compile(twoHosts(), FIXED_OPTIONS);
    const pc1 = plan.guests.find((g) => g.name === 'pc1')!;
    const [mac0, mac1] = pc1.interfaces.map((i) => i.mac);
    expect(guestArgv(pc1)).toEqual([
      '/usr/bin/linux.uml',
      'umid=demo-0123abcd-pc1',
      'uml_dir=/run/vnetlab/test/uml',
      'mem=256M',
      'ubd0=/var/lib/vnetlab/labs/test/disks/pc1.cow,/var/cache/vnetlab/images/tiny.ext4',
      'ubd1r=/run/vnetlab/test/labfs.ext4',
      `eth0=vde,/run/vnetlab/test/c/pc1.eth0,${mac0}`,
      `eth1=vde,/run/vnetlab/test/c/pc1.eth1,${mac1}`,
      'initcall_blacklist=raid6_select_algo',
      'pty.legacy_count=0',
      'hostfs=/nonexistent/vnetlab-no-hostfs',
      'con0=fd:0,fd:1',
      'con=null',
      'ssl0=fd:3,fd:4',
      'ssl=null',
      'root=/dev/ubda',
      'rw',
      'init=/sbin/vnetlab-init',
      'vnl_name=pc1',
    ]);
    expect(pc1.mconsole).toBe('/run/vnetlab/test/uml/demo-0123abcd-pc1/mconsole');
    expect(pc1.execChannel).toEqual({ toGuest: '/run/vnetlab/test/guests/pc1/to-guest', fromGuest: '/run/vnetlab/test/guests/pc1/from-guest' });
    expect(plan.labFs.image).toBe('/run/vnetlab/test/labfs.ext4');
  });

  it('runs hubs with -x, switches without, never daemonised, with room for every port', () => {
    const many = Array.from({ length: 40 }, (_, i) => machine(`h${i}`, ['big']));
    const plan = compile(lab({ machines: [...many, machine('r', ['A', 'B'])], domains: [domain('A'), domain('B', { kind: 'switch' }), domain('big')] }), FIXED_OPTIONS);
    const [a, b, big] = plan.switches;
    expect(a!.argv).toEqual(['vde_switch', '-s', '/run/vnetlab/test/sw/A', '-M', '/run/vnetlab/test/sw/A.mgmt', '-n', '32', '-x']);
    expect(b!.argv).toEqual(['vde_switch', '-s', '/run/vnetlab/test/sw/B', '-M', '/run/vnetlab/test/sw/B.mgmt', '-n', '32']);
    expect(big!.argv).toContain('48');
    for (const s of plan.switches) expect(s.argv).not.toContain('-d');
  });

  it('gives a host-NAT domain a slirpvde with DHCP, and bridged machines a NIC on it', () => {
    const model = lab({
      format: 'kathara',
      machines: [machine('pc1', ['A']), machine('wireshark', [], { bridged: true }), machine('gw', ['A'], { bridged: true })],
      domains: [domain('A')],
    });
    const plan = compile(model, FIXED_OPTIONS);
    const nat = plan.switches.find((s) => s.hostNat)!;
    expect(nat.domain).toBe('host-nat');
    expect(nat.hostNat!.argv).toEqual(['slirpvde', '-s', nat.ctlDir, '-H', '10.0.2.2/24', '-D']);
    const gw = plan.guests.find((g) => g.name === 'gw')!;
    expect(gw.interfaces.map((i) => [i.name, i.domain])).toEqual([['eth0', 'A'], ['eth1', 'host-nat']]);
    expect(content(plan, '/machines/gw/interfaces')).toBe('eth0\neth1 10.0.2.100/24\n');
    expect(content(plan, '/machines/wireshark/interfaces')).toBe('eth0 10.0.2.101/24\n');
  });

  it('is deterministic: same bytes twice, whatever the order of machines, domains and interfaces', () => {
    const model = lab({
      machines: [machine('r1', ['A', 'B'], { dependsOn: ['pc1'] }), machine('pc1', ['A']), machine('pc2', ['B'])],
      domains: [domain('A'), domain('B')],
    });
    const first = formatPlanJson(compile(model, FIXED_OPTIONS));
    expect(formatPlanJson(compile(model, FIXED_OPTIONS))).toBe(first);
    const shuffled = {
      ...model,
      machines: [model.machines[2]!, { ...model.machines[0]!, interfaces: [...model.machines[0]!.interfaces].reverse() }, model.machines[1]!],
      domains: [...model.domains].reverse(),
    };
    expect(formatPlanJson(compile(shuffled, FIXED_OPTIONS))).toBe(first);
  });

  it('ignores canvas positions', () => {
    const model = twoHosts();
    const moved = { ...model, layout: { pc1: { x: 10, y: 20 }, A: { x: -5, y: 300 } } };
    expect(formatPlanJson(compile(moved, FIXED_OPTIONS))).toBe(formatPlanJson(compile(model, FIXED_OPTIONS)));
  });

  it('orders boots in dependency waves, sorted within a wave', () => {
    const model = lab({
      machines: [
        machine('web', [], { dependsOn: ['dns', 'router'] }),
        machine('dns', [], { dependsOn: ['router'] }),
        machine('router', []),
        machine('pc2', []),
        machine('pc1', [], { dependsOn: ['ghost'] }),
      ],
    });
    expect(compile(model, FIXED_OPTIONS).waves).toEqual([['pc1', 'pc2', 'router'], ['dns'], ['web']]);
  });

  it('still boots machines caught in a dependency cycle, last', () => {
    const model = lab({ machines: [machine('a', [], { dependsOn: ['b'] }), machine('b', [], { dependsOn: ['a'] }), machine('c', [])] });
    expect(compile(model, FIXED_OPTIONS).waves).toEqual([['c'], ['a', 'b']]);
  });

  it('derives MACs from names: stable, unicast, locally administered; a MAC the lab gives wins', () => {
    const model = lab({ machines: [machine('pc1', ['A', 'B'])], domains: [domain('A'), domain('B')] });
    model.machines[0]!.interfaces[1]!.mac = '00:00:00:00:00:B1';
    const [eth0, eth1] = compile(model, FIXED_OPTIONS).guests[0]!.interfaces;
    const expected = `02:${createHash('sha256').update('demo/pc1/eth0').digest('hex').slice(0, 10).match(/../g)!.join(':')}`;
    expect(eth0!.mac).toBe(expected);
    const firstOctet = parseInt(eth0!.mac.slice(0, 2), 16);
    expect(firstOctet & 1).toBe(0);
    expect(firstOctet & 2).toBe(2);
    expect(eth1!.mac).toBe('00:00:00:00:00:b1');
    // Another folder, another run dir: same MAC (it depends on names only).
    const elsewhere = compile({ ...model, root: '/home/student/copy' }, { ...FIXED_OPTIONS, runDir: '/tmp/x', labId: 'demo-ffffffff' });
    expect(elsewhere.guests[0]!.interfaces[0]!.mac).toBe(expected);
    // All MACs of a lab differ.
    const big = lab({ machines: Array.from({ length: 300 }, (_, i) => machine(`m${i}`, ['A', 'B', 'C'])) });
    const macs = compile(big, FIXED_OPTIONS).guests.flatMap((g) => g.interfaces.map((i) => i.mac));
    expect(new Set(macs).size).toBe(macs.length);
  });

  it('raises memory below the minimum a 6.1 UML kernel boots with', () => {
    const plan = compile(lab({ machines: [machine('old', [], { memoryMiB: 24 })] }), FIXED_OPTIONS);
    expect(plan.guests[0]!.memoryMiB).toBe(64);
    expect(guestArgv(plan.guests[0]!)).toContain('mem=64M');
  });

  describe('socket paths', () => {
    const longNames = lab({
      machines: [machine('a-machine-with-a-rather-long-descriptive-name', ['a-collision-domain-with-a-rather-long-descriptive-name'])],
    });
    const socketsOf = (plan: Plan) => [
      ...plan.switches.flatMap((s) => [`${s.ctlDir}/ctl`, `${s.ctlDir}${VDE_PORT_SOCKET_SUFFIX}`, s.mgmtSocket]),
      ...plan.guests.map((g) => g.mconsole),
    ];

    it.each([
      ['/tmp/vnetlab-0', 'tmp'],
      ['/dev/shm/vnetlab-run-4294967294', 'the tmpfs default, with the longest uid'],
      ['/run/user/1000/vnetlab', 'XDG_RUNTIME_DIR'],
      ['/tmp/vnetlab-compile-test-AbCdEf/runtime', 'a test temp dir'],
    ])('fit in sun_path under %s (%s), shortening long names', (root) => {
      const labId = labIdFor('/home/student/labs/a-lab-with-a-long-folder-name');
      const plan = compile(longNames, { ...FIXED_OPTIONS, runDir: `${root}/${labId}`, labId });
      for (const socket of socketsOf(plan)) expect(Buffer.byteLength(socket), socket).toBeLessThanOrEqual(MAX_SOCKET_PATH);
      expect(plan.guests[0]!.umid.length).toBeLessThanOrEqual(40);
    });

    it('keeps readable names when they fit', () => {
      const plan = compile(twoHosts(), { ...FIXED_OPTIONS, runDir: '/tmp/vnetlab-0/demo-0123abcd' });
      expect(plan.switches.map((s) => s.ctlDir)).toEqual(['/tmp/vnetlab-0/demo-0123abcd/sw/A', '/tmp/vnetlab-0/demo-0123abcd/sw/B']);
    });

    it('refuses a run dir too long for any socket, saying what to set', () => {
      const runDir = `/tmp/${'very-long-folder-name/'.repeat(5)}lab`;
      let error: unknown;
      try {
        compile(twoHosts(), { ...FIXED_OPTIONS, runDir });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(EnvironmentError);
      expect((error as EnvironmentError).message).toMatch(/too long for Unix sockets: .* bytes, the limit is 107/);
      expect((error as EnvironmentError).hint).toMatch(/VNETLAB_RUNTIME_DIR/);
    });
  });

  it('refuses host folders the kernel command line cannot carry', () => {
    expect(() => compile(twoHosts(), { ...FIXED_OPTIONS, stateDir: '/home/my user/state' })).toThrow(EnvironmentError);
    expect(() => compile(twoHosts(), { ...FIXED_OPTIONS, imageDir: 'relative/images' })).toThrow(/absolute path/);
  });

  it('gives odd machine and domain names a hashed, command-line-safe stand-in', () => {
    const plan = compile(lab({ machines: [machine('pc 1,x', ['dom/ain'])] }), FIXED_OPTIONS);
    const guest = plan.guests[0]!;
    expect(guest.name).toBe('pc 1,x');
    expect(guest.cow).toMatch(/\/disks\/m-[0-9a-f]{10}\.cow$/);
    expect(guestArgv(guest).at(-1)).toMatch(/^vnl_name=m-[0-9a-f]{10}$/);
    expect(plan.switches[0]!.ctlDir).toMatch(/\/sw\/d-[0-9a-f]{10}$/);
    for (const arg of guestArgv(guest)) expect(arg).not.toMatch(/\s/);
  });

  it('never lets one domain take the name of another domain\'s management socket', () => {
    const plan = compile(lab({ machines: [machine('pc1', ['lan', 'lan.mgmt'])] }), FIXED_OPTIONS);
    const paths = plan.switches.flatMap((s) => [s.ctlDir, s.mgmtSocket]);
    expect(new Set(paths).size).toBe(paths.length);
    expect(plan.switches.find((s) => s.domain === 'lan.mgmt')!.ctlDir).toMatch(/\/sw\/d-[0-9a-f]{10}$/);
  });
});

describe('lab-fs entries', () => {
  it('hold the lab folder, and per machine its startup driver with parts, interfaces, sysctls and env', () => {
    const model = lab({
      format: 'kathara',
      sharedStartup: { text: 'echo shared\r\n', source: at(1, 'shared.startup') },
      sharedShutdown: { text: 'echo bye', source: at(1, 'shared.shutdown') },
      machines: [
        machine('r1', ['A', 'B'], {
          startup: { text: 'ip route add default via 10.0.0.2\r\nexit 0\r\n', source: at(1, 'r1.startup') },
          shutdown: { text: 'echo r1 down\n', source: at(1, 'r1.shutdown') },
          exec: 'tail -f /dev/null',
          env: { ZED: 'last', ALPHA: '1' },
          ipv6: true,
          sysctls: { 'net.ipv4.ip_forward': '0' },
        }),
      ],
    });
    model.machines[0]!.interfaces[0]!.ipv4 = ['10.0.0.1/24'];
    model.machines[0]!.interfaces[0]!.ipv6 = ['2001:db8::1/64'];
    const plan = compile(model, FIXED_OPTIONS);
    expect(plan.labFs.entries.map((e) => e.dest)).toEqual([
      '/lab',
      '/machines/r1/env',
      '/machines/r1/exec',
      '/machines/r1/interfaces',
      '/machines/r1/shutdown',
      '/machines/r1/startup',
      '/machines/r1/sysctl',
    ]);
    expect(entry(plan, '/lab')).toEqual({ dest: '/lab', from: '/srv/labs/demo', kind: 'dir' });
    // Each part verbatim (CRLF → LF) in one single-quoted word, run in its own shell; order: shared first at startup, last at shutdown.
    const startup = content(plan, '/machines/r1/startup');
    expect(startup).toContain(`"$vnetlab_shell" -c 'ip route add default via 10.0.0.2\nexit 0\n' 'r1.startup' || vnetlab_status=$?\n`);
    expect(startup.indexOf("'shared.startup'")).toBeLessThan(startup.indexOf("'r1.startup'"));
    const shutdown = content(plan, '/machines/r1/shutdown');
    expect(shutdown.indexOf("'r1.shutdown'")).toBeLessThan(shutdown.indexOf("'shared.shutdown'"));
    expect(entry(plan, '/machines/r1/startup')!.mode).toBe(0o755);
    expect(content(plan, '/machines/r1/interfaces')).toBe('eth0 10.0.0.1/24 2001:db8::1/64\neth1\n');
    expect(content(plan, '/machines/r1/sysctl')).toBe('net.ipv4.ip_forward=0\n');
    expect(content(plan, '/machines/r1/env')).toBe('ALPHA=1\nZED=last\n');
    expect(content(plan, '/machines/r1/exec')).toBe('#!/bin/sh\ntail -f /dev/null\n');
  });

  it('take sysctls from the model only: the format a lab was read from changes nothing (the readers put defaults in the model)', () => {
    const sysctl = (format: 'kathara' | 'netkit' | 'vnetlab', sysctls: Record<string, string>) =>
      content(compile(lab({ format, machines: [machine('r', [], { sysctls })] }), FIXED_OPTIONS), '/machines/r/sysctl');
    for (const format of ['kathara', 'netkit', 'vnetlab'] as const) {
      expect(sysctl(format, {})).toBe('');
      expect(sysctl(format, { 'net.ipv4.ip_forward': '1' })).toBe('net.ipv4.ip_forward=1\n');
    }
  });

  it('place machine files under root/, later entries overriding earlier ones', () => {
    const model = lab({
      machines: [
        machine('pc1', [], {
          files: [
            { kind: 'dir', guestPath: '/', labPath: 'pc1', source: at(0) },
            { kind: 'file', guestPath: '/etc/motd', labPath: 'files/motd', mode: 0o600, source: at(3, 'lab.yaml') },
            { kind: 'inline', guestPath: '/etc/motd', content: 'hello\n', source: at(4, 'lab.yaml') },
          ],
        }),
      ],
    });
    const plan = compile(model, FIXED_OPTIONS);
    expect(entry(plan, '/machines/pc1/root')).toEqual({ dest: '/machines/pc1/root', from: '/srv/labs/demo/pc1', kind: 'dir' });
    expect(entry(plan, '/machines/pc1/root/etc/motd')).toEqual({ dest: '/machines/pc1/root/etc/motd', content: 'hello\n' });
  });

  it('refuse a lab path that leaves the lab folder, naming file:line', () => {
    const model = lab({ machines: [machine('pc1', [], { files: [{ kind: 'file', guestPath: '/etc/passwd', labPath: '../../etc/passwd', source: at(7, 'lab.yaml') }] })] });
    expect(() => compile(model, FIXED_OPTIONS)).toThrow(/^lab\.yaml:7:1: '..\/..\/etc\/passwd' is outside the lab folder/);
    const upward = lab({ machines: [machine('pc1', [], { files: [{ kind: 'inline', guestPath: '/../../x', content: '', source: at(9, 'lab.yaml') }] })] });
    expect(() => compile(upward, FIXED_OPTIONS)).toThrow(/lab\.yaml:9:1: guest path '\/..\/..\/x' must not contain '..'/);
  });

  it('give a machine without scripts no driver: its init then starts no shell for them', () => {
    const plan = compile(lab({ machines: [machine('pc1', [])] }), FIXED_OPTIONS);
    expect(entry(plan, '/machines/pc1/startup')).toBeUndefined();
    expect(entry(plan, '/machines/pc1/shutdown')).toBeUndefined();
    expect(entry(plan, '/machines/pc1/exec')).toBeUndefined();
    expect(entry(plan, '/machines/pc1/interfaces')).toBeDefined();
  });
});

describe('startup driver, run by real shells', () => {
  // The driver is POSIX sh: the debian image runs it with dash (and the parts with bash), the tiny
  // image with busybox ash and no bash at all. Only the test's own echo/exit lines run here.
  let busyboxOnly: string;
  beforeAll(() => {
    busyboxOnly = mkdtempSync(join(tmpdir(), 'vnetlab-busybox-'));
    for (const applet of ['sh', 'cat', 'echo', 'true']) symlinkSync('/usr/bin/busybox', join(busyboxOnly, applet));
  });
  afterAll(() => rmSync(busyboxOnly, { recursive: true, force: true }));

  const shells = [
    { name: 'dash, parts in bash (debian image)', argv: ['/usr/bin/dash'], path: () => process.env.PATH! },
    { name: 'busybox sh without bash (tiny image)', argv: ['/usr/bin/busybox', 'sh'], path: () => busyboxOnly },
  ].filter((shell) => existsSync(shell.argv[0]!));

  function startupOf(shared: string, own: string): string {
    const model = lab({
      sharedStartup: { text: shared, source: at(1, 'shared.startup') },
      machines: [machine('pc1', [], { startup: { text: own, source: at(1, 'pc1.startup') } })],
    });
    return content(compile(model, FIXED_OPTIONS), '/machines/pc1/startup');
  }

  function run(shell: (typeof shells)[number], script: string): { stdout: string; status: number } {
    const r = spawnSync(shell.argv[0]!, [...shell.argv.slice(1), '-c', script], { encoding: 'utf8', env: { PATH: shell.path() } });
    return { stdout: r.stdout, status: r.status ?? -1 };
  }

  it.each(shells)('runs every part in its own shell, even after an exit or a syntax error: $name', (shell) => {
    const result = run(shell, startupOf('echo shared $0\r\nexit 0\r\necho never', 'echo "own $0"\nVNETLAB_END_OF_PART\nif then fi\n'));
    // The own part holds a line equal to the default here-document end: the driver picks another.
    expect(result.stdout).toBe('shared shared.startup\nown pc1.startup\n');
    expect(result.status).not.toBe(0);
  });

  it.each(shells)('exits 0 when every part succeeds, with the last failure otherwise: $name', (shell) => {
    expect(run(shell, startupOf('true', 'echo ok')).status).toBe(0);
    expect(run(shell, startupOf('exit 3', 'true')).status).toBe(3);
  });

  it.each(shells)("carries quotes, backslashes and $ verbatim, and a lone part's own status: $name", (shell) => {
    const own = String.raw`printf '%s %s %s %s\n' 'it'"'"'s' "$0" 'back\slash' '$HOME'` + '\nexit 4\n';
    const model = lab({ machines: [machine('pc1', [], { startup: { text: own, source: at(1, 'pc1.startup') } })] });
    const result = run(shell, content(compile(model, FIXED_OPTIONS), '/machines/pc1/startup'));
    expect(result.stdout).toBe(String.raw`it's pc1.startup back\slash $HOME` + '\n');
    expect(result.status).toBe(4);
  });
});
