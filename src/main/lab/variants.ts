// Variants of a lab with `params:` — the stable API the CLI (`vnetlab variant`, `check --seed`,
// `--seed-from`, `--with-solution`) and the classroom use. A seed is any string; the same lab and seed
// always give the same values, on any machine (SHA-256-seeded generator, never Math.random).
//
//   drawParams(specs, seed)                  the values of a seed, from parameter specs
//   readParams(labPath)                      a lab's parameter specs (empty when it has none)
//   variantValues(labPath, seed)             the values of a seed as text, for a dashboard or --show
//   renderVariant(labPath, seed, outDir, …)  writes the concrete lab: a plain lab.yaml folder, checks
//                                            included, no params, no solution (unless asked), plus .vnetlab-seed
//   renderVariants(labPath, seeds, outDirFor, …)  the same for many seeds, faster (variants-batch.ts)
//   seedFor(secret, studentId, labId)        a classroom student's seed: HMAC, not guessable without the secret
//   readSeedFile(dir)                        the seed a rendered folder (or a submission) carries
import { createHmac } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { formatDiagnostic, hasErrors, type Diagnostic } from '../../shared/diagnostics.ts';
import type { FileEntry, LabModel } from '../../shared/lab-model.ts';
import { UserError } from '../errors.ts';
import { loadLab, type LoadOptions, type LoadResult } from './index.ts';
import { relocateLab } from './relocate.ts';
import { isInside, labPathProblem } from './lab-paths.ts';
import { describeValues, drawValues, type ParamSpec, type ParamValues } from './params.ts';
import { writeLabYaml } from './write-yaml.ts';

export { renderVariants } from './variants-batch.ts';
export { SubnetValue, describeValues, type ParamSpec, type ParamValue, type ParamValues } from './params.ts';

/** The file `renderVariant` writes into a variant folder: the seed, one line. */
export const SEED_FILE = '.vnetlab-seed';
/** The seed a lab with parameters opens with when none is given (the desktop app, `start`, `check`). */
export const DEFAULT_SEED = '0';

/** The values parameters take for a seed (subnets as SubnetValue, which prints as its CIDR). Throws on an impossible draw. */
export function drawParams(specs: readonly ParamSpec[], seed: string | number): ParamValues {
  return drawValues(specs, String(seed));
}

/** A lab's parameter specs, in declaration order (empty for a lab without params). */
export async function readParams(labPath: string): Promise<{ specs: ParamSpec[]; diagnostics: Diagnostic[] }> {
  const loaded = await loadLab(labPath);
  return { specs: loaded.variant?.specs ?? [], diagnostics: loaded.diagnostics };
}

/** The values of a seed as text by parameter name (`{lan_a: "10.23.4.0/24", asn: "64901"}`); empty for a lab without params. */
export async function variantValues(labPath: string, seed: string | number): Promise<Record<string, string>> {
  const loaded = await usableLab(labPath, { seed: String(seed) });
  return loaded.variant ? describeValues(loaded.variant.values) : {};
}

/** The seed of a classroom student for a lab: HMAC-SHA256 of the lab and student ids under the class's secret (16 hex digits). */
export function seedFor(secret: string, studentId: string, labId: string): string {
  if (!secret) throw new Error('seedFor needs a non-empty secret');
  return createHmac('sha256', secret).update(`vnetlab-seed\0${labId}\0${studentId}`).digest('hex').slice(0, 16);
}

/** The seed in a folder's .vnetlab-seed, if it has one (first line, trimmed). */
export async function readSeedFile(dir: string): Promise<string | undefined> {
  const text = await readFile(join(dir, SEED_FILE), 'utf8').catch(() => undefined);
  const seed = text?.split('\n')[0]?.trim();
  return seed ? seed : undefined;
}

export interface RenderOptions {
  /** Apply the lab's intended solution (grading only: never for what a student receives). */
  withSolution?: boolean;
  /** Leave out what only graders need: hidden checks and Netkit's _test folder. */
  forStudent?: boolean;
}

export interface RenderedVariant {
  seed: string;
  /** Parameter values as text (empty for a lab without params). */
  values: Record<string, string>;
  /** The concrete lab, rooted at the output folder. */
  model: LabModel;
  /** Warnings and infos from reading the lab. */
  diagnostics: Diagnostic[];
}

/**
 * Writes the variant `seed` of the lab at `labPath` into `outDir` (which must not exist, or be empty):
 * a plain lab.yaml — every template rendered, no `params:`, no `solution:` (unless withSolution) — the
 * lab files it uses, rendered, and `.vnetlab-seed`. Netkit/Kathará folders come out as lab.yaml too.
 * The folder appears whole or not at all. Lab errors throw a UserError listing them as file:line:col.
 */
