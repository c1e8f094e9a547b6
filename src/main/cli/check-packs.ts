// `vnetlab check FILE.vnlpack` and `vnetlab check [LAB] --submissions DIR/*.vnlpack` (check/packs.ts):
// the part of `check` that grades hand-in packs, kept apart from commands/check.ts.
import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import type { CheckReport, CheckResult } from '../../shared/checks.ts';
import { findPackSubmissions, gradePack, gradePackSubmissions, isPackPath } from '../check/packs.ts';
import { formatJunit, formatResultLine, formatScore } from '../check/report.ts';
import { writeFileAtomic } from '../lab/atomic.ts';
import type { ParsedArgs } from './args.ts';
import type { CommandIO } from './command.ts';
import { EXIT, UserError } from './exit-codes.ts';
import { parseSeconds } from './lab-args.ts';

/** Grades packs when the command line names them; undefined when it is about lab folders. */
export async function checkPacks(args: ParsedArgs, io: CommandIO): Promise<number | undefined> {
  const flags = args.flags;
  const submissions = (flags.submissions as string[] | undefined) ?? [];
  const single = isPackPath(args.positionals[0]) ? args.positionals[0] : isPackPath(flags.lab as string | undefined) ? (flags.lab as string) : undefined;
  const packBatch = submissions.length > 0 && submissions.every((s) => isPackPath(s.replace(/\*$/, '')) || /\.vnlpack$/i.test(s) || /\*\.vnlpack$/i.test(s));
  if (!single && !packBatch) return undefined;
  for (const flag of ['ltest', 'make-signature', 'seed', 'with-solution', 'seed-from', 'running'] as const) {
    if (flags[flag] !== undefined) throw new UserError(`--${flag} does not go with packs: a pack is graded as it was handed in`, EXIT.badInput);
  }
  if (flags.json && flags.junit) throw new UserError('--json and --junit cannot be used together', EXIT.badInput);
  const jobs = flags.jobs === undefined ? undefined : Number(flags.jobs);
  if (jobs !== undefined && (!Number.isInteger(jobs) || jobs < 1)) throw new UserError(`--jobs must be a whole number of at least 1, not '${String(flags.jobs)}'`, EXIT.badInput);
  const bootTimeoutMs = parseSeconds(flags['boot-timeout'], 'boot-timeout', 120) * 1000;
  const checksFile = typeof flags.checks === 'string' ? resolve(io.cwd, flags.checks) : undefined;
  const common = { env: io.env, bootTimeoutMs, ...(typeof flags.image === 'string' ? { imageOverride: flags.image } : {}), ...(checksFile ? { checksFile } : {}) };
  const progress = (line: string) => io.stderr.write(`${line}\n`);

  if (single && !packBatch) {
    if (submissions.length) throw new UserError('give either one pack to grade or --submissions, not both', EXIT.badInput);
    if (args.positionals.length > (single === args.positionals[0] ? 1 : 0)) throw new UserError(`unexpected argument '${args.positionals[1] ?? args.positionals[0]}'`, EXIT.badInput, 'vnetlab check FILE.vnlpack grades one pack');
    const printLive = !flags.json;
    const report = await gradePack(resolve(io.cwd, single), {
      ...common,
      visibleOnly: flags['include-hidden'] !== true,
      ...(jobs ? { jobs } : {}),
      onProgress: printLive ? progress : () => {},
      ...(printLive ? { onResult: (r: CheckResult) => io.stdout.write(`${formatResultLine(r)}\n`) } : {}),
    });
    if (typeof flags.junit === 'string') await writeFileAtomic(resolve(io.cwd, flags.junit), formatJunit(report));
    io.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatScore(report)}\n`);
    return report.results.every((r) => r.passed) ? EXIT.ok : EXIT.false;
  }

  // A batch: the teacher's lab is the first positional (or --lab, or the current folder) when it is a lab.
  const labArg = typeof flags.lab === 'string' ? flags.lab : args.positionals[0];
  const rest = typeof flags.lab === 'string' ? args.positionals : args.positionals.slice(1);
  const labCandidate = resolve(io.cwd, labArg ?? '.');
  const isLab = (p: string) => existsSync(p) && (statSync(p).isFile() ? /^lab\.(ya?ml|conf)$/.test(p.split('/').pop()!) : existsSync(join(p, 'lab.yaml')) || existsSync(join(p, 'lab.conf')));
  const labPath = isLab(labCandidate) ? labCandidate : undefined;
  if (labArg !== undefined && !labPath) throw new UserError(`${labArg} is not a lab folder`, EXIT.badInput, 'give the lab whose checks grade the packs, or no lab: each pack is graded with its own lab\'s checks');
  const packs = findPackSubmissions([...submissions, ...rest], io.cwd);
  const outDir = resolve(io.cwd, typeof flags.out === 'string' ? flags.out : 'grades');
  const result = await gradePackSubmissions(packs, {
    ...common,
    ...(labPath ? { labPath } : {}),
    outDir,
    ...(jobs ? { jobs } : {}),
    checkJobs: Math.max(2, availableParallelism()),
    onProgress: progress,
  });
  return printBatch(io, flags.json === true, result.rows, outDir);
}

/** A batch's scores, one line per student (or the reports as JSON); exit 0 only when every one is whole. */
export function printBatch(io: CommandIO, json: boolean, rows: { student: string; report: CheckReport }[], outDir: string): number {
  if (json) io.stdout.write(`${JSON.stringify(rows.map((r) => r.report), null, 2)}\n`);
  else {
    for (const { student, report } of rows) io.stdout.write(`${student}: ${report.score}/${report.maxScore}${report.error ? ` (not graded: ${report.error})` : ''}\n`);
    io.stdout.write(`Reports and summary.csv are in ${outDir}\n`);
  }
  return rows.every((r) => !r.report.error && r.report.score === r.report.maxScore) ? EXIT.ok : EXIT.false;
}
