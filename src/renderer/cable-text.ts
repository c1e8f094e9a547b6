// What a cable's impairments do, in words a student can check with ping: a delay is added in each
// direction it is set for, so a round trip grows by the sum of both (200 ms each way = +400 ms).
// Used by the canvas label of an impaired cable and by the Impair dialog.
import { describeImpairment } from '../shared/impairments.ts';
import type { CableImpairments, Impairment } from '../shared/plan.ts';
import type { LabModel } from '../shared/lab-model.ts';
import type { CableStatus } from '../shared/runtime-api.ts';
import { endpointsByDomain, isPointToPoint, parseElementId } from './graph/mapping.ts';

/** What a ping's round trip gains from these impairments (ms), jitter aside. */
export function addedRoundTripMs(impairments: CableImpairments): number {
  return (impairments.out?.delayMs ?? 0) + (impairments.in?.delayMs ?? 0);
}

/**
 * A cable's impairments on one or two lines: the same values both ways say "each way", different ones
 * name the direction (`out` from the machine, `in` towards it, or the machines' names), and a delay
 * adds the round trip a ping will show.
 */
export function describeCableImpairments(c: Pick<CableStatus, 'impairments'>, names: { out: string; in: string } = { out: 'out', in: 'in' }): string {
  const { in: inbound, out: outbound } = c.impairments;
  const same = JSON.stringify(inbound ?? {}) === JSON.stringify(outbound ?? {});
  const text = same
    ? `${describeImpairment(outbound)} each way`
    : [outbound && `${names.out}: ${describeImpairment(outbound)}`, inbound && `${names.in}: ${describeImpairment(inbound)}`].filter(Boolean).join('; ');
  const rtt = addedRoundTripMs(c.impairments);
  return rtt ? `${text}\n(round trip +${rtt} ms)` : text;
}

/** What the Impair dialog is about to do, said as its effect on a ping (values not yet sent). */
export function impairmentEffect(values: Impairment, direction: 'in' | 'out' | 'both'): string {
  if (!values.delayMs) return '';
  const ways = direction === 'both' ? 2 : 1;
  const delay = `${values.delayMs} ms${values.jitterMs ? ` ± ${values.jitterMs}` : ''}`;
  return direction === 'both'
    ? `Adds ${delay} each way: a ping's round trip grows by ${values.delayMs * ways} ms.`
    : `Adds ${delay} in one direction: a ping's round trip grows by ${values.delayMs} ms.`;
}

/**
 * Keeps the Impair dialog's effect line in step with what is typed, and names the directions after
 * the cable's ends (`pc1 → lan`, `pc2 → pc3`…). Call each time the dialog opens.
 */
export function wireImpairDialog(dialog: HTMLElement, ends: { from: string; to: string }): void {
  const field = (id: string) => dialog.querySelector<HTMLInputElement | HTMLSelectElement>(`#${id}`)!;
  const effect = dialog.querySelector<HTMLElement>('#impair-effect')!;
  const direction = field('impair-direction') as HTMLSelectElement;
  const labels: Record<string, string> = { both: `both ways (${ends.from} ⇄ ${ends.to})`, out: `${ends.from} → ${ends.to} only`, in: `${ends.to} → ${ends.from} only` };
  for (const option of Array.from(direction.options)) option.textContent = labels[option.value] ?? option.textContent;
  const update = () => {
    const delayMs = Number(field('impair-delay').value) || 0;
    const jitterMs = Number(field('impair-jitter').value) || 0;
    effect.textContent = impairmentEffect({ delayMs, jitterMs }, direction.value as 'in' | 'out' | 'both');
  };
  for (const id of ['impair-delay', 'impair-jitter', 'impair-direction']) {
    field(id).oninput = update;
    field(id).onchange = update;
  }
  update();
}

/**
 * The running cable(s) a canvas element stands for: an interface's cable, a switch link, or — for a
 * machine-to-machine link, drawn as one edge for two interfaces — both of its ends. `cable` is the one to act on (pulling or
 * impairing one end acts on the whole link); `ends` name the two sides for the Impair dialog.
 */
export function runningCable(model: LabModel, cables: ReadonlyMap<string, CableStatus>, id: string): { cable: CableStatus; all: CableStatus[]; ends: { from: string; to: string } } | undefined {
  const ref = parseElementId(id);
  if (ref?.type === 'link') {
    const cable = cables.get(ref.id);
    return cable?.between && { cable, all: [cable], ends: { from: cable.between[0], to: cable.between[1] } };
  }
  if (ref?.type === 'iface') {
    const cable = cables.get(`${ref.machine}:eth${ref.index}`);
    return cable && { cable, all: [cable], ends: { from: ref.machine, to: cable.domain } };
  }
  if (ref?.type !== 'domain') return undefined;
  const ends = endpointsByDomain(model).get(ref.name) ?? [];
  if (!isPointToPoint(ref.name, model, ends)) return undefined;
  const all = ends.map((e) => cables.get(`${e.machine}:eth${e.index}`)).filter((c): c is CableStatus => !!c);
  return all[0] && { cable: all[0], all, ends: { from: ends[0]!.machine, to: ends[1]!.machine } };
}