export async function renderVariant(labPath: string, seed: string | number, outDir: string, options: RenderOptions = {}): Promise<RenderedVariant> {
  const seedText = String(seed);
  const loaded = await usableLab(labPath, { seed: seedText, ...(options.withSolution ? { withSolution: true } : {}) });
  const target = resolve(outDir);
  let existing: string[] | undefined;
  try {
    existing = readdirSync(target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (existing && existing.length > 0) throw new UserError(`${outDir} already exists and is not empty`, 2, 'give a new folder to write the variant into');
  mkdirSync(dirname(target), { recursive: true });
  const staging = join(dirname(target), `.${basename(target)}.partial-${process.pid}-${Date.now().toString(36)}`);
  try {
    // Copy what the lab uses, except the files rendered for this variant (written below, never copied raw).
    const { model: concrete, finish } = concreteModel(loaded, options);
    const moved = finish(await relocateLab(concrete, staging));
    mkdirSync(staging, { recursive: true });
    for (const f of loaded.variant?.renderedFiles ?? []) {
      const dest = destinationInsideSync(staging, f.labPath);
      mkdirSync(dirname(dest), { recursive: true });
      rmSync(dest, { force: true });
      writeFileSync(dest, f.content, { mode: f.mode });
    }
    writeFileSync(join(staging, 'lab.yaml'), writeLabYaml({ ...moved, root: target }));
    writeFileSync(join(staging, SEED_FILE), `${seedText}\n`);
    if (existing) rmSync(target, { recursive: true, force: true });
    renameSync(staging, target);
    return { seed: seedText, values: loaded.variant ? describeValues(loaded.variant.values) : {}, model: { ...moved, root: target }, diagnostics: loaded.diagnostics };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * The loaded model as a plain lab (no variant mark, lab.yaml format). Rendered files stay inline for
 * relocateLab (so it does not copy their templates); `finish` then puts them back as lab files at their
 * paths (a folder's rendered file is simply part of the folder again).
 */
export function concreteModel(loaded: LoadResult & { model: LabModel }, options: RenderOptions): { model: LabModel; finish(model: LabModel): LabModel } {
  const inFolder = new Set<FileEntry>();
  const asFile = new Map<FileEntry, FileEntry>();
  for (const f of loaded.variant?.renderedFiles ?? []) {
    if (f.inFolder) inFolder.add(f.entry);
    else asFile.set(f.entry, { kind: 'file', guestPath: f.entry.guestPath, labPath: f.labPath, ...(f.declaredMode !== undefined ? { mode: f.declaredMode } : {}), source: f.entry.source });
  }
  const model: LabModel = {
    ...loaded.model,
    format: 'vnetlab',
    sourceFile: 'lab.yaml',
    machines: loaded.model.machines.map((m) => ({ ...m, files: m.files.filter((f) => !inFolder.has(f)) })),
  };
  delete model.variant;
  if (options.forStudent) {
    model.checks = model.checks.filter((c) => !c.hidden);
    delete model.testFolder;
  }
  const finish = (moved: LabModel): LabModel => ({ ...moved, machines: moved.machines.map((m) => ({ ...m, files: m.files.map((f) => asFile.get(f) ?? f) })) });
  return { model, finish };
}

export async function usableLab(labPath: string, options: LoadOptions & { seed: string }): Promise<LoadResult & { model: LabModel }> {
  const loaded = await loadLab(labPath, options);
  if (!loaded.model || hasErrors(loaded.diagnostics)) {
    const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
    throw new UserError(`the lab has ${errors.length} error${errors.length === 1 ? '' : 's'}${options.seed !== DEFAULT_SEED ? ` (seed ${options.seed})` : ''}:\n${errors.map(formatDiagnostic).join('\n')}`, 2, 'fix the lab file, then run the command again (vnetlab validate shows the same messages)');
  }
  return loaded as LoadResult & { model: LabModel };
}

/** safe-paths.ts's destinationInside, synchronously (a variant writes a dozen small files; each async hop costs more than the write). */
function destinationInsideSync(root: string, rel: string): string {
  const realRoot = realpathSync(root);
  const problem = labPathProblem(rel);
  if (problem) throw new UserError(`refusing to write the rendered lab file '${rel}': ${problem}`);
  const target = join(realRoot, rel);
  let existing = target;
  const exists = (p: string) => {
    try {
      lstatSync(p);
      return true;
    } catch {
      return false;
    }
  };
  while (existing !== realRoot && !exists(existing)) existing = dirname(existing);
  let real: string | undefined;
  try {
    real = realpathSync(existing);
  } catch {
    real = undefined;
  }
  if (real === undefined || !isInside(realRoot, real)) throw new UserError(`refusing to write the rendered lab file '${rel}': ${existing} is a symlink that leads out of ${root}`);
  return target;
}
