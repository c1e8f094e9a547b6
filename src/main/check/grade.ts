// Grading one lab: pick its checks (the lab's own or a separate checks file), boot it (or use the
// running one), run the checks, stop what was started, and sum the results into a CheckReport.
import type { Check, CheckReport, CheckResult } from '../../shared/checks.ts';
import { formatDiagnostic, hasErrors } from '../../shared/diagnostics.ts';
import { UserError } from '../errors.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { loadChecksFile } from '../lab/checks.ts';
import { DEFAULT_SEED, renderVariant } from '../lab/variants.ts';
import { planLab } from '../runtime/prepare.ts';
import { reportOf, runCheckList } from './engine.ts';
import { openGradedLab, type OpenOptions } from './session.ts';

export interface CheckSelection {
  /** Checks from this file instead of the lab's own (`--checks FILE`). */
  checksFile?: string;
  /** Only the checks students may see (`hidden: false`), as "check my work" does. */
  visibleOnly?: boolean;
}

export interface GradeOptions extends OpenOptions, CheckSelection {
  /** Machines checked at once. */
  jobs?: number;
  onResult?(result: CheckResult): void;
  /** Name of the submission being graded, for the report. */
  submission?: string;
  /** Checks already chosen by the caller (batch grading reads them once from the original lab). */
  checks?: Check[];
  /** "Check my work": a check that cannot pass (no routing daemon runs) fails in seconds, not minutes. */
  failFast?: boolean;
  signal?: AbortSignal;
}

/** The checks to run, with bad input (a broken checks file, a lab without checks) as a UserError. */
export async function selectChecks(labPath: string, selection: CheckSelection, env: NodeJS.ProcessEnv = process.env): Promise<{ labName: string; checks: Check[] }> {
  const { model } = await planLab(labPath, { env });
  let checks = model.checks;
  if (selection.checksFile) {
    const loaded = await loadChecksFile(selection.checksFile);
    if (hasErrors(loaded.diagnostics)) {
      throw new UserError(`the checks file has errors:\n${loaded.diagnostics.map(formatDiagnostic).join('\n')}`, 2, 'fix the checks file, then run the command again');
    }
    checks = loaded.checks;
  }
  if (selection.visibleOnly) checks = checks.filter((c) => !c.hidden);
  if (checks.length === 0) {
    throw new UserError(
      selection.checksFile ? `${selection.checksFile} has no checks` : `the lab ${model.meta.name} has no checks${selection.visibleOnly ? ' visible to students' : ''}`,
      2,
      'add a `checks:` list to lab.yaml, or give a checks file with --checks FILE (see docs/grading.md)',
    );
  }
  return { labName: model.meta.name, checks };
}

export async function gradeLab(labPath: string, options: GradeOptions = {}): Promise<CheckReport> {
  const startedAt = new Date();
  const checks = options.checks ?? (await selectChecks(labPath, options, options.env)).checks;
  const lab = await openGradedLab(labPath, options);
  try {
    const results = await runCheckList(checks, lab.executor, {
      ...(options.jobs ? { jobs: options.jobs } : {}),
      machines: lab.model.machines.map((m) => m.name),
      hosts: lab.hosts,
      ...(options.onResult ? { onResult: options.onResult } : {}),
      ...(options.failFast ? { failFast: true } : {}),
      ...(lab.model.domains.some((d) => d.stp) ? { spanningTree: true } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return reportOf(lab.model.meta.name, results, startedAt, options.submission !== undefined ? { submission: options.submission } : {});
  } finally {
    await lab.close();
  }
}

/** A report for a lab that could not be graded at all: every check failed with the same reason, score 0. */
export function ungradedReport(lab: string, checks: Check[], error: string, startedAt: Date, submission?: string): CheckReport {
  const results: CheckResult[] = checks.map((c) => ({
    id: c.id,
    description: c.description,
    kind: c.kind,
    passed: false,
    points: c.points,
    earned: 0,
    reason: `not graded: ${error}`,
    attempts: 0,
    durationMs: 0,
  }));
  return reportOf(lab, results, startedAt, { error, ...(submission !== undefined ? { submission } : {}) });
}

export interface VariantGradeOptions extends GradeOptions {
  /** The variant of a lab with params: to grade (default "0"). */
  seed?: string;
  /** Boot it with the lab's intended solution applied (an instructor's self-test: it must score 100 %). */
  withSolution?: boolean;
}

/**
 * Grades a fresh copy of one variant of the lab (with its solution, when asked): the variant is written
 * to a temp folder as a plain lab, booted there (its own lab id, guests and disks), graded with its own
 * rendered checks (or the checks file), and removed. The lab the instructor may be running is untouched.
 */
export async function gradeVariant(labPath: string, options: VariantGradeOptions = {}): Promise<CheckReport> {
  const scratch = await mkdtemp(join(tmpdir(), 'vnetlab-variant-'));
  try {
    // Same folder name as the original: a lab without `name:` takes it from its folder.
    const folder = /\.(ya?ml|conf)$/i.test(labPath) ? dirname(resolve(labPath)) : resolve(labPath);
    const copy = join(scratch, basename(folder) || 'lab');
    await renderVariant(labPath, options.seed ?? DEFAULT_SEED, copy, options.withSolution ? { withSolution: true } : {});
    const { seed: _seed, withSolution: _with, ...rest } = options;
    return await gradeLab(copy, { ...rest, useRunning: false, ephemeral: true });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
