// The properties panel: edits the selected machine (name, kind, image, memory, interfaces and their
// addresses, startup script, files) or domain (name, hub/switch, host NAT). Every change is one edit
// (undoable); diagnostics about the element or one of its fields are shown next to it.
import type { Diagnostic } from '../../shared/diagnostics.ts';
import type { FileEntry, Machine } from '../../shared/lab-model.ts';
import { endpointsByDomain, parseElementId } from '../graph/mapping.ts';
import { EditError, renameElement, updateDomain, updateMachine } from '../graph/edit.ts';
import type { AppState } from '../state.ts';
import { h } from '../dom.ts';

const IMAGES = ['tiny', 'debian'];

export class PropertiesPanel {
  private renderedFor = '';

  constructor(
    private readonly root: HTMLElement,
    private readonly state: AppState,
    private readonly onError: (message: string) => void,
  ) {}

  render(): void {
    const active = document.activeElement;
    const key = this.state.selection.join(',');
    // Do not rebuild under the user's cursor (it would lose focus and caret) unless another element is shown.
    if (key === this.renderedFor && active && this.root.contains(active) && (active as HTMLElement).dataset.keep === 'true') {
      this.renderDiagnosticsOnly();
      return;
    }
    this.renderedFor = key;
    this.root.replaceChildren();
    const sel = this.state.selection;
    if (sel.length !== 1) {
      this.root.append(h('p', { class: 'muted' }, sel.length ? `${sel.length} elements selected.` : 'Select a machine or a hub/switch to edit it. Drag items from the palette onto the canvas; use the Cable tool to connect them.'));
      this.renderLabFields();
      return;
    }
    const ref = parseElementId(sel[0]!);
    if (ref?.type === 'machine') {
      const m = this.state.model.machines.find((x) => x.name === ref.name);
      if (m) this.renderMachine(m);
    } else if (ref?.type === 'domain') {
      this.renderDomain(ref.name);
    } else if (ref?.type === 'iface') {
      const m = this.state.model.machines.find((x) => x.name === ref.machine);
      if (m) this.renderMachine(m);
    }
  }

  private renderDiagnosticsOnly(): void {
    for (const box of this.root.querySelectorAll<HTMLElement>('[data-diag-target]')) {
      box.replaceChildren(...diagnosticsFor(this.state.diagnostics, box.dataset.diagTarget!, box.dataset.diagExact === 'true').map(diagLine));
    }
  }

  private renderLabFields(): void {
    const meta = this.state.model.meta;
    this.root.append(
      h('h3', {}, 'Lab'),
      field('Name', input(meta.name, (v) => this.edit((m) => ({ ...m, meta: { ...m.meta, name: v } })), { testid: 'lab-name' })),
      field('Title', input(meta.title ?? '', (v) => this.edit((m) => ({ ...m, meta: { ...m.meta, title: v || undefined } })))),
      field('Description (Markdown)', textarea(meta.description ?? '', (v) => this.edit((m) => ({ ...m, meta: { ...m.meta, description: v || undefined } })), 8)),
    );
  }

  private edit(change: (m: AppState['model']) => AppState['model']): void {
    try {
      this.state.edit(change(this.state.model));
    } catch (err) {
      this.onError((err as Error).message);
    }
  }

  private rename(id: string, name: string): void {
    try {
      const r = renameElement(this.state.model, id, name.trim());
      this.state.edit(r.model, [r.id]);
    } catch (err) {
      this.onError(err instanceof EditError ? err.message : String(err));
      this.render();
    }
  }

  private machineEdit(name: string, change: (m: Machine) => void): void {
    this.edit((model) => updateMachine(model, name, change));
  }

