// Issue 18, item 4: a worker killed (kill -9, the kernel's out-of-memory killer, a crash) used to stay
// dead, silently, with its part of the class down until the server restarted. The supervisor of
// `classroom serve` logs the exit and starts it again with back-off; its students are told to
// reconnect (their WebSocket closes with 1012 and that reason; the app reconnects by itself), and
// with the same login they go on where they were. Real front door, real worker processes; the pid
// killed is the one the supervisor reports, never looked up by name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenLabResult } from '../../src/shared/service-api.ts';
import { RECONNECT_REASON } from '../../src/main/classroom/worker-client.ts';
import { eventually } from '../support/poll.ts';
import type { Browser } from './helpers.ts';
import { startRealClass, type RealClass } from './real-class.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('classroom worker supervision', () => {
  let rc: RealClass;
  let eve: Browser;
  let ada: Browser;

  beforeAll(async () => {
    // Back-off from 300 ms, doubling for an exit soon after a start.
    rc = await startRealClass({ supervisor: { minBackoffMs: 300, maxBackoffMs: 5_000, stableMs: 60_000 } });
    eve = await rc.enrol('Eve', 'eve@uni.edu');
    ada = await rc.enrol('Ada', 'ada@uni.edu');
  }, 60_000);

  afterAll(async () => {
    await rc?.close();
  }, 30_000);

  it('restarts a worker killed with -9, logs it, and its students reconnect and go on', async () => {
    const lab = await rc.labOf(eve);
    const e = await eve.rpc();
    const closed = new Promise<{ code: number; reason: string }>((r) => e.ws.once('close', (code, reason) => r({ code, reason: String(reason) })));
    // Eve's copy, with a change of hers saved on the worker's disk.
    const { model } = await e.call<OpenLabResult>('openLab', lab);
    await e.call('saveLab', lab, { ...model!, meta: { ...model!.meta, description: 'Eve was here' } }, 'yaml');

    const pid = rc.classroom.workers.pid(0)!;
    expect(pid).toBeGreaterThan(0);
    expect(rc.classroom.workers.status()[0]).toMatchObject({ index: 0, pid, restarts: 0 });
    process.kill(pid, 'SIGKILL');

    // Eve's page is told to reconnect, at once (the app does it by itself).
    expect(await closed).toEqual({ code: 1012, reason: RECONNECT_REASON });
    // Logged, and started again after the back-off, under a new pid.
    const next = await eventually(() => rc.classroom.workers.pid(0), (p) => !!p && p !== pid, 30_000);
    expect(next).toBeTruthy();
    expect(next).not.toBe(pid);
    expect(alive(pid)).toBe(false);
    const log = rc.log.join('\n');
    expect(log).toMatch(new RegExp(`worker 0 \\(pid ${pid}\\) was killed by SIGKILL after [\\d.]+ s; its students must reconnect; restarting it in 0\\.3 s \\(restart 1\\)`));
    expect(log).toMatch(new RegExp(`worker 0 restarted \\(pid ${next}\\)`));
    expect(rc.classroom.workers.status()[0]).toMatchObject({ pid: next, restarts: 1 });

    // Same login, a new connection (what the app does): her next call works, and her work is there.
    const e2 = await eve.rpc();
    try {
      const again = await e2.call<OpenLabResult>('openLab', lab);
      expect(again.model!.meta.description).toBe('Eve was here');
      await expect(e2.call('status', lab)).resolves.toBeNull();
    } finally {
      e2.close();
    }
  }, 90_000);

  it('a call in flight when the worker dies fails with a reconnect error; a worker that dies again soon waits longer', async () => {
    const lab = await rc.labOf(ada);
    const a = await ada.rpc();
    const pid = rc.classroom.workers.pid(0)!;
    // A call the worker is still busy with when it is killed (a validate of a large lab).
    const { model } = await a.call<OpenLabResult>('openLab', lab);
    const busy = { ...model!, machines: Array.from({ length: 3000 }, (_, i) => ({ ...model!.machines[0]!, name: `m${i}` })) };
    const inFlight = a.call('validate', busy).then(
      () => 'answered',
      (err: Error) => err.message,
    );
    await new Promise((r) => setTimeout(r, 20));
    process.kill(pid, 'SIGKILL');
    const outcome = await inFlight;
    // Either the worker answered before it died, or the call says what to do.
    if (outcome !== 'answered') expect(outcome).toMatch(/reconnect|not connected|restarted/);
    const next = await eventually(() => rc.classroom.workers.pid(0), (p) => !!p && p !== pid, 30_000);
    expect(next).not.toBe(pid);
    // The second quick exit: the back-off doubled.
    expect(rc.log.join('\n')).toMatch(new RegExp(`worker 0 \\(pid ${pid}\\) was killed by SIGKILL after [\\d.]+ s; its students must reconnect; restarting it in 0\\.6 s \\(restart 2\\)`));
    a.close();
    const a2 = await ada.rpc();
    try {
      expect((await a2.call<OpenLabResult>('openLab', lab)).model!.machines).toHaveLength(2);
    } finally {
      a2.close();
    }
  }, 90_000);
});
