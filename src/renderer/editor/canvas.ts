// The topology canvas: cytoscape drawing of the lab model, kept in sync after every change, plus the
// mouse gestures of the editor (drop from the palette, cable tool, move with grid snapping, select,
// context menu) and automatic layout of labs without positions.
import cytoscape, { type Core, type ElementDefinition, type NodeSingular } from 'cytoscape';
import type { LinkState, MachineState } from '../../shared/runtime-api.ts';
import { elementForTarget, labToElements, type GraphElement } from '../graph/mapping.ts';
import type { RunChanges } from '../run-state.ts';
import { drawRunState } from './run-drawing.ts';
import { groupedLayout } from '../graph/grouped-layout.ts';
import { BIG_LAB_NODES, FindAndFold, FOLD_STYLE } from './find-and-fold.ts';
import { addNode, connect, moveElements, snapToGrid, unplacedElementIds, type PaletteKind } from '../graph/edit.ts';
import type { LabModel } from '../../shared/lab-model.ts';
import type { AppState } from '../state.ts';

export const GRID = 20;

/** Labels are never drawn smaller than this on screen (CSS px), down to a zoom where that would mean more than LABEL_MAX_GROWTH × their size. */
const MIN_LABEL_PX = 10;
const LABEL_MAX_GROWTH = 2.4;
const GROWTH_STEPS = [1, 1.25, 1.5, 1.75, 2, LABEL_MAX_GROWTH];
const NODE_FONT = 12;
const EDGE_FONT = 10;
const P2P_FONT = 9;
/** Half a machine's shape (44 px): a cable-end label starts beyond it. */
const END_LABEL_MIN_OFFSET = 22;

const STATE_COLOURS: Record<MachineState, string> = {
  stopped: '#9aa5b1',
  booting: '#f0b429',
  ready: '#2f9e44',
  failed: '#d64545',
  stopping: '#f0b429',
  crashed: '#d64545',
};

/** Link lights: green up, red down (`ip link set eth0 down`), amber no carrier (the cable pulled). */
const LINK_COLOURS: Record<LinkState, string> = { up: '#2f9e44', down: '#d64545', 'no-carrier': '#f0b429' };

