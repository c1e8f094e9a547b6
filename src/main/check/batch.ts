// Batch grading: each submission (a folder of files a student changed: startup scripts, configs) is
// laid over a fresh copy of the lab in a temp folder and graded there, several at a time. The copies
// live in separate folders, so they get separate lab ids, run dirs, sockets and guest disks.
// A broken submission scores 0 with its reason; it never stops the batch. Every copy is stopped and
// removed, whatever happened.
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, copyFileSync } from 'node:fs';
import { availableParallelism, freemem, tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import type { Check, CheckReport } from '../../shared/checks.ts';
import { UserError } from '../errors.ts';
import { MAX_LAB_BYTES } from '../lab/limits.ts';
import { planLab } from '../runtime/prepare.ts';
import { writeFileAtomic } from '../lab/atomic.ts';
import { readSeedFile, renderVariant, SEED_FILE } from '../lab/variants.ts';
import { gradeLab, selectChecks, ungradedReport, type CheckSelection } from './grade.ts';
import { formatJunit, formatSummaryCsv, formatTextReport } from './report.ts';
import type { OpenOptions } from './session.ts';

export interface Submission {
  /** Safe as a file name: letters, digits, `.`, `_`, `-`. */
  student: string;
  dir: string;
}

export interface BatchOptions extends CheckSelection, Pick<OpenOptions, 'env' | 'imageOverride' | 'bootTimeoutMs'> {
  /**
   * Grade each submission against its own variant of a lab with params: its seed is the submission
   * folder's name (`name`) or the first line of its .vnetlab-seed (`file`, written by `vnetlab variant`).
   */
  seedFrom?: 'name' | 'file';
  outDir: string;
  /** Submissions graded at once (default: by cores and free memory). */
  jobs?: number;
  /** Machines checked at once inside one submission. */
  checkJobs?: number;
  onProgress?(line: string): void;
}

export interface BatchResult {
  rows: { student: string; report: CheckReport }[];
  summaryCsv: string;
}

/** Folder names that belong to a lab, so a folder holding them is one submission, not a folder of submissions. */
const LAB_FOLDER_NAMES = new Set(['shared', '_test', 'etc', 'root', 'var']);

/**
 * The submissions named on the command line: folders, simple wildcards in the last path segment
 * (`subs/group-*`, when the shell left them alone), or one parent folder holding one folder per student.
 */
export function findSubmissions(args: string[], cwd: string, machineNames: readonly string[]): Submission[] {
  const dirs: string[] = [];
  for (const arg of args) {
    const path = resolve(cwd, arg);
    const pattern = basename(path);
    const candidates = /[*?]/.test(pattern) ? matchWildcard(dirname(path), pattern) : [path];
    if (candidates.length === 0) throw new UserError(`no submission folder matches ${arg}`, 2);
    for (const dir of candidates) {
      if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`submission ${arg} is not a folder`, 2, 'give one folder per student, or a folder that holds one folder per student');
      dirs.push(...(isFolderOfSubmissions(dir, machineNames) ? subfolders(dir) : [dir]));
    }
  }
  const used = new Set<string>();
  return dirs.map((dir) => {
    const base = basename(dir).replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '_') || 'submission';
    let student = base;
    for (let n = 2; used.has(student); n++) student = `${base}-${n}`;
    used.add(student);
    return { student, dir };
  });
}

function matchWildcard(folder: string, pattern: string): string[] {
  const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((name) => regex.test(name))
    .sort()
    .map((name) => join(folder, name))
    .filter((p) => statSync(p).isDirectory());
}

function subfolders(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => join(dir, e.name))
    .sort();
}

/** Only folders inside, none of them named like a machine or a lab folder: a folder of submissions. */
function isFolderOfSubmissions(dir: string, machineNames: readonly string[]): boolean {
  const entries = readdirSync(dir, { withFileTypes: true }).filter((e) => !e.name.startsWith('.'));
  return entries.length > 0 && entries.every((e) => e.isDirectory() && !machineNames.includes(e.name) && !LAB_FOLDER_NAMES.has(e.name));
}

/**
 * Copies a submission over a lab copy. Only plain files and folders are taken: a symlink or a special
 * file is refused (it could point outside the submission), and so is anything over the lab size limit.
 */
export function overlaySubmission(submissionDir: string, labCopy: string): string[] {
  const copied: string[] = [];
  let bytes = 0;
  const walk = (from: string) => {
    for (const entry of readdirSync(from).sort()) {
      const source = join(from, entry);
      const rel = relative(submissionDir, source);
      const target = resolve(labCopy, rel);
      if (!target.startsWith(labCopy + sep)) throw new UserError(`the submission's file ${rel} would land outside the lab`, 2);
      const stat = lstatSync(source);
      if (stat.isSymbolicLink()) throw new UserError(`the submission contains a symbolic link (${rel}); submissions may hold only plain files and folders`, 2);
      if (stat.isDirectory()) {
        if (existsSync(target) && !lstatSync(target).isDirectory()) rmSync(target, { force: true });
        mkdirSync(target, { recursive: true });
        walk(source);
      } else if (stat.isFile()) {
        bytes += stat.size;
        if (bytes > MAX_LAB_BYTES) throw new UserError(`the submission is larger than ${MAX_LAB_BYTES >> 20} MiB`, 2);
        if (existsSync(target) && lstatSync(target).isDirectory()) rmSync(target, { recursive: true, force: true });
        copyFileSync(source, target);
        copied.push(rel);
      } else {
        throw new UserError(`the submission contains ${rel}, which is neither a file nor a folder`, 2);
      }
    }
  };
  walk(submissionDir);
  return copied;
}

