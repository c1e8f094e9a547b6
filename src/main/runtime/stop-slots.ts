// How many guests a graceful stop takes down at once, and its "N of M stopped" progress.
import { availableParallelism } from 'node:os';

/**
 * A stopping guest runs its shutdown (forks in the guest, a second's wait for its processes to end, a
 * sync): mostly waiting, some CPU. 32 per core keeps the cores busy while each guest still finishes
 * well within its `cad` timeout; all 500 of a big lab at once did not (issue 22: 49 s, some halted).
 */
export function defaultParallelStops(): number {
  return Math.max(16, 32 * availableParallelism());
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
