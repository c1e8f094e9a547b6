// Link lights (issue 23, section 2): the state of each NIC as the guest sees it — up, down (`ip link set
// eth0 down`) or no carrier (its cable pulled) — shown at the machine's end of its cables. The host does
// not poll guests: each ready guest's agent prints its NICs' states and then sleeps on the kernel's link
// events (netlink), printing a line only when something changed — inside the agent's own loop (`S` on the
// exec channel), or, for an agent older than that, as one long command, `vnetlab-agent --link-watch`. An
// idle guest costs nothing for it: the shell loop it replaced looked twice a second, ~3 ms of host CPU a
// second per guest, which with 500 idle guests kept 1.5 of 2 cores busy. The supervisor turns those lines
// into `link-state` events.
import type { LinkState } from '../../shared/runtime-api.ts';

/** The guest side for an agent without `S` (kernels/guest/agent/vnetlab-agent.c, link_watch). */
export const LINK_WATCH_COMMAND = 'exec /usr/sbin/vnetlab-agent --link-watch';

const LINE = /^links((?: eth\d{1,3}(?:\.\d{1,4})?=(?:up|down|no-carrier)){0,256})$/;

/**
 * One line of the guest's output → each NIC's state, or undefined for anything else: the line comes
 * from inside the guest (root there may print anything), so it is checked, bounded and never trusted.
 */
export function parseLinkLine(line: string): Record<string, LinkState> | undefined {
  if (line.length > 8192) return undefined;
  const m = LINE.exec(line.trim());
  if (!m) return undefined;
  const out: Record<string, LinkState> = {};
  for (const pair of m[1]!.trim().split(' ').filter(Boolean)) {
    const [iface, state] = pair.split('=') as [string, LinkState];
    out[iface] = state;
  }
  return out;
}

/** Splits a stream of output chunks into lines and hands each complete one to `onLine` (bounded buffer). */
export function lineSplitter(onLine: (line: string) => void): (chunk: string) => void {
  let buffer = '';
  return (chunk) => {
    buffer += chunk;
    let at: number;
    while ((at = buffer.indexOf('\n')) >= 0) {
      onLine(buffer.slice(0, at));
      buffer = buffer.slice(at + 1);
    }
    if (buffer.length > 16_384) buffer = '';
  };
}
