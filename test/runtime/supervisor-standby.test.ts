// The supervisor `vnetlab start` spawns ahead, in standby (src/main/runtime/supervisor-standby.ts): it
// serves the lab it is given as a spawned supervisor would, with the environment the command meant for
// it; and a standby nobody needs (the lab already runs, the command failed or died) exits having
// started nothing. The order on its stdin is checked like any input.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleCommand, REPO } from '../../bin/bundle-cache.mjs';
import { hostPaths } from '../../src/main/paths.ts';
import { findRunDir } from '../../src/main/runtime/run-dir.ts';
import { readRecords } from '../../src/main/runtime/records.ts';
import { readStandbyOrder, replaceEnvironment, STANDBY_ARG, takeStandby } from '../../src/main/runtime/supervisor-standby.ts';
import { eventually, testEnv, type TestEnv } from './helpers.ts';
import { runCli } from '../support/host.ts';

const VNETLAB = join(REPO, 'bin/vnetlab.mjs');
/** A standby as `vnetlab start` spawns it (bin/vnetlab.mjs). */
const standbyCommand = () => bundleCommand('supervisor', join(REPO, 'src/main/runtime/supervisor-main.ts'), [STANDBY_ARG]);

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** A system CA bundle, for NODE_EXTRA_CA_CERTS (Debian's ca-certificates). */
const SYSTEM_CERTS = '/etc/ssl/certs/ca-certificates.crt';

/** The environment a process was started with. */
function environOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
}

/** Live processes whose environment holds `marker` (VAR=value): the way to find a standby, never to kill one. */
function processesWithEnv(marker: string): number[] {
  return readdirSync('/proc').filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid).flatMap((name) => {
    try {
      if (/^State:\s+Z/m.test(readFileSync(`/proc/${name}/status`, 'utf8'))) return [];
      return readFileSync(`/proc/${name}/environ`, 'utf8').split('\0').includes(marker) ? [Number(name)] : [];
    } catch {
      return []; // gone, or not ours
    }
  });
}

describe('the standby order', () => {
  const order = { runDir: '/run/x/lab-1', env: { PATH: '/usr/bin', VNETLAB_LANDLOCK_ABI: '4' }, cwd: '/' };

  it('is the first line on stdin, whole or in pieces', async () => {
    const input = new PassThrough();
    const read = readStandbyOrder(input, 5_000);
    const line = `${JSON.stringify(order)}\n`;
    input.write(line.slice(0, 10));
    input.write(line.slice(10));
    expect(await read).toEqual(order);
  });

  it('is none when stdin closes first, when it is not an order, or when none comes in time', async () => {
    const closed = new PassThrough();
    const none = readStandbyOrder(closed, 5_000);
    closed.end();
    expect(await none).toBeUndefined();
    for (const bad of ['not json', JSON.stringify({ ...order, runDir: 'relative/dir' }), JSON.stringify({ ...order, env: { PATH: 1 } }), JSON.stringify({ runDir: '/x' })]) {
      const input = new PassThrough();
      const read = readStandbyOrder(input, 5_000);
      input.write(`${bad}\n`);
      expect(await read).toBeUndefined();
    }
    const silent = new PassThrough();
    const started = Date.now();
    expect(await readStandbyOrder(silent, 100)).toBeUndefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  });

  it('is given once, to a standby that lives; a gone one is no standby', async () => {
    const cat = spawn('cat', [], { stdio: ['pipe', 'pipe', 'ignore'] });
    let echoed = '';
    cat.stdout!.on('data', (d) => (echoed += d));
    expect(takeStandby(cat, order)).toBe(cat);
    expect(takeStandby(cat, order)).toBeUndefined(); // its stdin is closed: one order only
    await exited(cat);
    expect(JSON.parse(echoed)).toEqual(order);
    expect(takeStandby(cat, order)).toBeUndefined();
    expect(takeStandby(undefined, order)).toBeUndefined();
  });

  it('replaces the whole environment', () => {
    const saved = { ...process.env };
    try {
      process.env.VNETLAB_STANDBY_TEST_GONE = 'x';
      replaceEnvironment({ ...saved, VNETLAB_STANDBY_TEST_NEW: 'y' } as Record<string, string>);
      expect(process.env.VNETLAB_STANDBY_TEST_GONE).toBeUndefined();
      expect(process.env.VNETLAB_STANDBY_TEST_NEW).toBe('y');
    } finally {
      replaceEnvironment(saved as Record<string, string>);
    }
  });
});

