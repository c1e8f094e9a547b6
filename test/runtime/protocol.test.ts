// The supervisor's Unix-socket protocol end to end (server.ts ⇄ client.ts) over a real socket, with the
// fake launcher behind it: requests, errors with hints, pushed events, console replay and flow control
// acknowledged by a remote viewer.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Plan } from '../../src/shared/plan.ts';
import type { LabEvent } from '../../src/shared/runtime-api.ts';
import { connectRunDir, type SupervisorClient } from '../../src/main/runtime/client.ts';
import { FLOW_HIGH_WATERMARK } from '../../src/main/runtime/console-session.ts';
import { FakeLauncher } from '../../src/main/runtime/fake-launcher.ts';
import { runFiles } from '../../src/main/runtime/run-dir.ts';
import { serveSupervisor, type SupervisorServer } from '../../src/main/runtime/server.ts';
import { Supervisor } from '../../src/main/runtime/supervisor.ts';
import { cablePlan } from '../../src/main/compiler/cables.ts';
import { waitUntil } from './helpers.ts';

const runDir = mkdtempSync(join(tmpdir(), 'vproto-'));
const plan: Plan = {
  planVersion: 3,
  lab: { name: 'proto', id: 'proto-00000000', root: runDir, format: 'vnetlab' },
  runDir,
  stateDir: runDir,
  labFs: { image: join(runDir, 'labfs.ext4'), entries: [] },
  switches: [{ domain: 'A', kind: 'hub', ctlDir: 'sw/A', mgmtSocket: 'sw/A.mgmt', argv: ['vde_switch'] }],
  cables: ['pc1', 'pc2'].map((machine) => cablePlan(join(runDir, 'c'), { machine, interface: 'eth0', domain: 'A' })),
  guests: ['pc1', 'pc2'].map((name) => ({
    name,
    umid: name,
    image: 'tiny',
    imagePath: 'tiny.ext4',
    labFsImage: join(runDir, 'labfs.ext4'),
    cow: `${name}.cow`,
    memoryMiB: 64,
    boot: { kernel: 'linux.uml', shared: [], umlDir: join(runDir, 'uml'), nicSyntax: 'legacy' as const, name },
    dir: join(runDir, name),
    execChannel: { toGuest: 'in', fromGuest: 'out' },
    mconsole: 'mc',
    interfaces: [{ name: 'eth0', domain: 'A', mac: '02:00:00:00:00:01', ctlDir: join(runDir, 'c', `${name}.eth0`), addresses: [] }],
    dependsOn: [],
    consoles: 1,
  })),
  waves: [['pc1', 'pc2']],
};

describe('supervisor protocol over a Unix socket', () => {
  let launcher: FakeLauncher;
  let server: SupervisorServer;
  let client: SupervisorClient;

  beforeAll(async () => {
    launcher = new FakeLauncher();
    const sup = new Supervisor(plan, launcher, { consoleLogs: false, maxParallelBoots: 2 });
    server = await serveSupervisor(sup, runFiles.socket(runDir), () => {});
    client = (await connectRunDir(runDir))!;
  });

  afterAll(async () => {
    client?.close();
    await server?.close();
    rmSync(runDir, { recursive: true, force: true });
  });

  it('creates the socket readable by its owner only', () => {
    expect(statSync(runFiles.socket(runDir)).mode & 0o777).toBe(0o600);
  });

  it('answers requests and pushes events to subscribers', async () => {
    const events: LabEvent[] = [];
    client.subscribe((e) => events.push(e));
    const result = await client.start();
    expect(result).toMatchObject({ ok: true, failed: [] });
    expect(result.started.sort()).toEqual(['pc1', 'pc2']);
    await waitUntil(() => events, (e) => e.filter((x) => x.type === 'machine-state' && x.state === 'ready').length === 2, 2_000);
    expect(events).toContainEqual({ type: 'machine-state', machine: 'pc1', state: 'ready' });
    const status = await client.status();
    expect(status.machines.map((m) => m.state)).toEqual(['ready', 'ready']);
  });

  it('streams exec output and returns the result', async () => {
    const chunks: string[] = [];
    const r = await client.exec('pc2', 'hostname', { onStdout: (c) => chunks.push(c) });
    expect(r).toEqual({ stdout: 'pc2: hostname\n', stderr: '', exitCode: 0, timedOut: false });
    expect(chunks.join('')).toBe(r.stdout);
  });

  it('turns errors into UserErrors with the hint', async () => {
    await expect(client.exec('nosuch', 'true')).rejects.toMatchObject({ message: "no machine named 'nosuch' in lab proto", hint: 'machines: pc1, pc2', exitCode: 2 });
  });

  it('replays the console on attach and holds output (never pausing the guest) until the viewer acknowledges', async () => {
    launcher.output('pc1', 'boot banner\r\n');
    let seen = '';
    const viewer = await client.attachConsole('pc1', { onData: (d) => (seen += d), flowControl: true });
    await waitUntil(() => seen, (s) => s.includes('boot banner'), 2_000);
    expect(seen).toContain('boot banner');
    launcher.output('pc1', 'x'.repeat(FLOW_HIGH_WATERMARK + 1000));
    await waitUntil(() => seen, (s) => s.length > FLOW_HIGH_WATERMARK, 2_000);
    launcher.output('pc1', 'after the mark');
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).not.toContain('after the mark'); // held for this viewer
    viewer.ack(seen.length);
    await waitUntil(() => seen, (s) => s.endsWith('after the mark'), 2_000);
    expect(seen.endsWith('after the mark')).toBe(true);
    viewer.write('typed');
    await waitUntil(() => seen, (s) => s.endsWith('typed'), 2_000); // the fake pty echoes input
    viewer.detach();
  });
});

describe('closing the supervisor socket', () => {
  /** A supervisor whose `start` answers when the test says: the moment a stop's exit closes the socket. */
  async function serving(answerGraceMs?: number) {
    const dir = mkdtempSync(join(tmpdir(), 'vproto-close-'));
    const sup = new Supervisor({ ...plan, runDir: dir }, new FakeLauncher(), { consoleLogs: false });
    let answer!: (result: Awaited<ReturnType<Supervisor['start']>>) => void;
    sup.start = () => new Promise((resolve) => (answer = resolve));
    const server = await serveSupervisor(sup, runFiles.socket(dir), () => {}, { answerGraceMs });
    const client = (await connectRunDir(dir))!;
    return { dir, server, client, answer: (stopped: string[]) => answer({ ok: false, started: [], failed: [], startupFailed: [], stopped, timings: { received: 0, networkUp: 0, machines: {} } }) };
  }

  it('answers a request still in flight before it ends the connections: a start ended by a stop hears "interrupted", not "went away"', async () => {
    const { dir, server, client, answer } = await serving();
    try {
      const starting = client.start([]);
      await new Promise((r) => setTimeout(r, 50)); // the request is with the supervisor
      const closing = server.close(); // as the stop's exit path does, while the start is still answering
      setTimeout(() => answer(['pc1', 'pc2']), 100);
      await expect(starting).resolves.toMatchObject({ ok: false, stopped: ['pc1', 'pc2'] });
      await closing;
    } finally {
      client.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('does not wait past its grace for a request that never ends', async () => {
    const { dir, server, client } = await serving(200);
    try {
      const heard = client.start([]).then(
        () => 'an answer',
        (err: Error) => err.message,
      );
      await new Promise((r) => setTimeout(r, 50));
      const t0 = Date.now();
      await server.close();
      expect(Date.now() - t0).toBeLessThan(2_000);
      expect(await heard).toMatch(/went away/);
    } finally {
      client.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
