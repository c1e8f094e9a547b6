// `vnetlab check`: grade a lab headless. Boots it (or uses the running one), runs its checks, prints
// each result and the score; or grades a batch of submissions; or runs Netkit's ltest.
import { resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import type { CheckResult } from '../../../shared/checks.ts';
import { findSubmissions, gradeSubmissions } from '../../check/batch.ts';
import { writeFileAtomic } from '../../lab/atomic.ts';
import { gradeLab, gradeVariant } from '../../check/grade.ts';
import { formatLtestReport, runLtest } from '../../check/ltest.ts';
import { formatJunit, formatResultLine, formatScore } from '../../check/report.ts';
import { UserError } from '../../errors.ts';
import { LAB_FLAG, parseSeconds, resolveLab } from '../lab-args.ts';
import { labFolder } from '../../runtime/lab-target.ts';
import { planLab } from '../../runtime/prepare.ts';
import { checkPacks, printBatch } from '../check-packs.ts';
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
       vnetlab check [LAB] [--seed S] [--with-solution] [--json | --junit FILE] [--include-hidden]
       vnetlab check [LAB] --submissions DIR… [--seed-from name|file] [--out DIR] [--jobs N] [--checks FILE]
       vnetlab check [LAB] --ltest [--make-signature] [--running]
       vnetlab check FILE.vnlpack [--json | --junit FILE] [--include-hidden]
       vnetlab check [LAB] --submissions DIR/*.vnlpack [--out DIR] [--jobs N] [--checks FILE]`,
  description: `
Boots the lab, runs its checks (lab.yaml \`checks:\`, or --checks FILE), prints ✔/✘ for each with the
reason and hint of a failure, then the score, and stops the lab again. With --running it uses the lab
that already runs and leaves it running. Hidden checks run only with --include-hidden.
Exit code: 0 every check passed, 1 some failed, 2 bad input, 3 the lab could not boot.

A lab with params: is graded as seed 0 unless --seed S picks another variant. --seed and
--with-solution grade a fresh copy of that variant in a temp folder (never the running lab);
--with-solution boots it with the lab's intended solution (its solution: section) applied, and must
score every point. A fresh lab should score its declared starting_score (0 unless the lab says).

--submissions grades each folder given (or each folder inside one parent folder) as a student's
files laid over a copy of the lab, several at a time, and writes <student>.json, <student>.txt,
<student>.junit.xml and summary.csv into --out (default ./grades). All checks, hidden ones included,
are graded. A submission that cannot be graded scores 0 with its reason; the batch goes on. With
--seed-from, each is graded against its own variant: the seed is the folder's name (name) or the first
line of its .vnetlab-seed (file, written by \`vnetlab variant -o\`).

A .vnlpack (vnetlab pack) is graded as it was handed in: unpacked into a temp folder, booted from its
packed state (disks, then each machine's network state), graded, and removed. With --submissions
DIR/*.vnlpack, each pack is graded with LAB's checks (hidden ones included) when a LAB is given, else
with its own lab's; a pack that is damaged or refused scores 0 with the reason.

--ltest runs Netkit's _test/<machine>.test scripts inside the machines and compares their output with
_test/signature/; --make-signature records the signatures instead (see docs/grading.md).

Examples:
  vnetlab check labs/static-routing
  vnetlab check labs/static-routing --junit results.xml
  vnetlab check labs/static-routing --submissions submissions/ --out grades/
  vnetlab check labs/static-routing --with-solution
  vnetlab check labs/static-routing-variant --seed alice --with-solution
  vnetlab check labs/static-routing-variant --submissions handout/* --seed-from file
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
    seed: { type: 'string', description: 'grade this variant of a lab with params: (a fresh copy)', valueName: 'S' },
    'fail-fast': { type: 'boolean', description: 'in a lab where no routing daemon runs, stop retrying a failing check after 5 s (as "check my work" does)' },
    'with-solution': { type: 'boolean', description: 'boot a fresh copy with the lab\'s solution applied (it must score 100 %)' },
    'seed-from': { type: 'string', description: 'with --submissions: each submission\'s seed is its folder name or its .vnetlab-seed file', valueName: 'name|file' },
    image: { type: 'string', description: 'boot every machine on this image instead of the one the lab names', valueName: 'NAME' },
    'boot-timeout': { type: 'string', description: 'seconds each machine may take to boot (default 120)', valueName: 'SECONDS' },
  },
  async run(args, io) {
    // Hand-in packs (FILE.vnlpack, --submissions DIR/*.vnlpack): graded as they were handed in.
    const packed = await checkPacks(args, io);
    if (packed !== undefined) return packed;
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
    const seed = typeof flags.seed === 'string' ? flags.seed : undefined;
    if (seed !== undefined && (seed.trim() === '' || /[\n\r]/.test(seed))) throw new UserError('--seed must be non-empty text on one line', 2);
    const withSolution = flags['with-solution'] === true;
    const seedFrom = flags['seed-from'];
    if (seedFrom !== undefined && seedFrom !== 'name' && seedFrom !== 'file') throw new UserError(`--seed-from must be name or file, not '${String(seedFrom)}'`, 2);
    if (seedFrom !== undefined && !submissionArgs.length) throw new UserError('--seed-from only goes with --submissions', 2);
    if ((seed !== undefined || withSolution) && (submissionArgs.length || flags.ltest || flags.running)) {
      throw new UserError(`${seed !== undefined ? '--seed' : '--with-solution'} grades a fresh copy of the lab: it cannot be combined with --submissions, --ltest or --running`, 2, submissionArgs.length ? 'use --seed-from name|file to grade each submission against its own variant' : undefined);
    }

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
        ...(seedFrom ? { seedFrom: seedFrom as 'name' | 'file' } : {}),
        checkJobs: Math.max(2, availableParallelism()),
        onProgress: progress,
      });
      return printBatch(io, flags.json === true, result.rows, outDir);
    }

    if (rest.length) throw new UserError(`unexpected argument '${rest[0]}'`, 2, 'give at most one LAB folder; submissions go after --submissions');
    const printLive = !flags.json;
    const grade = seed !== undefined || withSolution ? (path: string, o: Parameters<typeof gradeLab>[1]) => gradeVariant(path, { ...o, ...(seed !== undefined ? { seed } : {}), withSolution }) : gradeLab;
    const report = await grade(labFolder(labPath), {
      ...common,
      useRunning: flags.running === true,
      visibleOnly: flags['include-hidden'] !== true,
      ...(flags['fail-fast'] ? { failFast: true } : {}),
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
