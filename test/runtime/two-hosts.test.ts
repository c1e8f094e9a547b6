// A two-host lab on real UML guests and a real vde_switch, driven through the `vnetlab` CLI and the
// supervisor client: start, exec, consoles, persistence of the guest disk, wipe, a second copy of
// the lab side by side, and a stop that leaves no process and no socket behind.
import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSupervisor } from '../../src/main/runtime/client.ts';
import { findRunDir, listSockets } from '../../src/main/runtime/run-dir.ts';
import { hostPaths } from '../../src/main/paths.ts';
import { eventually, waitUntil, processesMentioning, testEnv, TWO_HOSTS_YAML, type TestEnv } from './helpers.ts';

describe('two hosts on a switch (real UML)', () => {
  let t: TestEnv;
  let lab: string;
  let runDir: string;

  beforeAll(async () => {
    t = testEnv();
    lab = t.lab('pair', { 'lab.yaml': TWO_HOSTS_YAML });
    const started = await t.cli(['start', lab]);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    runDir = findRunDir(lab, hostPaths(t.env))!;
  });

  afterAll(async () => {
    await t?.dispose();
  });

  it('pings pc2 from pc1 through exec, with the exit code of the command', async () => {
    const ping = await t.cli(['exec', '-l', lab, 'pc1', '--', 'ping', '-c', '1', '10.0.0.2']);
    expect(ping.code).toBe(0);
    expect(ping.stdout).toMatch(/1 packets received/);
    const failing = await t.cli(['exec', '-l', lab, 'pc2', '--', 'echo oops >&2; exit 7']);
    expect(failing.code).toBe(7);
    expect(failing.stderr).toContain('oops');
  });

  it('shows status with pids, memory and interfaces', async () => {
    const status = await t.cli(['status', lab, '--json']);
    expect(status.code).toBe(0);
    const parsed = JSON.parse(status.stdout);
    expect(parsed.running).toBe(true);
    for (const m of parsed.machines) {
      expect(m.state).toBe('ready');
      expect(m.pid).toBeGreaterThan(0);
      expect(m.rssBytes).toBeGreaterThan(1_000_000);
      expect(m.interfaces).toEqual([expect.objectContaining({ name: 'eth0', domain: 'lan' })]);
    }
    const table = await t.cli(['status', lab]);
    expect(table.stdout).toMatch(/pc1\s+ready\s+\d+\s+[\d.]+ MB/);
  });

  it('serves a console to several viewers, replaying recent output to a late one', async () => {
    const sup = (await connectSupervisor(lab, t.env))!;
    try {
      let first = '';
      const viewer = await sup.attachConsole('pc1', { onData: (d) => (first += d), cols: 100, rows: 30 });
      viewer.write('echo console-$((40+2))\r');
      await waitUntil(() => first, (s) => s.includes('console-42'));
      expect(first).toContain('console-42');
      let late = '';
      const second = await sup.attachConsole('pc1', { onData: (d) => (late += d) });
      await waitUntil(() => late, (s) => s.includes('console-42'), 2_000);
      expect(late).toContain('console-42'); // replayed
      second.write('stty size\r');
      await waitUntil(() => first, (s) => /30 100/.test(s));
      expect(first).toMatch(/30 100/); // the size the first viewer asked for reached the guest's tty
      viewer.detach();
      second.detach();
    } finally {
      sup.close();
    }
    expect(existsSync(join(runDir, 'guests'))).toBe(true);
  });

  it('keeps what was written in a guest across stop/start, and wipe starts over', async () => {
    expect((await t.cli(['exec', '-l', lab, 'pc2', '--', 'echo kept > /root/note; sync'])).code).toBe(0);
    expect((await t.cli(['stop', '-l', lab, 'pc2'])).code).toBe(0);
    expect((await t.cli(['wipe', '-l', lab, 'pc1', '--yes'])).code).toBe(2); // pc1 still runs: refused
    expect((await t.cli(['start', lab, 'pc2'])).code).toBe(0);
    const read = await t.cli(['exec', '-l', lab, 'pc2', '--', 'cat', '/root/note']);
    expect(read.stdout).toBe('kept\n');
    expect((await t.cli(['stop', '-l', lab, 'pc2'])).code).toBe(0);
    const wiped = await t.cli(['wipe', '-l', lab, 'pc2', '--yes']);
    expect(wiped.stdout).toContain('wiped: pc2');
    expect((await t.cli(['start', lab, 'pc2'])).code).toBe(0);
    const after = await t.cli(['exec', '-l', lab, 'pc2', '--', 'cat', '/root/note']);
    expect(after.code).not.toBe(0);
    // restart = graceful stop + boot: the guest comes back ready with a new process.
    const before = JSON.parse((await t.cli(['status', lab, '--json'])).stdout).machines.find((m: { name: string }) => m.name === 'pc2').pid;
    expect((await t.cli(['restart', '-l', lab, 'pc2'])).stdout).toBe('pc2: ready\n');
    const again = JSON.parse((await t.cli(['status', lab, '--json'])).stdout).machines.find((m: { name: string }) => m.name === 'pc2');
    expect(again.state).toBe('ready');
    expect(again.pid).not.toBe(before);
  });

  it('runs a second copy of the same lab in another folder side by side', async () => {
    const copy = join(t.base, 'pair-copy');
    cpSync(lab, copy, { recursive: true });
    const started = await t.cli(['start', copy, 'pc1', '--json']);
    expect(started.code).toBe(0);
    const events = started.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(events).toContainEqual({ t: expect.any(Number), type: 'machine-state', machine: 'pc1', state: 'ready' });
    expect(events.at(-1)).toMatchObject({ type: 'result', ok: true, started: ['pc1'] });
    const copyRunDir = findRunDir(copy, hostPaths(t.env))!;
    expect(copyRunDir).not.toBe(runDir);
    // Both pc1 run at once, each on its own switch: the copy's pc1 does not see the first lab's pc2.
    expect((await t.cli(['exec', '-l', copy, 'pc1', '--', 'ping -c 1 -W 2 10.0.0.2'])).code).not.toBe(0);
    expect((await t.cli(['exec', '-l', lab, 'pc1', '--', 'ping -c 1 10.0.0.2'])).code).toBe(0);
    expect((await t.cli(['stop', copy])).code).toBe(0);
    expect(await eventually(() => processesMentioning(copyRunDir), (p) => p.length === 0, 5_000)).toEqual([]);
    // Wiping the whole copy also drops its kept lab-fs image (derived from its files, rebuilt at its next start).
    const keptLabFs = join(JSON.parse(readFileSync(join(copyRunDir, 'plan.json'), 'utf8')).stateDir, 'labfs');
    expect(readdirSync(keptLabFs).filter((f) => f.endsWith('.ext4'))).toHaveLength(1);
    expect((await t.cli(['wipe', '-l', copy, '--yes'])).stdout).toContain('wiped: pc1');
    expect(existsSync(keptLabFs)).toBe(false);
  });

  it('stop leaves no guest, switch, supervisor or socket of the lab behind', async () => {
    // A crashed machine (plug pulled) is down at once; the lab still runs until everything is stopped.
    expect((await t.cli(['crash', '-l', lab, 'pc2'])).code).toBe(0);
    const states = JSON.parse((await t.cli(['status', lab, '--json'])).stdout).machines.map((m: { state: string }) => m.state);
    expect(states).toEqual(['ready', 'crashed']);
    const stopped = await t.cli(['stop', lab]);
    expect(stopped.code).toBe(0);
    const left = await eventually(() => processesMentioning(runDir), (p) => p.length === 0, 5_000);
    expect(left).toEqual([]);
    expect(listSockets(runDir)).toEqual([]);
    expect((await t.cli(['status', lab])).stdout).toMatch(/not running/);
  });
});
