// The supervisor's side of the on-disk records (records.ts): every process it starts is written down
// by the launcher's `register` callback before the process may run, and forgotten once it has exited.
import type { Register } from './launcher.ts';
import { removeRecord, writeRecord, type ProcessKind } from './records.ts';

export class ProcessBook {
  /** `runDir` undefined: fast tests that start no real process keep no records. */
  constructor(private readonly runDir?: string) {}

  register(kind: ProcessKind, name: string): Register {
    return (spawned) => {
      if (this.runDir) writeRecord(this.runDir, { kind, name, ...spawned });
    };
  }

  forget(kind: ProcessKind, name: string): void {
    if (this.runDir) removeRecord(this.runDir, kind, name);
  }
}