const STYLE: cytoscape.StylesheetJson = [
  { selector: 'node', style: { label: 'data(display)', 'text-valign': 'bottom', 'text-margin-y': 4, 'font-size': 12, 'text-wrap': 'wrap', width: 44, height: 44, 'background-color': '#4c7fd1', 'border-width': 3, 'border-color': '#9aa5b1', color: '#1f2933' } },
  { selector: 'node[kind = "router"]', style: { shape: 'ellipse', 'background-color': '#7b5ea7' } },
  { selector: 'node[kind = "host"]', style: { shape: 'round-rectangle' } },
  { selector: 'node[kind = "switch"]', style: { shape: 'rectangle', width: 56, height: 26, 'background-color': '#3c8d93', 'border-color': '#3c8d93' } },
  { selector: 'node[kind = "hub"]', style: { shape: 'octagon', width: 34, height: 34, 'background-color': '#8aa05a', 'border-color': '#8aa05a' } },
  { selector: 'node[kind = "internet"]', style: { shape: 'ellipse', width: 64, height: 40, 'background-color': '#cfe3f7', 'border-color': '#4c7fd1', 'border-style': 'dashed' } },
  { selector: 'edge', style: { width: 2, 'line-color': '#7b8794', 'curve-style': 'bezier', 'font-size': 10, 'source-label': 'data(sourceLabel)', 'target-label': 'data(targetLabel)', 'source-text-offset': (e: cytoscape.EdgeSingular) => e.data('sourceOffset') ?? END_LABEL_MIN_OFFSET, 'target-text-offset': (e: cytoscape.EdgeSingular) => e.data('targetOffset') ?? END_LABEL_MIN_OFFSET, 'source-text-margin-x': (e: cytoscape.EdgeSingular) => e.data('sourceMarginX') ?? 0, 'source-text-margin-y': (e: cytoscape.EdgeSingular) => e.data('sourceMarginY') ?? 0, 'target-text-margin-x': (e: cytoscape.EdgeSingular) => e.data('targetMarginX') ?? 0, 'target-text-margin-y': (e: cytoscape.EdgeSingular) => e.data('targetMarginY') ?? 0, 'text-wrap': 'wrap', 'text-background-color': '#fff', 'text-background-opacity': 0.8, 'text-background-padding': '1px' } },
  { selector: 'edge[role = "p2p"]', style: { label: 'data(label)', 'font-size': 9, color: '#7b8794', 'line-style': 'solid' } },
  { selector: 'edge[role = "iface"][label != ""]', style: { label: 'data(label)', 'font-size': 9, color: '#1f5f63' } },
  { selector: 'edge[role = "swlink"]', style: { width: 4, 'line-color': '#3c8d93', label: 'data(label)', 'font-size': 10, color: '#1f5f63', 'text-background-color': '#fff', 'text-background-opacity': 0.85 } },
  { selector: 'edge.stp-blocked', style: { 'line-style': 'dashed', 'line-dash-pattern': [8, 5], 'line-color': '#f08c00', color: '#b35c00', 'font-weight': 'bold' } },
  // Link lights: a NIC's state in its guest, at the machine's end of the cable (up, down, no carrier).
  ...(Object.entries(LINK_COLOURS).flatMap(([light, colour]) => [
    { selector: `edge[sourceLight = "${light}"]`, style: { 'source-arrow-shape': 'circle', 'source-arrow-color': colour, 'arrow-scale': 1.5 } },
    { selector: `edge[targetLight = "${light}"]`, style: { 'target-arrow-shape': 'circle', 'target-arrow-color': colour, 'arrow-scale': 1.5 } },
  ]) as cytoscape.StylesheetJson),
  { selector: ':selected', style: { 'overlay-color': '#4c7fd1', 'overlay-opacity': 0.25, 'overlay-padding': 6 } },
  { selector: '.diag-warning', style: { 'border-color': '#f0b429', 'line-color': '#f0b429', 'border-width': 4 } },
  { selector: '.diag-error', style: { 'border-color': '#d64545', 'line-color': '#d64545', 'border-width': 4, 'line-style': 'dashed' } },
  { selector: 'edge.cable-impaired', style: { 'line-color': '#f08c00', width: 3, label: 'data(cableLabel)', 'font-size': 9, color: '#b35c00', 'text-max-width': '150px', 'text-margin-y': -14 } },
  { selector: 'edge.cable-unplugged', style: { 'line-color': '#d64545', 'line-style': 'dashed', width: 2, label: 'data(cableLabel)', 'font-size': 9, color: '#d64545' } },
  { selector: '.cable-source', style: { 'overlay-color': '#2f9e44', 'overlay-opacity': 0.35, 'overlay-padding': 8 } },
  ...(Object.entries(STATE_COLOURS).map(([state, colour]) => ({ selector: `node.state-${state}`, style: { 'border-color': colour, 'border-width': 5 } })) as cytoscape.StylesheetJson),
  { selector: 'node.state-booting', style: { 'border-style': 'dashed' } },
  ...FOLD_STYLE,
];

export interface CanvasCallbacks {
  onError(message: string): void;
  onContextMenu(id: string, at: { x: number; y: number }): void;
  onOpenConsole(machine: string): void;
  /** A single click on a node or a cable (not a box selection, not a right-click). */
  onTapElement?(id: string): void;
}

export class Canvas {
  readonly cy: Core;
  /** Cable tool on: taps on two nodes draw a cable between them. */
  cableMode = false;
  snap = true;
  /** Show each interface's addresses beside its name at the cable end. */
  showAddresses = false;
  private cableSource: string | undefined;
  /** The view is the fitted one (nobody zoomed or panned since): it is fitted again when the canvas changes size. */
  private autoFit = true;
  private fitting = false;
  /** Font sizes (model px) of node, cable and point-to-point labels at the current zoom. */
  private fonts = { node: NODE_FONT, edge: EDGE_FONT, p2p: P2P_FONT, group: NODE_FONT };
  private labelFrame = 0;
  /** A big lab's search box, folding domain groups and level of detail (find-and-fold.ts). */
  readonly findAndFold: FindAndFold;

