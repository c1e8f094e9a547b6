// Issue 18, item 1: one student's oversize message must not cut every student of a worker off. The
// front door and one worker share one connection: a reply too large for it (a 0.7 MB validate() whose
// diagnostics repeat a long machine name: ~30 MB of answer) used to make the front door drop that
// connection, and every other student's session on the worker with it. Now the worker answers that
// one call with an error, and the others go on — through the real front door and a real worker process.
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabModel } from '../../src/shared/lab-model.ts';
import type { OpenLabResult } from '../../src/shared/service-api.ts';
import { MAX_FRAME_BYTES } from '../../src/main/classroom/protocol.ts';
import { WorkerClient } from '../../src/main/classroom/worker-client.ts';
import type { Browser } from './helpers.ts';
import { startRealClass, type RealClass } from './real-class.ts';

/** The lab model with its first machine renamed to `name` and given `copies` eth0s: every duplicate is a diagnostic naming the machine twice. */
function amplifying(model: LabModel, name: string, copies: number): LabModel {
  const m = model.machines[0]!;
  const eth0 = m.interfaces[0]!;
  return { ...model, machines: [{ ...m, name, interfaces: Array.from({ length: copies }, () => ({ ...eth0 })) }, ...model.machines.slice(1)] };
}

describe('classroom worker: an oversize message fails its own call, not the worker', () => {
  let rc: RealClass;
  let ada: Browser;
  let eve: Browser;

  beforeAll(async () => {
    rc = await startRealClass();
    ada = await rc.enrol('Ada', 'ada@uni.edu');
    eve = await rc.enrol('Eve', 'eve@uni.edu');
  }, 60_000);

  afterAll(async () => {
    await rc?.close();
  }, 30_000);

  it('a validate() whose answer is ~30 MB gets an error; the other student on the worker keeps working', async () => {
    const adaLab = await rc.labOf(ada);
    const eveLab = await rc.labOf(eve);
    const a = await ada.rpc();
    const e = await eve.rpc();
    const pid = rc.classroom.workers.pid(0);
    try {
      const eveModel = (await e.call<OpenLabResult>('openLab', eveLab)).model!;
      expect(eveModel.machines.map((m) => m.name)).toEqual(['pc1', 'pc2']);

      const { model } = await a.call<OpenLabResult>('openLab', adaLab);
      const big = amplifying(model!, 'x'.repeat(700_000), 21);
      const request = JSON.stringify(big).length;
      expect(request).toBeLessThan(800_000);
      const t0 = Date.now();
      await expect(a.call('validate', big)).rejects.toThrow(/the answer to validate\(\) is too large to send \(\d+\.\d MiB or more; at most 8\.0 MiB\)/);
      const refusedMs = Date.now() - t0;

      // The same sockets, the same worker connection: Eve's session is still there, and Ada's.
      expect((await e.call<OpenLabResult>('openLab', eveLab)).model!.machines).toHaveLength(2);
      await expect(e.call('status', eveLab)).resolves.toBeNull();
      expect((await a.call<OpenLabResult>('openLab', adaLab)).model!.machines).toHaveLength(2);
      // An answer under the limit still goes through (the limit is on the answer, not the call).
      const fine = await a.call<unknown[]>('validate', amplifying(model!, 'y'.repeat(1000), 3));
      expect(fine.length).toBeGreaterThan(0);
      expect(rc.classroom.workers.pid(0)).toBe(pid);
      expect(rc.log.join('\n')).not.toMatch(/worker 0 .*(exited|killed)/);
      console.log(`classroom worker: a ${(request / 1e6).toFixed(2)} MB validate() asking for ~30 MB refused in ${refusedMs} ms; the other session kept working`);
    } finally {
      a.close();
      e.close();
    }
  }, 60_000);

  it('an answer that would be gigabytes is given up on early, and the worker lives', async () => {
    const adaLab = await rc.labOf(ada);
    const a = await ada.rpc();
    const e = await eve.rpc();
    const pid = rc.classroom.workers.pid(0);
    try {
      const { model } = await a.call<OpenLabResult>('openLab', adaLab);
      // 1 MB of name and 2,000 copies of eth0 (1.1 MB sent): a 4 GB answer, which used to end the worker (out of memory).
      const huge = amplifying(model!, 'z'.repeat(1 << 20), 2000);
      const t0 = Date.now();
      await expect(a.call('validate', huge)).rejects.toThrow(/too large to send/);
      expect(Date.now() - t0).toBeLessThan(15_000);
      expect((await e.call<unknown[]>('listLabs')).length).toBeGreaterThan(0);
      expect(rc.classroom.workers.pid(0)).toBe(pid);
    } finally {
      a.close();
      e.close();
    }
  }, 60_000);

  it('a request over the limit is refused to its caller, at the front door and at the worker, and the connection stays', async () => {
    const address = rc.classroom.workers.addresses[0]!;
    const secret = readFileSync(rc.config.workerSecretFile, 'utf8').trim();

    // The front door's side: refused before it is sent.
    const client = new WorkerClient(address, secret, () => {});
    try {
      await expect(client.request({ op: 'requirements', student: 's0000000000', lab: 'x'.repeat(MAX_FRAME_BYTES) })).rejects.toThrow(/the request requirements is too large for the lab server/);
      expect(Array.isArray(await client.request({ op: 'usage' }))).toBe(true);
    } finally {
      client.close();
    }

    // The worker's side, for a peer that sends one anyway: an error for that id, and the next request answered.
    const socket = connect(address.slice('unix:'.length));
    const lines: unknown[] = [];
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        lines.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
      }
    });
    const closed = new Promise<boolean>((r) => socket.once('close', () => r(true)));
    try {
      await new Promise((r) => socket.once('connect', r));
      socket.write(`${JSON.stringify({ hello: { secret } })}\n`);
      socket.write(`${JSON.stringify({ id: 7, op: 'usage', padding: 'p'.repeat(MAX_FRAME_BYTES + 10) })}\n`);
      socket.write(`${JSON.stringify({ id: 8, op: 'usage' })}\n`);
      const deadline = Date.now() + 20_000;
      while (lines.length < 3 && Date.now() < deadline) await Promise.race([new Promise((r) => setTimeout(r, 50)), closed]);
      expect(lines[0]).toMatchObject({ hello: { worker: 'worker-0' } });
      expect(lines[1]).toMatchObject({ id: 7, error: { message: expect.stringMatching(/the request is too large for the lab server \(8\.0 MiB; at most 8\.0 MiB\)/) } });
      expect(lines[2]).toMatchObject({ id: 8, result: expect.any(Array) });
      expect(socket.destroyed).toBe(false);
    } finally {
      socket.destroy();
    }
  }, 60_000);
});
