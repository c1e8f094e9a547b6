// The canvas's right-click menu: a machine's actions (console, start, stop, restart, crash, its saved
// states), a running cable's (plug, unplug, impair, capture) and Delete; and the cable impairment
// dialog. A cable's new status goes into the run state through its one writer (RunState.apply).
import { describeImpairment } from '../shared/impairments.ts';
import type { CableChange } from '../shared/runtime-api.ts';
import type { MachineAction } from '../shared/service-api.ts';
import type { App } from './app.ts';
import { runningCable, wireImpairDialog } from './cable-text.ts';
import { $, h } from './dom.ts';
import { parseElementId } from './graph/mapping.ts';
import type { PacketPane } from './packets.ts';

export interface MenuActions {
  openConsole(machine: string): void;
  /** The machine's next console, a shell of its own in a new tab. */
  newConsole(machine: string): void;
  machineAction(machine: string, action: MachineAction): void;
  /** A machine's saved-state items (states-panel.ts). */
  machineMenuItems(machine: string): [string, () => void][];
  deleteSelection(): void;
}

export class CableMenu {
  private readonly menu = $('context-menu');

  constructor(
    private readonly app: App,
    private readonly packets: PacketPane,
    private readonly actions: MenuActions,
  ) {
    document.addEventListener('pointerdown', (e) => {
      if (!this.menu.contains(e.target as Node)) this.hide();
    });
  }

  get visible(): boolean {
    return !this.menu.hidden;
  }

  show(id: string, at: { x: number; y: number }): void {
    const { state } = this.app;
    const ref = parseElementId(id);
    const items: [string, () => void][] = [];
    if (ref?.type === 'machine') {
      items.push(['Open console', () => this.actions.openConsole(ref.name)]);
      if (state.running) items.push(['New console', () => this.actions.newConsole(ref.name)]);
      for (const action of ['start', 'stop', 'restart', 'crash'] as const) items.push([action[0]!.toUpperCase() + action.slice(1), () => this.actions.machineAction(ref.name, action)]);
      items.push(...this.actions.machineMenuItems(ref.name));
    }
    // A running cable is a thing of its own: pull it, impair it, watch it. A machine-to-machine cable
    // (one edge for two interfaces) gets the same menu: it acts on its first end, which is the whole link.
    const running = state.running ? runningCable(state.model, state.cables, id) : undefined;
    if (running) {
      const { cable, all, ends } = running;
      const unplugged = all.filter((c) => !c.plugged);
      items.push(unplugged.length ? ['Plug cable in', () => void Promise.all(unplugged.map((c) => this.changeCable(c.id, { plugged: true })))] : ['Unplug cable', () => void this.changeCable(cable.id, { plugged: false })]);
      items.push(['Impair cable…', () => void this.impairDialog(cable.id, ends)]);
      const impaired = all.filter((c) => c.impairments.in || c.impairments.out);
      if (impaired.length) items.push(['Remove impairments', () => void Promise.all(impaired.map((c) => this.changeCable(c.id, { reset: true })))]);
      if (ref?.type === 'iface') items.push(['Capture packets', () => void this.startCapture(cable.id)]);
    }
    if (state.running && ref?.type === 'domain') items.push([`Capture packets on ${ref.name}`, () => void this.startCapture(ref.name)]);
    items.push(['Delete', () => this.actions.deleteSelection()]);
    this.showItems(items, at);
  }

  /** The menu with these items at this point of the page (the canvas background's menu too). */
  showItems(items: [string, () => void][], at: { x: number; y: number }): void {
    this.menu.replaceChildren(...items.map(([label, run]) => {
      const b = h('button', { 'data-action': label.toLowerCase().replace(/ /g, '-') }, label);
      b.addEventListener('click', () => {
        this.hide();
        run();
      });
      return b;
    }));
    this.menu.style.left = `${at.x}px`;
    this.menu.style.top = `${at.y}px`;
    this.menu.hidden = false;
  }

  hide(): void {
    this.menu.hidden = true;
  }

  private async changeCable(cable: string, change: CableChange): Promise<void> {
    const { api, state, notify, fail } = this.app;
    try {
      const status = await api.changeLink(state.folder, cable, change);
      state.run.apply({ event: { type: 'cable', cable: status } });
      const impaired = [status.impairments.out && `out: ${describeImpairment(status.impairments.out)}`, status.impairments.in && `in: ${describeImpairment(status.impairments.in)}`].filter(Boolean).join('; ');
      notify(`${status.id}: ${status.plugged ? 'plugged' : 'unplugged'}${impaired ? ` — ${impaired}` : ''}`);
    } catch (err) {
      fail(err);
    }
  }

  /** Loss, delay (and jitter), duplication, rate and corruption of one cable, in one direction or both. */
  private async impairDialog(cable: string, ends: { from: string; to: string }): Promise<void> {
    const { api, state } = this.app;
    const dialog = $('impair-dialog') as HTMLDialogElement;
    $('impair-title').textContent = `Impair cable ${cable}`;
    const field = (id: string) => ($(id) as HTMLInputElement).value.trim();
    for (const id of ['impair-loss', 'impair-delay', 'impair-jitter', 'impair-dup', 'impair-rate', 'impair-corrupt']) ($(id) as HTMLInputElement).value = '';
    $('impair-error').textContent = '';
    wireImpairDialog(dialog, ends);
    dialog.showModal();
    const ok = await new Promise<boolean>((resolve) => {
      $('impair-ok').onclick = (e) => {
        e.preventDefault();
        resolve(true);
      };
      $('impair-cancel').onclick = (e) => {
        e.preventDefault();
        resolve(false);
      };
      dialog.onclose = () => resolve(false);
    });
    if (!ok) return dialog.close();
    const values: Record<string, number> = {};
    const num = (id: string, key: string) => {
      if (field(id) !== '') values[key] = Number(field(id));
    };
    num('impair-loss', 'lossPct');
    num('impair-delay', 'delayMs');
    num('impair-jitter', 'jitterMs');
    num('impair-dup', 'dupPct');
    num('impair-corrupt', 'corruptPct');
    if (field('impair-rate') !== '') values.rateBps = Math.round(Number(field('impair-rate')) * 1000);
    const direction = ($('impair-direction') as HTMLSelectElement).value as 'in' | 'out' | 'both';
    try {
      await api.changeLink(state.folder, cable, { impair: { direction, values } });
      dialog.close();
      await this.changeCable(cable, {});
    } catch (err) {
      // Keep the dialog open with what was typed, and say what is wrong beside it.
      $('impair-error').textContent = (err as Error).message;
      dialog.showModal();
    }
  }

  private async startCapture(target: string): Promise<void> {
    try {
      await this.packets.start(target);
      this.app.notify(`Capturing on ${target}.`);
    } catch (err) {
      this.app.fail(err);
    }
  }
}
