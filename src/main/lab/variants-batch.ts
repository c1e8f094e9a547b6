// renderVariants: renderVariant for many seeds of one lab (a class's handouts, `vnetlab variant` with
// several seeds). The folders are the same, byte for byte, as one renderVariant per seed; what changes
// is the time. Each seed is still loaded whole (its values decide its addresses, its diagnostics and
// its rendered files), but a variant's folder is written asynchronously while the next seeds are
// drawn and rendered, a few folders in flight, so file creation (the larger half of a render on a
// busy disk) overlaps the CPU work; folders made once per batch are not made again.
import { lstat, mkdir, readdir, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { LabModel } from '../../shared/lab-model.ts';
import { UserError } from '../errors.ts';
import type { RenderedFile } from './lab-variant.ts';
import { isInside, labPathProblem } from './lab-paths.ts';
import { describeValues } from './params.ts';
import { relocateLab } from './relocate.ts';
import { concreteModel, SEED_FILE, usableLab, type RenderedVariant, type RenderOptions } from './variants.ts';
import { writeLabYaml } from './write-yaml.ts';

/** Folders written at the same time: enough to keep the disk busy while the next seed renders. */
const IN_FLIGHT = 4;

/**
 * Writes the variant of each seed into `outDirFor(seed)` (each new or empty), as renderVariant does,
 * and returns them in the order of `seeds`. Stops at the first error, which it throws once the folders
 * being written are done (those written before stay, as with a loop of renderVariant).
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
  const results: RenderedVariant[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  for (let i = 0; i < seeds.length && !failure; i++) {
    const seedText = String(seeds[i]);
    let loaded;
    try {
      loaded = await usableLab(labPath, { seed: seedText, ...(options.withSolution ? { withSolution: true } : {}) });
    } catch (e) {
      failure ??= { error: e };
      break;
    }
    const target = targets[i]!;
    const { model: concrete, finish } = concreteModel(loaded, options);
    const rendered = loaded.variant?.renderedFiles ?? [];
    const values = loaded.variant ? describeValues(loaded.variant.values) : {};
    const diagnostics = loaded.diagnostics;
    const job = writeFolder(target, seedText, concrete, finish, rendered, made).then(
      (model) => void (results[i] = { seed: seedText, values, model, diagnostics }),
      (e: unknown) => void (failure ??= { error: e }),
    );
    inFlight.add(job);
    void job.finally(() => inFlight.delete(job));
    if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (failure) throw failure.error;
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
    const folders = new Set<string>([realStaging]);
    const writes: Promise<void>[] = [];
    for (const f of byPath.values()) {
      const dest = await destinationInside(realStaging, staging, f.labPath);
      if (!folders.has(dirname(dest))) {
        await mkdir(dirname(dest), { recursive: true });
        folders.add(dirname(dest));
      }
      // A copied folder may hold the raw template (or a link) here: replaced, never written through.
      writes.push(rm(dest, { force: true }).then(() => writeFile(dest, f.content, { mode: f.mode })));
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
