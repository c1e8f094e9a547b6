// The quota counts running machines, not only lab starts: a student who starts a machine the lab's
// reservation does not hold (one they stopped earlier, or one they added to their copy's lab file
// while it runs) goes through the same quota and queue as a start. Runtime faked (Backends seam),
// worker and front door real.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, enrol, startTestClass, type TestClass } from './helpers.ts';

const PW = 'correct horse battery';

async function openLab(b: Browser): Promise<string> {
  return decodeURIComponent(/lab=([^&]+)/.exec((await b.fetch('/open/two-hosts')).headers.get('location')!)![1]!);
}

/** The student edits their copy's lab file: one more machine. */
function addMachine(lab: string, name: string, memory: number): void {
  const file = join(lab, 'lab.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('\ndomains:', `\n  ${name}:\n    kind: host\n    image: tiny\n    memory: ${memory}\n    interfaces:\n      - {domain: lan}\n\ndomains:`));
}

describe('quota per running machine', () => {
  let cls: TestClass;
  let alice: Browser;
  let bob: Browser;

  beforeAll(async () => {
    cls = await startTestClass(['quota: {machines: 2, memory_mb: 512}', 'capacity: {machines: 3, memory_mb: 4096}']);
    alice = await enrol(cls, 'Alice', 'alice@uni.edu', PW);
    bob = await enrol(cls, 'Bob', 'bob@uni.edu', PW);
  }, 60_000);
  afterAll(async () => {
    await cls?.close();
  });

  it('a machine started inside a running lab counts against the quota and waits in the queue', async () => {
    const aliceId = cls.server.accounts.byEmail('alice@uni.edu')!.id;
    const used = () => {
      const mine = cls.server.admission.snapshot().running.filter((r) => r.student === aliceId);
      return { machines: mine.reduce((s, r) => s + r.machines, 0), memoryMb: mine.reduce((s, r) => s + r.memoryMb, 0) };
    };
    const lab = await openLab(alice);
    const a = await alice.rpc();
    await a.call('startLab', lab);
    expect(used()).toEqual({ machines: 2, memoryMb: 128 });

    // pc3 added to the running lab's file: starting it would make 3 machines, past the quota of 2.
    addMachine(lab, 'pc3', 64);
    await expect(a.call('machine', lab, 'pc3', 'start')).rejects.toThrow(/quota reached: starting pc3 needs 1 machine and 64 MiB.*use 2 machines/);
    // Restarting a machine the lab holds is not a new start.
    await a.call('machine', lab, 'pc1', 'restart');
    expect(used()).toEqual({ machines: 2, memoryMb: 128 });

    // Stopping pc2 gives its share back; pc3 then fits, and pc2 no longer does.
    await a.call('machine', lab, 'pc2', 'stop');
    expect(used()).toEqual({ machines: 1, memoryMb: 64 });
    await a.call('machine', lab, 'pc3', 'start');
    expect(used()).toEqual({ machines: 2, memoryMb: 128 });
    await expect(a.call('machine', lab, 'pc2', 'start')).rejects.toThrow(/quota reached/);
    expect(cls.server.admission.machinesOf(aliceId, lab).sort()).toEqual(['pc1', 'pc3']);

    // Memory counts per machine too: a 600 MiB machine never fits a 512 MiB quota.
    await a.call('machine', lab, 'pc3', 'stop');
    addMachine(lab, 'big', 600);
    await expect(a.call('machine', lab, 'big', 'start')).rejects.toThrow(/quota reached: starting big needs 1 machine and 600 MiB/);
    await a.call('machine', lab, 'pc3', 'start');

    // Capacity 3: Alice holds 2, so Bob's lab (2) waits; Alice stopping a machine lets him in.
    const bobLab = await openLab(bob);
    const b = await bob.rpc();
    let bobStarted = false;
    const bobStart = b.call('startLab', bobLab).then(() => (bobStarted = true));
    await expect.poll(() => b.pushes.some((p) => p.kind === 'event' && p.event.type === 'progress' && /number 1 in the queue/.test(p.event.message)), { timeout: 5000 }).toBe(true);
    expect(bobStarted).toBe(false);
    await a.call('machine', lab, 'pc3', 'stop');
    await bobStart;
    expect(cls.runtime.running.has(bobLab)).toBe(true);

    // Now the server is full (1 + 2): Alice's machine start waits in the queue like a lab start,
    // and starts when Bob stops his lab.
    let machineStarted = false;
    const machineStart = a.call('machine', lab, 'pc2', 'start').then(() => (machineStarted = true));
    await expect.poll(() => a.pushes.some((p) => p.kind === 'event' && p.event.type === 'progress' && /number 1 in the queue/.test(p.event.message)), { timeout: 5000 }).toBe(true);
    expect(machineStarted).toBe(false);
    expect(cls.server.admission.position(aliceId)).toBe(1);
    await b.call('stopLab', bobLab);
    await machineStart;
    expect(used()).toEqual({ machines: 2, memoryMb: 128 });

    // A start of the running lab reserves the whole lab file again (4 machines now: past the quota).
    await expect(a.call('startLab', lab)).rejects.toThrow(/quota reached: this lab needs 4 machines/);
    await a.call('stopLab', lab);
    expect(used()).toEqual({ machines: 0, memoryMb: 0 });
    a.close();
    b.close();
  }, 30_000);
});
