// What the pool should hold for a lab (the app's pool, src/main/service/app-pool.ts). Apart from
// pool-client.ts because it reads lab files: the supervisor, which imports pool-client.ts, must not
// carry the lab readers.
import { planLab } from '../prepare.ts';
import { poolTargetOf } from './pool-client.ts';
import { canTakePooledGuest } from './pooled-guest.ts';
import { poolKey } from './pool-files.ts';
import type { PoolTarget } from './protocol.ts';

/**
 * What the pool should hold for a lab about to be started: per kind, one guest for each machine whose
 * disk is fresh, at most `max` in all (the machines of the first waves first).
 */
export async function poolTargetsForLab(labPath: string, max: number, env: NodeJS.ProcessEnv = process.env): Promise<PoolTarget[]> {
  const { plan } = await planLab(labPath, { env });
  const byKey = new Map<string, PoolTarget>();
  let total = 0;
  for (const name of plan.waves.flat()) {
    const guest = plan.guests.find((g) => g.name === name);
    if (!guest || !canTakePooledGuest(guest) || total >= max) continue;
    const kind = poolTargetOf(guest, 0);
    const key = poolKey(kind.shared, kind.imagePath);
    const target = byKey.get(key) ?? kind;
    target.size++;
    total++;
    byKey.set(key, target);
  }
  return [...byKey.values()];
}
