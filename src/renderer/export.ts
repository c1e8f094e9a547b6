// Export of the drawing (issue 23), for lab handouts: an SVG written from what cytoscape draws (node
// shapes, colours and labels, cables with their dashes and labels, interface names at the cable ends,
// link lights) plus the canvas's notes and rectangles; PNG is that SVG rasterised at twice its size, so
// that both files show the same picture (cy.png() would leave the notes out: they are not cytoscape's).
import type { Core, EdgeSingular, NodeSingular } from 'cytoscape';
import type { Annotation } from '../shared/lab-model.ts';

const PAD = 24;
const FONT = 'system-ui, -apple-system, "Segoe UI", sans-serif';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (v: unknown, fallback = 0) => {
  const n = parseFloat(String(v));
  return Number.isFinite(n) ? n : fallback;
};
const r1 = (n: number) => Math.round(n * 10) / 10;

/** Lines of text as <text> with one <tspan> a line, centred on x when `anchor` is middle. */
function text(x: number, y: number, body: string, size: number, colour: string, anchor: 'start' | 'middle' = 'middle', weight = 'normal', halo = false): string {
  const lines = body.split('\n').filter((l) => l !== '');
  if (!lines.length) return '';
  const spans = lines.map((l, i) => `<tspan x="${r1(x)}" dy="${i === 0 ? 0 : r1(size * 1.25)}">${esc(l)}</tspan>`).join('');
  const outline = halo ? ' paint-order="stroke" stroke="#fff" stroke-width="3" stroke-linejoin="round"' : '';
  return `<text x="${r1(x)}" y="${r1(y)}" font-family='${FONT}' font-size="${size}" fill="${colour}" text-anchor="${anchor}" font-weight="${weight}"${outline}>${spans}</text>`;
}

/** A note's box, as annotations.css draws it (estimated from its text). */
function noteBox(a: Annotation): { w: number; h: number } {
  const lines = a.text.split('\n');
  return { w: Math.min(260, Math.max(...lines.map((l) => l.length)) * 7.2 + 18), h: lines.length * 16 + 10 };
}

function nodeSvg(n: NodeSingular): string {
  const { x, y } = n.position();
  const w = n.width();
  const hgt = n.height();
  const fill = n.style('background-color');
  const stroke = n.style('border-color');
  const sw = num(n.style('border-width'));
  const dash = n.style('border-style') === 'dashed' ? ' stroke-dasharray="6 4"' : '';
  const paint = `fill="${fill}" stroke="${stroke}" stroke-width="${sw}"${dash}`;
  const shape = String(n.style('shape'));
  let body: string;
  if (shape === 'ellipse') body = `<ellipse cx="${r1(x)}" cy="${r1(y)}" rx="${r1(w / 2)}" ry="${r1(hgt / 2)}" ${paint}/>`;
  else if (shape === 'octagon') {
    const pts = Array.from({ length: 8 }, (_, i) => {
      const a = (Math.PI / 8) * (2 * i + 1);
      return `${r1(x + (w / 2) * Math.cos(a))},${r1(y + (hgt / 2) * Math.sin(a))}`;
    });
    body = `<polygon points="${pts.join(' ')}" ${paint}/>`;
  } else body = `<rect x="${r1(x - w / 2)}" y="${r1(y - hgt / 2)}" width="${r1(w)}" height="${r1(hgt)}" rx="${shape === 'round-rectangle' ? 8 : 0}" ${paint}/>`;
  const label = String(n.style('label') ?? '');
  const size = num(n.style('font-size'), 12);
  return body + text(x, y + hgt / 2 + sw / 2 + 4 + size, label, size, n.style('color'));
}

