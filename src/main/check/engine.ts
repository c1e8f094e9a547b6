// The check engine: runs checks against a running lab through an exec channel, retrying each until
// it passes or its timeout runs out (routing protocols need time to converge). Checks of different
// machines run in parallel (at most `jobs` machines at once); checks of one machine run one after
// another, in the order the lab lists them, so a check may rely on the state an earlier one observed.
// Each result is reported as soon as it is known (onResult).
//
// Failing fast: the timeouts share one clock, started with the list (a check waiting for its turn
// has been converging meanwhile, so its timeout is not started again); a probe that knows retrying
// cannot help says so (`final`: a tool or daemon missing); and when no routing daemon runs anywhere
// in the lab (with `failFast`, one look at every machine's process names first), routes cannot change
// by themselves, so a failing check is retried only for a short grace (5 s) instead of its whole timeout. The list
// can be cancelled (`signal`): what has not finished is reported as not checked.
import type { Check, CheckReport, CheckResult } from '../../shared/checks.ts';
import type { CableStatus, ExecResult } from '../../shared/runtime-api.ts';
import type { CableChange } from '../runtime/network/network.ts';
import { runCaptureCheck } from './capture.ts';
import { checkMachine, PROCESS_NAMES_COMMAND, probeFor, ROUTE_DEPENDENT_KINDS, routingDaemonsIn, type ProbeContext, type Verdict } from './probes.ts';

/**
 * What the engine needs of a running lab: run a shell command in a machine (and change cables, for
 * `during:`; watch them, for `capture`). A real lab's executor runs commands with the lab-fs tool set,
 * not the guest's /bin/sh (src/main/check/session.ts).
 */
export interface LabExecutor {
  /**
   * `guestShell`: run in the guest's own /bin/sh with its own programs, not the lab-fs tool set. Only
   * for Netkit `_test/` signatures (ltest.ts), which compare what the guest's own tools print.
   */
  exec(machine: string, shellCommand: string, options: { timeoutMs: number; guestShell?: boolean }): Promise<ExecResult>;
  /** Frames of a cable (`pc1:eth0`) as they pass, until stop(). Absent where cables cannot be watched. */
  capture?(cable: string, onFrame: (frame: Buffer, timeUs: number) => void): Promise<{ stop(): Promise<unknown> }>;
  /** Machine name → every address (CIDR or bare) the lab gives it, for a capture's `src`/`dst`. */
  addresses?: Record<string, string[]>;
  /** Absent where the network cannot be changed: checks with `during:` then fail saying so. */
  cables?: {
    list(): Promise<CableStatus[]>;
    change(cable: string, change: CableChange): Promise<CableStatus>;
  };
}

export interface EngineOptions {
  /** Machines checked at the same time. */
  jobs?: number;
  /** Machine names of the lab: a check on another machine fails at once instead of retrying. */
  machines?: readonly string[];
  /** Machine name → address, so `reach` checks may name machines (see ProbeContext). */
  hosts?: Record<string, string>;
  /** Called as each result is known (progress output). */
  onResult?: (result: CheckResult) => void;
  /** Injected in unit tests so that retries do not take real time. */
  clock?: { now(): number; sleep(ms: number): Promise<void> };
  /** Cancels the list: running checks stop at their next step, the rest are reported as not checked. */
  signal?: AbortSignal;
  /**
   * "Check my work": look first whether any routing daemon runs in the lab; when none does, a failing
   * route-dependent check is retried for `quietGraceMs` at most instead of its whole timeout. Off for
   * the grader's default, which keeps every retry.
   */
  failFast?: boolean;
  /** With failFast, in a lab where no routing daemon runs, a failing check is retried this long at most (default 5 s). */
  quietGraceMs?: number;
  /**
   * A switch of the lab runs spanning tree: paths change by themselves while it converges (at the start,
   * and after a `during:` unplug), so a quiet lab's grace is at least SPANNING_TREE_GRACE_MS.
   */
  spanningTree?: boolean;
}

const FIRST_RETRY_DELAY_MS = 500;
const MAX_RETRY_DELAY_MS = 2000;
/** Lower bound for one attempt, so a check with `timeoutSec: 0` (one attempt) can still run a ping. */
const MIN_ATTEMPT_MS = 10_000;

const DEFAULT_QUIET_GRACE_MS = 5_000;
/** vde_switch's fast spanning tree settles in a few seconds; a CI run under load took over 5 s after an unplug. */
const SPANNING_TREE_GRACE_MS = 30_000;
const PROCESS_LOOK_TIMEOUT_MS = 10_000;

const realClock = { now: () => Date.now(), sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)) };

/** How one list runs: its shared clock, whether the lab is quiet, cancellation. */
interface Run {
  context: ProbeContext;
  clock: NonNullable<EngineOptions['clock']>;
  /** When the list started (the shared clock of every timeout). */
  startedAt: number;
  /** No routing daemon runs in the lab: routes stay as they are. */
  quiet: boolean;
  quietGraceMs: number;
  spanningTree: boolean;
  signal?: AbortSignal;
}

