// `vnetlab check`: grade a lab headless. Boots it (or uses the running one), runs its checks, prints
// each result and the score; or grades a batch of submissions; or runs Netkit's ltest.
import { resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import type { CheckResult } from '../../../shared/checks.ts';
import { findSubmissions, gradeSubmissions } from '../../check/batch.ts';
import { writeFileAtomic } from '../../lab/atomic.ts';
import { gradeLab } from '../../check/grade.ts';
import { formatLtestReport, runLtest } from '../../check/ltest.ts';
import { formatJunit, formatResultLine, formatScore } from '../../check/report.ts';
import { UserError } from '../../errors.ts';
import { LAB_FLAG, labFolder, parseSeconds, resolveLab } from '../../runtime/cli-support.ts';
import { planLab } from '../../runtime/prepare.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

function positiveInteger(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`--${flag} must be a whole number of at least 1, not '${String(value)}'`);
  return n;
}

const command: Command = {
  name: 'check',
  summary: 'grade a lab: run its checks (or Netkit ltest), for one lab or a batch of submissions',
  usage: `check [LAB] [--checks FILE] [--running] [--json | --junit FILE] [--jobs N] [--include-hidden]
       vnetlab check [LAB] --submissions DIR… [--out DIR] [--jobs N] [--checks FILE]
       vnetlab check [LAB] --ltest [--make-signature] [--running]`,
  description: `
Boots the lab, runs its checks (lab.yaml \`checks:\`, or --checks FILE), prints ✔/✘ for each with the
reason and hint of a failure, then the score, and stops the lab again. With --running it uses the lab
that already runs and leaves it running. Hidden checks run only with --include-hidden.
Exit code: 0 every check passed, 1 some failed, 2 bad input, 3 the lab could not boot.

--submissions grades each folder given (or each folder inside one parent folder) as a student's
files laid over a copy of the lab, several at a time, and writes <student>.json, <student>.txt,
<student>.junit.xml and summary.csv into --out (default ./grades). All checks, hidden ones included,
are graded. A submission that cannot be graded scores 0 with its reason; the batch goes on.

--ltest runs Netkit's _test/<machine>.test scripts inside the machines and compares their output with
_test/signature/; --make-signature records the signatures instead (see docs/grading.md).

Examples:
  vnetlab check labs/static-routing
  vnetlab check labs/static-routing --junit results.xml
  vnetlab check labs/static-routing --submissions submissions/ --out grades/
  vnetlab check netkit-lab_arp --ltest`,
  flags: {
    lab: LAB_FLAG,
    checks: { type: 'string', description: 'run the checks of this file instead of the lab\'s own', valueName: 'FILE' },
    running: { type: 'boolean', description: 'use the lab that is already running (do not boot or stop it)' },
    json: { type: 'boolean', description: 'print the report as JSON' },
    junit: { type: 'string', description: 'also write the report as JUnit XML to FILE', valueName: 'FILE' },
    jobs: { type: 'string', short: 'j', description: 'machines checked at once; with --submissions, submissions graded at once', valueName: 'N' },
    'include-hidden': { type: 'boolean', description: 'also run the checks hidden from students' },
    submissions: { type: 'list', description: 'grade these submission folders (or one folder of them)', valueName: 'DIR' },
    out: { type: 'string', description: 'where --submissions writes its reports (default ./grades)', valueName: 'DIR' },
    ltest: { type: 'boolean', description: 'run the Netkit _test scripts and compare with _test/signature' },
    'make-signature': { type: 'boolean', description: 'with --ltest: write the signatures from this run' },
    image: { type: 'string', description: 'boot every machine on this image instead of the one the lab names', valueName: 'NAME' },
    'boot-timeout': { type: 'string', description: 'seconds each machine may take to boot (default 120)', valueName: 'SECONDS' },
  },
  async run(args, io) {
    const { labPath, rest } = resolveLab(args.positionals, args.flags.lab, io.cwd, io.env);
    const flags = args.flags;
    const jobs = positiveInteger(flags.jobs, 'jobs');
    const bootTimeoutMs = parseSeconds(flags['boot-timeout'], 'boot-timeout', 120) * 1000;
    const imageOverride = typeof flags.image === 'string' ? flags.image : undefined;
    const checksFile = typeof flags.checks === 'string' ? resolve(io.cwd, flags.checks) : undefined;
    const submissionArgs = [...((flags.submissions as string[] | undefined) ?? [])];
    const common = { env: io.env, bootTimeoutMs, ...(imageOverride ? { imageOverride } : {}) };
    const progress = (line: string) => io.stderr.write(`${line}\n`);

    if (flags.json && flags.junit) throw new UserError('--json and --junit cannot be used together', 2, 'pick one: --json prints the report, --junit FILE writes JUnit XML');
    if (flags['make-signature'] && !flags.ltest) throw new UserError('--make-signature only goes with --ltest', 2);

    if (flags.ltest) {
      if (submissionArgs.length || checksFile) throw new UserError('--ltest cannot be combined with --submissions or --checks', 2);
      if (rest.length) throw new UserError(`unexpected argument '${rest[0]}'`, 2, 'give at most one LAB folder');
      const report = await runLtest(labFolder(labPath), { ...common, useRunning: flags.running === true, makeSignature: flags['make-signature'] === true, onProgress: progress });
      io.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatLtestReport(report));
      return report.passed ? EXIT.ok : EXIT.false;
    }

    if (submissionArgs.length) {
      if (flags.running) throw new UserError('--running cannot be combined with --submissions: each submission boots its own copy of the lab', 2);
      const { model } = await planLab(labFolder(labPath), { env: io.env });
      const submissions = findSubmissions([...submissionArgs, ...rest], io.cwd, model.machines.map((m) => m.name));
      const outDir = resolve(io.cwd, typeof flags.out === 'string' ? flags.out : 'grades');
      const result = await gradeSubmissions(labFolder(labPath), submissions, {
        ...common,
        outDir,
        ...(checksFile ? { checksFile } : {}),
        ...(jobs ? { jobs } : {}),
        checkJobs: Math.max(2, availableParallelism()),
        onProgress: progress,
      });
      if (flags.json) io.stdout.write(`${JSON.stringify(result.rows.map((r) => r.report), null, 2)}\n`);
      else {
        for (const { student, report } of result.rows) io.stdout.write(`${student}: ${report.score}/${report.maxScore}${report.error ? ` (not graded: ${report.error})` : ''}\n`);
        io.stdout.write(`Reports and summary.csv are in ${outDir}\n`);
      }
      return result.rows.every((r) => !r.report.error && r.report.score === r.report.maxScore) ? EXIT.ok : EXIT.false;
    }

    if (rest.length) throw new UserError(`unexpected argument '${rest[0]}'`, 2, 'give at most one LAB folder; submissions go after --submissions');
    const printLive = !flags.json;
    const report = await gradeLab(labFolder(labPath), {
      ...common,
      useRunning: flags.running === true,
      visibleOnly: flags['include-hidden'] !== true,
      ...(checksFile ? { checksFile } : {}),
      ...(jobs ? { jobs } : {}),
      onProgress: printLive ? progress : () => {},
      ...(printLive ? { onResult: (r: CheckResult) => io.stdout.write(`${formatResultLine(r)}\n`) } : {}),
    });
    if (typeof flags.junit === 'string') await writeFileAtomic(resolve(io.cwd, flags.junit), formatJunit(report));
    io.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatScore(report)}\n`);
    return report.results.every((r) => r.passed) ? EXIT.ok : EXIT.false;
  },
};

export default command;
