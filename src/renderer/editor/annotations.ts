// Canvas notes and rectangles (issue 23): text notes and labelled areas drawn over the topology for
// handouts ("Area 0", "DMZ"), saved in lab.yaml's `annotations:` beside the layout and never part of the
// topology. They are DOM layers inside the canvas that follow cytoscape's pan and zoom: rectangles under
// the drawing (the machines stay clickable through them), their label tabs and the notes above it. Each
// change is an edit of the model (one undo step, "unsaved"). Right-click on the empty canvas adds them.
import type { Core } from 'cytoscape';
import type { Annotation, LabModel } from '../../shared/lab-model.ts';
import { h } from '../dom.ts';
import type { AppState } from '../state.ts';
import './annotations.css';

const AREA_COLOURS = ['#cfe3f7', '#e6f4ea', '#fff3c4', '#fce0ff'];

export interface AnnotationMenu {
  showItems(items: [string, () => void][], at: { x: number; y: number }): void;
}

export class Annotations {
  private readonly under = h('div', { class: 'notes-layer under', 'data-testid': 'areas-layer' });
  private readonly over = h('div', { class: 'notes-layer over', 'data-testid': 'notes-layer' });
  private shown: Annotation[] | undefined;
  /** Editing a text: the layers are not rebuilt under the textarea. */
  private editing = false;

  constructor(
    private readonly cy: Core,
    private readonly host: HTMLElement,
    private readonly state: AppState,
    menu: AnnotationMenu,
    /** More items of the empty canvas's menu (export). */
    moreItems: () => [string, () => void][],
  ) {
    host.prepend(this.under);
    host.append(this.over);
    cy.on('viewport resize', () => this.follow());
    state.on((changes) => {
      if (changes.has('model') || changes.has('file')) this.render();
    });
    cy.on('cxttap', (e) => {
      if (e.target !== cy) return;
      const r = host.getBoundingClientRect();
      const at = { x: r.left + e.renderedPosition.x, y: r.top + e.renderedPosition.y };
      const p = e.position;
      menu.showItems([
        ['Add a note here', () => this.add({ type: 'note', x: Math.round(p.x), y: Math.round(p.y), text: 'Note' }, true)],
        ['Add a rectangle here', () => this.add({ type: 'rect', x: Math.round(p.x), y: Math.round(p.y), width: 240, height: 160, text: 'Area', color: AREA_COLOURS[(this.list().filter((a) => a.type === 'rect').length) % AREA_COLOURS.length] }, true)],
        ...moreItems(),
      ], at);
    });
    this.render();
  }

  private list(): Annotation[] {
    return this.state.model.annotations ?? [];
  }

  private commit(next: Annotation[]): void {
    const model: LabModel = { ...this.state.model };
    if (next.length) model.annotations = next;
    else delete model.annotations;
    this.state.edit(model);
  }

  private add(a: Annotation, edit: boolean): void {
    this.commit([...this.list(), a]);
    this.render(); // now, not at the state's next update: the new one's text is edited at once
    if (edit) this.editText(this.list().length - 1);
  }

  private change(index: number, patch: Partial<Annotation>): void {
    this.commit(this.list().map((a, i) => (i === index ? { ...a, ...patch } : a)));
  }

  private remove(index: number): void {
    this.commit(this.list().filter((_, i) => i !== index));
  }

  /** The layers follow the canvas's pan and zoom (one CSS transform each, whatever the number of notes). */
  private follow(): void {
    const pan = this.cy.pan();
    const zoom = this.cy.zoom();
    const t = `translate(${pan.x}px, ${pan.y}px) scale(${zoom})`;
    this.under.style.transform = t;
    this.over.style.transform = t;
  }

