// The guest's init is the agent itself (/sbin/vnetlab-init, a symlink to kernels/guest/agent/vnetlab-agent.c), on
// real UML guests: one process of ours in a booted guest, orphans reaped by it, and a stop that runs the
// lab's shutdown script even while the startup script still runs (a shell init took its trap only
// between commands: the stop then fell back to the kernel's sysrq and halt, and the shutdown script
// never ran).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, testEnv, type TestEnv } from './helpers.ts';

const LAB = `lab:
  name: init
machines:
  h:
    image: tiny
    memory: 64
    interfaces:
      - {domain: lan, ipv4: 10.0.0.1/24}
  slow:
    image: tiny
    memory: 64
    interfaces:
      - {domain: lan, ipv4: 10.0.0.2/24}
    # Hangs on the first boot of its disk only, so the next start gets ready.
    startup: "[ -f /root/booted ] || { touch /root/booted; sync; sleep 600; }"
    shutdown: "echo ran > /root/shutdown-ran"
domains:
  lan: {kind: hub}
`;

describe('the guest init: the agent as PID 1 (real UML)', () => {
  let t: TestEnv;
  let lab: string;
  let start: { code: number; stderr: string };

  beforeAll(async () => {
    t = testEnv();
    lab = t.lab('init', { 'lab.yaml': LAB });
    start = await t.cli(['start', lab, '--timeout', '6']);
  });

  afterAll(async () => {
    await t?.dispose();
  });

  it('is PID 1, and the only process of ours in a booted guest with no console open', async () => {
    expect(start.code, start.stderr).toBe(1); // `slow` is still in its startup script
    expect(start.stderr).toMatch(/slow failed: .*not ready/);
    // The kernel's init= is /sbin/vnetlab-init, a symlink to the agent: no shell in between.
    const exe = await t.cli(['exec', '-l', lab, 'h', '--', 'readlink /proc/1/exe; for p in /proc/[0-9]*; do readlink $p/exe; done | grep -c vnetlab-agent']);
    expect(exe.code, exe.stderr).toBe(0);
    expect(exe.stdout).toBe('/usr/sbin/vnetlab-agent\n1\n');
    // No serving fork, no console loop, no shell on the console: the ps itself runs under `sh -c`.
    const ps = await t.cli(['exec', '-l', lab, 'h', '--', 'ps -o pid,args']);
    const rows = ps.stdout.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/));
    expect(rows.find(([pid]) => pid === '1')?.slice(1).join(' ')).toBe('/sbin/vnetlab-init');
    expect(rows.filter(([, cmd]) => cmd === '-sh' || cmd === 'sh' || cmd === '/bin/sh')).toEqual([]);
  });

  it('reaps orphans: a background child whose parent is gone leaves no zombie', async () => {
    // The subshell exits at once; its `sleep` is re-parented to PID 1 and exits 0.3 s later.
    expect((await t.cli(['exec', '-l', lab, 'h', '--', '(sleep 0.3 &); true'])).code).toBe(0);
    const zombies = () => t.cli(['exec', '-l', lab, 'h', '--', "ps -o stat,pid,args | awk '$1 ~ /Z/'"]).then((r) => r.stdout.trim());
    // The sleep is gone within a second and nothing is left as a zombie.
    expect(await eventually(() => t.cli(['exec', '-l', lab, 'h', '--', 'ps -o args | grep -c "^sleep 0.3" || true']).then((r) => r.stdout.trim()), (n) => n === '0', 5_000)).toBe('0');
    expect(await zombies()).toBe('');
  });

  it('stops a guest whose startup script still runs: the shutdown script runs, and its disk keeps what was written', async () => {
    expect((await t.cli(['stop', lab])).code).toBe(0);
    const again = await t.cli(['start', lab]);
    expect(again.code, again.stderr).toBe(0);
    const marker = await t.cli(['exec', '-l', lab, 'slow', '--', 'cat /root/shutdown-ran']);
    expect(marker.stdout, marker.stderr).toBe('ran\n');
    // The startup log tells the first boot's script from the second's.
    const log = await t.cli(['exec', '-l', lab, 'slow', '--', 'cat /var/log/vnetlab-startup.log']);
    expect(log.stdout).toMatch(/=== startup .* ===\n(?:.*\n)*=== startup .* ===\n=== startup exited 0 ===\n$/);
  });
});
