// Finding your way in a big lab (issue 22): a box over the canvas that finds a machine by name and
// centres it, domain groups that fold (a hub or switch with the machines cabled only to it: a
// double-click on the domain folds them into it, again unfolds), and level of detail — below a zoom
// where 500 cable-end names are only noise, a big lab's cable ends lose their names until you zoom in.
import type { Core, NodeSingular, StylesheetJson } from 'cytoscape';
import { domainGroups, type DomainGroup } from '../graph/grouped-layout.ts';
import { labToElements, machineId } from '../graph/mapping.ts';
import type { AppState } from '../state.ts';
import './find-and-fold.css';

/** From this many nodes a lab is big: it gets the grouped layout, folding buttons and level of detail. */
export const BIG_LAB_NODES = 60;
/** Below this zoom a big lab's cable ends are drawn without their interface names. */
const END_LABELS_FROM_ZOOM = 0.7;
/** Below this zoom a big lab's machine names would be under 8 px on screen (12 px grown at most 2.4×: canvas.ts). */
const MACHINE_NAMES_FROM_ZOOM = 8 / (12 * 2.4);

/** The canvas's stylesheet includes these (canvas.ts STYLE). */
export const FOLD_STYLE: StylesheetJson = [
  { selector: 'node.folded-away, edge.folded-away', style: { display: 'none' } },
  { selector: 'node.folded-group', style: { 'border-style': 'double', 'border-width': 6 } },
  { selector: 'edge.lod-far', style: { 'source-label': '', 'target-label': '' } },
  // Level of detail: at Fit, a 500-machine lab's machine names would be 7 px; below 8 px they are not
  // drawn, and the domains' names are drawn big instead (canvas.ts sizes node.group-hub).
  { selector: 'node.lod-far', style: { label: '' } },
  { selector: 'node.group-hub', style: { 'font-weight': 'bold', 'text-valign': 'center', 'text-margin-y': 0, color: '#3d5a1e', 'text-outline-color': '#fff', 'text-outline-width': 2 } },
];

export class FindAndFold {
  private readonly folded = new Set<string>();
  private groups: DomainGroup[] = [];
  private groupsOf: unknown;
  private readonly box: HTMLElement;
  private readonly input: HTMLInputElement;
  private readonly names: HTMLDataListElement;
  private readonly foldAll: HTMLButtonElement;
  private view: 'near' | 'middle' | 'far' = 'near';

  constructor(
    private readonly cy: Core,
    container: HTMLElement,
    private readonly state: AppState,
  ) {
    this.box = document.createElement('form');
    this.box.className = 'canvas-find';
    this.input = Object.assign(document.createElement('input'), { type: 'search', placeholder: 'Find a machine', title: 'Type a machine’s name and press Enter: it is selected and centred' });
    this.input.dataset.testid = 'find-machine';
    this.names = document.createElement('datalist');
    this.names.id = 'find-machine-names';
    this.input.setAttribute('list', this.names.id);
    this.foldAll = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Fold groups', title: 'Fold every domain’s machines into it (double-click a hub or switch to fold or unfold one)' });
    this.foldAll.dataset.testid = 'fold-groups';
    this.box.append(this.input, this.names, this.foldAll);
    container.append(this.box);
    this.box.addEventListener('submit', (e) => {
      e.preventDefault();
      this.find(this.input.value);
    });
    this.input.addEventListener('input', () => this.input.classList.remove('not-found'));
    this.foldAll.addEventListener('click', () => (this.folded.size ? this.unfoldAll() : this.foldEvery()));
    cy.on('dbltap', 'node[role = "domain"]', (e) => this.toggle(e.target.id()));
    cy.on('viewport', () => this.levelOfDetail());
  }

