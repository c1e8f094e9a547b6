// Saved states and hand-in in the app (docs/snapshots.md): the States panel (save with a note, the
// tree of states, restore the lab or one machine, delete), a machine's "Reset to state…" and "Wipe",
// and "Hand in…" (a pack of the lab as it is, saved by the browser). Talks only to the service API.
import type { SavedStateInfo, VnetlabService } from '../shared/service-api.ts';
import { h } from './dom.ts';
import type { AppState } from './state.ts';

const STYLE = `
#states-panel { position: fixed; top: 52px; right: 12px; width: 420px; max-height: calc(100vh - 80px); overflow: auto; z-index: 15;
  background: var(--panel, #fff); color: inherit; border: 1px solid var(--border, #c8ccd4); border-radius: 8px; box-shadow: 0 8px 24px rgba(0,0,0,.18); padding: 10px 12px; font-size: 13px; }
#states-panel header { display: flex; align-items: center; justify-content: space-between; gap: 8px; margin-bottom: 8px; }
#states-panel header h2 { font-size: 15px; margin: 0; }
#states-panel .states-save { display: grid; grid-template-columns: 1fr 1.4fr auto; gap: 6px; margin-bottom: 10px; }
#states-panel .states-save input { min-width: 0; padding: 4px 6px; }
#states-panel ul { list-style: none; margin: 0; padding: 0; }
#states-panel ul ul { padding-left: 16px; border-left: 1px dashed var(--border, #c8ccd4); margin-left: 6px; }
#states-panel li > .state { padding: 6px 4px; border-bottom: 1px solid var(--border-light, #eceef2); }
#states-panel .state .title { display: flex; gap: 6px; align-items: baseline; }
#states-panel .state .name { font-weight: 600; }
#states-panel .state.current .name::after { content: ' ● current'; font-weight: 400; color: #2b8a3e; font-size: 11px; }
#states-panel .state .meta { color: #6b7280; font-size: 11px; }
#states-panel .state .note { font-style: italic; margin: 2px 0; }
#states-panel .state .actions { display: flex; gap: 6px; margin-top: 4px; }
#states-panel .state .actions button { font-size: 12px; padding: 2px 8px; }
#states-panel .machine-mode { background: #fff8e1; border: 1px solid #f2c94c; border-radius: 6px; padding: 6px 8px; margin-bottom: 8px; }
#states-panel .empty { color: #6b7280; padding: 8px 0; }
`;

export class StatesPanel {
  private readonly root = h('aside', { id: 'states-panel', 'data-testid': 'states-panel', hidden: '' });
  private readonly list = h('div', { 'data-testid': 'states-tree' });
  private readonly nameInput = h('input', { 'data-testid': 'state-name', placeholder: 'name, e.g. routes-done', maxlength: '64' }) as HTMLInputElement;
  private readonly noteInput = h('input', { 'data-testid': 'state-note', placeholder: 'note (optional)', maxlength: '500' }) as HTMLInputElement;
  private readonly saveButton = h('button', { class: 'go', 'data-testid': 'state-save' }, 'Save') as HTMLButtonElement;
  private readonly modeLine = h('div', { class: 'machine-mode', 'data-testid': 'states-machine-mode', hidden: '' });
  /** Reset to state… of one machine: restores only it. */
  private machine: string | undefined;
  private lastRun = '';
  /** What the tree on screen was built from: the same list is not built again, so a button being clicked stays the one on screen. */
  private shownTree: string | undefined;
  private busy = false;

