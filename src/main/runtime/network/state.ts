// What the network controller keeps per switch, cable and switch link: the wanted state (plugged,
// where, impaired how) beside the processes that carry it now, and the status the API reports from it.
import type { CableImpairments, CablePlan, SwitchLinkPlan, SwitchPlan } from '../../../shared/plan.ts';
import type { CableChange, CableStatus } from '../../../shared/runtime-api.ts';
import { normaliseImpairments } from '../../compiler/cables.ts';
import type { DaemonHandle } from '../launcher.ts';

export interface SwitchState {
  plan: SwitchPlan;
  proc?: DaemonHandle;
  hostNat?: DaemonHandle;
  restarts: number[];
  givenUp?: boolean;
  /** A switch with VLANs or STP: each cable end's port (by cable or link id), stable for the lab's life. */
  pinned: Map<string, number>;
  /** Ports configured in the running process (a restarted switch starts with none); its VLANs created. */
  configured: Set<number>;
  vlansCreated?: boolean;
  /** Its management commands, one batch at a time (two cables joining at once must not both create its VLANs). */
  configuring?: Promise<unknown>;
  /** Spanning tree: the ports it keeps from forwarding now, with their VLANs (read every few seconds). */
  blocked: Map<number, number[]>;
}

/** A cable between two switches: a wirefilter from a port of one to a port of the other. */
export interface LinkState {
  plan: SwitchLinkPlan;
  plugged: boolean;
  impairments: CableImpairments;
  wire?: DaemonHandle;
  applied?: CableImpairments;
}

export interface CableState {
  plan: CablePlan;
  /** Wanted: where it is plugged, whether it is, and how it is impaired. */
  domain: string;
  plugged: boolean;
  impairments: CableImpairments;
  port?: DaemonHandle;
  wire?: DaemonHandle;
  /** The domain the running wire joins (a move replaces the wire). */
  wireDomain?: string;
  /** The port hub died under a running guest: its NIC stays cut off until the machine restarts. */
  cut?: boolean;
  /** Why its port did not start, the last time one was asked for (cleared when one starts). */
  portError?: string;
  /** What the running wire was last set to (a new wire starts perfect). */
  applied?: CableImpairments;
}

export function newSwitch(plan: SwitchPlan): SwitchState {
  return { plan, restarts: [], pinned: new Map(), configured: new Set(), blocked: new Map() };
}

export function newCable(plan: CablePlan): CableState {
  return { plan, domain: plan.domain, plugged: plan.plugged, impairments: normaliseImpairments(plan.impairments) };
}

export function newLink(plan: SwitchLinkPlan): LinkState {
  return { plan, plugged: plan.plugged, impairments: normaliseImpairments(plan.impairments) };
}

/** The impairments after a change: a reset clears them, an impair sets values in one or both directions. */
export function impairedBy(current: CableImpairments, change: CableChange): CableImpairments {
  let next: CableImpairments = change.reset ? {} : { ...current };
  if (change.impair) {
    for (const dir of change.impair.direction === 'both' ? (['in', 'out'] as const) : [change.impair.direction]) {
      next = { ...next, [dir]: { ...next[dir], ...change.impair.values } };
    }
  }
  return normaliseImpairments(next);
}

/** The ends of a cable or link whose port spanning tree blocks, with the VLANs it blocks there. */
export function blockedEnds(switches: ReadonlyMap<string, SwitchState>, key: string, domains: string[]): { domain: string; vlans: number[] }[] {
  const out: { domain: string; vlans: number[] }[] = [];
  for (const domain of domains) {
    const sw = switches.get(domain);
    const port = sw?.pinned.get(key);
    const vlans = port === undefined ? undefined : sw!.blocked.get(port);
    if (vlans?.length) out.push({ domain, vlans });
  }
  return out;
}

export function cableStatus(c: CableState, switches: ReadonlyMap<string, SwitchState>): CableStatus {
  const state: CableStatus['state'] = c.cut ? 'cut' : !c.plugged ? 'unplugged' : c.wire ? 'up' : 'down';
  const blocked = c.wire ? blockedEnds(switches, c.plan.id, [c.domain]) : [];
  return {
    id: c.plan.id,
    machine: c.plan.machine,
    interface: c.plan.interface,
    domain: c.domain,
    plugged: c.plugged,
    state,
    impairments: c.impairments,
    ...(blocked.length ? { blocked } : {}),
    ...(c.wire ? { pid: c.wire.pid } : {}),
  };
}

export function linkStatus(l: LinkState, switches: ReadonlyMap<string, SwitchState>): CableStatus {
  const [a, b] = l.plan.between;
  const blocked = l.wire ? blockedEnds(switches, l.plan.id, [a, b]) : [];
  return {
    id: l.plan.id,
    machine: '',
    interface: '',
    domain: b,
    between: [a, b],
    plugged: l.plugged,
    state: !l.plugged ? 'unplugged' : l.wire ? 'up' : 'down',
    impairments: l.impairments,
    ...(blocked.length ? { blocked } : {}),
    ...(l.wire ? { pid: l.wire.pid } : {}),
  };
}
