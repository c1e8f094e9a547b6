// The cable layer of a plan (src/shared/plan.ts, CablePlan): for every machine interface, a port hub
// the guest NIC attaches to and the wirefilter management socket that joins it to its domain.
import type { CableImpairments, CablePlan, PortVlans } from '../../shared/plan.ts';
import { EnvironmentError } from '../errors.ts';
import { byteLength, MAX_SOCKET_PATH, pathComponent, sha256Hex, VDE_PORT_SOCKET_SUFFIX } from './names.ts';

/** A port hub has two users: the guest NIC and the wirefilter (plus a capture's vde_plug). */
const PORT_HUB_PORTS = 8;

export interface CableInput {
  machine: string;
  interface: string;
  domain: string;
  impairments?: CableImpairments;
  /** Its port's VLANs, on a switch with VLANs. */
  vlans?: PortVlans;
}

/** `<machine>:<interface>`: the name users type (`vnetlab link pc1:eth0`). */
export function cableId(machine: string, iface: string): string {
  return `${machine}:${iface}`;
}

export function cablePlan(cableDir: string, input: CableInput): CablePlan {
  const component = cableComponent(cableDir, input.machine, input.interface);
  const portCtlDir = `${cableDir}/${component}`;
  return {
    id: cableId(input.machine, input.interface),
    machine: input.machine,
    interface: input.interface,
    domain: input.domain,
    plugged: true,
    portCtlDir,
    portArgv: ['vde_switch', '-s', portCtlDir, '-x', '-n', String(PORT_HUB_PORTS)],
    filterMgmt: `${portCtlDir}.wf`,
    impairments: normaliseImpairments(input.impairments),
    ...(input.vlans ? { vlans: input.vlans } : {}),
  };
}

/** The argv of the wirefilter joining a cable's port (L) to a domain switch (R): LR is "out", RL is "in". */
export function wirefilterArgv(cable: CablePlan, domainCtlDir: string): string[] {
  return ['wirefilter', '-v', `${cable.portCtlDir}:${domainCtlDir}`, '-M', cable.filterMgmt];
}

/** Sorted keys and no empty directions, so equal impairments compile to identical JSON. */
export function normaliseImpairments(impairments: CableImpairments | undefined): CableImpairments {
  const out: CableImpairments = {};
  for (const dir of ['in', 'out'] as const) {
    const given = impairments?.[dir];
    if (!given) continue;
    const entries = Object.entries(given).filter(([, v]) => typeof v === 'number' && v !== 0).sort(([a], [b]) => a.localeCompare(b));
    if (entries.length) out[dir] = Object.fromEntries(entries);
  }
  return out;
}

/** `<machine>.<iface>` when every socket of the port fits in sun_path, else a hash. */
function cableComponent(cableDir: string, machine: string, iface: string): string {
  const fits = (c: string) =>
    byteLength(`${cableDir}/${c}${VDE_PORT_SOCKET_SUFFIX}`) <= MAX_SOCKET_PATH && byteLength(`${cableDir}/${c}.wf`) <= MAX_SOCKET_PATH;
  const named = `${pathComponent(machine, 'm', /^[A-Za-z0-9][A-Za-z0-9_-]{0,40}$/)}.${iface}`;
  if (fits(named)) return named;
  const hashed = `c-${sha256Hex(`${machine}/${iface}`).slice(0, 8)}`;
  if (fits(hashed)) return hashed;
  throw new EnvironmentError(
    `the lab's run directory is too long for Unix sockets: ${cableDir}/${hashed}${VDE_PORT_SOCKET_SUFFIX} exceeds ${MAX_SOCKET_PATH} bytes`,
    'set VNETLAB_RUNTIME_DIR to a short folder, e.g. /tmp/vnl',
  );
}
