// Hidden checks against a hostile student (issue 18), on real UML guests (tiny image), through the real
// service, supervisor and exec channel:
// - checks run with the lab-fs tool set: a /bin/sh wrapper and a fake `ip`/`ping` planted by the
//   student's own startup neither see a check (their log stays empty) nor change its result;
// - a `capture` check sees on the cable what the student's script really sent: it passes when the
//   script pings, fails when the script only prints a ping's output (which fools a `command` check);
// - a grader machine (`grader: true`) runs checks, and the student's console and exec on it are refused.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckResult } from '../../src/shared/checks.ts';
import { gradeLab } from '../../src/main/check/grade.ts';
import { hostPaths } from '../../src/main/paths.ts';
import { connectSupervisor, type SupervisorClient } from '../../src/main/runtime/client.ts';
import { cleanRunDir } from '../../src/main/runtime/clean.ts';
import { listRunDirs } from '../../src/main/runtime/run-dir.ts';
import { realBackends } from '../../src/main/service/real-backends.ts';
import { Service, type ClientSession } from '../../src/main/service/service.ts';
import { isolatedHost, type IsolatedHost } from '../support/host.ts';

// The student's startup on pc1: everything a hostile student would plant to watch and fool the grader.
const PLANT = `
cat > /root/trap <<'EOF'
#!/bin/busybox ash
echo "$(basename "$0") $*" >> /var/log/trap.log
case "$(basename "$0")" in
  sh) exec /bin/busybox ash "$@" ;;
  ping) echo "PING $*"; echo "64 bytes from 10.0.1.99: seq=0 ttl=64 time=0.1 ms"; echo "1 packets transmitted, 1 packets received, 0% packet loss"; exit 0 ;;
  ip) echo "default via 6.6.6.6 dev eth0"; echo "10.9.9.0/24 dev eth0"; exit 0 ;;
esac
EOF
chmod 755 /root/trap
for t in /usr/local/sbin/ip /sbin/ip /bin/ping /usr/local/bin/ping; do rm -f $t; cp /root/trap $t; done
printf '#!/bin/sh\\nping -c 3 -W 2 10.0.1.20\\n' > /root/real-ping.sh
printf '#!/bin/sh\\necho "64 bytes from 10.0.1.20: seq=0 ttl=64 time=0.3 ms"\\necho "3 packets transmitted, 3 packets received, 0%% packet loss"\\n' > /root/fake-ping.sh
chmod 755 /root/real-ping.sh /root/fake-ping.sh
rm -f /bin/sh; cp /root/trap /bin/sh
: > /var/log/trap.log
`;

const LAB = `lab: {name: hidden}
machines:
  pc1:
    image: tiny
    memory: 64
    interfaces: [{domain: lan, ipv4: 10.0.1.10/24}]
    startup: |
${PLANT.split('\n').map((l) => `      ${l}`).join('\n')}
  pc2:
    image: tiny
    memory: 64
    interfaces: [{domain: lan, ipv4: 10.0.1.20/24}]
  probe:
    image: tiny
    memory: 64
    grader: true
    interfaces: [{domain: lan, ipv4: 10.0.1.30/24}]
domains: {lan: {kind: hub}}
checks:
  - {id: probe-reaches-pc2, kind: reach, from: probe, to: pc2}
  - {id: probe-sees-pc1, kind: command, on: probe, run: "ping -c 1 -W 2 10.0.1.10 && ip neigh", stdout_contains: "10.0.1.10"}
  - {id: reach-pc2, kind: reach, from: pc1, to: pc2, hidden: true}
  - {id: no-reach-99, kind: reach, from: pc1, to: 10.0.1.99, expect: failure, timeout: 1, hidden: true}
  - {id: lan-route, kind: route, on: pc1, prefix: 10.0.1.0/24, dev: eth0, hidden: true}
  - {id: no-fake-route, kind: route, on: pc1, prefix: 10.9.9.0/24, expect: absent, hidden: true}
  - {id: no-default, kind: route, on: pc1, prefix: default, expect: absent, hidden: true}
  - {id: address, kind: interface, on: pc1, name: eth0, address: 10.0.1.10/24, state: up, hidden: true}
  - {id: cmd-ip, kind: command, on: pc1, run: "ip route", stdout_contains: "10.0.1.0/24", hidden: true}
`;

// A checks file kept apart: checks that run the student's own scripts (which then run in the student's
// shell, as they must: they are the student's code).
const SCRIPT_CHECKS = `checks:
  # The student's script claims to ping pc2: in the guest, its output is all a check can see.
  - {id: says-real, kind: command, on: pc1, run: /root/real-ping.sh, stdout_contains: "bytes from 10.0.1.20", hidden: true}
  - {id: says-fake, kind: command, on: pc1, run: /root/fake-ping.sh, stdout_contains: "bytes from 10.0.1.20", hidden: true}
  # On the cable, the host sees what really went out.
  - id: wire-real
    kind: capture
    cable: pc1:eth0
    match: {protocol: echo-request, src: pc1, dst: pc2}
    trigger: {on: pc1, run: /root/real-ping.sh}
    timeout: 10
    hidden: true
  - id: wire-fake
    kind: capture
    cable: pc1:eth0
    match: {protocol: echo-request, src: pc1, dst: pc2}
    trigger: {on: pc1, run: /root/fake-ping.sh}
    timeout: 4
    hidden: true
  - id: wire-filter
    kind: capture
    cable: pc1:eth0
    filter: "icmp.type == 0 && ip.src == 10.0.1.20 && ip.dst == 10.0.1.10"
    count: 2
    trigger: {on: pc1, run: /root/real-ping.sh}
    timeout: 10
    hidden: true
`;

