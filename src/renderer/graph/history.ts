// Undo/redo as snapshots of the (plain JSON) lab model. Pure and bounded.
import type { LabModel } from '../../shared/lab-model.ts';

export class History {
  private past: LabModel[] = [];
  private future: LabModel[] = [];

  constructor(private present: LabModel, private readonly limit = 200) {}

  get current(): LabModel {
    return this.present;
  }

  get canUndo(): boolean {
    return this.past.length > 0;
  }

  get canRedo(): boolean {
    return this.future.length > 0;
  }

  /** Records an edit. An edit that changed nothing is not an undo step. */
  push(next: LabModel): void {
    if (JSON.stringify(next) === JSON.stringify(this.present)) return;
    this.past.push(this.present);
    if (this.past.length > this.limit) this.past.shift();
    this.present = next;
    this.future = [];
  }

  /** Replaces the present without an undo step (automatic layout, a freshly opened lab). */
  replace(next: LabModel): void {
    this.present = next;
  }

  undo(): LabModel {
    const prev = this.past.pop();
    if (prev) {
      this.future.push(this.present);
      this.present = prev;
    }
    return this.present;
  }

  redo(): LabModel {
    const next = this.future.pop();
    if (next) {
      this.past.push(this.present);
      this.present = next;
    }
    return this.present;
  }

  reset(model: LabModel): void {
    this.past = [];
    this.future = [];
    this.present = model;
  }
}
