// The editor's state: the lab being edited (with undo history), where it lives on disk, whether it
// has unsaved changes, its diagnostics, and the running lab (`run`, run-state.ts: written only by its
// apply()). Views subscribe to changes.
import type { Diagnostic } from '../shared/diagnostics.ts';
import type { LabModel } from '../shared/lab-model.ts';
import type { CableStatus, LinkState, MachineState } from '../shared/runtime-api.ts';
import { RunState } from './run-state.ts';
import { History } from './graph/history.ts';
import { emptyLab } from './graph/edit.ts';
import { elementForTarget } from './graph/mapping.ts';

export type Change = 'model' | 'selection' | 'diagnostics' | 'run' | 'file';

export class AppState {
  readonly history = new History(emptyLab('', 'untitled'));
  /** Folder the lab was opened from or saved to; empty for a lab never saved. */
  folder = '';
  /** The model as last saved/opened, to know whether there are unsaved changes. */
  private savedJson = JSON.stringify(this.history.current);
  diagnostics: Diagnostic[] = [];
  selection: string[] = [];
  /** The running lab; its changes are the 'run' change. */
  readonly run = new RunState();
  private readonly listeners = new Set<(changes: Set<Change>) => void>();
  private pendingChanges = new Set<Change>();
  private scheduled = false;

  constructor() {
    this.run.subscribe(() => this.emit('run'));
  }

  get model(): LabModel {
    return this.history.current;
  }

  // The run state, read-only (views, and the end-to-end tests through window.__vnetlab.state).
  get running(): boolean {
    return this.run.running;
  }
  get progress(): string {
    return this.run.progress;
  }
  get machineStates(): ReadonlyMap<string, MachineState> {
    return this.run.machineStates;
  }
  get machineErrors(): ReadonlyMap<string, string> {
    return this.run.machineErrors;
  }
  get cables(): ReadonlyMap<string, CableStatus> {
    return this.run.cables;
  }
  get usage(): ReadonlyMap<string, { rssBytes?: number }> {
    return this.run.usage;
  }
  get links(): ReadonlyMap<string, Record<string, LinkState>> {
    return this.run.links;
  }

  /** Unsaved changes. The model is immutable: it is compared with the saved one once per model, not per call (a run event asked 4 times). */
  get dirty(): boolean {
    const model = this.model;
    if (this.dirtyOf?.model !== model || this.dirtyOf.saved !== this.savedJson) this.dirtyOf = { model, saved: this.savedJson, dirty: JSON.stringify(model) !== this.savedJson };
    return this.dirtyOf.dirty;
  }
  private dirtyOf: { model: LabModel; saved: string; dirty: boolean } | undefined;

  /**
   * Unsaved changes that Apply would make live: not where things are drawn, nor the canvas notes (a moved
   * node or an edited note lit Apply up, which then said there was nothing to apply).
   */
  get dirtyForLab(): boolean {
    if (!this.dirty) return false;
    const model = this.model;
    if (this.labDirtyOf?.model !== model || this.labDirtyOf.saved !== this.savedJson) {
      const withoutDrawing = (m: LabModel) => JSON.stringify({ ...m, layout: undefined, annotations: undefined });
      let saved: LabModel | undefined;
      try {
        saved = JSON.parse(this.savedJson) as LabModel;
      } catch {
        saved = undefined;
      }
      this.labDirtyOf = { model, saved: this.savedJson, dirty: !saved || withoutDrawing(model) !== withoutDrawing(saved) };
    }
    return this.labDirtyOf.dirty;
  }
  private labDirtyOf: { model: LabModel; saved: string; dirty: boolean } | undefined;

  on(listener: (changes: Set<Change>) => void): void {
    this.listeners.add(listener);
  }

  /** Views update once per microtask, whatever number of changes happened. */
  emit(change: Change): void {
    this.pendingChanges.add(change);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      const changes = this.pendingChanges;
      this.pendingChanges = new Set();
      for (const l of this.listeners) l(changes);
    });
  }

  /** An edit by the user: one undo step. */
  edit(next: LabModel, selection?: string[]): void {
    this.history.push(next);
    if (selection) this.selection = selection;
    this.emit('model');
    if (selection) this.emit('selection');
  }

  /** A change that is not an edit (automatic layout): no undo step and no "unsaved" mark of its own. */
  adjust(next: LabModel): void {
    const wasDirty = this.dirty;
    this.history.replace(next);
    if (!wasDirty) this.savedJson = JSON.stringify(next);
    this.emit('model');
  }

  load(model: LabModel, folder: string): void {
    this.history.reset(model);
    this.folder = folder;
    this.savedJson = JSON.stringify(model);
    this.selection = [];
    this.diagnostics = [];
    this.run.apply({ reset: true });
    for (const c of ['model', 'selection', 'file'] as const) this.emit(c);
  }

  markSaved(folder: string): void {
    this.folder = folder;
    this.savedJson = JSON.stringify(this.model);
    this.emit('file');
  }

  undo(): void {
    this.history.undo();
    this.keepSelectionValid();
    this.emit('model');
  }

  redo(): void {
    this.history.redo();
    this.keepSelectionValid();
    this.emit('model');
  }

  /** An undo may take away what was selected (a paste undone): the selection keeps only what is still drawn. */
  private keepSelectionValid(): void {
    const kept = this.selection.filter((id) => elementForTarget(this.model, id) !== undefined);
    if (kept.length === this.selection.length) return;
    this.selection = kept;
    this.emit('selection');
  }

  select(ids: string[]): void {
    this.selection = ids;
    this.emit('selection');
  }
}
