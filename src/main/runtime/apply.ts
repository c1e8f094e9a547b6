// `vnetlab apply` inside the supervisor: bring a running lab to a new plan without touching what did not
// change (plan-diff.ts says what did). New domains get switches, new machines boot, removed ones stop;
// cables are added (hot-plugged into running guests: NIC hot-plug is here too), moved, retuned or
// removed. What a running guest cannot take live is reported for its next restart.
import type { GuestPlan, Plan } from '../../shared/plan.ts';
import { nicArg, nicRenameCommand } from '../compiler/nic.ts';
import type { GuestAgent } from './launcher.ts';
import type { Network } from './network/network.ts';
import type { PlanDiff } from './plan-diff.ts';
import type { StartResult } from './supervisor.ts';

export interface ApplyResult {
  /** One line per change (see plan-diff.ts describeDiff). */
  changes: string[];
  /** False for a dry run or when nothing changed. */
  applied: boolean;
}

/** What apply needs of the supervisor: its network, its machines, and how it starts and stops them. */
export interface RunningLab {
  readonly plan: Plan;
  readonly network: Network;
  /** The machine's guest while it is ready (a stopped guest gets new NICs at its next boot). */
  readyGuest(machine: string): { plan: GuestPlan; agent: GuestAgent } | undefined;
  mconsole(plan: GuestPlan, command: string): Promise<string>;
  stopMachine(name: string): Promise<void>;
  /** Forget a machine (stopped) / take a new one on (stopped). */
  removeMachine(name: string): void;
  addMachine(guest: GuestPlan): void;
  /** The plan the machine's next boot uses. */
  setGuestPlan(guest: GuestPlan): void;
  /** The lab runs `next` from now on (written to the run dir). */
  setPlan(next: Plan): void;
  start(names: string[]): Promise<StartResult>;
  progress(message: string): void;
}

/**
 * Apply a diff from `lab.plan` to `next`, then restart the machines in `restart` (those that take their
 * changes only at boot: startup script, files, memory…); returns lines to add to the changes (machines
 * that did not start).
 */
export async function applyDiff(lab: RunningLab, diff: PlanDiff, next: Plan, restart: string[] = []): Promise<string[]> {
  const network = lab.network;
  const networkUp = network.switchStatus().some((s) => s.running);
  const replaced = diff.addedDomains.filter((s) => diff.removedDomains.includes(s.domain)).map((s) => s.domain);
  if (replaced.length) await network.removeSwitches(replaced);
  if (networkUp) await network.addSwitches(diff.addedDomains);
  for (const name of diff.removedMachines) {
    await lab.stopMachine(name);
    await network.removeCables(lab.plan.cables.filter((c) => c.machine === name).map((c) => c.id));
    lab.removeMachine(name);
  }
  for (const { cable } of diff.movedCables) await network.change(cable.id, { domain: cable.domain });
  for (const cable of diff.retunedCables) await network.setImpairments(cable.id, cable.impairments);
  for (const cable of diff.retaggedCables) await network.setCableVlans(cable.id, cable.vlans);
  for (const cable of diff.removedCables) await unplugNic(lab, cable.machine, cable.interface);
  await network.removeCables(diff.removedCables.map((c) => c.id));
  await network.addCables(diff.addedCables);
  const added = new Set(diff.addedMachines.map((g) => g.name));
  for (const guest of next.guests) if (!added.has(guest.name)) lab.setGuestPlan(guest); // the next boot of this machine uses the new plan
  for (const cable of diff.addedCables) await plugNic(lab, cable.machine, cable.interface);
  lab.setPlan(next);
  await network.addCables(next.cables.filter((c) => added.has(c.machine)));
  for (const guest of diff.addedMachines) lab.addMachine(guest);
  if (diff.addedLinks.length || diff.removedLinks.length || diff.changedLinks.length || replaced.length) await network.setSwitchLinks(next.switchLinks ?? []);
  await network.removeSwitches(diff.removedDomains.filter((d) => !replaced.includes(d)));
  const notes: string[] = [];
  const failures = (started: StartResult) => started.failed.map((f) => `! ${f.machine} did not start: ${f.error.split('\n')[0]}`);
  if (diff.addedMachines.length && networkUp) notes.push(...failures(await lab.start(diff.addedMachines.map((g) => g.name))));
  if (restart.length && networkUp) {
    await Promise.all(restart.map((name) => lab.stopMachine(name)));
    notes.push(...failures(await lab.start(restart)));
  }
  return notes;
}

/** Give a running guest a new NIC on its cable's port, configured as its init would have. */
async function plugNic(lab: RunningLab, machine: string, iface: string): Promise<void> {
  const guest = lab.readyGuest(machine);
  const nic = guest?.plan.interfaces.find((i) => i.name === iface);
  if (!guest || !nic) return; // a stopped guest gets it at its next boot
  // In the syntax of the guest's kernel.
  const syntax = guest.plan.boot.nicSyntax;
  await lab.mconsole(guest.plan, `config ${nicArg(syntax, nic.name, nic.ctlDir, nic.mac)}`);
  const rename = nicRenameCommand(syntax, nic.name);
  // Up with its cable plugged (`state UP`, as the init does at boot: vnetlab-agent.c, set_carrier).
  const commands = [...(rename ? [rename] : []), `ip link set dev ${nic.name} up`, `/usr/sbin/vnetlab-agent --carrier ${nic.name} on`, ...nic.addresses.map((a) => `ip addr add ${a} dev ${nic.name}`)];
  const result = await guest.agent.exec(commands.join(' && '), { timeoutMs: 10_000 });
  if (result.exitCode !== 0) lab.progress(`${machine}: configuring the new ${iface} failed: ${result.stderr.trim()}`);
}

async function unplugNic(lab: RunningLab, machine: string, iface: string): Promise<void> {
  const guest = lab.readyGuest(machine);
  if (!guest) return;
  await guest.agent.exec(`ip link set dev ${iface} down`, { timeoutMs: 10_000 }).catch(() => undefined);
  await lab.mconsole(guest.plan, `remove ${iface}`).catch((err: Error) => lab.progress(`${machine}: could not remove ${iface}: ${err.message}`));
}