function edgeSvg(e: EdgeSingular): string {
  const s = e.sourceEndpoint();
  const t = e.targetEndpoint();
  const colour = e.style('line-color');
  const width = num(e.style('width'), 2);
  const dash = e.style('line-style') === 'dashed' ? ' stroke-dasharray="8 5"' : '';
  let out = `<line x1="${r1(s.x)}" y1="${r1(s.y)}" x2="${r1(t.x)}" y2="${r1(t.y)}" stroke="${colour}" stroke-width="${width}"${dash}/>`;
  const len = Math.hypot(t.x - s.x, t.y - s.y) || 1;
  const ux = (t.x - s.x) / len;
  const uy = (t.y - s.y) / len;
  const size = num(e.style('font-size'), 10);
  // Link lights: a dot at the machine's end.
  for (const [end, p, dir] of [['source', s, 1], ['target', t, -1]] as const) {
    if (e.style(`${end}-arrow-shape`) === 'circle') out += `<circle cx="${r1(p.x + dir * ux * 5)}" cy="${r1(p.y + dir * uy * 5)}" r="5" fill="${e.style(`${end}-arrow-color`)}"/>`;
    const label = String(e.style(`${end}-label`) ?? '');
    if (!label) continue;
    const offset = num(e.data(`${end}Offset`), 22);
    const mx = num(e.data(`${end}MarginX`));
    const my = num(e.data(`${end}MarginY`));
    out += text(p.x + dir * ux * offset + mx, p.y + dir * uy * offset + my + size / 3, label, size, e.style('color'), 'middle', 'normal', true);
  }
  const label = String(e.style('label') ?? '');
  if (label) {
    const m = e.midpoint();
    out += text(m.x, m.y + num(e.style('text-margin-y')) + size / 3, label, size, e.style('color'), 'middle', 'normal', true);
  }
  return out;
}

/** The drawing as an SVG document: the whole lab (not just what is in view), notes and rectangles included. */
export function drawingSvg(cy: Core, annotations: Annotation[], title: string): string {
  const bb = cy.elements().boundingBox({ includeLabels: true });
  let [x1, y1, x2, y2] = cy.elements().nonempty() ? [bb.x1, bb.y1, bb.x2, bb.y2] : [0, 0, 200, 100];
  for (const a of annotations) {
    const size = a.type === 'rect' ? { w: a.width ?? 0, h: a.height ?? 0 } : noteBox(a);
    [x1, y1, x2, y2] = [Math.min(x1, a.x), Math.min(y1, a.y), Math.max(x2, a.x + size.w), Math.max(y2, a.y + size.h)];
  }
  [x1, y1, x2, y2] = [Math.floor(x1 - PAD), Math.floor(y1 - PAD), Math.ceil(x2 + PAD), Math.ceil(y2 + PAD)];
  const parts: string[] = [];
  parts.push(`<rect x="${x1}" y="${y1}" width="${x2 - x1}" height="${y2 - y1}" fill="#fff"/>`);
  for (const a of annotations.filter((n) => n.type === 'rect')) {
    const c = a.color ?? '#cfe3f7';
    parts.push(`<rect x="${a.x}" y="${a.y}" width="${a.width}" height="${a.height}" rx="8" fill="${c}" fill-opacity="0.4" stroke="${c}" stroke-width="2" stroke-dasharray="6 4"/>`);
    parts.push(text(a.x + 6, a.y + 15, a.text, 13, '#1f2933', 'start', '600'));
  }
  cy.edges().forEach((e) => void parts.push(edgeSvg(e)));
  cy.nodes().forEach((n) => void parts.push(nodeSvg(n)));
  for (const a of annotations.filter((n) => n.type === 'note')) {
    const box = noteBox(a);
    parts.push(`<rect x="${a.x}" y="${a.y}" width="${r1(box.w)}" height="${box.h}" rx="3" fill="#fff9db" stroke="#f0d36b"/>`);
    parts.push(text(a.x + 8, a.y + 17, a.text, 13, '#1f2933', 'start'));
  }
  const w = x2 - x1;
  const hgt = y2 - y1;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${hgt}" viewBox="${x1} ${y1} ${w} ${hgt}"><title>${esc(title)}</title>${parts.join('')}</svg>\n`;
}

/** The SVG drawn at `scale` into a PNG. */
export async function svgToPng(svg: string, scale = 2): Promise<Blob> {
  const img = new Image();
  img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = Math.ceil(img.naturalWidth * scale);
  canvas.height = Math.ceil(img.naturalHeight * scale);
  const ctx = canvas.getContext('2d')!;
  ctx.scale(scale, scale);
  ctx.drawImage(img, 0, 0);
  return new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('the PNG could not be made'))), 'image/png'));
}

/** Downloads the drawing as `<lab>.svg` or `<lab>.png` (the browser's or the app window's download). */
export async function exportDrawing(cy: Core, annotations: Annotation[], name: string, format: 'svg' | 'png'): Promise<string> {
  const svg = drawingSvg(cy, annotations, name);
  const blob = format === 'svg' ? new Blob([svg], { type: 'image/svg+xml' }) : await svgToPng(svg);
  const file = `${name.replace(/[^A-Za-z0-9_.-]/g, '_') || 'lab'}.${format}`;
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = file;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  return file;
}
