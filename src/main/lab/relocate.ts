// Moving a lab's text to another folder (`vnetlab convert … -o elsewhere/lab.yaml`): the files it
// references come along at the same relative paths, so nothing the lab uses is lost.
import { cp, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { LabModel } from '../../shared/lab-model.ts';
import { labPathProblem } from './lab-paths.ts';

/** Copies every lab path the model references from its root into `newRoot`, and returns the model rooted there. */
export async function relocateLab(model: LabModel, newRoot: string): Promise<LabModel> {
  const target = resolve(newRoot);
  if (target === resolve(model.root)) return model;
  const paths = new Set<string>();
  for (const m of model.machines) for (const f of m.files) if (f.kind !== 'inline') paths.add(f.labPath);
  if (model.sharedFolder !== undefined) paths.add(model.sharedFolder);
  if (model.testFolder !== undefined) paths.add(model.testFolder);
  for (const p of paths) {
    if (labPathProblem(p)) continue;
    const destination = join(target, p);
    await mkdir(dirname(destination), { recursive: true });
    await cp(join(model.root, p), destination, { recursive: true, verbatimSymlinks: true, force: true, preserveTimestamps: true });
  }
  return { ...model, root: target };
}
