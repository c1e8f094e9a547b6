// `start` in one call, for the CLI, the grader and the GUI service: plan the lab, then build its
// lab-fs/images while the supervisor process starts (it needs only the plan to come up; the guests
// need the images), then boot the machines and wait until they are ready.
import type { Diagnostic } from '../../shared/diagnostics.ts';
import type { Plan } from '../../shared/plan.ts';
import type { LabEvent } from '../../shared/runtime-api.ts';
import { connectRunDir, ensureSupervisor, type SupervisorClient } from './client.ts';
import { planLab, prepareHost, type PrepareOptions } from './prepare.ts';
import type { StartResult } from './supervisor.ts';

export interface LaunchOptions extends PrepareOptions {
  /** Start only these machines (default: all). */
  machines?: string[];
  /** Per-guest readiness timeout (default 120 s). */
  timeoutMs?: number;
  /** Called with the plan and the lab's warnings before anything starts. */
  onPlanned?(plan: Plan, diagnostics: Diagnostic[]): void;
  onEvent?(event: LabEvent): void;
}

export interface LaunchedLab {
  plan: Plan;
  diagnostics: Diagnostic[];
  /** Connected to the lab's supervisor; close() it when done (the lab keeps running). */
  client: SupervisorClient;
  result: StartResult;
}

export async function launchLab(labPath: string, options: LaunchOptions = {}): Promise<LaunchedLab> {
  const { plan, diagnostics } = await planLab(labPath, options);
  options.onPlanned?.(plan, diagnostics);
  const [client] = await Promise.all([ensureSupervisor(plan, options.env), prepareHost(plan, options)]).catch(async (err: unknown) => {
    // The host could not be prepared (image build, lab-fs): do not leave a supervisor waiting for nothing.
    const idle = await connectRunDir(plan.runDir);
    if (idle) {
      const status = await idle.status().catch(() => undefined);
      if (status && status.machines.every((m) => m.state === 'stopped' || m.state === 'failed')) await idle.shutdown().catch(() => {});
      idle.close();
    }
    throw err;
  });
  if (options.onEvent) client.subscribe(options.onEvent);
  const result = await client.start(options.machines ?? [], { timeoutMs: options.timeoutMs });
  return { plan, diagnostics, client, result };
}