  constructor(
    private readonly container: HTMLElement,
    private readonly state: AppState,
    private readonly callbacks: CanvasCallbacks,
  ) {
    // multiClickDebounceTime: two clicks within 400 ms are a double-click (a hub folds, a machine opens its
    // console), as desktops count them (400–500 ms); cytoscape's 250 ms missed a slower hand, or a page busy drawing a big lab.
    this.cy = cytoscape({ container, style: STYLE, layout: { name: 'preset' }, minZoom: 0.05, maxZoom: 4, boxSelectionEnabled: true, selectionType: 'single', textureOnViewport: true, multiClickDebounceTime: 400 });
    this.wireGestures();
    this.findAndFold = new FindAndFold(this.cy, container, state);
    // The consoles panel opening or the window resizing changes the canvas size: cytoscape must know,
    // and a lab that was entirely in view and no longer is gets fitted again (a zoomed-in view is left alone).
    const inView = () => {
      const ext = this.cy.elements().renderedBoundingBox();
      return ext.x1 >= 0 && ext.y1 >= 0 && ext.x2 <= this.cy.width() && ext.y2 <= this.cy.height();
    };
    new ResizeObserver(() => {
      const wasInView = this.cy.nodes().nonempty() && inView();
      this.cy.resize();
      // A window that grows gives a fitted lab more room (issue 23: it stayed small).
      if (this.cy.nodes().nonempty() && (this.autoFit || (wasInView && !inView()))) this.fit();
    }).observe(container);
    // A zoom or pan by the user (wheel, drag, the zoom buttons) keeps its view; our own fits do not count.
    this.cy.on('viewport', () => {
      if (!this.fitting) this.autoFit = false;
      this.scheduleLabelScale();
    });
  }

  /** Fit without it counting as the user's own view. */
  private fitView(padding: number): void {
    this.fitting = true;
    try {
      this.cy.fit(undefined, padding);
      if (this.cy.zoom() > 1.5) {
        this.cy.zoom(1.5);
        this.cy.center();
      }
    } finally {
      this.fitting = false;
    }
    this.autoFit = true;
    this.applyLabelScale();
  }

  private scheduleLabelScale(): void {
    if (this.labelFrame) return;
    this.labelFrame = requestAnimationFrame(() => {
      this.labelFrame = 0;
      this.applyLabelScale();
    });
  }

  /**
   * Labels stay readable when a lab is zoomed out to fit a small window (at 1024 px a 7-node lab's cable
   * labels were 6 px): below MIN_LABEL_PX on screen they grow, within LABEL_MAX_GROWTH.
   */
  private applyLabelScale(): void {
    const zoom = this.cy.zoom();
    // The growth goes up in a few steps, so that zooming does not restyle the whole graph at every
    // quarter pixel (a restyle of a 500-machine lab takes about a second: issue 22).
    const grow = (needed: number) => GROWTH_STEPS.find((g) => g >= Math.min(LABEL_MAX_GROWTH, needed)) ?? LABEL_MAX_GROWTH;
    const size = (base: number) => Math.ceil(base * grow(Math.max(1, MIN_LABEL_PX / (base * zoom))) * 4) / 4;
    // A big lab's domain names (find-and-fold.ts) stay ≥ 12 px on screen, in steps of doubling.
    const group = Math.max(size(NODE_FONT), NODE_FONT * 2 ** Math.max(0, Math.ceil(Math.log2(1 / zoom))));
    const fonts = { node: size(NODE_FONT), edge: size(EDGE_FONT), p2p: size(P2P_FONT), group };
    if (JSON.stringify(fonts) === JSON.stringify(this.fonts)) return;
    this.fonts = fonts;
    // The whole stylesheet with these sizes last (appending them grew it by four rules at every change,
    // and each restyle went through all of them).
    this.cy.style([
      ...STYLE,
      { selector: 'node', style: { 'font-size': fonts.node } },
      { selector: 'edge', style: { 'font-size': fonts.edge } },
      { selector: 'edge[role = "p2p"]', style: { 'font-size': fonts.p2p } },
      // A big lab's domain names stay readable from afar (find-and-fold.ts: level of detail).
      { selector: 'node.group-hub', style: { 'font-size': fonts.group } },
    ]);
    this.cy.batch(() => this.cy.edges().forEach((e) => this.placeEndLabels(e)));
  }

