// What changed between the plan a lab runs and the plan its files compile to now: the input of
// `vnetlab apply` (and of the canvas when a running lab is edited). Pure: plans in, a diff out.
import type { CablePlan, GuestPlan, Plan, SwitchLinkPlan, SwitchPlan } from '../../shared/plan.ts';
import { pathComponent } from '../compiler/names.ts';

export interface PlanDiff {
  addedMachines: GuestPlan[];
  removedMachines: string[];
  addedDomains: SwitchPlan[];
  removedDomains: string[];
  /** New interfaces of machines that exist in both plans: hot-plugged into a running guest. */
  addedCables: CablePlan[];
  removedCables: CablePlan[];
  movedCables: { cable: CablePlan; from: string }[];
  /** Same cable, other impairments declared in the lab file. */
  retunedCables: CablePlan[];
  /** Same cable and domain, other VLANs on its switch port. */
  retaggedCables: CablePlan[];
  /** Switch links: new, gone, or changed (other VLANs or ends: wired again); impairments alone are retuned live. */
  addedLinks: SwitchLinkPlan[];
  removedLinks: string[];
  changedLinks: SwitchLinkPlan[];
  /**
   * Changes a running guest cannot take live (memory, image, addresses, its startup script, files…): it
   * takes them when it boots again — apply restarts it for them (issue 23), a stopped one takes them at its start.
   */
  restartNeeded: { machine: string; what: string[] }[];
}

export function diffPlans(running: Plan, next: Plan): PlanDiff {
  const oldGuests = new Map(running.guests.map((g) => [g.name, g]));
  const newGuests = new Map(next.guests.map((g) => [g.name, g]));
  const oldSwitches = new Map(running.switches.map((s) => [s.domain, s]));
  const oldCables = new Map(running.cables.map((c) => [c.id, c]));
  const newCables = new Map(next.cables.map((c) => [c.id, c]));
  const diff: PlanDiff = {
    addedMachines: next.guests.filter((g) => !oldGuests.has(g.name)),
    removedMachines: running.guests.filter((g) => !newGuests.has(g.name)).map((g) => g.name),
    addedDomains: next.switches.filter((s) => !oldSwitches.has(s.domain)),
    removedDomains: running.switches.filter((s) => !next.switches.some((n) => n.domain === s.domain)).map((s) => s.domain),
    addedCables: [],
    removedCables: [],
    movedCables: [],
    retunedCables: [],
    retaggedCables: [],
    addedLinks: [],
    removedLinks: [],
    changedLinks: [],
    restartNeeded: [],
  };
  const oldLinks = new Map((running.switchLinks ?? []).map((l) => [l.id, l]));
  const newLinks = new Map((next.switchLinks ?? []).map((l) => [l.id, l]));
  for (const [id, l] of newLinks) {
    const was = oldLinks.get(id);
    if (!was) diff.addedLinks.push(l);
    else if (JSON.stringify(was) !== JSON.stringify(l)) diff.changedLinks.push(l);
  }
  diff.removedLinks = [...oldLinks.keys()].filter((id) => !newLinks.has(id));
  for (const sw of next.switches) {
    const old = oldSwitches.get(sw.domain);
    // Another kind, host NAT, spanning tree or set of VLANs: a new switch (its cables join it again).
    if (old && (old.kind !== sw.kind || !!old.hostNat !== !!sw.hostNat || JSON.stringify(old.ports ?? null) !== JSON.stringify(sw.ports ?? null))) {
      diff.removedDomains.push(sw.domain);
      diff.addedDomains.push(sw);
    }
  }
  for (const [name, guest] of newGuests) {
    const old = oldGuests.get(name);
    if (!old) continue;
    for (const cable of next.cables.filter((c) => c.machine === name)) {
      const was = oldCables.get(cable.id);
      if (!was) diff.addedCables.push(cable);
      else if (was.domain !== cable.domain) diff.movedCables.push({ cable, from: was.domain });
      if (was && JSON.stringify(was.impairments) !== JSON.stringify(cable.impairments)) diff.retunedCables.push(cable);
      if (was && was.domain === cable.domain && JSON.stringify(was.vlans ?? null) !== JSON.stringify(cable.vlans ?? null)) diff.retaggedCables.push(cable);
    }
    for (const cable of running.cables.filter((c) => c.machine === name)) if (!newCables.has(cable.id)) diff.removedCables.push(cable);
    const what = [...restartChanges(old, guest), ...labFsChanges(running, next, name)];
    if (what.length) diff.restartNeeded.push({ machine: name, what });
  }
  return diff;
}

