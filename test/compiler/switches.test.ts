// The switch argv the compiler emits, run for real: vde_switch (hub and switch) and slirpvde come up on
// the planned sockets, slirpvde joins its switch, and the management socket answers. Processes are
// started here and ended by their own pids.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/main/compiler/index.ts';
import type { Plan } from '../../src/shared/plan.ts';
import { FIXED_OPTIONS, domain, lab, machine } from './model.ts';

async function waitFor(what: string, ready: () => boolean, timeoutMs = 5000, poll?: () => Promise<void>): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    await poll?.();
    if (ready()) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const isSocket = (path: string) => existsSync(path) && statSync(path).isSocket();

/** Sends one command to a vde_switch management socket and returns what it printed until the next prompt. */
function manage(socket: string, command: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const conn = createConnection(socket);
    let text = '';
    let sent = false;
    const timer = setTimeout(() => (conn.destroy(), reject(new Error(`no answer to ${command}: ${text}`))), 5000);
    conn.on('data', (chunk) => {
      text += chunk.toString('utf8');
      if (!sent && text.includes('vde$ ')) {
        sent = true;
        text = '';
        conn.write(`${command}\n`);
      } else if (sent && /\n\d{4} [^\n]*\n\nvde\$ $/.test(text)) {
        clearTimeout(timer);
        conn.end();
        resolvePromise(text);
      }
    });
    conn.on('error', reject);
  });
}

describe('switch argv from the plan', () => {
  let work: string;
  let plan: Plan;
  const processes: ChildProcess[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vnetlab-sw-'));
    const model = lab({
      machines: [machine('pc1', ['lan', 'wan', 'nat'])],
      domains: [domain('lan'), domain('wan', { kind: 'switch' }), domain('nat', { kind: 'switch', hostNat: true })],
    });
    plan = compile(model, { ...FIXED_OPTIONS, runDir: join(work, 'run') });
    // The supervisor's job, done minimally: the switch folder, and a stdin the switch keeps (it exits at EOF).
    for (const s of plan.switches) {
      mkdirSync(dirname(s.ctlDir), { recursive: true });
      const sw = spawn(s.argv[0]!, s.argv.slice(1), { stdio: ['pipe', 'ignore', 'ignore'], cwd: work });
      processes.push(sw);
      await waitFor(`${s.domain} sockets`, () => isSocket(join(s.ctlDir, 'ctl')) && isSocket(s.mgmtSocket));
      if (s.hostNat) processes.push(spawn(s.hostNat.argv[0]!, s.hostNat.argv.slice(1), { stdio: 'ignore', cwd: work }));
    }
  });

  afterAll(async () => {
    for (const p of processes) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
    await Promise.all(processes.map((p) => (p.exitCode !== null || p.signalCode !== null ? undefined : new Promise((r) => p.once('exit', r)))));
    rmSync(work, { recursive: true, force: true });
  });

  it('brings every switch up on its planned control and management sockets', () => {
    expect(plan.switches.map((s) => s.domain)).toEqual(['lan', 'nat', 'wan']);
    for (const s of plan.switches) {
      expect(isSocket(join(s.ctlDir, 'ctl'))).toBe(true);
      expect(isSocket(s.mgmtSocket)).toBe(true);
    }
    for (const p of processes) expect(p.exitCode).toBeNull();
  });

  it('runs a hub as a hub and a switch as a switch, with the planned port count', async () => {
    const [lan, , wan] = plan.switches;
    expect(await manage(lan!.mgmtSocket, 'port/showinfo')).toMatch(/Numports=32\nHUB=true/);
    expect(await manage(wan!.mgmtSocket, 'port/showinfo')).toMatch(/Numports=32\nHUB=false/);
  });

  it('plugs slirpvde into the host-NAT switch', async () => {
    const nat = plan.switches.find((s) => s.hostNat)!;
    let ports = '';
    await waitFor('slirpvde to take a port', () => ports.includes('prog   : slirpvde'), 5000, async () => {
      ports = await manage(nat.mgmtSocket, 'port/print');
    });
    expect(ports).toMatch(/Port 0001 .*ACTIVE/);
  });
});
