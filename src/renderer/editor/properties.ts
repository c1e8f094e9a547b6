// The properties panel: edits the selected machine (name, kind, image, memory, interfaces and their
// addresses, startup script, files) or domain (name, hub/switch, host NAT), or with nothing selected
// the lab (name, title, description, checks). Every change is one edit (undoable); diagnostics about
// the element or one of its fields are shown next to it. The panel is rebuilt only when what it shows
// changes shape (another element, an interface more); otherwise values are patched in place, so a
// field being typed into never loses its focus or text (Tab from one field to the next commits the
// first, and the second keeps the caret).
import type { Diagnostic } from '../../shared/diagnostics.ts';
import type { FileEntry, Machine } from '../../shared/lab-model.ts';
import { endpointsByDomain, parseElementId } from '../graph/mapping.ts';
import { addCheck, EditError, hasInterfaceGaps, parseVlans, removeCheck, renameElement, renumberInterfaces, updateDomain, updateMachine, updateSwitchLink, type AuthoredCheck } from '../graph/edit.ts';
import { switchLinkIds } from '../../shared/lab-model.ts';
import type { Check } from '../../shared/checks.ts';
import type { AppState } from '../state.ts';
import { h } from '../dom.ts';

const IMAGES = ['tiny', 'debian'];

export class PropertiesPanel {
  /** What the panel shows, structurally: when it is unchanged, values are patched instead of rebuilt. */
  private renderedShape = '';
  /** Current value of each field (by data-field), read from the model at patch time. */
  private values = new Map<string, () => string | boolean>();

  constructor(
    private readonly root: HTMLElement,
    private readonly state: AppState,
    private readonly onError: (message: string) => void,
  ) {}

  render(): void {
    const shape = this.shape();
    const active = document.activeElement as HTMLElement | null;
    const focused = active && this.root.contains(active) ? active.dataset.field : undefined;
    if (shape === this.renderedShape) {
      this.patch();
      return;
    }
    this.renderedShape = shape;
    this.values = new Map();
    this.root.replaceChildren();
    this.build();
    this.patch();
    // Rebuilt under the user's cursor (a rename, an interface added): the same field keeps the focus.
    if (focused) {
      const again = this.root.querySelector<HTMLElement>(`[data-field="${CSS.escape(focused)}"]`);
      again?.focus();
      if (again instanceof HTMLInputElement && again.type === 'text') again.setSelectionRange(again.value.length, again.value.length);
    }
  }

  /** Selection and the structure of what it shows; values are not part of it. */
  private shape(): string {
    const sel = this.state.selection;
    const model = this.state.model;
    if (sel.length !== 1) return `none:${sel.length}|checks:${model.checks.map((c) => c.id).join(',')}|machines:${model.machines.map((m) => m.name).join(',')}`;
    const ref = parseElementId(sel[0]!);
    if (ref?.type === 'link') return `link:${ref.id}|${switchLinkIds(model).includes(ref.id)}`;
    const name = ref?.type === 'iface' ? ref.machine : ref?.name;
    const kindOf = (domain: string) => model.domains.find((d) => d.name === domain)?.kind ?? 'hub';
    if (ref?.type === 'domain') return `domain:${name}|${kindOf(name!)}|${!!model.domains.find((d) => d.name === name)?.stp}|${(endpointsByDomain(model).get(name!) ?? []).map((e) => `${e.machine}/${e.index}`).join(',')}`;
    const m = model.machines.find((x) => x.name === name);
    if (!m) return `missing:${sel[0]}`;
    return `machine:${m.name}|${m.interfaces.map((i) => `${i.index}>${i.domain}:${kindOf(i.domain)}`).join(',')}|${m.files.map((f) => `${f.kind}:${f.guestPath}`).join(',')}`;
  }

  private build(): void {
    const sel = this.state.selection;
    if (sel.length !== 1) {
      this.root.append(h('p', { class: 'muted' }, sel.length ? `${sel.length} elements selected.` : 'Select a machine or a hub/switch to edit it. Click or drag items from the palette onto the canvas; use the Cable tool to connect them.'));
      this.renderLabFields();
      return;
    }
    const ref = parseElementId(sel[0]!);
    if (ref?.type === 'link') {
      this.renderLink(ref.id);
    } else if (ref?.type === 'machine') {
      const m = this.state.model.machines.find((x) => x.name === ref.name);
      if (m) this.renderMachine(m);
    } else if (ref?.type === 'domain') {
      this.renderDomain(ref.name);
    } else if (ref?.type === 'iface') {
      const m = this.state.model.machines.find((x) => x.name === ref.machine);
      if (m) this.renderMachine(m);
    }
  }