  /**
   * Cable-end labels (interface names, and addresses when shown) sit beyond the machine's shape along
   * the cable, far enough that a label of several lines never covers its node; on a cable too short to
   * also keep clear of the node at the other end, the label moves beside the cable (above it, or to its
   * side; a point-to-point cable's far-end label to the other side).
   */
  private placeEndLabels(e: cytoscape.EdgeSingular): void {
    const font = this.fonts.edge;
    const source = e.source();
    const target = e.target();
    const s = source.position();
    const t = target.position();
    const len = Math.hypot(t.x - s.x, t.y - s.y) || 1;
    const ux = Math.abs(t.x - s.x) / len;
    const uy = Math.abs(t.y - s.y) / len;
    // A unit vector across the cable, pointing up (or left for a vertical one).
    let px = -(t.y - s.y) / len;
    let py = (t.x - s.x) / len;
    if (py > 0 || (py === 0 && px > 0)) [px, py] = [-px, -py];
    const half = (n: cytoscape.NodeSingular) => ({ w: n.width() / 2 + 3, h: n.height() / 2 + 3 });
    const place = (label: unknown, own: cytoscape.NodeSingular, far: cytoscape.NodeSingular, side: 1 | -1) => {
      const lines = String(label ?? '').split('\n').filter(Boolean);
      if (!lines.length) return { offset: END_LABEL_MIN_OFFSET, mx: 0, my: 0 };
      const hw = (Math.max(...lines.map((l) => l.length)) * font * 0.62) / 2 + 2;
      const hh = (lines.length * font * 1.25) / 2 + 2;
      const along = ux * hw + uy * hh;
      // A cable leaving the node downwards passes its name (and state) written under it: start below them.
      const down = (far.position().y - own.position().y) / len;
      const nameLines = String(own.data('display') ?? own.data('label') ?? '').split('\n').length;
      const underName = down > 0.5 ? (nameLines * this.fonts.node * 1.25 + 4) / down : 0;
      const offset = Math.max(END_LABEL_MIN_OFFSET, Math.round(along + 6 + underName));
      const o = half(own);
      const f = half(far);
      // From the own node's centre: its border, the offset, then the label's far half.
      const reach = ux * o.w + uy * o.h + offset + along;
      if (reach + 4 <= len - (ux * f.w + uy * f.h)) return { offset, mx: 0, my: 0 };
      const shift = uy * hw + ux * hh + Math.max(uy * f.w + ux * f.h, uy * o.w + ux * o.h) + 3;
      return { offset, mx: Math.round(side * px * shift), my: Math.round(side * py * shift) };
    };
    // Beside the cable: a machine's label goes above when the machine is on the left (or top), below
    // when on the right, so that the labels of two cables meeting at a switch do not collide.
    const sourceFirst = s.x < t.x || (s.x === t.x && s.y < t.y);
    const a = place(e.data('sourceLabel'), source, target, sourceFirst ? 1 : -1);
    const b = place(e.data('targetLabel'), target, source, sourceFirst ? -1 : 1);
    const next = { sourceOffset: a.offset, sourceMarginX: a.mx, sourceMarginY: a.my, targetOffset: b.offset, targetMarginX: b.mx, targetMarginY: b.my };
    // Unchanged (most cables, most of the time): not set again, which would restyle the cable.
    if (Object.entries(next).some(([k, v]) => e.data(k) !== v)) e.data(next);
  }

