// `start` and `stop` in one call each, and the only ones: the CLI, the grader (check/session.ts) and
// the GUI service (service/real-backends.ts) all start and stop labs here. launchLab plans the lab,
// then builds its lab-fs/images while the supervisor process starts (it needs only the plan to come
// up; the guests need the images), then boots the machines and waits until they are ready. stopLab
// stops them, and wins over a start in progress even before that start's supervisor answers.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Diagnostic } from '../../shared/diagnostics.ts';
import type { LabModel } from '../../shared/lab-model.ts';
import type { Plan } from '../../shared/plan.ts';
import type { LabEvent } from '../../shared/runtime-api.ts';
import { confinementFor } from './confinement.ts';
import { UserError } from '../errors.ts';
import { hostPaths } from '../paths.ts';
import { connectRunDir, ensureSupervisor, waitSupervisorGone, type SupervisorClient } from './client.ts';
import { cleanRunDir } from './clean.ts';
import { labFolder, plannedRunDirOf, runDirOf } from './lab-target.ts';
import { ensureRunDir } from './run-dir.ts';
import { declareStart, requestStop, startInProgress, takeStopRequest } from './start-intent.ts';
import { imageStatus } from '../images/build.ts';
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
  /** A supervisor process started ahead, waiting for its lab (supervisor-standby.ts): used if one is needed. */
  supervisorStandby?: ChildProcess;
}

export interface LaunchedLab {
  plan: Plan;
  /** The lab as read (before any image override). */
  model: LabModel;
  diagnostics: Diagnostic[];
  /** Connected to the lab's supervisor; close() it when done (the lab keeps running). */
  client: SupervisorClient;
  result: StartResult;
  /** Moments of this launch (ms since the epoch): what `vnetlab start --profile` prints with the supervisor's. */
  timings: LaunchTimings;
}

export interface LaunchTimings {
  began: number;
  /** Files read, validated and compiled. */
  planned: number;
  /** The supervisor answers (spawned, or already running). */
  supervisor: number;
  /** Images checked and the lab-fs image built (in parallel with the supervisor). */
  host: number;
  /** Every machine ready (or failed). */
  done: number;
}

export async function launchLab(labPath: string, options: LaunchOptions = {}): Promise<LaunchedLab> {
  const timings: LaunchTimings = { began: Date.now(), planned: 0, supervisor: 0, host: 0, done: 0 };
  const { plan, model, diagnostics } = await planLab(labPath, options);
  timings.planned = Date.now();
  // A misspelt machine returns at once, before anything is spawned.
  const unknown = (options.machines ?? []).filter((n) => !plan.guests.some((g) => g.name === n));
  if (unknown.length) {
    throw new UserError(`no machine named ${unknown.map((n) => `'${n}'`).join(', ')} in lab ${plan.lab.name}`, 2, `machines: ${plan.guests.map((g) => g.name).join(', ')}`);
  }
  options.onPlanned?.(plan, diagnostics);
  // Refuse before anything runs when guests could not be sandboxed (and the user did not say --unconfined).
  confinementFor(options.env ?? process.env);
  ensureRunDir(plan.runDir, hostPaths(options.env));
  const requestedAt = Date.now();
  const withdraw = declareStart(plan.runDir);
  let hostDone: Promise<void> | undefined;
  try {
    const running = await connectRunDir(plan.runDir);
    if (running) await refuseChangedPlan(running, plan);
    // Both halves always settle before we go on, so a failure never leaves the other running on its own.
    const stamp = <T>(promise: Promise<T>, key: 'supervisor' | 'host') => promise.finally(() => (timings[key] = Date.now()));
    // A new supervisor waits a minute for its first start: an image build can take longer, so when one
    // is due the supervisor is started once the host is ready; otherwise both run side by side.
    const building = !running && options.buildImages !== false && imagesToBuild(plan, options.env);
    // The host is ready for guests once their lab-fs image is in place; the build's tidying up (its
    // staging folder removed, the image kept for the next start) goes on beside the boots.
    let imageReady!: () => void;
    const imageInPlace = new Promise<void>((resolve) => (imageReady = resolve));
    hostDone = prepareHost(plan, { ...options, onReady: imageReady });
    hostDone.catch(() => {}); // a failure before the image is in place is the race's; after, the tidying up's own
    const hostReady = stamp(Promise.race([hostDone, imageInPlace]), 'host');
    const hostOk = building ? await hostReady.then(() => true, () => false) : true;
    const supervisor = running ? Promise.resolve(running) : hostOk ? stamp(ensureSupervisor(plan, options.env, options.onProgress, options.supervisorStandby), 'supervisor') : undefined;
    const [sup, host] = await Promise.allSettled([supervisor ?? Promise.resolve(undefined), hostReady]);
    const client = sup.status === 'fulfilled' ? sup.value : undefined;
    // A stop while we started wins, and is what the user is told, whatever it made fail on the way.
    const stopped = takeStopRequest(plan.runDir);
    const failure = stopped ? cancelled() : sup.status === 'rejected' ? sup.reason : host.status === 'rejected' ? host.reason : undefined;
    if (failure !== undefined) {
      // Do not leave a supervisor we started waiting for nothing.
      if (client && !running) await shutdownIfIdle(client);
      client?.close();
      throw failure;
    }
    options.onSupervisor?.(client!);
    if (options.onEvent) client!.subscribe(options.onEvent);
    let result: StartResult;
    try {
      result = await client!.start(options.machines ?? [], { timeoutMs: options.timeoutMs, requestedAt });
    } catch (err) {
      client!.close(); // the caller never gets the client: do not leave the connection open
      throw err;
    }
    timings.done = Date.now();
    return { plan, model, diagnostics, client: client!, result, timings };
  } finally {
    withdraw();
    await hostDone?.catch(() => {});
  }
}