  /** Values and diagnostics into the existing fields; the one being typed into is left alone. */
  private patch(): void {
    for (const el of this.root.querySelectorAll<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>('[data-field]')) {
      const get = this.values.get(el.dataset.field!);
      if (!get || el === document.activeElement) continue;
      const value = get();
      if (el instanceof HTMLInputElement && el.type === 'checkbox') el.checked = value === true;
      else if (el.value !== String(value)) el.value = String(value);
    }
    for (const box of this.root.querySelectorAll<HTMLElement>('[data-diag-target]')) {
      box.replaceChildren(...diagnosticsFor(this.state.diagnostics, box.dataset.diagTarget!, box.dataset.diagExact === 'true').map(diagLine));
    }
    const stats = this.root.querySelector<HTMLElement>('[data-runtime-stats]');
    if (stats) stats.textContent = this.runtimeText(stats.dataset.runtimeStats!);
  }

  /** A field: its current value is read from the model whenever the panel is patched. */
  private bind<T extends HTMLElement>(name: string, el: T, get: () => string | boolean): T {
    el.dataset.field = name;
    this.values.set(name, get);
    return el;
  }

  private machineNow(name: string): Machine | undefined {
    return this.state.model.machines.find((x) => x.name === name);
  }

  /** State and host memory of a running machine (the figures `vnetlab status` prints). */
  private runtimeText(machine: string): string {
    const st = this.state.machineStates.get(machine);
    if (!this.state.running || !st) return 'Not running.';
    const rss = this.state.usage.get(machine)?.rssBytes;
    return `${st}${rss ? ` · memory ${(rss / 1048576).toFixed(0)} MB on the host` : ''}`;
  }

  private renderLabFields(): void {
    const meta = () => this.state.model.meta;
    this.root.append(
      h('h3', {}, 'Lab'),
      field('Name', this.bind('lab-name', input(meta().name, (v) => this.edit((m) => ({ ...m, meta: { ...m.meta, name: v } })), { testid: 'lab-name' }), () => meta().name)),
      field('Title', this.bind('lab-title', input(meta().title ?? '', (v) => this.edit((m) => ({ ...m, meta: { ...m.meta, title: v || undefined } })), { testid: 'prop-lab-title' }), () => meta().title ?? '')),
      field('Description (Markdown, shown in the Lab tab)', this.bind('lab-description', textarea(meta().description ?? '', (v) => this.edit((m) => ({ ...m, meta: { ...m.meta, description: v || undefined } })), 8, 'prop-lab-description'), () => meta().description ?? '')),
    );
    this.renderChecks();
  }

  /** The lab's checks ("check my work"), and a form for the common kinds; they are saved in lab.yaml. */
  private renderChecks(): void {
    const checks = this.state.model.checks;
    const list = h('ul', { class: 'checks-list', 'data-testid': 'checks-list' }, ...checks.map((c) => {
      const remove = h('button', { type: 'button', class: 'small', title: 'remove this check' }, '✕');
      remove.addEventListener('click', () => this.edit((m) => removeCheck(m, c.id)));
      return h('li', {}, h('span', { class: 'what' }, c.description, h('span', { class: 'muted small' }, ` — ${describeCheck(c)}${c.hidden ? ' (hidden)' : ''}`)), remove);
    }));
    const machines = this.state.model.machines.map((m) => m.name);
    const kind = select(['reach', 'route', 'daemon', 'command'], 'reach', () => showFields());
    kind.setAttribute('data-testid', 'check-kind');
    const on = select(machines, machines[0] ?? '', () => {});
    on.setAttribute('data-testid', 'check-on');
    const a = input('', () => {}, { testid: 'check-a' });
    const b = input('', () => {}, { testid: 'check-b' });
    const description = input('', () => {}, { testid: 'check-description' });
    const aLabel = h('span', {});
    const bLabel = h('span', {});
    const error = h('p', { class: 'error', 'data-testid': 'check-error' });
    const labels: Record<string, [string, string]> = {
      reach: ['reaches (an address or a machine)', 'expect ("fail" for a check that it cannot reach)'],
      route: ['has a route to (prefix, e.g. 10.0.2.0/24)', 'via (gateway, optional)'],
      daemon: ['daemon running (e.g. ospfd, zebra, named)', '(not used)'],
      command: ['command', 'its output contains (optional)'],
    };
    const showFields = () => {
      const [la, lb] = labels[kind.value]!;
      aLabel.textContent = la;
      bLabel.textContent = lb;
      b.disabled = kind.value === 'daemon';
    };
    showFields();
    const add = h('button', { type: 'button', 'data-testid': 'check-add' }, 'Add check');
    add.addEventListener('click', () => {
      const [x, y] = [a.value.trim(), b.value.trim()];
      if (!on.value) return void (error.textContent = 'Add a machine to the lab first: checks run on machines.');
      if (!x) return void (error.textContent = `Fill in "${aLabel.textContent}".`);
      let check: AuthoredCheck;
      if (kind.value === 'reach') check = { kind: 'reach', from: on.value, to: x, expect: /^fail/i.test(y) ? 'failure' : 'success' };
      else if (kind.value === 'route') check = { kind: 'route', on: on.value, prefix: x, ...(y ? { via: y } : {}) };
      else if (kind.value === 'daemon') check = { kind: 'daemon', on: on.value, daemon: x };
      else check = { kind: 'command', on: on.value, run: x, ...(y ? { stdoutContains: y } : {}) };
      error.textContent = '';
      this.edit((m) => addCheck(m, check, description.value.trim() || defaultCheckText(check)).model);
    });
    this.root.append(
      h('h4', {}, `Checks (${checks.length})`),
      checks.length ? list : h('p', { class: 'muted', 'data-testid': 'checks-list' }, 'No checks yet: students cannot "check my work". Add one below.'),
      h('div', { class: 'check-form', 'data-testid': 'check-form' },
        field('Kind', kind), field('On machine', on), h('label', { class: 'field' }, aLabel, a), h('label', { class: 'field' }, bLabel, b),
        field('Shown to students as (optional)', description), error, add),
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
      this.renderedShape = '';
      this.render();
    }
  }