  /** After the drawing follows the model (canvas.sync): folds and names kept, groups worked out again. */
  refresh(): void {
    const model = this.state.model;
    if (this.groupsOf !== model) {
      this.groupsOf = model;
      this.groups = domainGroups(labToElements(model));
      for (const id of [...this.folded]) if (!this.groups.some((g) => g.domain === id)) this.folded.delete(id);
      this.names.replaceChildren(...model.machines.map((m) => Object.assign(document.createElement('option'), { value: m.name })));
    }
    const big = this.cy.nodes().length > BIG_LAB_NODES;
    this.box.classList.toggle('big', big);
    this.cy.batch(() => {
      this.cy.nodes('.group-hub').removeClass('group-hub');
      if (big) for (const g of this.groups) if (g.members.length) this.cy.getElementById(g.domain).addClass('group-hub');
    });
    this.applyFolds();
    this.levelOfDetail(true);
  }

  /** Select a machine by its name (or the first whose name contains it) and centre it, unfolding its group. */
  find(query: string): boolean {
    const q = query.trim().toLowerCase();
    if (!q) return false;
    const names = this.state.model.machines.map((m) => m.name);
    const name = names.find((n) => n.toLowerCase() === q) ?? names.find((n) => n.toLowerCase().startsWith(q)) ?? names.find((n) => n.toLowerCase().includes(q));
    this.input.classList.toggle('not-found', !name);
    if (!name) return false;
    const id = machineId(name);
    const group = this.groups.find((g) => g.members.includes(id));
    if (group && this.folded.delete(group.domain)) this.applyFolds();
    const node = this.cy.getElementById(id) as NodeSingular;
    this.state.select([id]);
    // Zoomed in to where names are readable, the machine in the middle of the canvas.
    const zoom = Math.max(this.cy.zoom(), 1);
    const p = node.position();
    this.cy.animate({ zoom, pan: { x: this.cy.width() / 2 - p.x * zoom, y: this.cy.height() / 2 - p.y * zoom } }, { duration: 250 });
    return true;
  }

  /** Fold or unfold one domain's group (big labs only: in a small one a double-click must not hide machines). */
  toggle(domainId: string): void {
    if (this.cy.nodes().length <= BIG_LAB_NODES || !this.groups.some((g) => g.domain === domainId && g.members.length)) return;
    if (!this.folded.delete(domainId)) this.folded.add(domainId);
    this.applyFolds();
  }

  private foldEvery(): void {
    for (const g of this.groups) if (g.members.length) this.folded.add(g.domain);
    this.applyFolds();
  }

  private unfoldAll(): void {
    this.folded.clear();
    this.applyFolds();
  }

  /** Folded groups: their machines and cables hidden, the domain drawn double with how many it holds. */
  private applyFolds(): void {
    this.cy.batch(() => {
      this.cy.elements('.folded-away').removeClass('folded-away');
      this.cy.nodes('.folded-group').forEach((n) => {
        n.removeClass('folded-group');
        n.data('display', n.data('label'));
      });
      for (const g of this.groups) {
        if (!this.folded.has(g.domain)) continue;
        const domain = this.cy.getElementById(g.domain);
        domain.addClass('folded-group');
        domain.data('display', `${domain.data('label')}\n(${g.members.length} machines)`);
        for (const m of g.members) this.cy.getElementById(m).addClass('folded-away').connectedEdges().addClass('folded-away');
      }
    });
    this.foldAll.textContent = this.folded.size ? 'Unfold groups' : 'Fold groups';
  }

  /** A big lab seen from afar: cable ends, then machines, without their names (restyled only when the zoom crosses a line). */
  private levelOfDetail(force = false): void {
    const big = this.cy.nodes().length > BIG_LAB_NODES;
    const zoom = this.cy.zoom();
    const view = !big ? 'near' : zoom < MACHINE_NAMES_FROM_ZOOM ? 'far' : zoom < END_LABELS_FROM_ZOOM ? 'middle' : 'near';
    if (view === this.view && !force) return;
    this.view = view;
    this.cy.batch(() => {
      this.cy.edges().toggleClass('lod-far', view !== 'near');
      this.cy.nodes('[role = "machine"]').toggleClass('lod-far', view === 'far');
    });
  }
}
