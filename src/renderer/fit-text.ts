// Preformatted blocks (ASCII diagrams, command listings) and tables of a lab's instructions that are
// wider than the panel: shrunk to fit, down to the smallest readable size; past it they wrap (a table's
// cells break inside words). Nothing in the instructions scrolls sideways (issue 23), at any panel width.

const MIN_FONT_PX = { pre: 9, table: 10 };

export function fitPreformatted(root: HTMLElement): void {
  for (const el of Array.from(root.querySelectorAll<HTMLElement>('pre, table'))) {
    const table = el.tagName === 'TABLE';
    const minPx = table ? MIN_FONT_PX.table : MIN_FONT_PX.pre;
    // A table grows past its container (it is never narrower than its words); a block scrolls inside itself.
    const tooWide = () => (table ? el.getBoundingClientRect().width > root.clientWidth + 0.5 : el.scrollWidth > el.clientWidth);
    const width = () => (table ? el.getBoundingClientRect().width : el.scrollWidth);
    const room = () => (table ? root.clientWidth : el.clientWidth);
    el.style.fontSize = '';
    el.classList.remove('wrapped');
    if (root.clientWidth === 0 || !tooWide()) continue;
    let size = Number.parseFloat(getComputedStyle(el).fontSize);
    // Text scales with the font: start near the proportional size, then step down until it fits.
    size = Math.max(minPx, Math.floor(((size * room()) / width()) * 4) / 4 + 1);
    while (size >= minPx) {
      el.style.fontSize = `${size}px`;
      if (!tooWide()) break;
      size -= 0.25;
    }
    if (size < minPx) {
      el.style.fontSize = `${minPx}px`;
      el.classList.add('wrapped');
    }
  }
}

/** Fits `root`'s preformatted blocks now and whenever its width changes. */
export function keepPreformattedFitted(root: HTMLElement): () => void {
  let width = -1;
  new ResizeObserver(() => {
    if (root.clientWidth === width) return;
    width = root.clientWidth;
    fitPreformatted(root);
  }).observe(root);
  return () => {
    width = root.clientWidth;
    fitPreformatted(root);
  };
}
