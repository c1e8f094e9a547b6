// Moving a lab's text to another folder (`vnetlab convert … -o elsewhere/lab.yaml`): the files it
// references come along at the same relative paths, so nothing the lab uses is lost.
import { cp, mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { LabModel } from '../../shared/lab-model.ts';
import { destinationInside, makeOwnerWritable, sourceInside } from './safe-paths.ts';

/** Copies every lab path the model references from its root into `newRoot`, and returns the model rooted there. */
export async function relocateLab(model: LabModel, newRoot: string): Promise<LabModel> {
  const target = resolve(newRoot);
  if (target === resolve(model.root)) return model;
  const paths = new Set<string>();
  for (const m of model.machines) for (const f of m.files) if (f.kind !== 'inline') paths.add(f.labPath);
  if (model.sharedFolder !== undefined) paths.add(model.sharedFolder);
  if (model.testFolder !== undefined) paths.add(model.testFolder);
  for (const p of paths) {
    // The model may come from a client: what is copied must really be in its lab folder, and land in the new one.
    const from = await sourceInside(model.root, p, 'lab file');
    await mkdir(target, { recursive: true });
    const destination = await destinationInside(target, p, 'lab file');
    await mkdir(dirname(destination), { recursive: true });
    await cp(from, destination, { recursive: true, verbatimSymlinks: true, force: true, preserveTimestamps: true });
    await makeOwnerWritable(destination);
  }
  return { ...model, root: target };
}