  private machineEdit(name: string, change: (m: Machine) => void): void {
    this.edit((model) => updateMachine(model, name, change));
  }

  private renderMachine(m: Machine): void {
    const id = `machine:${m.name}`;
    const now = () => this.machineNow(m.name) ?? m;
    const memory = this.bind('memory', input(String(m.memoryMiB), (v) => this.machineEdit(m.name, (x) => {
      x.memoryMiB = Number(v) || x.memoryMiB;
    }), { type: 'number', testid: 'prop-memory' }), () => String(now().memoryMiB));
    this.root.append(
      h('h3', {}, m.kind === 'router' ? 'Router' : 'Host'),
      diagBox(this.state.diagnostics, id, true),
      h('div', { class: 'runtime-stats', 'data-runtime-stats': m.name, 'data-testid': 'prop-runtime' }),
      field('Name', this.bind('name', input(m.name, (v) => this.rename(id, v), { testid: 'prop-name' }), () => now().name)),
      field('Kind', this.bind('kind', select(['host', 'router'], m.kind, (v) => this.machineEdit(m.name, (x) => {
        x.kind = v as Machine['kind'];
      })), () => now().kind)),
      field('Image', this.bind('image', input(m.image, (v) => this.machineEdit(m.name, (x) => {
        x.image = v.trim();
      }), { list: 'image-names', testid: 'prop-image' }), () => now().image)),
      field('Memory (MiB)', memory),
      h('h4', {}, 'Interfaces'),
    );
    if (!this.root.querySelector('#image-names')) this.root.append(h('datalist', { id: 'image-names' }, ...IMAGES.map((i) => h('option', { value: i }))));
    if (m.interfaces.length === 0) this.root.append(h('p', { class: 'muted' }, 'No interface yet: draw a cable from this machine with the Cable tool.'));
    if (hasInterfaceGaps(m)) {
      const renumber = h('button', { type: 'button', class: 'small', 'data-testid': 'prop-renumber', title: 'cables, addresses and MACs stay with their interface; startup scripts are not changed' }, `Renumber as eth0…eth${m.interfaces.length - 1}`);
      renumber.addEventListener('click', () => this.edit((model) => renumberInterfaces(model, m.name)));
      this.root.append(h('div', { class: 'row' }, h('span', { class: 'muted small' }, `The interfaces are ${m.interfaces.map((i) => `eth${i.index}`).join(', ')}.`), renumber));
    }
    const ifaceNow = (index: number) => now().interfaces.find((i) => i.index === index);
    for (const iface of m.interfaces) {
      const target = `${id}/eth${iface.index}`;
      this.root.append(
        h('div', { class: 'iface' },
          h('div', { class: 'iface-head' }, `eth${iface.index}`, h('span', { class: 'muted' }, ` → ${iface.domain}`)),
          field('IPv4 (CIDR, comma separated)', this.bind(`eth${iface.index}-ipv4`, input(iface.ipv4.join(', '), (v) => this.machineEdit(m.name, (x) => {
            x.interfaces.find((i) => i.index === iface.index)!.ipv4 = splitList(v);
          }), { testid: `prop-eth${iface.index}-ipv4` }), () => ifaceNow(iface.index)?.ipv4.join(', ') ?? '')),
          field('IPv6', this.bind(`eth${iface.index}-ipv6`, input(iface.ipv6.join(', '), (v) => this.machineEdit(m.name, (x) => {
            x.interfaces.find((i) => i.index === iface.index)!.ipv6 = splitList(v);
          }), { testid: `prop-eth${iface.index}-ipv6` }), () => ifaceNow(iface.index)?.ipv6.join(', ') ?? '')),
          // An example as a hint, not a placeholder: a grey "10.0.0.1/24" in the box looked like a real address.
          h('div', { class: 'field-hint' }, 'e.g. 10.0.0.1/24 · 2001:db8::1/64 · empty: no address'),
          ...(this.state.model.domains.find((d) => d.name === iface.domain)?.kind === 'switch' ? this.vlanFields(`eth${iface.index}`, () => ifaceNow(iface.index) ?? {}, (vlans) => this.machineEdit(m.name, (x) => setVlans(x.interfaces.find((i) => i.index === iface.index)!, vlans))) : []),
          diagBox(this.state.diagnostics, target, true),
        ),
      );
    }
    this.root.append(
      h('h4', {}, 'Startup script'),
      this.bind('startup', textarea(m.startup?.text ?? '', (v) => this.machineEdit(m.name, (x) => {
        x.startup = v ? { text: v, source: x.startup?.source ?? { file: `${m.name}.startup`, line: 1, column: 1 } } : undefined;
      }), 10, 'prop-startup'), () => now().startup?.text ?? ''),
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

  /**
   * A switch port's VLANs: the one it carries untagged (an access port) and those it carries tagged (a
   * trunk). `key` names the fields (`eth0`, `link`); `now` reads the current values.
   */
  private vlanFields(key: string, now: () => { vlan?: number; vlans?: number[] }, set: (vlans: { vlan?: number; vlans?: number[] }) => void): HTMLElement[] {
    const vlan = this.bind(`${key}-vlan`, input(String(now().vlan ?? ''), () => commit(), { testid: `prop-${key}-vlan`, type: 'number' }), () => String(now().vlan ?? ''));
    const vlans = this.bind(`${key}-vlans`, input((now().vlans ?? []).join(', '), () => commit(), { testid: `prop-${key}-vlans` }), () => (now().vlans ?? []).join(', '));
    const commit = () => {
      try {
        set(parseVlans(vlan.value, vlans.value));
      } catch (err) {
        this.onError((err as Error).message);
      }
    };
    return [
      field('VLAN, untagged (an access port; empty: the default VLAN)', vlan),
      field('VLANs tagged (a trunk), comma separated', vlans),
    ];
  }

  private renderLink(id: string): void {
    const n = switchLinkIds(this.state.model).indexOf(id);
    const link = this.state.model.switchLinks?.[n];
    if (!link) return;
    const now = () => this.state.model.switchLinks?.[switchLinkIds(this.state.model).indexOf(id)] ?? link;
    const cable = this.state.cables.get(id);
    const blocked = cable?.blocked?.map((b) => `${b.domain} (${b.vlans.map((v) => (v === 0 ? 'default VLAN' : `VLAN ${v}`)).join(', ')})`).join('; ');
    this.root.append(
      h('h3', {}, 'Switch link'),
      diagBox(this.state.diagnostics, `link:${id}`, true),
      h('p', {}, `${link.a} ⇄ ${link.b}`, h('span', { class: 'muted' }, ` — ${id}`)),
      ...(blocked ? [h('p', { class: 'diag diag-warning', 'data-testid': 'prop-link-blocked' }, `Spanning tree blocks this link's port at ${blocked}: it carries no frames while another path is up.`)] : []),
      ...this.vlanFields('link', now, (vlans) => this.edit((model) => updateSwitchLink(model, id, (l) => setVlans(l, vlans)))),
      h('div', { class: 'field-hint' }, 'Both ends carry the same VLANs. VLANs need switches at both ends.'),
    );
  }

  private renderDomain(name: string): void {
    const id = `domain:${name}`;
    const d = this.state.model.domains.find((x) => x.name === name);
    const ends = endpointsByDomain(this.state.model).get(name) ?? [];
    this.root.append(
      h('h3', {}, d?.hostNat ? 'Internet (host NAT)' : 'Collision domain'),
      diagBox(this.state.diagnostics, id, true),
      field('Name', this.bind('name', input(name, (v) => this.rename(id, v), { testid: 'prop-name' }), () => name)),
      field('Kind', this.bind('kind', select(['hub', 'switch'], d?.kind ?? 'hub', (v) => this.edit((m) => updateDomain(m, name, { kind: v as 'hub' | 'switch' }))), () => this.state.model.domains.find((x) => x.name === name)?.kind ?? 'hub')),
      field('Host NAT (internet access through slirpvde)', this.bind('nat', checkbox(!!d?.hostNat, (v) => this.edit((m) => updateDomain(m, name, { hostNat: v }))), () => !!this.state.model.domains.find((x) => x.name === name)?.hostNat)),
      ...(d?.kind === 'switch'
        ? [
            field('Spanning tree (breaks loops of switch links by blocking ports)', this.bind('stp', withTestId(checkbox(!!d.stp, (v) => this.edit((m) => updateDomain(m, name, { stp: v ? {} : undefined }))), 'prop-stp'), () => !!this.state.model.domains.find((x) => x.name === name)?.stp)),
            ...(d.stp
              ? [field('Spanning tree priority (lowest is the root; default 32768)', this.bind('stp-priority', input(String(d.stp.priority ?? ''), (v) => this.edit((m) => updateDomain(m, name, { stp: v.trim() === '' ? {} : { priority: Number(v) } })), { type: 'number', testid: 'prop-stp-priority' }), () => String(this.state.model.domains.find((x) => x.name === name)?.stp?.priority ?? '')))]
              : []),
          ]
        : []),
      h('h4', {}, 'Attached'),
      h('ul', {}, ...ends.map((e) => h('li', {}, `${e.machine} eth${e.index}`))),
    );
  }
}

function withTestId<T extends HTMLElement>(el: T, testid: string): T {
  el.setAttribute('data-testid', testid);
  return el;
}

/** Sets (or clears) `vlan` and `vlans` on an interface or a switch link. */
function setVlans(target: { vlan?: number; vlans?: number[] }, vlans: { vlan?: number; vlans?: number[] }): void {
  delete target.vlan;
  delete target.vlans;
  Object.assign(target, vlans);
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
  const el = h('input', { type: opts.type ?? 'text', value, ...(opts.list ? { list: opts.list } : {}), ...(opts.testid ? { 'data-testid': opts.testid } : {}), ...(opts.placeholder ? { placeholder: opts.placeholder } : {}) }) as HTMLInputElement;
  el.addEventListener('change', () => commit(el.value));
  el.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') el.blur();
  });
  return el;
}