describe('a standby supervisor process (real)', () => {
  it('exits, having made nothing, when its command closes stdin without an order (as when it dies)', async () => {
    const standby = spawn(process.execPath, await standbyCommand(), { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    standby.stdout!.on('data', (d) => (output += d));
    standby.stderr!.on('data', (d) => (output += d));
    await new Promise((r) => setTimeout(r, 300)); // loaded and waiting (or still loading: EOF waits for it)
    expect(standby.exitCode).toBeNull();
    standby.stdin!.end();
    expect(await exited(standby)).toEqual({ code: 0, signal: null });
    expect(output).toBe('');
  });

  it('exits when its order is not one', async () => {
    const standby = spawn(process.execPath, await standbyCommand(), { stdio: ['pipe', 'ignore', 'ignore'] });
    standby.stdin!.end('{"runDir": "../../etc", "env": {}, "cwd": "/"}\n');
    expect(await exited(standby)).toEqual({ code: 0, signal: null });
  });
});

describe('`vnetlab start` with its standby supervisor (real UML, the command as a process)', () => {
  let t: TestEnv;
  let lab: string;
  // Every process the command starts carries this in its environment: how the test finds its standbys.
  const marker = `VNETLAB_STANDBY_TEST=${process.pid}-${Date.now()}`;
  // As on hosts that set it (this one's CI does): node parses this file whenever it starts.
  const extraCerts = existsSync(SYSTEM_CERTS) ? { NODE_EXTRA_CA_CERTS: SYSTEM_CERTS } : {};
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [VNETLAB, ...args], { env: { ...t.env, ...extraCerts, [marker.split('=')[0]!]: marker.split('=')[1] }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });

  beforeAll(() => {
    t = testEnv();
    lab = t.lab('standby', {
      'lab.yaml': 'lab:\n  name: standby\nmachines:\n  a:\n    image: tiny\n    interfaces:\n      - {domain: lan, ipv4: 10.0.0.1/24}\n  b:\n    image: tiny\n    interfaces:\n      - {domain: lan, ipv4: 10.0.0.2/24}\n',
    });
  });

  afterAll(async () => {
    await t?.dispose();
  });

  it('the standby becomes the lab supervisor, with the environment the command gave it', async () => {
    const started = await run(['start', lab]);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    const runDir = findRunDir(lab, hostPaths(t.env))!;
    const supervisor = readRecords(runDir).find((r) => r.kind === 'supervisor')!;
    expect(supervisor.argv).toContain(STANDBY_ARG);
    // Spawned from the user's folder, it works from the one the order names (as a spawned supervisor does).
    expect(readlinkSync(`/proc/${supervisor.pid}/cwd`)).not.toBe(process.cwd());
    expect(readFileSync(join(runDir, 'supervisor.log'), 'utf8')).toMatch(/supervisor of standby .* listening/);
    expect(processesWithEnv(marker)).toContain(supervisor.pid);
    // Started without NODE_EXTRA_CA_CERTS (src/main/runtime/node-env.ts): ~40 ms of a core less on the way to the first boot.
    if (extraCerts.NODE_EXTRA_CA_CERTS) expect(environOf(supervisor.pid).some((v) => v.startsWith('NODE_EXTRA_CA_CERTS='))).toBe(false);
    const guest = readRecords(runDir).find((r) => r.kind === 'guest' && r.name === 'a')!;
    expect(guest.argv.some((arg) => arg.includes('vnetlab-confine'))).toBe(true);
    const ping = await t.cli(['exec', '-l', lab, 'a', '--', 'ping -c 1 -W 5 10.0.0.2']);
    expect(ping.stdout).toMatch(/1 packets received/);
  });

  it('is given the environment the command ends up with, not the one it was spawned with', async () => {
    // --unconfined is set by the command after the standby was spawned: only the order carries it.
    const other = t.lab('standby2', { 'lab.yaml': readFileSync(join(lab, 'lab.yaml'), 'utf8').replace('name: standby', 'name: standby2') });
    const started = await run(['start', other, '--unconfined']);
    expect(started.code).toBe(0);
    const runDir = findRunDir(other, hostPaths(t.env))!;
    expect(readRecords(runDir).find((r) => r.kind === 'supervisor')!.argv).toContain(STANDBY_ARG);
    const guest = readRecords(runDir).find((r) => r.kind === 'guest' && r.name === 'a')!;
    expect(guest.argv.some((arg) => arg.includes('vnetlab-confine'))).toBe(false);
    expect((await t.cli(['stop', other])).code).toBe(0);
  });

  it('a supervisor started without a standby (the app, the library) also starts without NODE_EXTRA_CA_CERTS', async () => {
    if (!extraCerts.NODE_EXTRA_CA_CERTS) return; // nothing to drop on a host without a CA bundle
    const third = t.lab('standby3', { 'lab.yaml': readFileSync(join(lab, 'lab.yaml'), 'utf8').replace('name: standby', 'name: standby3') });
    const started = await runCli(['start', third, 'a'], { env: { ...t.env, ...extraCerts }, cwd: t.base });
    expect(started.code).toBe(0);
    const supervisor = readRecords(findRunDir(third, hostPaths(t.env))!).find((r) => r.kind === 'supervisor')!;
    expect(supervisor.argv).not.toContain(STANDBY_ARG);
    expect(environOf(supervisor.pid).some((v) => v.startsWith('NODE_EXTRA_CA_CERTS='))).toBe(false);
    expect((await t.cli(['stop', third])).code).toBe(0);
  });

  it('a start of the running lab leaves no standby behind', async () => {
    const runDir = findRunDir(lab, hostPaths(t.env))!;
    const supervisor = readRecords(runDir).find((r) => r.kind === 'supervisor')!;
    const again = await run(['start', lab]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already running/);
    const others = await eventually(() => processesWithEnv(marker).filter((pid) => pid !== supervisor.pid), (pids) => pids.length === 0, 5_000, 50);
    expect(others).toEqual([]);
  });

  it('a start that fails leaves no standby behind', async () => {
    const failed = await run(['start', join(t.base, 'no-such-lab')]);
    expect(failed.code).toBe(2);
    const runDir = findRunDir(lab, hostPaths(t.env))!;
    const supervisor = readRecords(runDir).find((r) => r.kind === 'supervisor')!;
    const others = await eventually(() => processesWithEnv(marker).filter((pid) => pid !== supervisor.pid), (pids) => pids.length === 0, 5_000, 50);
    expect(others).toEqual([]);
    expect(existsSync(join(runDir, 'supervisor.sock'))).toBe(true);
  });

  it('at the stop, the supervisor goes all the way out: its last words logged, its record and daemons gone', async () => {
    const runDir = findRunDir(lab, hostPaths(t.env))!;
    const supervisor = readRecords(runDir).find((r) => r.kind === 'supervisor')!;
    expect((await t.cli(['stop', lab])).code).toBe(0);
    await eventually(() => processesWithEnv(marker), (pids) => !pids.includes(supervisor.pid), 10_000, 50);
    expect(readFileSync(join(runDir, 'supervisor.log'), 'utf8').trim().split('\n').at(-1)).toMatch(/ bye$/);
    expect(readRecords(runDir)).toEqual([]);
    expect(existsSync(join(runDir, 'supervisor.lock'))).toBe(false);
  });
});