  /** Brings the drawing in line with the model (add/remove/update only what changed). */
  sync(): void {
    const model = this.state.model;
    const wanted = labToElements(model);
    if (this.showAddresses) addAddresses(wanted, model);
    const wantedIds = new Set(wanted.map((e) => e.data.id));
    this.cy.batch(() => {
      this.cy.elements().filter((e) => !wantedIds.has(e.id())).remove();
      // Edges whose ends changed must be re-created (cytoscape cannot move an edge).
      for (const el of wanted) {
        const existing = this.cy.getElementById(el.data.id);
        if (existing.nonempty() && el.group === 'edges' && (existing.data('source') !== el.data.source || existing.data('target') !== el.data.target)) existing.remove();
        if (existing.nonempty() && existing.isNode() !== (el.group === 'nodes')) existing.remove();
      }
      const toAdd: ElementDefinition[] = [];
      for (const el of wanted) {
        const display = displayLabel(el, this.state.machineStates);
        const existing = this.cy.getElementById(el.data.id);
        if (existing.empty()) {
          toAdd.push({ group: el.group, data: { ...el.data, display }, ...(el.group === 'nodes' && el.position ? { position: { ...el.position } } : {}) } as ElementDefinition);
          continue;
        }
        existing.data({ ...el.data, display });
        if (el.group === 'nodes' && el.position) {
          const p = (existing as NodeSingular).position();
          if (p.x !== el.position.x || p.y !== el.position.y) (existing as NodeSingular).position({ ...el.position });
        }
      }
      if (toAdd.length) this.cy.add(toAdd.filter((e) => e.group === 'nodes')).union(this.cy.add(toAdd.filter((e) => e.group === 'edges')));
      this.cy.edges().forEach((e) => this.placeEndLabels(e));
    });
    this.findAndFold.refresh();
    this.syncSelection();
  }

  /** Lays out what has no position yet (Netkit/Kathará labs) and records the positions without an undo step. */
  autoLayout(all = false): Promise<void> {
    const unplaced = all ? this.cy.nodes().map((n) => n.id()) : unplacedElementIds(this.state.model);
    if (unplaced.length === 0) return Promise.resolve();
    // A big lab laid out whole: each domain with its machines around it (graph/grouped-layout.ts).
    if ((all || unplaced.length === this.cy.nodes().length) && this.cy.nodes().length > BIG_LAB_NODES) return this.groupedLayout(all);
    const nodes = all ? this.cy.nodes() : this.cy.nodes().filter((n) => unplaced.includes(n.id()));
    const eles = all || unplaced.length === this.cy.nodes().length ? this.cy.elements() : nodes.union(nodes.connectedEdges());
    // cose moves nodes from where they are, and nodes that sit on the same spot (all new ones are at
    // 0,0) are pushed apart at random: the same lab came out differently on two opens. Start every
    // node on its own spot of a circle, in name order, so the layout is the same every time.
    const seeds = nodes.sort((a, b) => (a.id() < b.id() ? -1 : a.id() > b.id() ? 1 : 0));
    const radius = 60 + 25 * seeds.length;
    this.cy.batch(() => {
      seeds.forEach((n, i) => {
        const angle = (2 * Math.PI * i) / Math.max(1, seeds.length);
        n.position({ x: Math.round(radius * Math.cos(angle)), y: Math.round(radius * Math.sin(angle)) });
      });
    });
    return new Promise((resolve) => {
      const layout = eles.layout({
        name: this.cy.nodes().length > 60 ? 'grid' : 'cose',
        animate: false,
        randomize: false,
        nodeDimensionsIncludeLabels: true,
        padding: 40,
        fit: false,
        idealEdgeLength: () => 110,
        nodeRepulsion: () => 90_000,
      } as cytoscape.LayoutOptions);
      layout.one('layoutstop', () => {
        const positions: Record<string, { x: number; y: number }> = {};
        nodes.forEach((n) => {
          positions[n.id()] = snapToGrid(n.position(), GRID);
        });
        const next = moveElements(this.state.model, positions);
        if (all) this.state.edit(next);
        else this.state.adjust(next);
        this.fitView(40);
        resolve();
      });
      layout.run();
    });
  }