/** A code editor good enough for scripts: monospace, Tab inserts two spaces instead of leaving the field. */
function textarea(value: string, commit: (v: string) => void, rows: number, testid?: string): HTMLTextAreaElement {
  const el = h('textarea', { rows: String(rows), spellcheck: 'false', class: 'code', ...(testid ? { 'data-testid': testid } : {}) }) as HTMLTextAreaElement;
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

function describeCheck(c: Check): string {
  switch (c.kind) {
    case 'reach':
      return `reach: ${c.from} → ${c.to}${c.expect === 'failure' ? ' must fail' : ''}`;
    case 'route':
      return `route on ${c.on}: ${c.prefix}${c.via ? ` via ${c.via}` : ''}`;
    case 'command':
      return `command on ${c.on}: ${c.run}${c.stdoutContains ? ` (output contains "${c.stdoutContains}")` : ''}`;
    case 'capture':
      return `frames on cable ${c.cable}${c.filter ? `: ${c.filter}` : ''}`;
    default:
      return `${c.kind} on ${c.on}`;
  }
}

function defaultCheckText(c: AuthoredCheck): string {
  switch (c.kind) {
    case 'reach':
      return `${c.from} ${c.expect === 'failure' ? 'cannot reach' : 'reaches'} ${c.to}`;
    case 'route':
      return `${c.on} has a route to ${c.prefix}${c.via ? ` via ${c.via}` : ''}`;
    case 'daemon':
      return `${c.daemon} runs on ${c.on}`;
    case 'command':
      return `${c.on}: ${c.run}${c.stdoutContains ? ` shows "${c.stdoutContains}"` : ''}`;
  }
}
