// The grader's API for the rest of vnetlab: the GUI's "check my work", the service and the CLI.
import type { CheckReport } from '../../shared/checks.ts';
import { gradeLab } from './grade.ts';

export { runCheckList, reportOf, type LabExecutor, type EngineOptions } from './engine.ts';
export { gradeLab, selectChecks, type GradeOptions } from './grade.ts';
export { gradeSubmissions, findSubmissions, type BatchOptions, type BatchResult } from './batch.ts';
export { runLtest, formatLtestReport, type LtestReport } from './ltest.ts';
export { formatTextReport, formatJunit, formatSummaryCsv } from './report.ts';

export interface RunChecksOptions {
  /** Only the checks students may see (hidden: false). Default true: this is "check my work". */
  visibleOnly?: boolean;
  /** Grade the lab that runs (default), or boot it for the check and stop it afterwards. */
  useRunning?: boolean;
  env?: NodeJS.ProcessEnv;
  jobs?: number;
}

/** "Check my work": the visible checks of a lab, against the running lab by default. */
export function runChecks(labRoot: string, options: RunChecksOptions = {}): Promise<CheckReport> {
  return gradeLab(labRoot, {
    visibleOnly: options.visibleOnly ?? true,
    useRunning: options.useRunning ?? true,
    ...(options.env ? { env: options.env } : {}),
    ...(options.jobs ? { jobs: options.jobs } : {}),
  });
}