  render(): void {
    const list = this.list();
    if (list === this.shown || this.editing) return;
    this.shown = list;
    const under: HTMLElement[] = [];
    const over: HTMLElement[] = [];
    list.forEach((a, i) => {
      const del = h('button', { class: 'note-delete', title: 'delete', 'data-testid': `annotation-delete-${i}` }, '×');
      del.addEventListener('click', () => this.remove(i));
      if (a.type === 'rect') {
        under.push(h('div', { class: 'area', 'data-testid': `area-${i}`, style: `left:${a.x}px;top:${a.y}px;width:${a.width}px;height:${a.height}px;background:${a.color ?? AREA_COLOURS[0]}66;border-color:${a.color ?? AREA_COLOURS[0]}` }));
        const tab = h('div', { class: 'area-tab', 'data-testid': `area-tab-${i}`, 'data-index': String(i), style: `left:${a.x}px;top:${a.y}px`, title: 'drag to move, double-click to rename' }, h('span', { class: 'note-text' }, a.text || ' '), del);
        const grip = h('div', { class: 'area-grip', 'data-testid': `area-grip-${i}`, style: `left:${a.x + a.width! - 10}px;top:${a.y + a.height! - 10}px`, title: 'drag to resize' });
        this.dragging(tab, i, (dx, dy) => ({ x: Math.round(a.x + dx), y: Math.round(a.y + dy) }));
        this.dragging(grip, i, (dx, dy) => ({ width: Math.max(40, Math.round(a.width! + dx)), height: Math.max(30, Math.round(a.height! + dy)) }));
        tab.addEventListener('dblclick', () => this.editText(i));
        over.push(tab, grip);
      } else {
        const note = h('div', { class: 'note', 'data-testid': `note-${i}`, 'data-index': String(i), style: `left:${a.x}px;top:${a.y}px`, title: 'drag to move, double-click to edit' }, h('span', { class: 'note-text' }, a.text), del);
        this.dragging(note, i, (dx, dy) => ({ x: Math.round(a.x + dx), y: Math.round(a.y + dy) }));
        note.addEventListener('dblclick', () => this.editText(i));
        over.push(note);
      }
    });
    this.under.replaceChildren(...under);
    this.over.replaceChildren(...over);
    this.follow();
  }

  /** Drag on `el` (model units): the element moves with the pointer; one edit when released. */
  private dragging(el: HTMLElement, index: number, patch: (dx: number, dy: number) => Partial<Annotation>): void {
    el.addEventListener('pointerdown', (down) => {
      if (down.button !== 0 || (down.target as HTMLElement).closest('button, textarea')) return;
      down.preventDefault();
      down.stopPropagation();
      const zoom = this.cy.zoom();
      const start = { left: parseFloat(el.style.left), top: parseFloat(el.style.top) };
      const move = (e: PointerEvent) => {
        el.style.left = `${start.left + (e.clientX - down.clientX) / zoom}px`;
        el.style.top = `${start.top + (e.clientY - down.clientY) / zoom}px`;
      };
      const up = (e: PointerEvent) => {
        document.removeEventListener('pointermove', move);
        document.removeEventListener('pointerup', up);
        const dx = (e.clientX - down.clientX) / zoom;
        const dy = (e.clientY - down.clientY) / zoom;
        if (Math.hypot(dx, dy) * zoom >= 3) this.change(index, patch(dx, dy));
        else this.render();
      };
      document.addEventListener('pointermove', move);
      document.addEventListener('pointerup', up);
    });
  }

  /** The text of note or area `index` in a textarea: Enter (without Shift) or leaving it saves; Escape cancels; empty deletes a note. */
  private editText(index: number): void {
    const a = this.list()[index];
    const el = this.over.querySelector<HTMLElement>(`[data-index="${index}"]`);
    if (!a || !el) return;
    this.editing = true;
    const area = h('textarea', { class: 'note-edit', 'data-testid': 'annotation-text', rows: String(Math.max(1, a.text.split('\n').length)) }) as HTMLTextAreaElement;
    area.value = a.text;
    el.querySelector('.note-text')!.replaceWith(area);
    area.focus();
    area.select();
    let done = false;
    const finish = (save: boolean) => {
      if (done) return;
      done = true;
      this.editing = false;
      const text = area.value.trim();
      if (save && !text && a.type === 'note') this.remove(index);
      else if (save && text !== a.text) this.change(index, { text });
      else {
        this.shown = undefined;
        this.render();
      }
    };
    area.addEventListener('keydown', (e) => {
      e.stopPropagation();
      if (e.key === 'Enter' && !e.shiftKey) {
        e.preventDefault();
        finish(true);
      } else if (e.key === 'Escape') finish(false);
    });
    area.addEventListener('blur', () => finish(true));
    area.addEventListener('pointerdown', (e) => e.stopPropagation());
  }
}
