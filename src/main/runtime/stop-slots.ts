// How many guests a graceful stop takes down at once, and its "N of M stopped" progress.
import { availableParallelism } from 'node:os';
import { readdirSync, readFileSync } from 'node:fs';

/** Guests shutting down at once per host core. */
const STOPS_PER_CORE = 20;

/**
 * A stopping guest no longer waits (its halt gives its programs at most a second, and usually they end
 * at once): its shutdown is CPU work, and 500 of them at once on 2 cores starved everything, the
 * supervisor too, which then saw the guests' exits late. Measured at 500 tiny guests
 * (`vnetlab stop`, 2 cores): all at once 17.6 s and 6.9 ticks of host CPU per guest; 40 at once
 * 8.6 s and 3.3 ticks. Also bounded by the supervisor's file descriptors (each stopping guest may hold
 * an mconsole helper and its pipes). A guest too slow to finish its own shutdown within the `cad`
 * timeout still has its disks synced by its kernel before `halt` (guest-shutdown.ts).
 */
export function defaultParallelStops(): number {
  return Math.max(8, Math.min(STOPS_PER_CORE * availableParallelism(), Math.floor((openFilesRoom() - 64) / 4)));
}

/** File descriptors this process may still open (soft limit less those open now). */
function openFilesRoom(): number {
  try {
    const limit = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return Number(limit?.[1] ?? 1024) - readdirSync('/proc/self/fd').length;
  } catch {
    return 1024;
  }
}

/** How often a long stop says how far it got (and once at the end). */
const PROGRESS_EVERY_MS = 500;

/**
 * Counts stopped guests and reports "stopped N of M" as a progress line, at most twice a second and
 * always for the last one; a stop of one or two guests says nothing (its machine states say it all).
 */
export function stopCounter(total: number, report: (message: string) => void, now: () => number = Date.now): () => void {
  let stopped = 0;
  let lastAt = 0;
  return () => {
    stopped++;
    if (total < 3) return;
    const t = now();
    if (stopped < total && t - lastAt < PROGRESS_EVERY_MS) return;
    lastAt = t;
    report(`stopped ${stopped} of ${total}`);
  };
}
