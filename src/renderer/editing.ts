// Editing the drawing: delete, copy and paste, undo and redo, the keyboard shortcuts (Ctrl+S saves
// from a Properties field too, never from a console), and the palette (drag an item onto the canvas,
// or click it to add one in the middle; the cable tool).
import type { App } from './app.ts';
import { $, h } from './dom.ts';
import type { Canvas } from './editor/canvas.ts';
import { copyElements, pasteElements, removeElements, type Clipboard, type PaletteKind } from './graph/edit.ts';
import { parseElementId } from './graph/mapping.ts';

export interface Editing {
  deleteSelection(): void;
}

export function wireEditing(app: App, canvas: Canvas, menu: { readonly visible: boolean; hide(): void }, save: (saveAs: boolean) => Promise<boolean>): Editing {
  const { state, notify, showSide } = app;
  let clipboard: Clipboard | undefined;
  let pasteCount = 0;

  function deleteSelection(): void {
    if (state.selection.length === 0) return;
    // A running machine leaves the drawing only when the user says so: it stops when the change is applied.
    const running = state.running
      ? state.selection.map(parseElementId).flatMap((r) => (r?.type === 'machine' && ['booting', 'ready', 'stopping'].includes(state.machineStates.get(r.name) ?? '') ? [r.name] : []))
      : [];
    const names = running.join(', ');
    if (running.length && !window.confirm(`${names} ${running.length > 1 ? 'are' : 'is'} running. Remove ${running.length > 1 ? 'them' : 'it'} from the drawing? ${running.length > 1 ? 'They stop' : 'It stops'} when you press Apply.`)) return;
    state.edit(removeElements(state.model, state.selection), []);
    if (running.length) notify(`${names} removed from the drawing: press Apply to stop ${running.length > 1 ? 'them' : 'it'} (Undo puts ${running.length > 1 ? 'them' : 'it'} back).`);
  }

  function copySelection(): void {
    if (state.selection.length === 0) return;
    clipboard = copyElements(state.model, state.selection);
    pasteCount = 0;
    notify(`Copied ${clipboard.machines.length} machine(s).`);
  }

  function paste(): void {
    if (!clipboard) return;
    pasteCount++;
    const { model, ids } = pasteElements(state.model, clipboard, { x: 40 * pasteCount, y: 40 * pasteCount });
    state.edit(model, ids);
  }

  function isTyping(target: EventTarget | null): boolean {
    const el = target as HTMLElement | null;
    return !!el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || !!el.closest('.term'));
  }

  document.addEventListener('keydown', (e) => {
    const mod = e.ctrlKey || e.metaKey;
    if (e.key === 'Escape' && menu.visible) {
      menu.hide();
      e.preventDefault();
      return;
    }
    // Save works from a field of the Properties panel too (not from a console: Ctrl+S belongs to the
    // guest there): the field commits what was typed (on blur), then the lab is saved; the focus stays.
    const el = e.target as HTMLElement | null;
    if (mod && e.key.toLowerCase() === 's' && isTyping(el) && !el?.closest('.term')) {
      e.preventDefault();
      el!.blur();
      el!.focus();
      void save(e.shiftKey);
      return;
    }
    if (isTyping(e.target)) return;
    if (e.key === 'Delete' || e.key === 'Backspace') deleteSelection();
    else if (mod && e.key.toLowerCase() === 'z' && !e.shiftKey) state.undo();
    else if (mod && (e.key.toLowerCase() === 'y' || (e.key.toLowerCase() === 'z' && e.shiftKey))) state.redo();
    else if (mod && e.key.toLowerCase() === 'c') copySelection();
    else if (mod && e.key.toLowerCase() === 'v') paste();
    else if (mod && e.key.toLowerCase() === 's') void save(e.shiftKey);
    else if (e.key === 'Escape') setTool('select');
    else return;
    e.preventDefault();
  });

  // ---- palette ---------------------------------------------------------------------------------

  function setTool(tool: 'select' | 'cable'): void {
    canvas.setCableMode(tool === 'cable');
    for (const b of document.querySelectorAll<HTMLElement>('[data-tool]')) b.classList.toggle('active', b.dataset.tool === tool);
  }

  for (const item of document.querySelectorAll<HTMLElement>('[data-palette]')) {
    // Press on a palette item, release over the canvas: the item lands where the pointer is.
    item.addEventListener('pointerdown', (down) => {
      down.preventDefault();
      const kind = item.dataset.palette as PaletteKind;
      const ghost = h('div', { class: 'drag-ghost' }, item.textContent ?? kind);
      document.body.append(ghost);
      const move = (e: PointerEvent) => {
        ghost.style.left = `${e.clientX + 8}px`;
        ghost.style.top = `${e.clientY + 8}px`;
      };
      move(down);
      const up = (e: PointerEvent) => {
        document.removeEventListener('pointermove', move);
        document.removeEventListener('pointerup', up);
        ghost.remove();
        const rect = $('canvas').getBoundingClientRect();
        if (e.clientX >= rect.left && e.clientX <= rect.right && e.clientY >= rect.top && e.clientY <= rect.bottom) {
          canvas.dropPaletteItem(kind, e.clientX, e.clientY);
          showSide('properties');
        } else if (Math.hypot(e.clientX - down.clientX, e.clientY - down.clientY) < 6 && item.contains(document.elementFromPoint(e.clientX, e.clientY))) {
          // A click (no drag): the item lands in the middle of the view, beside anything already there.
          canvas.addAtCentre(kind);
          showSide('properties');
        }
      };
      document.addEventListener('pointermove', move);
      document.addEventListener('pointerup', up);
    });
  }
  for (const b of document.querySelectorAll<HTMLElement>('[data-tool]')) b.addEventListener('click', () => setTool(b.dataset.tool as 'select' | 'cable'));

  return { deleteSelection };
}