/** A running lab keeps its plan: a different one is applied with `vnetlab apply`, never silently dropped. */
async function refuseChangedPlan(running: SupervisorClient, plan: Plan): Promise<void> {
  const preview = await running.apply(plan, { dryRun: true }).catch(() => undefined);
  if (!preview?.changes.length) return;
  running.close();
  throw new UserError(
    `the lab's files changed since it started:\n  ${preview.changes.join('\n  ')}`,
    2,
    'apply the changes to the running lab with: vnetlab apply (or stop the lab and start it again)',
  );
}

async function shutdownIfIdle(client: SupervisorClient): Promise<void> {
  const status = await client.status().catch(() => undefined);
  if (status && status.machines.every((m) => m.state === 'stopped' || m.state === 'failed')) await client.shutdown().catch(() => {});
}

/** True when an image of the plan is missing or stale (so preparing the host builds it: minutes). */
function imagesToBuild(plan: Plan, env: NodeJS.ProcessEnv | undefined): boolean {
  return [...new Set(plan.guests.map((g) => g.image))].some((name) => {
    try {
      const status = imageStatus(name, { env });
      return !status.built || !!status.staleReason;
    } catch {
      return false; // prepareHost says what is wrong
    }
  });
}

function cancelled(): UserError {
  return new UserError('the start was cancelled: the lab was stopped while it was starting', 1);
}

export interface StopOptions {
  env?: NodeJS.ProcessEnv;
  /** `crash`: SIGKILL at once, no shutdown script (default: graceful, see supervisor.ts). */
  how?: 'stop' | 'crash';
  /** Only these machines (default: every one, and then the network and the supervisor stop too). */
  machines?: string[];
  /** The lab's run dir when the caller knows it (a lab it launched); otherwise found from `labPath`. */
  runDir?: string;
  /**
   * The lab was started for this caller alone (the grader's): whatever the supervisor does not end
   * (it went away mid-stop, or does not exit) is ended from its records, with its run dir.
   */
  cleanUp?: boolean;
  /** How far the stop got ("stopped 120 of 500"), as the supervisor says it. */
  onProgress?: (message: string) => void;
}

