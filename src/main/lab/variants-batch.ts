// renderVariants: renderVariant for many seeds of one lab (a class's handouts, `vnetlab variant` with
// several seeds). The folders are the same, byte for byte, as one renderVariant per seed; what changes
// is the time. Each seed is still loaded whole (its values decide its addresses, its diagnostics and
// its rendered files), but a few seeds are in progress at once and everything is asynchronous, so the
// file system's work (reading the lab, creating a dozen files: the larger half of a render on a busy
// disk) overlaps the CPU work of another seed. The lab's template files are read once per batch (the
// lab folder is taken as it is when the batch starts), output parents are made once, and a staging
// folder that holds only what we wrote is not searched for links before each write.
import { lstat, mkdir, readdir, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { LabModel } from '../../shared/lab-model.ts';
import { UserError } from '../errors.ts';
import type { LabFileReads, RenderedFile } from './lab-variant.ts';
import { isInside, labPathProblem } from './lab-paths.ts';
import { describeValues } from './params.ts';
import { relocateLab } from './relocate.ts';
import { concreteModel, SEED_FILE, usableLab, type RenderedVariant, type RenderOptions } from './variants.ts';
import { writeLabYaml } from './write-yaml.ts';

/** Seeds in progress at once: enough to keep the disk busy while another seed renders (8 measured a little faster than 4 or 2 on 2 cores). */
const IN_FLIGHT = 8;

/**
 * Writes the variant of each seed into `outDirFor(seed)` (each new or empty), as renderVariant does,
 * and returns them in the order of `seeds`. Stops at the first error (of the earliest seed, if several
 * failed at once), which it throws once the seeds in progress are done; the folders written stay.
 */
export async function renderVariants(labPath: string, seeds: readonly (string | number)[], outDirFor: (seed: string, index: number) => string, options: RenderOptions = {}): Promise<RenderedVariant[]> {
  const targets = seeds.map((s, i) => resolve(outDirFor(String(s), i)));
  const seen = new Map<string, string>();
  targets.forEach((t, i) => {
    const other = seen.get(t);
    if (other !== undefined) throw new UserError(`seeds ${other} and ${String(seeds[i])} would both be written into ${t}`, 2, 'give each seed its own folder');
    seen.set(t, String(seeds[i]));
  });
  const made = new Set<string>();
  const reads: LabFileReads = new Map();
  const results: RenderedVariant[] = [];
  const failures: { index: number; error: unknown }[] = [];
  let next = 0;
  // A few seeds at a time: while one waits for the disk (reading the lab, writing its folder), another renders.
  const worker = async () => {
    while (next < seeds.length && failures.length === 0) {
      const i = next++;
      const seedText = String(seeds[i]);
      try {
        const loaded = await usableLab(labPath, { seed: seedText, labFileReads: reads, ...(options.withSolution ? { withSolution: true } : {}) });
        const { model: concrete, finish } = concreteModel(loaded, options);
        const model = await writeFolder(targets[i]!, seedText, concrete, finish, loaded.variant?.renderedFiles ?? [], made);
        results[i] = { seed: seedText, values: loaded.variant ? describeValues(loaded.variant.values) : {}, model, diagnostics: loaded.diagnostics };
      } catch (error) {
        failures.push({ index: i, error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, seeds.length) }, worker));
  // The first failing seed in the order given, whichever failed first in time.
  if (failures.length) throw failures.sort((a, b) => a.index - b.index)[0]!.error;
  return results;
}

/** renderVariant's writing half, asynchronous: staged next to the target, renamed into place whole. */
async function writeFolder(target: string, seedText: string, concrete: LabModel, finish: (m: LabModel) => LabModel, rendered: readonly RenderedFile[], made: Set<string>): Promise<LabModel> {
  let existing: string[] | undefined;
  try {
    existing = await readdir(target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (existing && existing.length > 0) throw new UserError(`${target} already exists and is not empty`, 2, 'give a new folder to write the variant into');
  await makeFolder(dirname(target), made);
  const staging = join(dirname(target), `.${basename(target)}.partial-${process.pid}-${Date.now().toString(36)}`);
  try {
    const moved = finish(await relocateLab(concrete, staging));
    await mkdir(staging, { recursive: true });
    const realStaging = await realpath(staging);
    // One write per path (a template placed in two machines renders twice, the same text): the last one wins, as in renderVariant.
    const byPath = new Map<string, RenderedFile>();
    for (const f of rendered) {
      byPath.delete(f.labPath);
      byPath.set(f.labPath, f);
    }
    // The staging folder holds only what this function made unless relocateLab copied lab files into
    // it: then a rendered file may land on a copied one (the raw template, or a link) or under a copied link.
    const copied = copiesFiles(concrete);
    const folders = new Set<string>([realStaging]);
    const writes: Promise<void>[] = [];
    for (const f of byPath.values()) {
      const dest = copied ? await destinationInside(realStaging, staging, f.labPath) : lexicallyInside(realStaging, f.labPath);
      if (!folders.has(dirname(dest))) {
        await mkdir(dirname(dest), { recursive: true });
        folders.add(dirname(dest));
      }
      // A copied folder may hold the raw template (or a link) here: replaced, never written through.
      writes.push(copied ? rm(dest, { force: true }).then(() => writeFile(dest, f.content, { mode: f.mode })) : writeFile(dest, f.content, { mode: f.mode }));
    }
    writes.push(writeFile(join(staging, 'lab.yaml'), writeLabYaml({ ...moved, root: target })));
    writes.push(writeFile(join(staging, SEED_FILE), `${seedText}\n`));
    await Promise.all(writes);
    if (existing) await rm(target, { recursive: true, force: true });
    await rename(staging, target);
    return { ...moved, root: target };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function makeFolder(path: string, made: Set<string>): Promise<void> {
  if (made.has(path)) return;
  await mkdir(path, { recursive: true });
  made.add(path);
}

/** Whether relocateLab copies anything for this model (the same test as its own). */
function copiesFiles(model: LabModel): boolean {
  return model.sharedFolder !== undefined || model.testFolder !== undefined || model.machines.some((m) => m.files.some((f) => f.kind !== 'inline'));
}

/** `rel` under a folder that holds no link: only the lexical rule can be broken. */
function lexicallyInside(realRoot: string, rel: string): string {
  const problem = labPathProblem(rel);
  if (problem) throw new UserError(`refusing to write the rendered lab file '${rel}': ${problem}`);
  return join(realRoot, rel);
}

/** variants.ts's destinationInsideSync with the staging folder's real path resolved once. */
async function destinationInside(realRoot: string, root: string, rel: string): Promise<string> {
  const problem = labPathProblem(rel);
  if (problem) throw new UserError(`refusing to write the rendered lab file '${rel}': ${problem}`);
  const target = join(realRoot, rel);
  let existing = target;
  while (existing !== realRoot && !(await lstat(existing).then(() => true, () => false))) existing = dirname(existing);
  const real = await realpath(existing).catch(() => undefined);
  if (real === undefined || !isInside(realRoot, real)) throw new UserError(`refusing to write the rendered lab file '${rel}': ${existing} is a symlink that leads out of ${root}`);
  return target;
}
