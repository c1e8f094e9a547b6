// A guest's console shell starts when a window first shows the console, not at boot (a login shell is
// a few forks every booting guest paid for, and most consoles of a big lab stay closed): the guest's init
// (the agent as PID 1) waits for a key with no shell made yet, and the supervisor
// sends Enter once the guest is ready and a viewer looks. On a real UML guest.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSupervisor, type SupervisorClient } from '../../src/main/runtime/client.ts';
import { eventually, testEnv, type TestEnv } from './helpers.ts';

const LAB_YAML = `lab:
  name: onkey
machines:
  pc1:
    image: tiny
    memory: 64
`;

/** The commands of the guest's processes that have the console (/dev/tty0) open, sorted. */
const ON_CONSOLE = `for p in /proc/[0-9]*; do for f in $p/fd/*; do [ "$(readlink $f)" = /dev/tty0 ] && { cat $p/comm; break; }; done; done | sort | tr '\\n' ' '`;

describe('the console shell starts on the first look (real UML)', () => {
  let t: TestEnv;
  let lab: string;
  let sup: SupervisorClient;

  beforeAll(async () => {
    t = testEnv();
    lab = t.lab('onkey', { 'lab.yaml': LAB_YAML });
    const started = await t.cli(['start', lab]);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    sup = (await connectSupervisor(lab, t.env))!;
  });

  afterAll(async () => {
    sup?.close();
    await t?.dispose();
  });

  it('no shell runs on the console until a viewer attaches; then the prompt comes without a key pressed', async () => {
    const before = await sup.exec('pc1', ON_CONSOLE);
    // Only PID 1 holds the console, waiting for the key: the agent, which the kernel started as /sbin/vnetlab-init.
    expect(before.stdout).toBe('vnetlab-init ');
    expect(before.stdout).not.toMatch(/(^| )sh /);

    let out = '';
    const viewer = await sup.attachConsole('pc1', { onData: (d) => (out += d) });
    expect(await eventually(() => out, (s) => /pc1:~# /.test(s), 20_000)).toMatch(/pc1:~# /);
    const after = await sup.exec('pc1', ON_CONSOLE);
    expect(after.stdout).toMatch(/(^| )sh /);

    // What the student types next reaches the shell whole (the wake key was the host's, not theirs).
    viewer.write('echo typed-$((6*7))\r');
    expect(await eventually(() => out, (s) => /typed-42\r\n/.test(s), 10_000)).toMatch(/typed-42\r\n/);
    viewer.detach();
  });

  it('a second viewer gets no extra key; after `exit` the console says how to get a new shell, and Enter gives one', async () => {
    let out = '';
    const viewer = await sup.attachConsole('pc1', { replay: false, onData: (d) => (out += d) });
    viewer.write('echo second-$((40+2))\r');
    const seen = await eventually(() => out, (s) => /second-42\r\n/.test(s), 10_000);
    // A wake key sent again would have drawn a fresh prompt before the command's echo.
    expect(seen.slice(0, seen.indexOf('echo second'))).not.toContain('pc1:~# ');

    viewer.write('exit\r');
    expect(await eventually(() => out, (s) => s.includes('the shell ended; press Enter for a new one'), 10_000)).toContain('[pc1: the shell ended; press Enter for a new one]');
    out = '';
    viewer.write('\r');
    expect(await eventually(() => out, (s) => /pc1:~# /.test(s), 10_000)).toMatch(/pc1:~# /);
    viewer.detach();
  });
});
