// The running lab on the canvas: machines coloured by state (with it under their name), cables
// unplugged (dashed red) or impaired (orange, with what is set), switch links that spanning tree
// blocks, and link lights at the machine ends. Given what changed (run-state.ts), it restyles only
// that: one machine's event touches that machine's node and its cables (issue 22: every event
// restyled all 500 nodes of a big lab).
import type { CollectionReturnValue, Core, EdgeSingular } from 'cytoscape';
import { describeCableImpairments } from '../cable-text.ts';
import type { CableStatus, MachineState } from '../../shared/runtime-api.ts';
import { machineId, parseElementId } from '../graph/mapping.ts';
import type { RunChanges } from '../run-state.ts';
import type { AppState } from '../state.ts';

/** Without `changes`, everything is drawn again. `placeEndLabels`: the canvas's cable-end label placement. */
export function drawRunState(cy: Core, state: AppState, colours: Record<MachineState, string>, placeEndLabels: (e: EdgeSingular) => void, changes?: RunChanges): void {
  const all = !changes || changes.all;
  cy.batch(() => {
    let nodes = all ? cy.nodes('[role = "machine"]') : cy.collection();
    if (!all) for (const m of changes.machines) nodes = nodes.union(cy.getElementById(machineId(m)));
    let edges = all ? cy.edges() : nodes.connectedEdges();
    if (!all) for (const id of changes.cables) edges = edges.union(edgesOfCable(cy, state, id));
    edges.forEach((e) => showCableState(e, state));
    nodes.forEach((n) => {
      const st = state.machineStates.get(n.data('name') as string);
      for (const s of Object.keys(colours)) n.removeClass(`state-${s}`);
      if (st) n.addClass(`state-${st}`);
      n.data('display', st && st !== 'stopped' ? `${n.data('label')}\n${st}` : n.data('label'));
    });
    // A name one line longer ("ready" under it) pushes the labels of cables leaving downwards.
    edges.union(nodes.connectedEdges()).forEach((e) => placeEndLabels(e));
  });
}

/** The edges a running cable is drawn as: its interface's cable, its point-to-point domain, or its switch link. */
function edgesOfCable(cy: Core, state: AppState, id: string): CollectionReturnValue {
  const cable = state.cables.get(id);
  if (!cable) return cy.collection();
  if (cable.between) return cy.edges().filter((e) => e.data('role') === 'swlink' && cablesOf(state, e.id())[0]?.id === id);
  return cy.getElementById(machineId(cable.machine)).connectedEdges().filter((e) => cablesOf(state, e.id()).some((c) => c.id === id));
}

/** One edge's cable state: unplugged dashed red, impaired orange with what is set, spanning tree, link lights. */
function showCableState(e: EdgeSingular, state: AppState): void {
  const cables = cablesOf(state, e.id());
  const unplugged = cables.filter((c) => !c.plugged || c.state === 'cut');
  const impaired = cables.filter((c) => c.impairments.in || c.impairments.out);
  e.toggleClass('cable-unplugged', unplugged.length > 0);
  e.toggleClass('cable-impaired', unplugged.length === 0 && impaired.length > 0);
  const label = unplugged.length
    ? unplugged.map((c) => `${c.id} ${c.state === 'cut' ? 'cut' : 'unplugged'}`).join('\n')
    : impaired.map((c) => `${impaired.length > 1 ? `${c.id}: ` : ''}${describeCableImpairments(c, { out: `from ${c.machine}`, in: `to ${c.machine}` })}`).join('\n');
  e.data('cableLabel', label);
  // A switch link whose port spanning tree blocks: dashed, "blocked" at that end.
  const blocked = e.data('role') === 'swlink' ? (cables[0]?.blocked ?? []) : [];
  const at = (end: 'source' | 'target') => blocked.some((b) => `domain:${b.domain}` === e.data(end));
  e.toggleClass('stp-blocked', unplugged.length === 0 && blocked.length > 0);
  if (e.data('role') === 'swlink') e.data({ sourceLabel: at('source') ? 'blocked' : '', targetLabel: at('target') ? 'blocked' : '' });
  // Link lights at the machine ends: the NIC named by the end's label (its first line).
  const light = (end: 'source' | 'target') => {
    const node = String(e.data(end));
    if (!state.running || !node.startsWith('machine:')) return undefined;
    return state.links.get(node.slice('machine:'.length))?.[String(e.data(`${end}Label`) ?? '').split('\n')[0]!];
  };
  e.data({ sourceLight: light('source'), targetLight: light('target') });
}

/** The running cables an edge stands for: an interface's cable, or both of a point-to-point link. */
function cablesOf(state: AppState, edgeId: string): CableStatus[] {
  const ref = parseElementId(edgeId);
  if (!ref) return [];
  if (ref.type === 'iface') {
    const c = state.cables.get(`${ref.machine}:eth${ref.index}`);
    return c ? [c] : [];
  }
  if (ref.type === 'domain') return [...state.cables.values()].filter((c) => c.domain === ref.name && !c.between);
  if (ref.type === 'link') {
    const c = state.cables.get(ref.id);
    return c ? [c] : [];
  }
  return [];
}
