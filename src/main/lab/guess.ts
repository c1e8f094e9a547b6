// Guesses a machine's kind for drawing when the lab does not say: a router forwards between two or
// more links, or runs a routing daemon. Only the icon on the canvas depends on it.
import type { Machine, MachineKind } from '../../shared/lab-model.ts';

const ROUTING_DAEMON = /\b(frr|quagga|zebra|ripd|ospfd|ospf6d|bgpd|isisd|bird|bird6|routed|gated)\b/;
const ROUTING_CONFIG = /^\/etc\/(frr|quagga|zebra|bird)(\/|$)/;

/** Kathará images made for routing (kathara/frr, kathara/quagga, kathara/bird…). */
const ROUTING_IMAGE = /(^|\/)(frr|quagga|bird|openbgpd)(:|$)/;

export function guessKind(m: Pick<Machine, 'interfaces' | 'startup' | 'files' | 'imageAlias'>, hasRoutingConfigFolder = false): MachineKind {
  if (m.interfaces.length >= 2) return 'router';
  if (m.imageAlias && ROUTING_IMAGE.test(m.imageAlias)) return 'router';
  if (m.startup && ROUTING_DAEMON.test(m.startup.text)) return 'router';
  if (hasRoutingConfigFolder || m.files.some((f) => ROUTING_CONFIG.test(f.guestPath))) return 'router';
  return 'host';
}
