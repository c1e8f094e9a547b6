// `start` in one call, and the only one: the CLI, the grader (check/session.ts) and the GUI service
// (service/real-backends.ts) all start labs here. Plan the lab, then build its lab-fs/images while
// the supervisor process starts (it needs only the plan to come up; the guests need the images),
// then boot the machines and wait until they are ready.
import type { Diagnostic } from '../../shared/diagnostics.ts';
import type { LabModel } from '../../shared/lab-model.ts';
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
  /** Called once the supervisor answers, before the machines boot (e.g. to let watchers connect). */
  onSupervisor?(client: SupervisorClient): void;
}

export interface LaunchedLab {
  plan: Plan;
  /** The lab as read (before any image override). */
  model: LabModel;
  diagnostics: Diagnostic[];
  /** Connected to the lab's supervisor; close() it when done (the lab keeps running). */
  client: SupervisorClient;
  result: StartResult;
}

export async function launchLab(labPath: string, options: LaunchOptions = {}): Promise<LaunchedLab> {
  const { plan, model, diagnostics } = await planLab(labPath, options);
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
  options.onSupervisor?.(client);
  if (options.onEvent) client.subscribe(options.onEvent);
  let result: StartResult;
  try {
    result = await client.start(options.machines ?? [], { timeoutMs: options.timeoutMs });
  } catch (err) {
    client.close(); // the caller never gets the client: do not leave the connection open
    throw err;
  }
  return { plan, model, diagnostics, client, result };
}