  private async groupedLayout(all: boolean): Promise<void> {
    const at = groupedLayout(labToElements(this.state.model), this.cy.width() / Math.max(1, this.cy.height()));
    const positions = Object.fromEntries(Object.entries(at).map(([id, p]) => [id, snapToGrid(p, GRID)]));
    const next = moveElements(this.state.model, positions);
    if (all) this.state.edit(next);
    else this.state.adjust(next);
    // The drawing follows the model in the views' update (a microtask): fit once it has.
    await Promise.resolve();
    this.sync();
    this.fitView(40);
  }

  fit(): void {
    this.fitView(40);
  }

  /** Model coordinates of a point given in page (client) coordinates. */
  modelPosition(clientX: number, clientY: number): { x: number; y: number } {
    const rect = this.container.getBoundingClientRect();
    const pan = this.cy.pan();
    const zoom = this.cy.zoom();
    return { x: (clientX - rect.left - pan.x) / zoom, y: (clientY - rect.top - pan.y) / zoom };
  }

  dropPaletteItem(kind: PaletteKind, clientX: number, clientY: number): void {
    let pos = this.modelPosition(clientX, clientY);
    if (this.snap) pos = snapToGrid(pos, GRID);
    const { model, id } = addNode(this.state.model, kind, pos);
    this.state.edit(model, [id]);
  }

  /** A palette item clicked (not dragged): it lands in the middle of the view, on a free grid spot. */
  addAtCentre(kind: PaletteKind): void {
    const rect = this.container.getBoundingClientRect();
    const centre = this.modelPosition(rect.left + rect.width / 2, rect.top + rect.height / 2);
    const taken = (p: { x: number; y: number }) => this.cy.nodes().toArray().some((n) => Math.abs((n as NodeSingular).position().x - p.x) < 60 && Math.abs((n as NodeSingular).position().y - p.y) < 60);
    let pos = snapToGrid(centre, GRID);
    // Walk outwards on a spiral of grid steps until the spot is free.
    for (let step = 1; taken(pos) && step < 400; step++) {
      const ring = Math.ceil(Math.sqrt(step));
      const angle = step * 2.4;
      pos = snapToGrid({ x: centre.x + Math.cos(angle) * ring * 80, y: centre.y + Math.sin(angle) * ring * 80 }, GRID);
    }
    const { model, id } = addNode(this.state.model, kind, pos);
    this.state.edit(model, [id]);
  }

  setCableMode(on: boolean): void {
    this.cableMode = on;
    this.clearCableSource();
    this.cy.autoungrabify(on);
    this.container.classList.toggle('cable-mode', on);
  }

  /** Diagnostics pinned on the elements they are about. */
  showDiagnostics(): void {
    this.cy.batch(() => {
      this.cy.elements().removeClass('diag-error diag-warning').removeData('diag');
      for (const d of this.state.diagnostics) {
        if (!d.target) continue;
        const id = elementForTarget(this.state.model, d.target);
        if (!id) continue;
        const el = this.cy.getElementById(id);
        if (el.empty()) continue;
        if (d.severity === 'error') el.addClass('diag-error');
        else if (d.severity === 'warning' && !el.hasClass('diag-error')) el.addClass('diag-warning');
        el.data('diag', [el.data('diag'), d.message].filter(Boolean).join('\n'));
      }
    });
  }

  /** The running lab on the drawing (run-drawing.ts); `changes` limits it to what changed. */
  showRunState(changes?: RunChanges): void {
    drawRunState(this.cy, this.state, STATE_COLOURS, (e) => this.placeEndLabels(e), changes);
  }

  private syncSelection(): void {
    const want = new Set(this.state.selection);
    this.cy.elements().forEach((e) => {
      if (want.has(e.id()) && !e.selected()) e.select();
      if (!want.has(e.id()) && e.selected()) e.unselect();
    });
  }

  private clearCableSource(): void {
    if (this.cableSource) this.cy.getElementById(this.cableSource).removeClass('cable-source');
    this.cableSource = undefined;
  }

