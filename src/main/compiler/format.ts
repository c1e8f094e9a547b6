// The one text form of a plan: what `vnetlab compile --json` prints and the snapshots hold.
// compile() builds every object with a fixed key order, so plain JSON.stringify is stable.
import type { Plan } from '../../shared/plan.ts';

export function formatPlanJson(plan: Plan): string {
  return `${JSON.stringify(plan, null, 2)}\n`;
}
