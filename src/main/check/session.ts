// A lab to grade: either booted for the grading (and stopped afterwards) or one that already runs.
// This is the only place the grader touches the runtime; the engine sees a LabExecutor.
import { existsSync, rmSync } from 'node:fs';
import type { LabModel } from '../../shared/lab-model.ts';
import type { Plan } from '../../shared/plan.ts';
import { EnvironmentError, UserError } from '../errors.ts';
import { hostPaths, labStateDir } from '../paths.ts';
import { cleanRunDir } from '../runtime/clean.ts';
import { connectSupervisor, ensureSupervisor, type SupervisorClient } from '../runtime/client.ts';
import { labFolder, waitSupervisorGone } from '../runtime/cli-support.ts';
import { planLab, prepareLab } from '../runtime/prepare.ts';
import type { LabExecutor } from './engine.ts';

export interface OpenOptions {
  env?: NodeJS.ProcessEnv;
  /** Use the lab that already runs instead of booting it. */
  useRunning?: boolean;
  /** Boot every machine on this image (e.g. `tiny`); see PrepareOptions.imageOverride. */
  imageOverride?: string;
  /** Per-guest readiness timeout. */
  bootTimeoutMs?: number;
  /** The lab is a throw-away copy made for grading (a submission): its guest disks go when it closes. */
  ephemeral?: boolean;
  onProgress?(message: string): void;
}

export interface GradedLab {
  model: LabModel;
  plan: Plan;
  executor: LabExecutor;
  /** Machine name → first IPv4 address the lab gives it. */
  hosts: Record<string, string>;
  /** Stops what this session started; leaves a lab that was already running as it was. */
  close(): Promise<void>;
}

/** The lab booted, but some machines did not come up: the error says which and why. */
export class BootError extends EnvironmentError {
  constructor(readonly failed: { machine: string; error: string }[]) {
    super(`the lab did not boot: ${failed.map((f) => `${f.machine}: ${f.error}`).join('; ')}`, 'see the console log of each machine, or start the lab with vnetlab start to watch it boot');
    this.name = 'BootError';
  }
}

export function hostsOf(model: LabModel): Record<string, string> {
  const hosts: Record<string, string> = {};
  for (const machine of model.machines) {
    const first = machine.interfaces.flatMap((i) => i.ipv4)[0];
    if (first) hosts[machine.name] = first.split('/')[0]!;
  }
  return hosts;
}

function executorOf(client: SupervisorClient): LabExecutor {
  return { exec: (machine, command, { timeoutMs }) => client.exec(machine, command, { timeoutMs }) };
}

export async function openLab(labPath: string, options: OpenOptions = {}): Promise<GradedLab> {
  const env = options.env ?? process.env;
  if (options.useRunning) {
    const { model, plan } = await planLab(labPath, { env, ...(options.imageOverride ? { imageOverride: options.imageOverride } : {}) });
    const client = await connectSupervisor(labFolder(labPath), env);
    if (!client) throw new UserError(`the lab in ${labFolder(labPath)} is not running`, 3, 'start it with: vnetlab start, or run vnetlab check without --running to boot it for the check');
    return { model, plan, executor: executorOf(client), hosts: hostsOf(model), close: async () => client.close() };
  }

  // A lab that already runs keeps its lab-fs image and plan: rebuilding them under running guests
  // would change files they have mounted. Only a lab that is not running is prepared afresh.
  const running = await connectSupervisor(labFolder(labPath), env);
  const planOptions = { env, ...(options.imageOverride ? { imageOverride: options.imageOverride } : {}), ...(options.onProgress ? { onProgress: options.onProgress } : {}) };
  const { model, plan } = running ? await planLab(labPath, planOptions) : await prepareLab(labPath, planOptions);
  const client = running ?? (await ensureSupervisor(plan, env));
  const before = await client.status();
  const alreadyUp = new Set(before.machines.filter((m) => m.state === 'ready' || m.state === 'booting').map((m) => m.name));
  const ours = plan.guests.map((g) => g.name).filter((name) => !alreadyUp.has(name));
  const close = async () => {
    try {
      if (!running) {
        // The supervisor and everything it runs were started for this check: stop it all and let it exit.
        // A throw-away copy's disks are deleted next, so there is nothing to shut down gracefully.
        await client.shutdown(options.ephemeral ? 'crash' : 'stop');
        client.close();
        if (!(await waitSupervisorGone(plan.runDir))) await cleanRunDir(plan.runDir, hostPaths(env));
      } else {
        if (ours.length) await client.stop(ours);
        client.close();
      }
    } catch (err) {
      client.close();
      // Our supervisor went away under us: end whatever it recorded, by pid and start time.
      if (!running && existsSync(plan.runDir)) await cleanRunDir(plan.runDir, hostPaths(env));
      if (!(err instanceof UserError)) throw err;
    }
    // A submission's copy is graded once: its disks and run dir are the grader's own, not a student's work in progress.
    if (options.ephemeral && !running) {
      rmSync(labStateDir(hostPaths(env), plan.lab.id), { recursive: true, force: true });
      if (existsSync(plan.runDir)) await cleanRunDir(plan.runDir, hostPaths(env));
    }
  };
  try {
    options.onProgress?.(`booting ${plan.guests.length} machine(s)`);
    const result = await client.start([], { timeoutMs: options.bootTimeoutMs ?? 120_000 });
    if (!result.ok) throw new BootError(result.failed);
  } catch (err) {
    await close();
    throw err;
  }
  return { model, plan, executor: executorOf(client), hosts: hostsOf(model), close };
}
