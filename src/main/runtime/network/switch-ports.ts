// The ports of a switch with VLANs or spanning tree. Each cable end gets a port of its own, pinned for
// the lab's life and configured over the switch's management socket before the cable joins it (its
// VLANs; an edge port for a machine under STP); spanning tree's blocked ports are read back from it.
import type { PortVlans } from '../../../shared/plan.ts';
import type { SwitchState } from './state.ts';
import { blockedPorts, configureSwitch, portCommands, switchCommands } from './switch-mgmt.ts';

/**
 * Where a cable end joins a switch: its control directory, with a port of its own (`[N]`, configured
 * first) on a switch with VLANs or STP. One configuration batch at a time per switch.
 */
export function portOf(sw: SwitchState, key: string, vlans: PortVlans | undefined, edge: boolean): Promise<string> {
  if (!sw.plan.ports) return Promise.resolve(sw.plan.ctlDir);
  const run = (sw.configuring ?? Promise.resolve()).catch(() => undefined).then(() => pinPort(sw, key, vlans, edge));
  sw.configuring = run;
  return run;
}

async function pinPort(sw: SwitchState, key: string, vlans: PortVlans | undefined, edge: boolean): Promise<string> {
  const ports = sw.plan.ports!;
  if (!sw.vlansCreated) {
    await configureSwitch(sw.plan.mgmtSocket, ports.vlans.map((v) => `vlan/create ${v}`));
    sw.vlansCreated = true;
  }
  let port = sw.pinned.get(key);
  if (port === undefined) {
    const used = new Set(sw.pinned.values());
    for (let n = ports.count - 1; n >= 1; n--) {
      if (!used.has(n)) {
        port = n;
        break;
      }
    }
    if (port === undefined) throw new Error(`the switch of ${sw.plan.domain} has no free port left`);
    sw.pinned.set(key, port);
  }
  if (!sw.configured.has(port)) {
    await configureSwitch(sw.plan.mgmtSocket, portCommands(port, vlans, { stp: ports.stp, edge }));
    sw.configured.add(port);
  }
  return `${sw.plan.ctlDir}[${port}]`;
}

/** Forget a cable end's port (its link went, or its VLANs change): the running switch removes it. */
export function unpinPort(sw: SwitchState | undefined, key: string): void {
  const port = sw?.pinned.get(key);
  if (!sw || port === undefined) return;
  sw.pinned.delete(key);
  if (sw.configured.delete(port) && sw.proc) void switchCommands(sw.plan.mgmtSocket, [`port/remove ${port}`]).catch(() => undefined);
}

/** Reads which ports spanning tree blocks now; the keys of the cable ends whose state may have changed. */
export async function readBlockedPorts(sw: SwitchState): Promise<string[]> {
  const reply = await switchCommands(sw.plan.mgmtSocket, ['vlan/print']).catch(() => undefined);
  if (!reply?.[0] || reply[0].code !== 1000) return [];
  const blocked = blockedPorts(reply[0].data);
  const before = JSON.stringify([...sw.blocked].sort());
  sw.blocked = blocked;
  return JSON.stringify([...blocked].sort()) === before ? [] : [...sw.pinned.keys()];
}

/** Back to a fresh process: nothing configured, nothing blocked (the pins stay). */
export function forgetPortConfig(sw: SwitchState): void {
  sw.configured.clear();
  sw.vlansCreated = false;
  sw.blocked.clear();
}
