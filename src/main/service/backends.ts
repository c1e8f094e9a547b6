// What the service needs from the rest of vnetlab, as one interface: the real binding lives in
// ./real-backends.ts (readers/writers, compiler, runtime client, grader); keeping the seam here lets the
// service stay transport-free and readable.
import type { Diagnostic } from '../../shared/diagnostics.ts';
import type { LabModel } from '../../shared/lab-model.ts';
import type { Plan } from '../../shared/plan.ts';
import type { ConsoleHandle, LabEvent } from '../../shared/runtime-api.ts';
import type { EnvironmentReport, SaveFormat, ServiceMethodsOfKind, VnetlabService } from '../../shared/service-api.ts';

/** The `runtime` methods of the service table: the service checks the lab folder, then calls these unchanged. */
export type RuntimeBackends = Pick<VnetlabService, ServiceMethodsOfKind<'runtime'>>;

export interface Backends extends RuntimeBackends {
  environment(): Promise<EnvironmentReport>;
  loadLab(path: string): Promise<{ model?: LabModel; diagnostics: Diagnostic[] }>;
  validateLab(model: LabModel): Promise<Diagnostic[]>;
  /** Writes atomically; returns the absolute path of the main file written. */
  saveLab(folder: string, model: LabModel, format: SaveFormat): Promise<string>;
  compile(model: LabModel): Promise<Plan>;

  /** Calls `listener` for every event of the lab until the returned function is called. */
  watch(labRoot: string, listener: (event: LabEvent) => void): Promise<() => void>;
  attachConsole(labRoot: string, machine: string, handlers: { onData(data: string): void; onExit(reason: string): void }, console?: number): Promise<ConsoleHandle>;
  /** Frames of a cable or domain as they pass; stop() ends it and says how many a slow reader lost. */
  capture(
    labRoot: string,
    target: string,
    handlers: { onFrame(frame: Buffer, timeUs: number): void; onEnd(reason: string, dropped: number): void },
  ): Promise<{ stop(): Promise<{ frames: number; dropped: number }> }>;
}
