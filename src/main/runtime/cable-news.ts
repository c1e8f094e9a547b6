// What a guest is told when one of its cables changes (`vnetlab link`). UML's NIC has no carrier of its
// own, so the guest cannot notice a cable being pulled, plugged or moved: the supervisor tells it through
// its agent (supervisor.ts, changeLink), in the guest's shell: the lab-fs tool set is not always there
// (no static busybox on the host), `ip` is on every image (busybox's in tiny, iproute2's in debian). Pure.
//
// - Plugged or unplugged: the NIC's operational state, UP or DORMANT (`ip link` shows NO-CARRIER), set by
//   the agent (kernels/guest/agent/vnetlab-agent.c, set_carrier).
// - Back in a collision domain (plugged again, or moved to another one): the NIC's neighbour entries (ARP
//   and NDP) are flushed, as Linux does for a real NIC whose carrier drops. What the cache holds then was
//   learnt, or was still being resolved, while the cable was out, and it cost the first packet after the
//   cable came back (issue 21): an ARP entry whose last probe went out while the cable was unplugged stays
//   INCOMPLETE until it fails, up to a second later, and drops every packet queued on it then. A
//   `ping -c 1 -W 3` sent right after `link --connect` was lost that way and never sent again — more often
//   under load, where the host's part (exec returning, the wire restarting) takes long enough to land
//   after that last probe. Flushed, the first packet starts a fresh resolution, whose first probe goes out at
//   once on the new wire.
import type { CableStatus } from '../../shared/runtime-api.ts';

export interface CableNews {
  /** Run by the guest's agent. */
  command: string;
  /** What failed, for the progress line when the command does not succeed. */
  failure: string;
}

/** The guest side of a change of one of its cables, or undefined when the guest has nothing to learn. */
export function cableNews(before: CableStatus, after: CableStatus, change: { plugged?: boolean }): CableNews | undefined {
  const iface = after.interface;
  if (!/^eth\d+$/.test(iface)) return undefined; // a switch link, or a name no command should carry
  const backIn = after.plugged && (!before.plugged || before.domain !== after.domain);
  const steps = [
    // Said again on every --up/--down, even unchanged: the guest's state may have been lost (a restart).
    ...(change.plugged !== undefined ? [carrierCommand(iface, after.plugged)] : []),
    ...(backIn ? [`ip neigh flush dev ${iface} > /dev/null`] : []),
  ];
  if (!steps.length) return undefined;
  const what = [change.plugged !== undefined && `show ${iface}'s cable as ${after.plugged ? 'plugged' : 'unplugged'}`, backIn && `flush ${iface}'s neighbour entries`].filter(Boolean).join(' or ');
  return { command: steps.join(' && '), failure: `could not ${what} in the guest` };
}

/** The NIC's operational state alone (a guest that boots while its cable is unplugged). */
export function carrierNews(iface: string, plugged: boolean): CableNews | undefined {
  if (!/^eth\d+$/.test(iface)) return undefined;
  return { command: carrierCommand(iface, plugged), failure: `could not show ${iface}'s cable as ${plugged ? 'plugged' : 'unplugged'} in the guest` };
}

function carrierCommand(iface: string, plugged: boolean): string {
  return `/usr/sbin/vnetlab-agent --carrier ${iface} ${plugged ? 'on' : 'off'}`;
}
