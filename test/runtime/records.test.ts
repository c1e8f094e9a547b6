// On-disk process records: a recorded process is signalled only while its pid still has the recorded
// start time (pid reuse), and then as a whole process group. Uses real `sleep` processes it starts.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { waitSupervisorGone } from '../../src/main/runtime/client.ts';
import { groupHasMembers, isRecordedProcessAlive, processStartTime, processState, readRecords, removeRecord, signalRecorded, writeRecord } from '../../src/main/runtime/records.ts';
import { eventually, waitUntil } from './helpers.ts';

const runDir = mkdtempSync(join(tmpdir(), 'vrec-'));
const started: number[] = [];

/** A process group of two sleeps, led by a shell (like a guest and its helpers). */
function sleepGroup(): number {
  const child = spawn('/bin/sh', ['-c', 'sleep 60 & exec sleep 60'], { detached: true, stdio: 'ignore' });
  child.unref();
  started.push(child.pid!);
  return child.pid!;
}

afterAll(() => {
  for (const pgid of started) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already ended by the test
    }
  }
  rmSync(runDir, { recursive: true, force: true });
});

describe('process groups', () => {
  it('has members while any process of the group lives, the leader gone or not; none once all are ended', async () => {
    // A leader that leaves a member behind, as a guest's kernel may leave a helper in its group.
    const child = spawn('/bin/sh', ['-c', 'sleep 60 & exit 0'], { detached: true, stdio: 'ignore' });
    const pgid = child.pid!;
    started.push(pgid);
    await new Promise((r) => child.once('exit', r));
    expect(groupHasMembers(pgid)).toBe(true);
    process.kill(-pgid, 'SIGKILL');
    expect(await eventually(() => groupHasMembers(pgid), (has) => !has)).toBe(false);
    expect(groupHasMembers(0)).toBe(false);
    expect(groupHasMembers(1)).toBe(false);
  });
});

describe('process records', () => {
  it('round-trips through the records folder with the start time from /proc', () => {
    const record = writeRecord(runDir, { kind: 'guest', name: 'pc1', pid: process.pid, pgid: process.pid, argv: ['x'], sockets: [] });
    expect(record.startTime).toBe(processStartTime(process.pid));
    expect(readRecords(runDir)).toEqual([record]);
    expect(isRecordedProcessAlive(record)).toBe(true);
    removeRecord(runDir, 'guest', 'pc1');
    expect(readRecords(runDir)).toEqual([]);
  });

  it('never signals a pid whose start time differs (the pid was reused)', () => {
    const pid = sleepGroup();
    const stale = writeRecord(runDir, { kind: 'guest', name: 'old', pid, pgid: pid, argv: [], sockets: [], startTime: '1' });
    expect(isRecordedProcessAlive(stale)).toBe(false);
    expect(signalRecorded(stale, 'SIGKILL')).toBe(false);
    expect(processStartTime(pid)).toBeDefined(); // still running
  });

  it('kills the whole group of a recorded process', async () => {
    const pid = sleepGroup();
    const record = writeRecord(runDir, { kind: 'switch', name: 'A', pid, pgid: pid, argv: [], sockets: [] });
    await waitUntil(() => groupSize(pid), (n) => n === 2, 2_000);
    expect(groupSize(pid)).toBe(2);
    expect(signalRecorded(record, 'SIGKILL')).toBe(true);
    expect(await eventually(() => groupSize(pid), (n) => n === 0, 3_000)).toBe(0);
  });
});

function groupSize(pgid: number): number {
  let n = 0;
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') n++;
    } catch {
      // gone
    }
  }
  return n;
}

describe('the one-daemon lock', () => {
  it('of twelve processes that try at once, exactly one holds it; a dead holder\'s lock is taken over', async () => {
    const lock = join(runDir, 'contended.lock');
    const records = join(import.meta.dirname, '../../src/main/runtime/records.ts');
    // Each takes the lock, says whether it got it, and holds on for a moment (as a supervisor would).
    const script = `const { takeProcessLock } = await import(${JSON.stringify(records)}); console.log(takeProcessLock(${JSON.stringify(lock)})); await new Promise((r) => setTimeout(r, 1500));`;
    const run = () =>
      new Promise<string>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout!.on('data', (d) => (out += d));
        child.once('exit', () => resolve(out.trim()));
      });
    const answers = await Promise.all(Array.from({ length: 12 }, run));
    expect(answers.filter((a) => a === 'true')).toHaveLength(1);
    expect(answers.filter((a) => a === 'false')).toHaveLength(11);
    // The holder has exited: its lock is stale, and the next one takes it over.
    expect(await run()).toBe('true');
    expect(readdirSync(runDir).filter((f) => f.startsWith('contended.lock.'))).toEqual([]);
  }, 60_000);
});

describe('waiting for a supervisor to go', () => {
  it('waits for the process itself, not only its record (removed a moment before it exits); a zombie has exited', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vsup-'));
    try {
      // A stand-in supervisor: its parent (this test) does not reap it at once, so it is a zombie for a while.
      const child = spawn('/bin/sh', ['-c', 'sleep 1.5'], { stdio: 'ignore' });
      started.push(child.pid!);
      writeRecord(dir, { kind: 'supervisor', name: 'supervisor', pid: child.pid!, pgid: child.pid!, argv: ['sh'], sockets: [] });
      const begun = Date.now();
      const gone = waitSupervisorGone(dir, 10_000);
      await new Promise((r) => setTimeout(r, 200));
      removeRecord(dir, 'supervisor', 'supervisor'); // as supervisor-main does just before process.exit
      expect(await gone).toBe(true);
      expect(Date.now() - begun, 'it waited for the process to exit').toBeGreaterThanOrEqual(1400);

      // A zombie: `sleep 1`, whose parent (exec'd into `sleep 5`) never waits for it.
      const parent = spawn('/bin/sh', ['-c', 'sleep 1 & echo $!; exec sleep 5'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
      started.push(parent.pid!);
      const zombie = Number(await new Promise<string>((resolve) => parent.stdout!.once('data', (d) => resolve(String(d)))));
      writeRecord(dir, { kind: 'supervisor', name: 'supervisor', pid: zombie, pgid: parent.pid!, argv: ['sleep'], sockets: [] });
      const since = Date.now();
      expect(await waitSupervisorGone(dir, 10_000)).toBe(true);
      expect(processState(zombie)).toBe('Z');
      expect(Date.now() - since, 'a zombie counts as gone').toBeLessThan(3500);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 20_000);
});
