// Grading hand-in packs (`vnetlab check FILE.vnlpack`, `check [LAB] --submissions DIR/*.vnlpack`): each
// pack is unpacked into a temp folder (same folder name as the lab it was made from), booted from its
// packed state (disks, then each machine's network state re-applied before it is ready), graded, and
// removed with its disks. The checks come from the teacher's LAB when one is given (read once, before
// any pack), else from the pack's own lab. A pack that cannot be graded (damaged, hostile, an image
// this host lacks) scores 0 with the reason; the batch goes on.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { Check, CheckReport } from '../../shared/checks.ts';
import { UserError } from '../errors.ts';
import { writeFileAtomic } from '../lab/atomic.ts';
import { PACK_EXTENSION, unpackPack, verifyPack } from '../runtime/snapshots/pack.ts';
import { defaultBatchJobs } from './batch.ts';
import { gradeLab, selectChecks, ungradedReport, type GradeOptions } from './grade.ts';
import { formatJunit, formatSummaryCsv, formatTextReport } from './report.ts';

export function isPackPath(path: string | undefined): boolean {
  return typeof path === 'string' && path.toLowerCase().endsWith(PACK_EXTENSION);
}

/** Grade one pack as it was handed in. `checks`: the teacher's (else the pack's own, as `options` selects). */
export async function gradePack(file: string, options: GradeOptions = {}): Promise<CheckReport> {
  const { header } = await verifyPack(file);
  const scratch = mkdtempSync(join(tmpdir(), 'vnetlab-pack-'));
  try {
    const folder = header.lab.folder.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '_') || 'lab';
    const copy = join(scratch, folder);
    await unpackPack(file, copy);
    return await gradeLab(copy, { ...options, useRunning: false, ephemeral: true });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The pack files named on the command line (files, or a simple wildcard in the last part). */
export function findPackSubmissions(args: string[], cwd: string): { student: string; file: string }[] {
  const files: string[] = [];
  for (const arg of args) {
    const path = resolve(cwd, arg);
    const pattern = basename(path);
    if (/[*?]/.test(pattern)) {
      const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
      let names: string[] = [];
      try {
        names = readdirSync(dirname(path)).filter((n) => regex.test(n)).sort();
      } catch {
        // reported below
      }
      if (!names.length) throw new UserError(`no pack matches ${arg}`, 2);
      files.push(...names.map((n) => join(dirname(path), n)));
    } else files.push(path);
  }
  const used = new Set<string>();
  return files.map((file) => {
    if (!isPackPath(file)) throw new UserError(`${file} is not a .vnlpack file`, 2, 'give packs only (vnetlab pack writes them), or folders only');
    try {
      if (!statSync(file).isFile()) throw new Error('not a file');
    } catch {
      throw new UserError(`${file}: no such pack file`, 2);
    }
    const base = basename(file).slice(0, -PACK_EXTENSION.length).replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '_') || 'submission';
    let student = base;
    for (let n = 2; used.has(student); n++) student = `${base}-${n}`;
    used.add(student);
    return { student, file };
  });
}

export interface PackBatchOptions extends GradeOptions {
  /** The teacher's lab: its checks (all, hidden ones too) grade every pack. Else each pack's own. */
  labPath?: string;
  outDir: string;
  jobs?: number;
  checkJobs?: number;
  onProgress?(line: string): void;
}

export async function gradePackSubmissions(packs: { student: string; file: string }[], options: PackBatchOptions): Promise<{ rows: { student: string; report: CheckReport }[] }> {
  const progress = options.onProgress ?? (() => {});
  const teacher = options.labPath ? await selectChecks(options.labPath, options, options.env) : undefined;
  const jobs = Math.max(1, options.jobs ?? Math.min(availableParallelism(), defaultBatchJobs(256)));
  mkdirSync(options.outDir, { recursive: true });
  progress(`grading ${packs.length} pack(s)${teacher ? ` against ${teacher.labName}'s ${teacher.checks.length} checks` : ' with the checks of each pack\'s own lab'}, ${jobs} at a time`);
  const rows: { student: string; report: CheckReport }[] = new Array(packs.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < packs.length) {
      const index = next++;
      const { student, file } = packs[index]!;
      const startedAt = new Date();
      let report: CheckReport;
      try {
        report = await gradePack(file, {
          ...(options.env ? { env: options.env } : {}),
          ...(options.imageOverride ? { imageOverride: options.imageOverride } : {}),
          ...(options.bootTimeoutMs ? { bootTimeoutMs: options.bootTimeoutMs } : {}),
          ...(options.checkJobs ? { jobs: options.checkJobs } : {}),
          ...(teacher ? { checks: teacher.checks } : { checksFile: options.checksFile }),
          submission: student,
        });
      } catch (err) {
        const message = err instanceof UserError ? err.message : `internal error: ${(err as Error).message}`;
        const checks: Check[] = teacher?.checks ?? [];
        report = ungradedReport(teacher?.labName ?? student, checks, message, startedAt, student);
      }
      await writeFileAtomic(join(options.outDir, `${student}.json`), `${JSON.stringify(report, null, 2)}\n`);
      await writeFileAtomic(join(options.outDir, `${student}.txt`), formatTextReport(report));
      await writeFileAtomic(join(options.outDir, `${student}.junit.xml`), formatJunit(report));
      rows[index] = { student, report };
      done++;
      const failed = report.results.filter((r) => !r.passed).map((r) => r.id);
      progress(`[${done}/${packs.length} done] ${student}: ${report.score}/${report.maxScore} (${report.error ? `not graded: ${report.error}` : failed.length ? `failed ${failed.join(', ')}` : 'all checks passed'})`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, packs.length) }, worker));
  await writeFileAtomic(join(options.outDir, 'summary.csv'), formatSummaryCsv(rows));
  return { rows };
}
