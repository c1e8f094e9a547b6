// Memory of a guest as the host sees it, for `vnetlab status`: read from /proc, never from the guest.
// A guest is a process group led by its kernel process (UML runs a few host processes per guest that
// share the guest's memory file); its processes are found by walking the leader's children
// (/proc/<pid>/task/<tid>/children), so the cost follows the guest's own processes, not every process
// on the host (a walk of all of /proc per machine took 52 s per status at 500 machines: issue 22).
import { readdirSync, readFileSync } from 'node:fs';
import { processGroup } from './records.ts';

/** What is read of /proc (a test gives its own, to count reads or to slow them down). */
export interface ProcReader {
  /** Direct children of a process (of every one of its threads). */
  children(pid: number): number[];
  group(pid: number): number | undefined;
  /** /proc/<pid>/smaps_rollup, or undefined when unreadable. */
  rollup(pid: number): string | undefined;
  /** Resident bytes from /proc/<pid>/statm (when smaps_rollup is unreadable). */
  residentBytes(pid: number): number | undefined;
}

export const procReader: ProcReader = {
  children(pid) {
    const kids: number[] = [];
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      return kids;
    }
    for (const tid of tasks) {
      try {
        for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ')) if (c.trim()) kids.push(Number(c));
      } catch {
        // the thread ended meanwhile
      }
    }
    return kids;
  },
  group: processGroup,
  rollup(pid) {
    try {
      return readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    } catch {
      return undefined;
    }
  },
  residentBytes(pid) {
    try {
      return Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * 4096;
    } catch {
      return undefined;
    }
  },
};

/**
 * Memory of the process group led by `leader` (a guest: its pgid is its leader's pid): proportional set
 * size, so shared pages are not counted twice; RSS when PSS is unreadable. Undefined once the leader is gone.
 */
export function groupRssBytes(leader: number, reader: ProcReader = procReader): number | undefined {
  let total: number | undefined;
  // UML's helper processes (I/O, SIGIO) are clone(CLONE_VM) children: separate pids sharing the kernel
  // process's address space, each reporting that same address space in full. Count each space once;
  // the kernel prints an identical smaps_rollup (address range header included) for every sharer.
  const seenSpaces = new Set<string>();
  for (const pid of groupProcesses(leader, reader)) {
    const rollup = reader.rollup(pid);
    if (rollup !== undefined) {
      if (seenSpaces.has(rollup)) continue;
      seenSpaces.add(rollup);
    }
    const pss = rollup === undefined ? null : /^Pss:\s+(\d+) kB/m.exec(rollup);
    const bytes = pss ? Number(pss[1]) * 1024 : reader.residentBytes(pid);
    if (bytes !== undefined) total = (total ?? 0) + bytes;
  }
  return total;
}

/** The leader and its descendants that are still in its group. */
function groupProcesses(leader: number, reader: ProcReader): number[] {
  if (reader.group(leader) !== leader) return [];
  const found = [leader];
  for (let i = 0; i < found.length; i++) {
    for (const child of reader.children(found[i]!)) if (reader.group(child) === leader && !found.includes(child)) found.push(child);
  }
  return found;
}

export interface GuestMemoryOptions {
  /** Never refresh more often than this. */
  minPeriodMs?: number;
  /** Share of one core the refresh may take on average (the period stretches with the lab). */
  dutyCycle?: number;
  /** Longest stretch of reading before the event loop gets its turn (console bytes, API calls). */
  sliceMs?: number;
  /** Refresh only while someone looked at the figures this recently (default: always, within the duty cycle). */
  idleAfterMs?: number;
  reader?: ProcReader;
}

/**
 * The running guests' memory, kept by the supervisor for its status: a guest is sampled once when it
 * is ready, then all of them are refreshed in the background, in slices of a few milliseconds with
 * the event loop's turn between them, every 5 s or at a longer period that keeps the cost under 2 %
 * of a core (a refresh of 500 guests takes a few hundred ms). Status reads the last figures and never
 * waits for /proc.
 */
export class GuestMemory {
  private readonly leaders = new Set<number>();
  private readonly figures = new Map<number, number>();
  private readonly minPeriodMs: number;
  private readonly dutyCycle: number;
  private readonly sliceMs: number;
  private readonly idleAfterMs: number;
  private readonly reader: ProcReader;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private lastAskedAt = 0;
  /** Time spent reading in the last refresh (slices only, not the waits between them). */
  lastRefreshMs = 0;
  /** Refreshes done (tests, benches). */
  refreshes = 0;

  constructor(options: GuestMemoryOptions = {}) {
    this.minPeriodMs = options.minPeriodMs ?? 5_000;
    this.dutyCycle = options.dutyCycle ?? 0.02;
    this.sliceMs = options.sliceMs ?? 4;
    this.idleAfterMs = options.idleAfterMs ?? Infinity;
    this.reader = options.reader ?? procReader;
  }

  /**
   * A guest is up: a first figure at once, its leader's resident memory (one small read), and its PSS
   * with the next refresh. The PSS of all its processes took ~13 ms a guest at 50 booting together (the
   * kernel walks each process's page tables), on the path that boots the next guests.
   */
  add(leader: number): void {
    this.leaders.add(leader);
    const bytes = this.reader.residentBytes(leader);
    if (bytes !== undefined) this.figures.set(leader, bytes);
    if (!this.timer && !this.refreshing && this.wanted()) this.schedule(this.minPeriodMs);
  }

  remove(leader: number): void {
    this.leaders.delete(leader);
    this.figures.delete(leader);
  }

  /** The last figure of a guest; never reads /proc. Keeps the background refresh going for a while. */
  bytes(leader: number): number | undefined {
    this.asked();
    return this.figures.get(leader);
  }

  /** Someone reads the figures: refresh them in the background (from now, for idleAfterMs). */
  asked(): void {
    this.lastAskedAt = Date.now();
    if (!this.timer && !this.refreshing && this.leaders.size) this.schedule(0);
  }

  /** Wait for the refresh under way, if any (tests, benches). */
  async settled(): Promise<void> {
    await this.refreshing;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.leaders.clear();
  }

  private wanted(): boolean {
    return this.idleAfterMs === Infinity || Date.now() - this.lastAskedAt < this.idleAfterMs;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refreshing = this.refresh().finally(() => {
        this.refreshing = undefined;
        if (this.wanted() && this.leaders.size) this.schedule(Math.max(this.minPeriodMs, this.lastRefreshMs / this.dutyCycle));
      });
    }, delayMs);
    this.timer.unref();
  }

  private async refresh(): Promise<void> {
    let busyMs = 0;
    let sliceStart = performance.now();
    for (const leader of [...this.leaders]) {
      const bytes = groupRssBytes(leader, this.reader);
      if (!this.leaders.has(leader)) continue; // removed while we read
      if (bytes === undefined) this.figures.delete(leader);
      else this.figures.set(leader, bytes);
      const now = performance.now();
      if (now - sliceStart >= this.sliceMs) {
        busyMs += now - sliceStart;
        await new Promise((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
    }
    this.lastRefreshMs = busyMs + (performance.now() - sliceStart);
    this.refreshes++;
  }
}