export async function runCheckList(checks: readonly Check[], executor: LabExecutor, options: EngineOptions = {}): Promise<CheckResult[]> {
  const clock = options.clock ?? realClock;
  const startedAt = clock.now();
  const run: Run = {
    context: { hosts: options.hosts ?? {} },
    clock: options.signal ? abortableClock(clock, options.signal) : clock,
    startedAt,
    quiet: options.failFast === true && (await labIsQuiet(checks, executor, options)),
    spanningTree: options.spanningTree === true,
    quietGraceMs: Math.max(options.quietGraceMs ?? DEFAULT_QUIET_GRACE_MS, options.spanningTree ? SPANNING_TREE_GRACE_MS : 0),
    signal: options.signal,
  };
  const results = new Array<CheckResult>(checks.length);
  const byMachine = new Map<string, number[]>();
  const disruptive: number[] = [];
  checks.forEach((check, index) => {
    if (check.during) return void disruptive.push(index);
    const machine = checkMachine(check);
    byMachine.set(machine, [...(byMachine.get(machine) ?? []), index]);
  });
  const queues = [...byMachine.entries()];
  const worker = async () => {
    for (let next = queues.shift(); next; next = queues.shift()) {
      const [machine, indexes] = next;
      for (const index of indexes) {
        const check = checks[index]!;
        const result =
          options.machines && !options.machines.includes(machine)
            ? resultOf(check, { passed: false, reason: `the lab has no machine named ${machine}` }, 0, 0)
            : await runOne(check, executor, run, startedAt);
        results[index] = result;
        options.onResult?.(result);
      }
    }
  };
  const jobs = Math.max(1, Math.min(options.jobs ?? 8, queues.length || 1));
  await Promise.all(Array.from({ length: jobs }, worker));
  // Checks that change the network run last and alone: nothing else is graded on a network they broke.
  for (const index of disruptive) {
    const check = checks[index]!;
    // The network just changed: its timeout starts now.
    results[index] = run.signal?.aborted ? cancelledResult(check) : await runDuring(check, executor, options, () => runOne(check, executor, run, run.clock.now()));
    options.onResult?.(results[index]!);
  }
  return results;
}

/** Apply a check's `during:` change, run it, and put every touched cable back as it was. */
async function runDuring(check: Check, executor: LabExecutor, options: EngineOptions, run: () => Promise<CheckResult>): Promise<CheckResult> {
  const during = check.during!;
  const machine = checkMachine(check);
  if (options.machines && !options.machines.includes(machine)) return resultOf(check, { passed: false, reason: `the lab has no machine named ${machine}` }, 0, 0);
  if (!executor.cables) return resultOf(check, { passed: false, reason: 'this check changes the network, which cannot be done here (grade a lab run by vnetlab)' }, 0, 0);
  const cables = executor.cables;
  const before = await cables.list();
  const touched = [...new Set([...during.unplug, ...Object.keys(during.link)])];
  const unknown = touched.filter((id) => !before.some((c) => c.id === id));
  if (unknown.length) return resultOf(check, { passed: false, reason: `the lab has no cable ${unknown.join(', ')} (cables: ${before.map((c) => c.id).join(', ')})` }, 0, 0);
  const what = [during.unplug.length ? `${during.unplug.join(', ')} unplugged` : '', Object.keys(during.link).length ? `${Object.keys(during.link).join(', ')} impaired` : ''].filter(Boolean).join(', ');
  try {
    for (const id of during.unplug) await cables.change(id, { plugged: false });
    for (const [id, link] of Object.entries(during.link)) {
      await cables.change(id, { reset: true });
      for (const direction of ['in', 'out'] as const) if (link[direction]) await cables.change(id, { impair: { direction, values: link[direction]! } });
    }
    const result = await run();
    return result.passed ? result : { ...result, reason: `${result.reason} (with ${what})` };
  } finally {
    for (const id of touched) {
      const was = before.find((c) => c.id === id)!;
      await cables.change(id, { reset: true, plugged: was.plugged }).catch(() => undefined);
      for (const direction of ['in', 'out'] as const) {
        if (was.impairments[direction]) await cables.change(id, { impair: { direction, values: was.impairments[direction]! } }).catch(() => undefined);
      }
    }
  }
}

