// A lab's machine taking a booted guest from the warm pool (the supervisor's side of a claim): claim
// one of the machine's kind, let the launcher take it over (pooled-guest.ts adoptPooledGuest), and tell
// the pool it is ours, or give it back. Any failure means a cold boot, never a failed start.
import type { GuestPlan } from '../../../shared/plan.ts';
import type { GuestHandle, Launcher } from '../launcher.ts';
import type { ProcessBook } from '../process-book.ts';
import type { GuestSource } from '../supervisor-types.ts';

/** A booted guest from the warm pool made this machine, or undefined (no pool, none fits, or it failed: boot cold). */
export async function takePooledGuest(
  pool: GuestSource | undefined,
  launcher: Launcher,
  plan: GuestPlan,
  size: { cols: number; rows: number },
  book: ProcessBook,
  progress: (message: string) => void,
): Promise<GuestHandle | undefined> {
  if (!pool || !launcher.adoptGuest) return undefined;
  const pooled = await pool.claim(plan).catch(() => undefined);
  if (!pooled) return undefined;
  let handedOver = false;
  try {
    return await launcher.adoptGuest(plan, pooled, size, book.register('guest', plan.name), async () => {
      await pool.taken(pooled.id);
      handedOver = true;
    });
  } catch (err) {
    book.forget('guest', plan.name);
    if (!handedOver) await pool.release(pooled.id);
    progress(`${plan.name}: the pooled guest could not take over (${(err as Error).message}); booting it`);
    return undefined;
  }
}
