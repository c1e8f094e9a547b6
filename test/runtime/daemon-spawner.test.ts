// The daemon spawner (kernels/host/vnetlab-spawner.c, src/main/runtime/daemon-spawner.ts) with real
// processes: a daemon is held at its gate until it is recorded, runs in a session of its own with the
// lab's FIFO as stdin and its log as stdout and stderr, and its exit is reported; a daemon that could
// not be recorded never runs; when the spawner goes, the daemons it started run on and their exits are
// still seen, and the next spawn starts a new spawner.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostHelper } from '../../src/main/images/host-helpers.ts';
import { DaemonSpawner } from '../../src/main/runtime/daemon-spawner.ts';
import type { SpawnedProcess } from '../../src/main/runtime/launcher.ts';
import { processState } from '../../src/main/runtime/records.ts';
import { waitUntil } from './helpers.ts';
import { childrenRunning } from '../support/processes.ts';

function sessionOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
}

function alive(pid: number): boolean {
  const state = processState(pid);
  return state !== undefined && state !== 'Z';
}

describe('the daemon spawner (real processes)', () => {
  let dir: string;
  let helper: string;
  let spawner: DaemonSpawner;
  const started: number[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vnetlab-spawner-'));
    helper = hostHelper('vnetlab-spawner');
    spawner = new DaemonSpawner(helper, process.env);
  });

  afterAll(async () => {
    for (const pid of started) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await spawner.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds a daemon at its gate until it is recorded, then runs it in a session of its own', async () => {
    const fifo = join(dir, 'stdin.fifo');
    execFileSync('mkfifo', [fifo]);
    const log = join(dir, 'a.log');
    let seenAtRecord: string | undefined;
    const register = (p: SpawnedProcess) => {
      seenAtRecord = readlinkSync(`/proc/${p.pid}/exe`);
      started.push(p.pid);
    };
    const handle = await spawner.spawn({ argv: ['sh', '-c', 'echo out; echo err >&2; readlink /proc/self/fd/0; exec sleep 30'], logFile: log, stdinFifo: fifo, sockets: [] }, register);
    expect(seenAtRecord).toBe(helper); // forked, not yet the daemon
    expect(handle.pgid).toBe(handle.pid);
    await waitUntil(() => (alive(handle.pid) ? readFileSync(`/proc/${handle.pid}/cmdline`, 'utf8') : ''), (cmdline) => cmdline.startsWith('sleep\0'));
    expect(sessionOf(handle.pid)).toBe(handle.pid);
    expect(readFileSync(log, 'utf8')).toBe(`out\nerr\n${fifo}\n`);
    handle.kill('SIGTERM');
    expect(await handle.exited).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it('reports an exit code, and a daemon that cannot run says why in its log', async () => {
    const done = await spawner.spawn({ argv: ['sh', '-c', 'exit 3'], logFile: join(dir, 'b.log'), sockets: [] }, (p) => started.push(p.pid));
    expect(await done.exited).toEqual({ code: 3, signal: null });
    const missing = await spawner.spawn({ argv: ['/nonexistent/daemon'], logFile: join(dir, 'c.log'), sockets: [] }, (p) => started.push(p.pid));
    expect(await missing.exited).toEqual({ code: 127, signal: null });
    expect(readFileSync(join(dir, 'c.log'), 'utf8')).toMatch(/cannot run \/nonexistent\/daemon: No such file/);
  });

  it('never runs a daemon that could not be recorded', async () => {
    const marker = join(dir, 'ran');
    let pid = 0;
    const failing = spawner.spawn({ argv: ['sh', '-c', `touch ${marker}`], logFile: join(dir, 'd.log'), sockets: [] }, (p) => {
      pid = p.pid;
      throw new Error('the disk is full');
    });
    await expect(failing).rejects.toThrow(/the disk is full/);
    await waitUntil(() => alive(pid), (a) => !a);
    await new Promise((r) => setTimeout(r, 200));
    expect(() => readFileSync(marker)).toThrow();
  });

  it('when the spawner dies, its daemons run on, their exits are still seen, and the next spawn starts a new one', async () => {
    const running = await spawner.spawn({ argv: ['sleep', '30'], logFile: join(dir, 'e.log'), sockets: [] }, (p) => started.push(p.pid));
    // Running (past its gate): a daemon still at its gate when the spawner dies never runs (the test below).
    await waitUntil(() => (alive(running.pid) ? readFileSync(`/proc/${running.pid}/cmdline`, 'utf8') : ''), (cmdline) => cmdline.startsWith('sleep\0'));
    const [first] = childrenRunning(helper);
    expect(first).toBeGreaterThan(0);
    process.kill(first!, 'SIGKILL');
    await waitUntil(() => childrenRunning(helper), (pids) => !pids.includes(first!));
    expect(alive(running.pid)).toBe(true);
    running.kill('SIGKILL');
    expect(await running.exited).toEqual({ code: null, signal: null }); // seen by looking: no one said how
    const next = await spawner.spawn({ argv: ['sh', '-c', 'exit 5'], logFile: join(dir, 'f.log'), sockets: [] }, (p) => started.push(p.pid));
    expect(await next.exited).toEqual({ code: 5, signal: null });
    expect(childrenRunning(helper).filter((pid) => pid !== first)).toHaveLength(1);
  });

  it('closed while a daemon waits at its gate, that daemon exits without running anything', async () => {
    const other = new DaemonSpawner(helper, process.env);
    const marker = join(dir, 'held-ran');
    // The spawner is let go while the daemon waits to be let go: its gate closes unopened.
    const held = await other.spawn({ argv: ['sh', '-c', `touch ${marker}`], logFile: join(dir, 'g.log'), sockets: [] }, () => void other.close());
    expect(await held.exited).toEqual({ code: null, signal: null });
    expect(alive(held.pid)).toBe(false);
    expect(() => readFileSync(marker)).toThrow();
  });
});