  constructor(
    private readonly api: VnetlabService,
    private readonly state: AppState,
    private readonly notify: (message: string, kind?: 'info' | 'error') => void,
    private readonly fail: (err: unknown) => void,
  ) {
    document.head.append(h('style', {}, STYLE));
    const close = h('button', { title: 'Close', 'data-testid': 'states-close' }, '×');
    close.addEventListener('click', () => this.hide());
    this.saveButton.addEventListener('click', () => void this.save());
    this.nameInput.addEventListener('keydown', (e) => (e as KeyboardEvent).key === 'Enter' && void this.save());
    this.root.append(
      h('header', {}, h('h2', {}, 'Saved states'), close),
      this.modeLine,
      h('div', { class: 'states-save' }, this.nameInput, this.noteInput, this.saveButton),
      this.list,
    );
    document.body.append(this.root);
    // Toolbar: States and Hand in…, after the lab's run buttons.
    const toggle = h('button', { id: 'states', 'data-testid': 'states', title: 'Saved states of this lab: save, restore, delete' }, 'States');
    toggle.addEventListener('click', () => (this.root.hidden ? this.show() : this.hide()));
    const handIn = h('button', { id: 'hand-in', 'data-testid': 'hand-in', title: 'Save the lab, its disks and its live network state as one .vnlpack file to hand in' }, 'Hand in…');
    handIn.addEventListener('click', () => void this.handIn());
    const anchor = document.getElementById('apply') ?? document.getElementById('stop');
    if (anchor) anchor.after(toggle, handIn);
    else document.getElementById('toolbar')?.append(toggle, handIn);
    state.on((changes) => {
      if (changes.has('file')) this.machine = undefined;
      // Machine events come many a second while a lab boots: only a start or a stop can change the states.
      const run = `${state.running}|${state.run.phase ?? ''}`;
      const runChanged = changes.has('run') && run !== this.lastRun;
      this.lastRun = run;
      if (!this.root.hidden && (changes.has('file') || runChanged)) void this.refresh();
    });
  }

  show(machine?: string): void {
    if (!this.state.folder) {
      this.notify('Save the lab first: states belong to a lab folder.', 'error');
      return;
    }
    this.machine = machine;
    this.root.hidden = false;
    void this.refresh();
  }

  hide(): void {
    this.root.hidden = true;
    this.machine = undefined;
  }

  /** What a machine's context menu adds. */
  machineMenuItems(machine: string): [string, () => void][] {
    return [
      ['Reset to state…', () => this.show(machine)],
      ['Wipe', () => void this.wipe(machine)],
    ];
  }

  async refresh(): Promise<void> {
    this.modeLine.hidden = !this.machine;
    if (this.machine) {
      const whole = h('a', { href: '#', 'data-testid': 'states-whole-lab' }, 'the whole lab');
      whole.addEventListener('click', (e) => {
        e.preventDefault();
        this.machine = undefined;
        void this.refresh();
      });
      this.modeLine.replaceChildren(`Reset ${this.machine} to a saved state (its disk and network state; the other machines are left as they are). Or restore `, whole, '.');
    }
    if (!this.state.folder) return;
    let states: SavedStateInfo[];
    try {
      states = await this.api.listStates(this.state.folder);
    } catch (err) {
      this.shownTree = undefined;
      this.list.replaceChildren(h('div', { class: 'empty' }, (err as Error).message));
      return;
    }
    const shown = JSON.stringify([this.machine ?? null, states]);
    if (shown === this.shownTree) return;
    this.shownTree = shown;
    this.list.replaceChildren(this.tree(states));
  }

  private tree(states: SavedStateInfo[]): HTMLElement {
    if (!states.length) return h('div', { class: 'empty', 'data-testid': 'states-empty' }, 'No saved state yet. Give it a name and press Save: every machine\'s disk and, for running machines, addresses, routes, firewall and routing configuration.');
    const names = new Set(states.map((s) => s.name));
    const children = new Map<string | null, SavedStateInfo[]>();
    for (const s of states) {
      const parent = s.parent && names.has(s.parent) ? s.parent : null;
      children.set(parent, [...(children.get(parent) ?? []), s]);
    }
    const build = (parent: string | null): HTMLElement =>
      h('ul', {}, ...(children.get(parent) ?? []).map((s) => h('li', {}, this.item(s), children.has(s.name) ? build(s.name) : null)));
    return build(null);
  }

  private item(s: SavedStateInfo): HTMLElement {
    const when = new Date(s.createdAt).toLocaleString();
    const machines = s.machines.map((m) => (m.running ? m.name : `${m.name} (${m.hasDisk ? 'stopped' : 'no disk'})`)).join(', ');
    const inState = !this.machine || s.machines.some((m) => m.name === this.machine);
    const restore = h('button', { 'data-testid': `state-restore-${s.name}`, title: this.machine ? `Restore ${this.machine} to ${s.name}` : `Restore every machine of ${s.name}` }, this.machine ? `Reset ${this.machine}` : 'Restore');
    if (!inState) restore.setAttribute('disabled', '');
    restore.addEventListener('click', () => void this.restore(s.name, this.machine ? [this.machine] : []));
    const one = h('select', { 'data-testid': `state-restore-one-${s.name}`, title: 'Restore one machine of this state' }, h('option', { value: '' }, 'Restore a machine…'), ...s.machines.map((m) => h('option', { value: m.name }, m.name)));
    one.addEventListener('change', () => {
      const m = (one as HTMLSelectElement).value;
      (one as HTMLSelectElement).value = '';
      if (m) void this.restore(s.name, [m]);
    });
    const del = h('button', { 'data-testid': `state-delete-${s.name}`, title: 'Delete this state (its copies that no other state uses are freed)' }, 'Delete');
    del.addEventListener('click', () => void this.remove(s.name));
    return h(
      'div',
      { class: `state${s.current ? ' current' : ''}`, 'data-testid': `state-${s.name}` },
      h('div', { class: 'title' }, h('span', { class: 'name' }, s.name), s.auto ? h('span', { class: 'meta' }, 'automatic') : null),
      s.note ? h('div', { class: 'note' }, s.note) : null,
      h('div', { class: 'meta' }, `${when} · ${formatBytes(s.diskBytes)} · ${machines}`),
      h('div', { class: 'actions' }, restore, this.machine ? null : one, del),
    );
  }

