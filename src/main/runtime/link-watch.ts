// Link lights (issue 23, section 2): the state of each NIC as the guest sees it — up, down (`ip link set
// eth0 down`) or no carrier (its cable pulled) — shown at the machine's end of its cables. The host does
// not poll guests: each ready guest runs one long command, with the lab-fs tool set's busybox sh, that
// reads its NICs' flags and operational state twice a second with shell builtins only (no fork: a fork
// costs tens of milliseconds in UML) and writes a line only when something changed. The supervisor turns
// those lines into `link-state` events.
import type { LinkState } from '../../shared/runtime-api.ts';

/** How long the guest waits between two looks, in seconds (a change shows within this plus a few ms). */
const PERIOD_S = '0.5';

/**
 * The guest side. `read -t` on a FIFO nobody writes to is the fork-free sleep; an interface's flags
 * (bit 0: administratively up) and operstate (`dormant`/`down` while up: no carrier) say its state.
 */
export const LINK_WATCH_SCRIPT = [
  'f=/run/vnetlab/link-watch.$$; rm -f "$f"; mkfifo "$f" && exec 3<>"$f"; rm -f "$f"',
  'prev=',
  'while :; do',
  '  cur=',
  '  for d in /sys/class/net/eth*; do',
  '    [ -e "$d/flags" ] || continue',
  '    read -r flags < "$d/flags"; read -r oper < "$d/operstate"',
  '    if [ $((flags & 1)) -eq 0 ]; then s=down; else case "$oper" in up|unknown) s=up ;; *) s=no-carrier ;; esac; fi',
  '    cur="$cur ${d##*/}=$s"',
  '  done',
  '  if [ "$cur" != "$prev" ]; then echo "links$cur"; prev=$cur; fi',
  `  read -t ${PERIOD_S} x <&3`,
  'done',
].join('\n');

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