export type StopOutcome =
  /** Stopped (and with every machine, the supervisor has exited). */
  | { outcome: 'stopped' }
  /** A start in progress gave up before its supervisor answered: nothing runs. */
  | { outcome: 'cancelled' }
  /** Nothing to stop; `message` says what was not running. */
  | { outcome: 'not-running'; message: string }
  /** Every machine stopped, but the supervisor did not exit. */
  | { outcome: 'supervisor-lingers'; runDir: string };

/**
 * `stop` (or `crash`) of a lab or of some of its machines. Stopping every machine also tells a start in
 * progress to give up, whether or not its supervisor answers yet (start-intent.ts), and waits until the
 * supervisor has exited. Stopping named machines of a lab that does not run is an error (exit 1).
 */
export async function stopLab(labPath: string, options: StopOptions = {}): Promise<StopOutcome> {
  const env = options.env ?? process.env;
  const how = options.how ?? 'stop';
  const machines = options.machines ?? [];
  const all = machines.length === 0;
  const knownRunDir = () => options.runDir ?? runDirOf(labPath, env);
  // A start in progress is told to give up too, whether or not its supervisor already answers.
  const startingRunDir = all ? (knownRunDir() ?? (await plannedRunDirOf(labPath, env))) : undefined;
  if (startingRunDir && existsSync(startingRunDir) && startInProgress(startingRunDir)) requestStop(startingRunDir);
  const runDir = knownRunDir();
  let sup = runDir ? await connectRunDir(runDir) : undefined;
  if (!sup) {
    const message = `the lab in ${labFolder(labPath)} is not running`;
    if (!all) throw new UserError(message, 1, runDir ? `start it with: vnetlab start, or remove leftovers with: vnetlab clean` : 'start it with: vnetlab start');
    // A start may be on its way (no supervisor yet): stop wins over it too.
    const starting = await stopStartInProgress(startingRunDir);
    if (starting === 'cancelled') return { outcome: 'cancelled' };
    if (!starting) {
      // Gone on its own before we came: what it may have left runs by its records.
      if (options.cleanUp && runDir && existsSync(runDir)) await cleanRunDir(runDir, hostPaths(env));
      return { outcome: 'not-running', message };
    }
    sup = starting;
  }
  const stoppedDir = sup.runDir;
  const onProgress = options.onProgress;
  if (onProgress) sup.subscribe((event) => event.type === 'progress' && onProgress(event.message));
  let vanished = false;
  try {
    if (all) {
      vanished = (await sup.shutdown(how)) === 'gone';
      await sup.waitClosed();
    } else if (how === 'stop') await sup.stop(machines);
    else await sup.crash(machines);
  } catch (err) {
    if (!options.cleanUp) throw err;
    // The supervisor went away mid-stop (or failed): end whatever it recorded, by pid and start time.
    sup.close();
    if (existsSync(stoppedDir)) await cleanRunDir(stoppedDir, hostPaths(env));
    if (err instanceof UserError) return { outcome: 'stopped' };
    throw err;
  } finally {
    sup.close();
  }
  if (!all) return { outcome: 'stopped' };
  // Stopping the last machine makes the supervisor exit: wait for it so nothing is left behind.
  if (await waitSupervisorGone(stoppedDir)) {
    // Gone without an answer (the start this stop cancelled ended it, or it was killed): what it
    // recorded may still run, and the user asked for everything to stop.
    if (vanished && existsSync(stoppedDir)) await cleanRunDir(stoppedDir, hostPaths(env));
    return { outcome: 'stopped' };
  }
  if (!options.cleanUp) return { outcome: 'supervisor-lingers', runDir: stoppedDir };
  await cleanRunDir(stoppedDir, hostPaths(env));
  return { outcome: 'stopped' };
}

/**
 * Ask a start that has not reached its supervisor yet to give up, and wait: either it gives up, or
 * its supervisor appears and the stop goes through it.
 */
async function stopStartInProgress(runDir: string | undefined): Promise<SupervisorClient | 'cancelled' | undefined> {
  if (!runDir || !existsSync(runDir) || !startInProgress(runDir)) return undefined;
  requestStop(runDir);
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const sup = await connectRunDir(runDir);
    if (sup) return sup;
    if (!startInProgress(runDir)) return 'cancelled';
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}
