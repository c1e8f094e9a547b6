// Idle stop on the worker: a call in progress (a start slower than the idle time) is activity until
// it ends, and overlapping passes of the idle timer stop (and announce) a lab once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseClassroomConfig } from '../../src/main/classroom/config.ts';
import type { Notice } from '../../src/main/classroom/protocol.ts';
import { WorkerCore } from '../../src/main/classroom/worker.ts';
import { classLab, FakeRuntime } from './helpers.ts';

const STUDENT = 's0123456789';
let root = '';
let core: WorkerCore | undefined;
afterEach(() => {
  core?.close();
  rmSync(root, { recursive: true, force: true });
});

function worker(idleStopMs: number, startMs: number, stopMs: number): { core: WorkerCore; runtime: FakeRuntime; notices: Notice[] } {
  root = mkdtempSync(join(tmpdir(), 'vcli-'));
  const config = parseClassroomConfig(`data_dir: ${join(root, 'data')}\nlabs: [{id: two-hosts, path: ${classLab(root)}}]\n`, join(root, 'c.yaml'));
  const runtime = new FakeRuntime();
  const notices: Notice[] = [];
  core = new WorkerCore({
    name: 'w0',
    labs: config.labs,
    dataDir: join(root, 'w0'),
    runtimeBase: join(root, 'r'),
    env: process.env,
    idleStopMs,
    startTimeoutMs: 10_000,
    backendsFor: (env) => {
      const b = runtime.backendsFor(env);
      return {
        ...b,
        startLab: async (r) => {
          await new Promise((res) => setTimeout(res, startMs));
          return b.startLab(r);
        },
        stopLab: async (r) => {
          await new Promise((res) => setTimeout(res, stopMs));
          return b.stopLab(r);
        },
      };
    },
    grader: runtime.grader,
    onNotice: (n) => notices.push(n),
  });
  return { core, runtime, notices };
}

describe('idle_stop_minutes', () => {
  it('takes fractions of a minute (short sessions, benches), 0 for never, nothing negative', () => {
    root = mkdtempSync(join(tmpdir(), 'vcli-'));
    const lab = classLab(root);
    const parse = (v: string) => parseClassroomConfig(`data_dir: /tmp/x\nlabs: [{id: a, path: ${lab}}]\nidle_stop_minutes: ${v}\n`, '/tmp/c.yaml').idleStopMinutes;
    expect(parse('0.5')).toBe(0.5);
    expect(parse('0')).toBe(0);
    expect(() => parse('-1')).toThrow(/idle_stop_minutes: must be a number of minutes from 0 \(never\)/);
    expect(() => parse('soon')).toThrow(/idle_stop_minutes/);
  });
});

describe('idle stop on the worker', () => {
  it('does not stop a lab whose start outlasts the idle time, and stops it once idle after', async () => {
    const { core, runtime, notices } = worker(300, 1500, 0);
    const [lab] = await core.prepare(STUDENT);
    const client = core.student(STUDENT).service.connect(() => {});
    const t = Date.now();
    const started = await core.call(STUDENT, client, false, 'startLab', [lab!.path]);
    expect('result' in started).toBe(true);
    expect(Date.now() - t).toBeGreaterThanOrEqual(1400);
    // Not stopped while starting, nor right after: the start was the last activity.
    expect(runtime.running.has(lab!.path)).toBe(true);
    expect(notices).toEqual([]);
    await expect.poll(() => runtime.running.has(lab!.path), { timeout: 5000 }).toBe(false);
    expect(notices.filter((n) => n.kind === 'idle-stopped')).toHaveLength(1);
    client.close();
  });

  it('a slow stop is not started twice by the next pass of the timer', async () => {
    const { core, runtime, notices } = worker(60_000, 0, 800);
    const [lab] = await core.prepare(STUDENT);
    const client = core.student(STUDENT).service.connect(() => {});
    await core.call(STUDENT, client, false, 'startLab', [lab!.path]);
    const later = Date.now() + 120_000;
    await Promise.all([core.stopIdle(later), core.stopIdle(later), new Promise((r) => setTimeout(r, 100)).then(() => core.stopIdle(later))]);
    expect(runtime.stops).toEqual([lab!.path]);
    expect(notices.filter((n) => n.kind === 'idle-stopped')).toHaveLength(1);
    client.close();
  });
});