  private async run<T>(what: string, task: () => Promise<T>): Promise<T | undefined> {
    if (this.busy) return undefined;
    this.busy = true;
    this.root.setAttribute('aria-busy', 'true');
    this.notify(what);
    try {
      return await task();
    } catch (err) {
      this.fail(err);
      return undefined;
    } finally {
      this.busy = false;
      this.root.removeAttribute('aria-busy');
      void this.refresh();
    }
  }

  private async save(): Promise<void> {
    const name = this.nameInput.value.trim();
    if (!name) {
      this.notify('Give the state a name (letters, digits, . _ -).', 'error');
      this.nameInput.focus();
      return;
    }
    const saved = await this.run(`Saving ${name}…`, () => this.api.saveState(this.state.folder, name, this.noteInput.value.trim()));
    if (saved) {
      this.nameInput.value = '';
      this.noteInput.value = '';
      this.notify(`Saved state ${saved.name} (${saved.machines.length} machines, ${formatBytes(saved.diskBytes)}).`);
    }
  }

  private async restore(name: string, machines: string[]): Promise<void> {
    const what = machines.length ? machines.join(', ') : 'every machine';
    if (!window.confirm(`Restore ${what} to ${name}? They restart from that state; what they have now is saved first as an automatic state, so you can come back to it.`)) return;
    const r = await this.run(`Restoring ${what} to ${name}…`, () => this.api.restoreState(this.state.folder, name, machines));
    if (!r) return;
    if (r.failed.length) this.notify(`Restored to ${name}, but ${r.failed.map((f) => `${f.machine} did not start: ${f.error.split('\n')[0]}`).join('; ')}`, 'error');
    else this.notify(`Restored ${r.restored.join(', ')} to ${name}. The machines as they were are saved as ${r.before}.${r.notes.some((n) => n.includes('still different')) ? ` ${r.notes.filter((n) => n.includes('still different')).join(' ')}` : ''}`);
  }

  private async remove(name: string): Promise<void> {
    if (!window.confirm(`Delete the saved state ${name}?`)) return;
    await this.run(`Deleting ${name}…`, async () => {
      await this.api.deleteState(this.state.folder, name);
      this.notify(`Deleted state ${name}.`);
    });
  }

  private async wipe(machine: string): Promise<void> {
    if (!this.state.folder) return;
    if (!window.confirm(`Wipe ${machine}? Its disk is deleted: what was changed inside it is lost (saved states keep theirs), and its next start begins from the lab files.`)) return;
    try {
      await this.api.wipeMachine(this.state.folder, machine);
      this.notify(`${machine} wiped: its next start begins from the lab files.`);
    } catch (err) {
      this.fail(err);
    }
  }

  private async handIn(): Promise<void> {
    if (!this.state.folder) {
      this.notify('Save the lab first: a pack is made from a lab folder.', 'error');
      return;
    }
    const pack = await this.run('Packing the lab (its disks and live network state)…', () => this.api.packLab(this.state.folder));
    if (!pack) return;
    const bytes = Uint8Array.from(atob(pack.base64), (c) => c.charCodeAt(0));
    const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
    const a = h('a', { href: url, download: pack.fileName, 'data-testid': 'hand-in-link' });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    this.notify(`Hand-in pack ${pack.fileName} (${formatBytes(pack.bytes)}) is being saved by your browser.`);
  }
}

function formatBytes(n: number): string {
  return n < 1024 * 1024 ? `${Math.max(1, Math.round(n / 1024))} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`;
}