export function isEmptyDiff(diff: PlanDiff): boolean {
  return Object.values(diff).every((v) => v.length === 0);
}

/**
 * One line per change, as `vnetlab apply --dry-run` prints them. `restarting`: the machines apply
 * restarts (running ones with changes they can only take at boot); the others take them at their next start.
 */
export function describeDiff(diff: PlanDiff, restarting: ReadonlySet<string> = new Set()): string[] {
  return [
    ...diff.addedDomains.map((s) => `+ collision domain ${s.domain} (${s.kind})`),
    ...diff.addedMachines.map((g) => `+ machine ${g.name} (boots)`),
    ...diff.addedCables.map((c) => `+ cable ${c.id} → ${c.domain} (hot-plugged)`),
    ...diff.movedCables.map(({ cable, from }) => `~ cable ${cable.id}: ${from} → ${cable.domain}`),
    ...diff.retunedCables.map((c) => `~ cable ${c.id}: impairments changed`),
    ...diff.retaggedCables.map((c) => `~ cable ${c.id}: VLANs changed`),
    ...diff.addedLinks.map((l) => `+ switch link ${l.id}`),
    ...diff.changedLinks.map((l) => `~ switch link ${l.id} changed`),
    ...diff.removedLinks.map((id) => `- switch link ${id}`),
    ...diff.removedCables.map((c) => `- cable ${c.id} (unplugged and removed)`),
    ...diff.removedMachines.map((m) => `- machine ${m} (stops)`),
    ...diff.removedDomains.map((d) => `- collision domain ${d}`),
    ...diff.restartNeeded.map((r) =>
      restarting.has(r.machine) ? `~ machine ${r.machine} restarts: ${r.what.join(', ')} changed` : `! ${r.machine}: ${r.what.join(', ')} changed; applies when ${r.machine} starts again`,
    ),
    ...[...restarting].filter((m) => !diff.restartNeeded.some((r) => r.machine === m)).map((m) => `~ machine ${m} restarts`),
  ];
}

/**
 * What changed in a machine's own folder of the lab-fs, which its init reads at every boot: startup and
 * shutdown scripts, exec, sysctls, environment, and files placed in it (`interfaces` is said per
 * interface, or hot-plugged). A file's content is compared only when it is written in the lab file.
 */
function labFsChanges(running: Plan, next: Plan, machine: string): string[] {
  const base = `/machines/${pathComponent(machine, 'm')}/`;
  const entries = (plan: Plan) => new Map(plan.labFs.entries.filter((e) => e.dest.startsWith(base)).map((e) => [e.dest.slice(base.length), JSON.stringify(e)]));
  const before = entries(running);
  const after = entries(next);
  const names: Record<string, string> = { root: 'files', sysctl: 'sysctls', env: 'environment', exec: 'exec', startup: 'startup script', shutdown: 'shutdown script' };
  const what = new Set<string>();
  for (const key of new Set([...before.keys(), ...after.keys()])) {
    const part = names[key.split('/')[0]!];
    if (part && before.get(key) !== after.get(key)) what.add(part);
  }
  return [...what].sort();
}

function restartChanges(old: GuestPlan, next: GuestPlan): string[] {
  const what: string[] = [];
  if (old.memoryMiB !== next.memoryMiB) what.push('memory');
  if (old.image !== next.image) what.push('image');
  // Memory and image are said above; NICs are hot-plugged.
  if (JSON.stringify(old.boot) !== JSON.stringify(next.boot)) what.push('kernel command line');
  for (const i of next.interfaces) {
    const was = old.interfaces.find((o) => o.name === i.name);
    if (was && (was.mac !== i.mac || JSON.stringify(was.addresses) !== JSON.stringify(i.addresses))) what.push(`${i.name} address`);
  }
  if (JSON.stringify(old.dependsOn) !== JSON.stringify(next.dependsOn)) what.push('dependencies');
  return what;
}
