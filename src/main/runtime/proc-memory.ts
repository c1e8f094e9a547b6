// Memory of a guest as the host sees it, for `vnetlab status`: read from /proc, never from the guest.
import { readdirSync, readFileSync } from 'node:fs';
import { processGroup } from './records.ts';

/**
 * Memory of every process in a group (UML runs a few host processes per guest that share the guest's
 * memory file): proportional set size, so shared pages are not counted twice; RSS when PSS is unreadable.
 */
export function groupRssBytes(pgid: number): number | undefined {
  let total = 0;
  let found = false;
  // UML's helper processes (I/O, SIGIO) are clone(CLONE_VM) children: separate pids sharing the kernel
  // process's address space, each reporting that same address space in full. Count each space once;
  // the kernel prints an identical smaps_rollup (address range header included) for every sharer.
  const seenSpaces = new Set<string>();
  for (const pid of processIds()) {
    if (processGroup(pid) !== pgid) continue;
    const rollup = readRollup(pid);
    if (rollup !== undefined) {
      if (seenSpaces.has(rollup)) continue;
      seenSpaces.add(rollup);
    }
    const bytes = processMemoryBytes(pid, rollup);
    if (bytes === undefined) continue;
    total += bytes;
    found = true;
  }
  return found ? total : undefined;
}

function readRollup(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return undefined;
  }
}

function processMemoryBytes(pid: number, rollup: string | undefined): number | undefined {
  const pss = rollup === undefined ? null : /^Pss:\s+(\d+) kB/m.exec(rollup);
  if (pss) return Number(pss[1]) * 1024;
  try {
    return Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * 4096;
  } catch {
    return undefined;
  }
}

function processIds(): number[] {
  try {
    return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number);
  } catch {
    return [];
  }
}

/**
 * Memory of many process groups at once, for a supervisor's status: one walk of /proc for all of them
 * (not one per machine: at 500 machines that was 500 walks, ~50 s per status call), done in the
 * background with a pause every few processes so console bytes keep flowing, and repeated only when a
 * status call finds the last sample old. Status answers from the last sample at once.
 */
export class GroupMemorySampler {
  private latest = new Map<number, number>();
  private sampledAt = 0;
  private lastDurationMs = 0;
  private sampling: Promise<void> | undefined;

  /** `minAgeMs`: never sample more often than this (and at least 5× as long as a sample takes). */
  constructor(private readonly minAgeMs = 2_000) {}

  /**
   * The last figure of each group asked for; starts a fresh sample in the background when the last
   * one is old. The first call, when there are few groups, samples at once (a status right after a
   * start shows memory); with many, it answers without memory until the background sample is in.
   */
  bytesOf(pgids: number[]): Map<number, number | undefined> {
    if (this.sampledAt === 0 && pgids.length > 0 && pgids.length <= 32) this.sampleNowSync(pgids);
    else if (Date.now() - this.sampledAt > Math.max(this.minAgeMs, 5 * this.lastDurationMs)) void this.sample(pgids);
    return new Map(pgids.map((pgid) => [pgid, this.latest.get(pgid)]));
  }

  private sampleNowSync(pgids: number[]): void {
    const started = Date.now();
    const wanted = new Set(pgids);
    const totals = new Map<number, number>();
    const seen = new Set<string>();
    for (const pid of processIds()) addProcess(pid, wanted, totals, seen);
    this.latest = totals;
    this.sampledAt = Date.now();
    this.lastDurationMs = this.sampledAt - started;
  }

  private sample(pgids: number[]): Promise<void> {
    this.sampling ??= (async () => {
      const started = Date.now();
      const wanted = new Set(pgids);
      const totals = new Map<number, number>();
      const seen = new Set<string>();
      const pids = processIds();
      for (let i = 0; i < pids.length; i++) {
        addProcess(pids[i]!, wanted, totals, seen);
        // Let the event loop run (console bytes, API calls) between small batches.
        if (i % 16 === 15) await new Promise((resolve) => setImmediate(resolve));
      }
      this.latest = totals;
      this.sampledAt = Date.now();
      this.lastDurationMs = this.sampledAt - started;
    })().finally(() => (this.sampling = undefined));
    return this.sampling;
  }
}

/** Add one process to its group's total when the group is wanted (each shared address space once). */
function addProcess(pid: number, wanted: Set<number>, totals: Map<number, number>, seenSpaces: Set<string>): void {
  const pgid = processGroup(pid);
  if (pgid === undefined || !wanted.has(pgid)) return;
  const rollup = readRollup(pid);
  if (rollup !== undefined) {
    const space = `${pgid}:${rollup}`;
    if (seenSpaces.has(space)) return;
    seenSpaces.add(space);
  }
  const bytes = processMemoryBytes(pid, rollup);
  if (bytes !== undefined) totals.set(pgid, (totals.get(pgid) ?? 0) + bytes);
}