/** Submissions graded at once: one per core, and no more than free memory holds (every guest at its full memory). */
export function defaultBatchJobs(labMemoryMiB: number): number {
  const byMemory = Math.floor((freemem() / 2 ** 20) * 0.7 / Math.max(64, labMemoryMiB));
  return Math.max(1, Math.min(availableParallelism(), byMemory));
}

export async function gradeSubmissions(labPath: string, submissions: Submission[], options: BatchOptions): Promise<BatchResult> {
  const env = options.env ?? process.env;
  const progress = options.onProgress ?? (() => {});
  // The checks come from the lab as the teacher wrote it, before any submission is laid over a copy:
  // a submission that ships its own lab.yaml changes its machines, never its grading.
  const { labName, checks } = await selectChecks(labPath, options, env);
  const { model } = await planLab(labPath, { env });
  const labMemory = model.machines.reduce((sum, m) => sum + m.memoryMiB, 0);
  const jobs = Math.max(1, options.jobs ?? defaultBatchJobs(labMemory));
  mkdirSync(options.outDir, { recursive: true });
  progress(`grading ${submissions.length} submission(s) of ${labName}, ${checks.length} checks, ${jobs} at a time`);
  if (model.variant && !options.seedFrom) progress(`note: ${labName} has params; every submission is graded against seed ${model.variant.seed} (give --seed-from name|file to grade each against its own variant)`);

  const rows: BatchResult['rows'] = new Array(submissions.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < submissions.length) {
      const index = next++;
      const submission = submissions[index]!;
      progress(`[${index + 1}/${submissions.length}] ${submission.student}: grading`);
      const report = await gradeOne(model.root, labName, checks, submission, options);
      await writeReports(options.outDir, submission.student, report);
      rows[index] = { student: submission.student, report };
      done++;
      const failed = report.results.filter((r) => !r.passed).map((r) => r.id);
      const outcome = report.error ? `not graded: ${report.error}` : failed.length ? `failed ${failed.join(', ')}` : 'all checks passed';
      progress(`[${done}/${submissions.length} done] ${submission.student}: ${report.score}/${report.maxScore} (${outcome}) in ${(report.durationMs / 1000).toFixed(1)} s`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, submissions.length) }, worker));
  const summaryCsv = formatSummaryCsv(rows);
  await writeFileAtomic(join(options.outDir, 'summary.csv'), summaryCsv);
  return { rows, summaryCsv };
}

async function gradeOne(labRoot: string, labName: string, labChecks: Check[], submission: Submission, options: BatchOptions): Promise<CheckReport> {
  const startedAt = new Date();
  const scratch = mkdtempSync(join(tmpdir(), 'vnetlab-grade-'));
  // Same folder name as the original: a Netkit lab takes its name from its folder.
  const copy = join(scratch, basename(labRoot));
  let checks = labChecks;
  try {
    if (options.seedFrom) {
      // The submission's own variant, written as a plain lab; its checks are the variant's, read before the overlay.
      const seed = options.seedFrom === 'name' ? basename(resolve(submission.dir)) : await readSeedFile(submission.dir);
      if (!seed) throw new UserError(`the submission has no ${SEED_FILE} file, so its variant is unknown`, 2, `grade with --seed-from name, or put the seed in ${SEED_FILE} (vnetlab variant -o writes it)`);
      await renderVariant(labRoot, seed, copy);
      if (!options.checksFile) checks = (await selectChecks(copy, {}, options.env)).checks;
    } else {
      cpSync(labRoot, copy, { recursive: true, verbatimSymlinks: true });
    }
    overlaySubmission(resolve(submission.dir), copy);
    return await gradeLab(copy, {
      ...(options.env ? { env: options.env } : {}),
      ...(options.imageOverride ? { imageOverride: options.imageOverride } : {}),
      ...(options.bootTimeoutMs ? { bootTimeoutMs: options.bootTimeoutMs } : {}),
      ...(options.checkJobs ? { jobs: options.checkJobs } : {}),
      checks,
      submission: submission.student,
      ephemeral: true,
    });
  } catch (err) {
    const message = err instanceof UserError ? err.message : `internal error: ${(err as Error).message}`;
    return ungradedReport(labName, checks, message, startedAt, submission.student);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function writeReports(outDir: string, student: string, report: CheckReport): Promise<void> {
  await writeFileAtomic(join(outDir, `${student}.json`), `${JSON.stringify(report, null, 2)}\n`);
  await writeFileAtomic(join(outDir, `${student}.txt`), formatTextReport(report));
  await writeFileAtomic(join(outDir, `${student}.junit.xml`), formatJunit(report));
}