  private wireGestures(): void {
    const cy = this.cy;
    const selectionFromCanvas = () => {
      const ids = cy.$(':selected').map((e) => e.id());
      if (ids.join() !== this.state.selection.join()) this.state.select(ids);
    };
    cy.on('select unselect', () => queueMicrotask(selectionFromCanvas));

    // Cable tool: press on one node and release on another, or tap one then the other.
    cy.on('tapstart', 'node', (e) => {
      if (!this.cableMode) return;
      if (!this.cableSource) {
        this.cableSource = e.target.id();
        e.target.addClass('cable-source');
      }
    });
    const finishCable = (targetId: string) => {
      if (!this.cableMode || !this.cableSource || targetId === this.cableSource) return;
      const from = this.cableSource;
      this.clearCableSource();
      try {
        const { model, id } = connect(this.state.model, from, targetId);
        this.state.edit(model, [id]);
      } catch (err) {
        this.callbacks.onError((err as Error).message);
      }
    };
    cy.on('tapend', 'node', (e) => finishCable(e.target.id()));
    // A release over another node arrives as tapend on that node only when the press started there: find it by position.
    cy.on('tapend', (e) => {
      if (!this.cableMode || !this.cableSource || e.target !== cy) return;
      const hit = cy.nodes().filter((n) => {
        const bb = n.boundingBox({ includeLabels: false });
        return e.position.x >= bb.x1 && e.position.x <= bb.x2 && e.position.y >= bb.y1 && e.position.y <= bb.y2;
      });
      if (hit.nonempty()) finishCable(hit.first().id());
      else this.clearCableSource();
    });

    // After a drag, record every node that moved (a dragged selection moves several).
    cy.on('dragfree', 'node', () => {
      const positions: Record<string, { x: number; y: number }> = {};
      cy.nodes().forEach((n) => {
        const pos = n.position();
        const known = this.state.model.layout[n.data('name') as string];
        if (!known || known.x !== Math.round(pos.x) || known.y !== Math.round(pos.y)) positions[n.id()] = this.snap ? snapToGrid(pos, GRID) : pos;
      });
      if (Object.keys(positions).length) this.state.edit(moveElements(this.state.model, positions));
    });

    cy.on('cxttap', 'node, edge', (e) => {
      const rendered = e.renderedPosition ?? e.target.renderedPosition?.() ?? { x: 0, y: 0 };
      const rect = this.container.getBoundingClientRect();
      if (!e.target.selected()) {
        cy.elements().unselect();
        e.target.select();
      }
      this.callbacks.onContextMenu(e.target.id(), { x: rect.left + rendered.x, y: rect.top + rendered.y });
    });
    cy.on('tap', 'node, edge', (e) => {
      if (!this.cableMode) this.callbacks.onTapElement?.(e.target.id());
    });
    cy.on('dbltap', 'node[role = "machine"]', (e) => this.callbacks.onOpenConsole(e.target.data('name') as string));
  }
}

/** Cable ends labelled `eth0 10.0.0.1/24` instead of `eth0` (the addresses toggle). */
function addAddresses(elements: GraphElement[], model: LabModel): void {
  const addresses = new Map<string, string>();
  for (const m of model.machines) for (const i of m.interfaces) addresses.set(`${m.name}/eth${i.index}`, [...i.ipv4, ...i.ipv6].join('\n'));
  const withAddress = (machineNodeId: string, label: string) => {
    const a = addresses.get(`${machineNodeId.slice('machine:'.length)}/${label}`);
    return a ? `${label}\n${a}` : label;
  };
  for (const el of elements) {
    if (el.group !== 'edges') continue;
    if (el.data.sourceLabel) el.data.sourceLabel = withAddress(el.data.source, el.data.sourceLabel);
    if (el.data.targetLabel) el.data.targetLabel = withAddress(el.data.target, el.data.targetLabel);
  }
}

function displayLabel(el: GraphElement, states: ReadonlyMap<string, MachineState>): string {
  if (el.group !== 'nodes') return '';
  const st = el.data.role === 'machine' ? states.get(el.data.name) : undefined;
  return st && st !== 'stopped' ? `${el.data.label}\n${st}` : el.data.label;
}
