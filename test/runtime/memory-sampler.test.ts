// Status memory figures (proc-memory.ts) come from each guest's own processes, found from its group
// leader's children, not from a walk of all of /proc (issue 22: 52 s per status at 500 machines).
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { GuestMemory, groupRssBytes, procReader } from '../../src/main/runtime/proc-memory.ts';
import { eventually, waitUntil } from '../support/poll.ts';

const started: ChildProcess[] = [];
/** A process group led by a shell with `children` sleeping children (as a guest's kernel and its helpers), or by one sleep. */
function group(children: number): number {
  const script = children ? `${'sleep 60 & '.repeat(children)}wait` : 'exec sleep 60';
  const child = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  started.push(child);
  return child.pid!;
}

afterAll(() => {
  // Only the groups this file started (some are gone already).
  for (const child of started) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // ended by its test
    }
  }
});

describe('guest memory', () => {
  it('counts the leader and the children in its group, and nothing once the leader is gone', async () => {
    const lone = group(0);
    const three = group(3);
    // Both shells have exec'd and started their sleeps.
    await waitUntil(() => procReader.children(three).length, (n) => n === 3, 5_000, 20);
    const one = (await eventually(() => groupRssBytes(lone) ?? 0, (v) => v > 0, 5_000, 20))!;
    const four = (await eventually(() => groupRssBytes(three) ?? 0, (v) => v > one, 5_000, 20))!;
    expect(one).toBeGreaterThan(0);
    expect(four).toBeGreaterThan(one); // a shell and three sleeps weigh more than one sleep
    process.kill(-three, 'SIGKILL');
    await waitUntil(() => groupRssBytes(three), (v) => v === undefined, 5_000, 20);
  });

  it('answers from its last figures; a guest added has a figure at once (one read), its PSS in the background', async () => {
    const leaders = Array.from({ length: 20 }, () => group(1));
    await waitUntil(() => procReader.children(leaders[0]!).length, (n) => n === 1, 5_000, 20);
    const reads: string[] = [];
    const counting = {
      children: (pid: number) => (reads.push('children'), procReader.children(pid)),
      group: (pid: number) => (reads.push('group'), procReader.group(pid)),
      rollup: (pid: number) => (reads.push('rollup'), procReader.rollup(pid)),
      residentBytes: (pid: number) => (reads.push('resident'), procReader.residentBytes(pid)),
    };
    const memory = new GuestMemory({ minPeriodMs: 50, reader: counting });
    memory.add(leaders[0]!);
    expect(memory.bytes(leaders[0]!)).toBeGreaterThan(0);
    expect(reads).toEqual(['resident']);
    // Then the refresh replaces it with the PSS of the whole group (the leader and its child).
    await waitUntil(() => memory.refreshes, (n) => n >= 1, 10_000);
    expect(reads).toContain('rollup');
    expect(memory.bytes(leaders[0]!)).toBeGreaterThan(0);
    for (const l of leaders.slice(1)) memory.add(l);
    const figures = await eventually(() => leaders.map((l) => memory.bytes(l)), (v) => v.every((b) => (b ?? 0) > 0), 10_000);
    expect(figures.filter((b) => (b ?? 0) > 0)).toHaveLength(20);
    // A guest that exits is forgotten by the next refresh (the supervisor also removes it at once).
    process.kill(-leaders[5]!, 'SIGKILL');
    await waitUntil(() => memory.bytes(leaders[5]!), (v) => v === undefined, 10_000);
    memory.remove(leaders[6]!);
    expect(memory.bytes(leaders[6]!)).toBeUndefined();
    memory.stop();
  });
});
