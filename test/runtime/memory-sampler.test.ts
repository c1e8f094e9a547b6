// Status memory figures come from one background walk of /proc for all guests (proc-memory.ts), so a
// status call never walks /proc once per machine (issue 22: 52 s at 500 machines).
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { GroupMemorySampler } from '../../src/main/runtime/proc-memory.ts';
import { eventually } from '../support/poll.ts';

const started: ChildProcess[] = [];
/** `n` processes, each the leader of its own group (as guests are). */
function groups(n: number): number[] {
  return Array.from({ length: n }, () => {
    const child = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
    started.push(child);
    return child.pid!;
  });
}

afterAll(() => {
  for (const child of started) child.kill('SIGKILL'); // only the processes this file started, by pid
});

describe('GroupMemorySampler', () => {
  it('answers a few groups at once, with each group’s memory', () => {
    const pgids = groups(3);
    const figures = new GroupMemorySampler().bytesOf(pgids);
    for (const pgid of pgids) expect(figures.get(pgid)).toBeGreaterThan(0);
  });

  it('answers many groups without waiting, then from the background sample', async () => {
    const pgids = groups(40);
    const sampler = new GroupMemorySampler(0);
    const first = sampler.bytesOf(pgids);
    expect([...first.values()].every((v) => v === undefined)).toBe(true); // not walked on the caller's time
    const later = await eventually(() => sampler.bytesOf(pgids), (m) => [...m.values()].every((v) => (v ?? 0) > 0), 10_000);
    expect([...later.values()].filter((v) => (v ?? 0) > 0)).toHaveLength(40);
  });

  it('knows nothing of a group that is gone', async () => {
    const [pgid] = groups(1);
    const sampler = new GroupMemorySampler(0);
    expect(sampler.bytesOf([pgid!]).get(pgid!)).toBeGreaterThan(0);
    started.at(-1)!.kill('SIGKILL');
    await new Promise((r) => started.at(-1)!.once('exit', r));
    const gone = await eventually(() => sampler.bytesOf([pgid!]).get(pgid!), (v) => v === undefined, 10_000);
    expect(gone).toBeUndefined();
  });
});