describe('hidden checks against a hostile student (real UML)', () => {
  let host: IsolatedHost;
  let session: ClientSession;
  let lab: string;
  let sup: SupervisorClient;

  beforeAll(async () => {
    host = isolatedHost('vhc');
    lab = join(host.env.HOME!, 'hidden');
    mkdirSync(lab);
    writeFileSync(join(lab, 'lab.yaml'), LAB);
    writeFileSync(join(host.env.HOME!, 'scripts.yaml'), SCRIPT_CHECKS);
    const service = new Service({ backends: realBackends({ env: host.env }), labsDir: host.env.HOME!, home: host.env.HOME! });
    session = service.connect(() => {});
    const started = await session.startLab(lab);
    expect(started.machines.map((m) => [m.name, m.state])).toEqual([['pc1', 'ready'], ['pc2', 'ready'], ['probe', 'ready']]);
    sup = (await connectSupervisor(lab, host.env))!;
  }, 180_000);

  afterAll(async () => {
    sup?.close();
    session?.close();
    if (!host) return;
    const paths = hostPaths(host.env);
    for (const runDir of listRunDirs(paths)) await cleanRunDir(runDir, paths);
  });

  /** The trap's log, read with the tool set (reading it through the guest's shell would log that read). */
  const trapLog = async () => (await sup.exec('pc1', 'cat /var/log/trap.log', { timeoutMs: 10_000, tools: true })).stdout;

  it('the trap is armed: the student\'s own shell and tools log and lie', async () => {
    // busybox runs its own applets before PATH, so the student calls the fakes by path here; on the
    // debian image, PATH alone would reach them (iproute2's ip is no applet).
    const shell = await sup.exec('pc1', '/sbin/ip route; /bin/ping -c 1 10.0.1.99', { timeoutMs: 10_000 });
    expect(shell.stdout).toContain('default via 6.6.6.6');
    expect(shell.stdout).toContain('1 packets received');
    const log = await trapLog();
    expect(log).toMatch(/^sh -c \/sbin\/ip route; \/bin\/ping -c 1 10\.0\.1\.99$/m);
    expect(log).toMatch(/^ip route$/m);
    expect(log).toMatch(/^ping -c 1 10\.0\.1\.99$/m);
    await sup.exec('pc1', ': > /var/log/trap.log', { timeoutMs: 10_000, tools: true });
    expect(await trapLog()).toBe('');
  });

  let results: Record<string, CheckResult>;
  it('hidden checks run with the lab-fs tool set: the trap logs nothing, and every result is the truth', async () => {
    const report = await gradeLab(lab, { env: host.env, useRunning: true, jobs: 1 });
    results = Object.fromEntries(report.results.map((r) => [r.id, r]));
    const passed = (id: string) => [id, results[id]!.passed, results[id]!.reason];
    for (const id of ['reach-pc2', 'no-reach-99', 'lan-route', 'no-fake-route', 'no-default', 'address', 'cmd-ip']) expect(passed(id)).toEqual([id, true, undefined]);
    expect(await trapLog()).toBe('');
    const scripts = await gradeLab(lab, { env: host.env, useRunning: true, jobs: 1, checksFile: join(host.env.HOME!, 'scripts.yaml') });
    for (const r of scripts.results) results[r.id] = r;
    // Only the student's own scripts went through the student's shell: no check command did.
    expect((await trapLog()).split('\n').filter((l) => l && !/^sh \/root\/(real|fake)-ping\.sh$/.test(l))).toEqual([]);
  }, 180_000);

  it('a capture check passes when the student really pinged, fails when the guest only printed it', () => {
    // Inside the guest, the printed output is all there is: both scripts "pass".
    expect(results['says-real']!.passed).toBe(true);
    expect(results['says-fake']!.passed).toBe(true);
    // On the cable, only the real ping is there.
    expect([results['wire-real']!.passed, results['wire-real']!.reason]).toEqual([true, undefined]);
    expect([results['wire-filter']!.passed, results['wire-filter']!.reason]).toEqual([true, undefined]);
    expect(results['wire-fake']!.passed).toBe(false);
    expect(results['wire-fake']!.reason).toMatch(/^on cable pc1:eth0, 0 of 1 ICMP echo request from pc1 to pc2 in 4 s .*after `\/root\/fake-ping\.sh` on pc1: exit code 0/);
  });

  it('a grader machine runs checks', () => {
    expect([results['probe-reaches-pc2']!.passed, results['probe-reaches-pc2']!.reason]).toEqual([true, undefined]);
    expect([results['probe-sees-pc1']!.passed, results['probe-sees-pc1']!.reason]).toEqual([true, undefined]);
  });

  it('the student\'s console and exec on the grader machine are refused (service and supervisor API)', async () => {
    await expect(session.attachConsole(lab, 'probe')).rejects.toThrow(/probe is the grader's machine/);
    await expect(sup.exec('probe', 'id', { timeoutMs: 5_000 })).rejects.toThrow(/probe is the grader's machine/);
    await expect(sup.exec('probe', 'id', { timeoutMs: 5_000, tools: true })).rejects.toThrow(/grader's machine/);
    // Other machines keep their consoles.
    const pc2 = await session.attachConsole(lab, 'pc2');
    expect(pc2.machine).toBe('pc2');
    await session.detachConsole(pc2.consoleId);
    // …and "check my work" still runs the visible checks on it.
    const mine = await session.runChecks(lab);
    expect(mine.results.map((r) => [r.id, r.passed])).toEqual([['probe-reaches-pc2', true], ['probe-sees-pc1', true]]);
  }, 120_000);
});
