// The check engine: runs checks against a running lab through an exec channel, retrying each until
// it passes or its timeout runs out (routing protocols need time to converge). Checks of different
// machines run in parallel (at most `jobs` machines at once); checks of one machine run one after
// another, in the order the lab lists them, so a check may rely on the state an earlier one observed.
import type { Check, CheckReport, CheckResult } from '../../shared/checks.ts';
import type { ExecResult } from '../../shared/runtime-api.ts';
import { checkMachine, probeFor, type ProbeContext, type Verdict } from './probes.ts';

/** What the engine needs of a running lab: run a shell command in a machine. */
export interface LabExecutor {
  exec(machine: string, shellCommand: string, options: { timeoutMs: number }): Promise<ExecResult>;
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
}

const FIRST_RETRY_DELAY_MS = 500;
const MAX_RETRY_DELAY_MS = 2000;
/** Lower bound for one attempt, so a check with `timeoutSec: 0` (one attempt) can still run a ping. */
const MIN_ATTEMPT_MS = 10_000;

const realClock = { now: () => Date.now(), sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)) };

export async function runCheckList(checks: readonly Check[], executor: LabExecutor, options: EngineOptions = {}): Promise<CheckResult[]> {
  const context: ProbeContext = { hosts: options.hosts ?? {} };
  const clock = options.clock ?? realClock;
  const results = new Array<CheckResult>(checks.length);
  const byMachine = new Map<string, number[]>();
  checks.forEach((check, index) => {
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
            : await runOne(check, executor, context, clock);
        results[index] = result;
        options.onResult?.(result);
      }
    }
  };
  const jobs = Math.max(1, Math.min(options.jobs ?? 4, queues.length || 1));
  await Promise.all(Array.from({ length: jobs }, worker));
  return results;
}

async function runOne(check: Check, executor: LabExecutor, context: ProbeContext, clock: NonNullable<EngineOptions['clock']>): Promise<CheckResult> {
  const probe = probeFor(check);
  const machine = probe.machine(check as never);
  const started = clock.now();
  const deadline = started + check.timeoutSec * 1000;
  const attemptCap = probe.attemptTimeoutMs?.(check as never) ?? 30_000;
  let attempts = 0;
  let delay = FIRST_RETRY_DELAY_MS;
  for (;;) {
    attempts++;
    const timeoutMs = Math.min(attemptCap, Math.max(MIN_ATTEMPT_MS, deadline - clock.now()));
    let verdict: Verdict;
    try {
      const output = await executor.exec(machine, probe.command(check as never, context), { timeoutMs });
      verdict = probe.judge(check as never, output, context);
      if (!verdict.passed && output.timedOut) verdict = { ...verdict, reason: `${verdict.reason} (the probe timed out after ${Math.round(timeoutMs / 1000)} s)` };
    } catch (err) {
      verdict = { passed: false, reason: `could not run the check on ${machine}: ${(err as Error).message}` };
    }
    const remaining = deadline - clock.now();
    if (verdict.passed || verdict.final || remaining <= 0) return resultOf(check, verdict, attempts, clock.now() - started);
    await clock.sleep(Math.min(delay, remaining));
    delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS);
  }
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