async function runOne(check: Check, executor: LabExecutor, run: Run, clockStart: number): Promise<CheckResult> {
  const { clock, context } = run;
  if (run.signal?.aborted) return cancelledResult(check);
  if (check.kind === 'capture') {
    // One window of `timeout` seconds from its own start: frames are watched as they pass, not retried.
    const started = clock.now();
    const verdict = await runCaptureCheck(check, executor, { hosts: context.hosts, clock, ...(run.signal ? { signal: run.signal } : {}) });
    return resultOf(check, verdict, 1, clock.now() - started);
  }
  const probe = probeFor(check);
  const machine = probe.machine(check as never);
  const started = clock.now();
  const deadline = clockStart + check.timeoutSec * 1000;
  // In a quiet lab, retrying a route-dependent check cannot help past a short grace.
  const quietUntil = run.quiet ? Math.min(deadline, Math.max(clockStart, started) + run.quietGraceMs) : deadline;
  const attemptCap = probe.attemptTimeoutMs?.(check as never) ?? 30_000;
  let attempts = 0;
  let delay = FIRST_RETRY_DELAY_MS;
  for (;;) {
    attempts++;
    const timeoutMs = Math.min(attemptCap, Math.max(MIN_ATTEMPT_MS, deadline - clock.now()));
    let verdict: Verdict;
    try {
      const output = await abortable(executor.exec(machine, probe.command(check as never, context), { timeoutMs }), run.signal);
      verdict = probe.judge(check as never, output, context);
      if (!verdict.passed && output.timedOut) verdict = { ...verdict, reason: `${verdict.reason} (the probe timed out after ${Math.round(timeoutMs / 1000)} s)` };
    } catch (err) {
      if (run.signal?.aborted) return cancelledResult(check, attempts, clock.now() - started);
      verdict = { passed: false, reason: `could not run the check on ${machine}: ${(err as Error).message}` };
    }
    if (run.signal?.aborted && !verdict.passed) return cancelledResult(check, attempts, clock.now() - started);
    const now = clock.now();
    if (!verdict.passed && !verdict.final && run.quiet && now >= quietUntil && quietUntil < deadline && ROUTE_DEPENDENT_KINDS.includes(check.kind)) {
      const settled = run.spanningTree ? `no routing daemon runs in the lab and its spanning tree had ${Math.round(run.quietGraceMs / 1000)} s to settle` : 'no routing daemon runs in the lab';
      verdict = { ...verdict, reason: `${verdict.reason} (${settled}, so this will not change by itself)` };
      return resultOf(check, verdict, attempts, now - started);
    }
    const remaining = (run.quiet && ROUTE_DEPENDENT_KINDS.includes(check.kind) ? quietUntil : deadline) - now;
    if (verdict.passed || verdict.final || deadline - now <= 0 || remaining <= 0) return resultOf(check, verdict, attempts, now - started);
    await clock.sleep(Math.min(delay, remaining));
    delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS);
  }
}

/**
 * True when no machine of the lab runs a routing daemon (FRR, Quagga, BIRD): then no route changes
 * by itself. Unknown (a machine that did not answer) counts as not quiet: retries are kept.
 */
async function labIsQuiet(checks: readonly Check[], executor: LabExecutor, options: EngineOptions): Promise<boolean> {
  if (!checks.some((c) => ROUTE_DEPENDENT_KINDS.includes(c.kind))) return false;
  const machines = options.machines ?? [...new Set(checks.map(checkMachine))];
  const looks = await Promise.all(
    machines.map((m) =>
      executor.exec(m, PROCESS_NAMES_COMMAND, { timeoutMs: PROCESS_LOOK_TIMEOUT_MS }).then(
        (r) => (r.stdout.trim() ? routingDaemonsIn(r.stdout) : undefined),
        () => undefined,
      ),
    ),
  );
  return looks.every((daemons) => daemons !== undefined && daemons.length === 0);
}

function cancelledResult(check: Check, attempts = 0, durationMs = 0): CheckResult {
  return resultOf(check, { passed: false, reason: 'not checked: the check was cancelled' }, attempts, durationMs);
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(new Error('cancelled'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('cancelled'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => (signal.removeEventListener('abort', onAbort), resolve(v)),
      (e) => (signal.removeEventListener('abort', onAbort), reject(e)),
    );
  });
}

/** A clock whose sleeps end early when the list is cancelled. */
function abortableClock(clock: NonNullable<EngineOptions['clock']>, signal: AbortSignal): NonNullable<EngineOptions['clock']> {
  return { now: () => clock.now(), sleep: (ms) => abortable(clock.sleep(ms), signal).catch(() => undefined) };
}

function resultOf(check: Check, verdict: Verdict, attempts: number, durationMs: number): CheckResult {
  return {
    id: check.id,
    description: check.description,
    kind: check.kind,
    passed: verdict.passed,
    points: check.points,
    earned: verdict.passed ? check.points : 0,
    ...(verdict.passed ? {} : { reason: verdict.reason ?? 'failed', ...(check.hint ? { hint: check.hint } : {}) }),
    attempts,
    durationMs,
  };
}

/** Sums results into a report. */
export function reportOf(lab: string, results: CheckResult[], startedAt: Date, extra: Partial<CheckReport> = {}): CheckReport {
  return {
    lab,
    ...(extra.submission !== undefined ? { submission: extra.submission } : {}),
    results,
    score: results.reduce((sum, r) => sum + r.earned, 0),
    maxScore: results.reduce((sum, r) => sum + r.points, 0),
    ...(extra.error !== undefined ? { error: extra.error, score: 0 } : {}),
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
  };
}
