// The page's layout: the side panel's tabs (lab, properties, problems), and the resizable side panel
// and console pane, whose sizes are kept for the next visit.
import { $ } from './dom.ts';

/** Show one side panel (its tab active). */
export function showSide(panel: string): void {
  for (const t of document.querySelectorAll<HTMLElement>('[data-side]')) t.classList.toggle('active', t.dataset.side === panel);
  for (const p of document.querySelectorAll<HTMLElement>('.side-panel')) p.hidden = p.id !== panel;
}

export function wireLayout(): void {
  for (const tab of document.querySelectorAll<HTMLElement>('[data-side]')) tab.addEventListener('click', () => showSide(tab.dataset.side!));

  const side = $('side');
  const consolesPane = $('consoles');
  const setSideWidth = (px: number) => {
    // The canvas keeps at least 360 px; the panel at least 220 px.
    const max = Math.max(220, window.innerWidth - $('palette').offsetWidth - 360);
    side.style.width = `${Math.round(Math.min(max, Math.max(220, px)))}px`;
  };
  dragResizer($('side-resizer'), (e) => setSideWidth(window.innerWidth - e.clientX), 'vnetlab.sideWidth', () => side.style.width);
  dragResizer($('consoles-resizer'), (e) => {
    const bottom = $('workspace').getBoundingClientRect().bottom;
    consolesPane.style.height = `${Math.round(Math.max(120, bottom - e.clientY))}px`;
  }, 'vnetlab.consolesHeight', () => consolesPane.style.height);
  const savedWidth = Number.parseInt(localStorage.getItem('vnetlab.sideWidth') ?? '', 10);
  if (savedWidth) setSideWidth(savedWidth);
  else if (window.innerWidth >= 1400) setSideWidth(380); // room for the instructions' tables on a wide screen
  const savedHeight = localStorage.getItem('vnetlab.consolesHeight');
  if (savedHeight) consolesPane.style.height = savedHeight;
  new MutationObserver(() => $('workspace').classList.toggle('has-consoles', consolesPane.classList.contains('has-consoles'))).observe(consolesPane, { attributes: true, attributeFilter: ['class'] });
}

/** Drag `handle` to resize; the size is remembered under `key` when the drag ends. */
function dragResizer(handle: HTMLElement, onMove: (e: PointerEvent) => void, key: string, save: () => string): void {
  handle.addEventListener('pointerdown', (down) => {
    down.preventDefault();
    handle.setPointerCapture(down.pointerId);
    const move = (e: PointerEvent) => onMove(e);
    const up = () => {
      handle.removeEventListener('pointermove', move);
      handle.removeEventListener('pointerup', up);
      localStorage.setItem(key, save());
    };
    handle.addEventListener('pointermove', move);
    handle.addEventListener('pointerup', up);
  });
}
