// A lab to grade: either booted for the grading (and stopped afterwards) or one that already runs.
// This is the only place the grader touches the runtime; the engine sees a LabExecutor.
import { rmSync } from 'node:fs';
import type { LabModel } from '../../shared/lab-model.ts';
import type { Plan } from '../../shared/plan.ts';
import { EnvironmentError, UserError } from '../errors.ts';
import { hostPaths, labStateDir } from '../paths.ts';
import { connectSupervisor, type SupervisorClient } from '../runtime/client.ts';
import { labFolder } from '../runtime/lab-target.ts';
import { launchLab, stopLab, type LaunchedLab } from '../runtime/launch.ts';
import { planLab, type PrepareOptions } from '../runtime/prepare.ts';
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

/** Machine name → every address the lab gives it (IPv4 and IPv6), for capture checks. */
export function addressesOf(model: LabModel): Record<string, string[]> {
  return Object.fromEntries(model.machines.map((m) => [m.name, m.interfaces.flatMap((i) => [...i.ipv4, ...i.ipv6]).map((a) => a.split('/')[0]!)]));
}

/**
 * The grader's view of a running lab. Every command runs with the lab-fs tool set (`tools`: the
 * lab-fs's static busybox, never the guest's /bin/sh, so a planted shell or `ip` neither sees nor
 * changes a check), as the grader (`grader`: the only exec a grader machine accepts). Captures watch
 * cables from the host.
 */
function executorOf(client: SupervisorClient, model: LabModel): LabExecutor {
  return {
    exec: (machine, command, { timeoutMs, guestShell }) => client.exec(machine, command, { timeoutMs, tools: !guestShell, grader: true }),
    cables: { list: () => client.links(), change: (cable, change) => client.changeLink(cable, change) },
    capture: (cable, onFrame) => client.capture(cable, { onFrame }),
    addresses: addressesOf(model),
  };
}

export async function openGradedLab(labPath: string, options: OpenOptions = {}): Promise<GradedLab> {
  const env = options.env ?? process.env;
  if (options.useRunning) {
    const { model, plan } = await planLab(labPath, { env, ...(options.imageOverride ? { imageOverride: options.imageOverride } : {}) });
    const client = await connectSupervisor(labFolder(labPath), env);
    if (!client) throw new UserError(`the lab in ${labFolder(labPath)} is not running`, 3, 'start it with: vnetlab start, or run vnetlab check without --running to boot it for the check');
    return { model, plan, executor: executorOf(client, model), hosts: hostsOf(model), close: async () => client.close() };
  }

  // A lab that already runs keeps its lab-fs image and plan: rebuilding them under running guests
  // would change files they have mounted. We only boot its machines that are down, and stop them after.
  const planOptions = { env, ...(options.imageOverride ? { imageOverride: options.imageOverride } : {}), ...(options.onProgress ? { onProgress: options.onProgress } : {}) };
  const timeoutMs = options.bootTimeoutMs ?? 120_000;
  const running = await connectSupervisor(labFolder(labPath), env);
  if (running) return bootMissing(labPath, running, planOptions, timeoutMs, options);

  // Not running: start it the one way labs start (launchLab), and stop it the one way (stopLab) when
  // the grading is done, ending from its records whatever the supervisor leaves.
  let planned: Plan | undefined;
  let launched: LaunchedLab;
  try {
    options.onProgress?.('booting the lab');
    launched = await launchLab(labPath, { ...planOptions, timeoutMs, onPlanned: (plan) => (planned = plan) });
  } catch (err) {
    // The supervisor went away mid-start (or never came up): end whatever it recorded.
    if (planned) await stopLab(planned.lab.root, { env, runDir: planned.runDir, how: 'crash', cleanUp: true });
    throw err;
  }
  const { plan, model, client } = launched;
  const close = async () => {
    client.close();
    // Everything was started for this check: stop it all and let the supervisor exit. A throw-away
    // copy's disks are deleted next, so there is nothing to shut down gracefully.
    await stopLab(plan.lab.root, { env, runDir: plan.runDir, how: options.ephemeral ? 'crash' : 'stop', cleanUp: true });
    // A submission's copy is graded once: its disks and run dir are the grader's own, not a student's work in progress.
    if (options.ephemeral) {
      rmSync(labStateDir(hostPaths(env), plan.lab.id), { recursive: true, force: true });
      await stopLab(plan.lab.root, { env, runDir: plan.runDir, how: 'crash', cleanUp: true });
    }
  };
  if (!launched.result.ok) {
    await close();
    throw new BootError(launched.result.failed);
  }
  return { model, plan, executor: executorOf(client, model), hosts: hostsOf(model), close };
}

/** A lab that runs, graded without `useRunning`: boot the machines that are down, stop only those afterwards. */
async function bootMissing(labPath: string, client: SupervisorClient, planOptions: PrepareOptions, timeoutMs: number, options: OpenOptions): Promise<GradedLab> {
  let ours: string[] = [];
  const close = async () => {
    try {
      if (ours.length) await client.stop(ours);
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
    } finally {
      client.close();
    }
  };
  try {
    const { model, plan } = await planLab(labPath, planOptions);
    const before = await client.status();
    const alreadyUp = new Set(before.machines.filter((m) => m.state === 'ready' || m.state === 'booting').map((m) => m.name));
    ours = plan.guests.map((g) => g.name).filter((name) => !alreadyUp.has(name));
    options.onProgress?.(`booting ${ours.length} machine(s)`);
    const result = await client.start([], { timeoutMs });
    if (!result.ok) throw new BootError(result.failed);
    return { model, plan, executor: executorOf(client, model), hosts: hostsOf(model), close };
  } catch (err) {
    await close();
    throw err;
  }
}
