// The lab's files from the app: New, Open (the folder dialog, or a lab given in the URL), Save and Save
// as (saving over another lab asks first). Opening a lab puts nothing of the previous one on screen.
import type { SaveFormat } from '../shared/service-api.ts';
import { type App, errorText } from './app.ts';
import type { Consoles } from './consoles.ts';
import type { Canvas } from './editor/canvas.ts';
import { chooseFolder } from './file-dialog.ts';
import type { LabPanel } from './lab-panel.ts';
import type { PacketPane } from './packets.ts';
import type { RunController } from './run-controller.ts';

export interface LabFilesViews {
  canvas: Canvas;
  consoles: Consoles;
  labPanel: LabPanel;
  packets: PacketPane;
  run: RunController;
}

export class LabFiles {
  constructor(
    private readonly app: App,
    private readonly views: LabFilesViews,
  ) {}

  confirmDiscard(): boolean {
    return !this.app.state.dirty || window.confirm('The lab has unsaved changes. Discard them?');
  }

  /** The Open button: the folder dialog, then the lab chosen. */
  async chooseAndOpen(): Promise<void> {
    if (!this.confirmDiscard()) return;
    await chooseFolder(this.app, 'Open a lab (lab.yaml or a Netkit/Kathará folder)', { forSave: false }, (choice) => this.openLab(choice.path));
  }

  /** Opens a lab; returns what went wrong (also shown in the status bar), or undefined. */
  async openLab(path: string): Promise<string | undefined> {
    const { api, state, notify, fail } = this.app;
    const { canvas, consoles, labPanel, packets, run } = this.views;
    try {
      const result = await api.openLab(path);
      if (!result.model) {
        const problem = `Cannot open ${path}: ${result.diagnostics.find((d) => d.severity === 'error')?.message ?? 'unreadable lab'}`;
        notify(problem, 'error');
        return problem;
      }
      if (state.folder && state.folder !== result.model.root) await api.unsubscribe(state.folder).catch(() => {});
      consoles.setLab(result.model.root);
      // Nothing of the previous lab stays on screen: scores, captures, selection, cable states.
      labPanel.reset();
      if (packets.open) await packets.close().catch(() => {});
      state.load(result.model, result.model.root);
      state.diagnostics = result.diagnostics;
      state.emit('diagnostics');
      await Promise.resolve();
      canvas.sync();
      await canvas.autoLayout();
      canvas.fit();
      await api.subscribe(result.model.root).catch(fail);
      await run.refreshStatus().catch(() => {});
      if (state.running) await run.restoreConsoles();
      history.replaceState(null, '', `?lab=${encodeURIComponent(result.model.root)}`);
      // Not when the server went away meanwhile: the status line says so, and "Opened" would cover it.
      if (!this.app.offline) notify(`Opened ${result.model.root}`);
      return undefined;
    } catch (err) {
      fail(err);
      return errorText(err);
    }
  }

  async newLab(): Promise<void> {
    const { api, state, notify, showSide } = this.app;
    if (!this.confirmDiscard()) return;
    const listing = await api.listFolder().catch(() => undefined);
    const model = await api.newLab(`${listing?.path ?? '~'}/untitled-lab`);
    if (state.folder) await api.unsubscribe(state.folder).catch(() => {});
    this.views.consoles.setLab('');
    this.views.labPanel.reset();
    state.load(model, '');
    showSide('properties');
    history.replaceState(null, '', '?');
    notify('New lab: drag machines and switches onto the canvas.');
  }

  /** True when `folder` holds a lab.yaml or lab.conf (as the folder dialog's listing of its parent says). */
  private async holdsLab(folder: string): Promise<boolean> {
    const parent = folder.replace(/\/[^/]+$/, '') || '/';
    const listing = await this.app.api.listFolder(parent).catch(() => undefined);
    return listing?.entries.some((entry) => entry.path === folder && entry.kind === 'lab') ?? false;
  }

  /** Saves to the lab's folder, or asks for one (save as). Returns false when the user cancelled or it failed. */
  async save(saveAs: boolean): Promise<boolean> {
    const { state } = this.app;
    if (!saveAs && state.folder) return (await this.saveTo(state.folder, state.model.format === 'vnetlab' ? 'yaml' : 'netkit')) === undefined;
    return chooseFolder(this.app, 'Save lab in folder', { forSave: true, initial: state.model.root || undefined }, async (choice) => {
      const folder = choice.path.replace(/(.)\/+$/, '$1');
      // Saving over another lab replaces its lab files: an instructor's work must not go silently.
      if (folder !== state.folder && (await this.holdsLab(folder)) && !window.confirm(`${folder} already holds a lab. Replace its lab files with this one?`)) {
        return 'Not saved: that folder already holds a lab. Choose another folder, or confirm to replace it.';
      }
      return this.saveTo(folder, choice.format);
    });
  }

  /** Writes the lab into `folder`; returns the error to show, or undefined when saved. */
  private async saveTo(folder: string, format: SaveFormat): Promise<string | undefined> {
    const { api, state, notify, fail } = this.app;
    try {
      const result = await api.saveLab(folder, { ...state.model, root: folder }, format);
      const root = result.file.replace(/\/[^/]+$/, '');
      const wasFolder = state.folder;
      state.adjust({ ...state.model, root, format: format === 'yaml' ? 'vnetlab' : state.model.format === 'vnetlab' ? 'netkit' : state.model.format, sourceFile: result.file.slice(root.length + 1) });
      state.markSaved(root);
      state.diagnostics = result.diagnostics;
      state.emit('diagnostics');
      if (wasFolder !== root) {
        this.views.consoles.setLab(root);
        await api.subscribe(root).catch(() => {});
        history.replaceState(null, '', `?lab=${encodeURIComponent(root)}`);
      }
      notify(`Saved ${result.file}`);
      return undefined;
    } catch (err) {
      fail(err);
      return errorText(err);
    }
  }
}