  private renderMachine(m: Machine): void {
    const id = `machine:${m.name}`;
    const memory = input(String(m.memoryMiB), (v) => this.machineEdit(m.name, (x) => {
      x.memoryMiB = Number(v) || x.memoryMiB;
    }), { type: 'number', testid: 'prop-memory' });
    this.root.append(
      h('h3', {}, m.kind === 'router' ? 'Router' : 'Host'),
      diagBox(this.state.diagnostics, id, true),
      field('Name', input(m.name, (v) => this.rename(id, v), { testid: 'prop-name' })),
      field('Kind', select(['host', 'router'], m.kind, (v) => this.machineEdit(m.name, (x) => {
        x.kind = v as Machine['kind'];
      }))),
      field('Image', input(m.image, (v) => this.machineEdit(m.name, (x) => {
        x.image = v.trim();
      }), { list: 'image-names', testid: 'prop-image' })),
      field('Memory (MiB)', memory),
      h('h4', {}, 'Interfaces'),
    );
    if (!this.root.querySelector('#image-names')) this.root.append(h('datalist', { id: 'image-names' }, ...IMAGES.map((i) => h('option', { value: i }))));
    if (m.interfaces.length === 0) this.root.append(h('p', { class: 'muted' }, 'No interface yet: draw a cable from this machine with the Cable tool.'));
    for (const iface of m.interfaces) {
      const target = `${id}/eth${iface.index}`;
      this.root.append(
        h('div', { class: 'iface' },
          h('div', { class: 'iface-head' }, `eth${iface.index}`, h('span', { class: 'muted' }, ` → ${iface.domain}`)),
          field('IPv4 (CIDR, comma separated)', input(iface.ipv4.join(', '), (v) => this.machineEdit(m.name, (x) => {
            x.interfaces.find((i) => i.index === iface.index)!.ipv4 = splitList(v);
          }), { testid: `prop-eth${iface.index}-ipv4`, placeholder: '10.0.0.1/24' })),
          field('IPv6', input(iface.ipv6.join(', '), (v) => this.machineEdit(m.name, (x) => {
            x.interfaces.find((i) => i.index === iface.index)!.ipv6 = splitList(v);
          }), { placeholder: '2001:db8::1/64' })),
          diagBox(this.state.diagnostics, target, true),
        ),
      );
    }
    this.root.append(
      h('h4', {}, 'Startup script'),
      textarea(m.startup?.text ?? '', (v) => this.machineEdit(m.name, (x) => {
        x.startup = v ? { text: v, source: x.startup?.source ?? { file: `${m.name}.startup`, line: 1, column: 1 } } : undefined;
      }), 10, 'prop-startup'),
      h('h4', {}, 'Files placed in the machine'),
      this.renderFiles(m),
    );
  }

  private renderFiles(m: Machine): HTMLElement {
    const list = h('div', { class: 'files' });
    m.files.forEach((f, n) => {
      const row = h('div', { class: 'file' },
        h('code', {}, f.guestPath),
        h('span', { class: 'muted' }, f.kind === 'inline' ? ' (inline)' : ` ← ${f.labPath}`),
        h('button', { class: 'small', title: 'remove this file', onclick: () => this.machineEdit(m.name, (x) => {
          x.files.splice(n, 1);
        }) }, '✕'),
      );
      list.append(row);
      if (f.kind === 'inline') {
        list.append(textarea(f.content, (v) => this.machineEdit(m.name, (x) => {
          (x.files[n] as Extract<FileEntry, { kind: 'inline' }>).content = v;
        }), 4));
      }
    });
    const path = input('', () => {}, { placeholder: '/etc/hosts' });
    list.append(h('div', { class: 'row' }, path, h('button', { class: 'small', onclick: () => {
      const guestPath = path.value.trim();
      if (!guestPath.startsWith('/')) return this.onError('A file placed in a machine needs an absolute path, like /etc/hosts.');
      this.machineEdit(m.name, (x) => {
        x.files.push({ kind: 'inline', guestPath, content: '', source: { file: 'lab.yaml', line: 0, column: 0 } });
      });
    } }, 'Add file')));
    return list;
  }

