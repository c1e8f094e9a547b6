// How many guests a graceful stop takes down at once, and its "N of M stopped" progress.
import { readdirSync, readFileSync } from 'node:fs';

/**
 * All at once, as far as the supervisor's file descriptors allow (each guest in its stop holds a
 * helper process and its pipes). Measured (bench/stop.ts, bench/runtime.ts): a stopping guest mostly
 * waits (its shutdown sleeps a second for its programs to end), and the guests still running are what
 * loads the host, so batches only made it slower — 500 guests in slots of 64 took 137 s. A guest too
 * slow to finish its own shutdown within the `cad` timeout still has its disks synced by its kernel
 * before `halt` (guest-shutdown.ts).
 */
export function defaultParallelStops(): number {
  return Math.max(8, Math.floor((openFilesRoom() - 64) / 4));
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
