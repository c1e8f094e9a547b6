// How many guests of a start boot at once, and running a wave with that bound.
import { freemem } from 'node:os';
import type { GuestPlan } from '../../shared/plan.ts';

/** Run `task` over `items` with at most `limit` at once. */
export async function runBounded<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) await task(items[next++]!);
  });
  await Promise.all(workers);
}

/**
 * Only free memory bounds parallel boots. A bound by CPU (it was max(8, 4 × cores)) made the guests
 * past it wait for a whole boot: with 10 guests on 2 cores the last two became ready ~3.5 s after the
 * others (`vnetlab start --profile`, column `wait`). Boots are CPU-bound, so all at once finish no
 * later than in batches (bench/runtime.ts measures 10, 50 and 100 against bare boots all at once).
 */
export function defaultParallelBoots(guests: GuestPlan[]): number {
  const perGuest = Math.max(...guests.map((g) => g.memoryMiB), 64) * 1024 * 1024;
  return Math.max(1, Math.floor(freemem() / perGuest));
}