  private renderDomain(name: string): void {
    const id = `domain:${name}`;
    const d = this.state.model.domains.find((x) => x.name === name);
    const ends = endpointsByDomain(this.state.model).get(name) ?? [];
    this.root.append(
      h('h3', {}, d?.hostNat ? 'Internet (host NAT)' : 'Collision domain'),
      diagBox(this.state.diagnostics, id, true),
      field('Name', input(name, (v) => this.rename(id, v), { testid: 'prop-name' })),
      field('Kind', select(['hub', 'switch'], d?.kind ?? 'hub', (v) => this.edit((m) => updateDomain(m, name, { kind: v as 'hub' | 'switch' })))),
      field('Host NAT (internet access through slirpvde)', checkbox(!!d?.hostNat, (v) => this.edit((m) => updateDomain(m, name, { hostNat: v })))),
      h('h4', {}, 'Attached'),
      h('ul', {}, ...ends.map((e) => h('li', {}, `${e.machine} eth${e.index}`))),
    );
  }
}

function splitList(v: string): string[] {
  return v.split(/[,\s]+/).map((s) => s.trim()).filter(Boolean);
}

function diagnosticsFor(all: Diagnostic[], target: string, exact: boolean): Diagnostic[] {
  return all.filter((d) => d.target === target || (!exact && d.target?.startsWith(`${target}/`)));
}

function diagLine(d: Diagnostic): HTMLElement {
  return h('div', { class: `diag diag-${d.severity}` }, `${d.severity}: ${d.message}`, d.hint ? h('div', { class: 'hint' }, d.hint) : '');
}

function diagBox(all: Diagnostic[], target: string, exact: boolean): HTMLElement {
  const box = h('div', { class: 'diags', 'data-diag-target': target, 'data-diag-exact': String(exact) });
  box.append(...diagnosticsFor(all, target, exact).map(diagLine));
  return box;
}

function field(label: string, control: HTMLElement): HTMLElement {
  return h('label', { class: 'field' }, h('span', {}, label), control);
}

/** An input that commits on change (blur/Enter), so each field edit is one undo step. */
function input(value: string, commit: (v: string) => void, opts: { type?: string; list?: string; testid?: string; placeholder?: string } = {}): HTMLInputElement {
  const el = h('input', { type: opts.type ?? 'text', value, 'data-keep': 'true', ...(opts.list ? { list: opts.list } : {}), ...(opts.testid ? { 'data-testid': opts.testid } : {}), ...(opts.placeholder ? { placeholder: opts.placeholder } : {}) }) as HTMLInputElement;
  el.addEventListener('change', () => commit(el.value));
  el.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') el.blur();
  });
  return el;
}

/** A code editor good enough for scripts: monospace, Tab inserts two spaces instead of leaving the field. */
function textarea(value: string, commit: (v: string) => void, rows: number, testid?: string): HTMLTextAreaElement {
  const el = h('textarea', { rows: String(rows), spellcheck: 'false', class: 'code', 'data-keep': 'true', ...(testid ? { 'data-testid': testid } : {}) }) as HTMLTextAreaElement;
  el.value = value;
  el.addEventListener('keydown', (e) => {
    if (e.key !== 'Tab' || e.shiftKey || e.ctrlKey || e.altKey) return;
    e.preventDefault();
    const { selectionStart: s, selectionEnd: t } = el;
    el.setRangeText('  ', s, t, 'end');
  });
  el.addEventListener('change', () => commit(el.value));
  return el;
}

function select(options: string[], value: string, commit: (v: string) => void): HTMLSelectElement {
  const el = h('select', {}, ...options.map((o) => h('option', { value: o, ...(o === value ? { selected: 'selected' } : {}) }, o))) as HTMLSelectElement;
  el.addEventListener('change', () => commit(el.value));
  return el;
}

function checkbox(value: boolean, commit: (v: boolean) => void): HTMLInputElement {
  const el = h('input', { type: 'checkbox' }) as HTMLInputElement;
  el.checked = value;
  el.addEventListener('change', () => commit(el.checked));
  return el;
}
