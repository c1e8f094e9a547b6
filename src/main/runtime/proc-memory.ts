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
