// Which lab a path or id means to the runtime, and reaching its supervisor: shared by the CLI's
// commands, the grader and `stopLab`. (How the CLI reads `[LAB] [MACHINE…]` is cli/lab-args.ts.)
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UserError } from '../errors.ts';
import { hostPaths, labIdFor } from '../paths.ts';
import { connectRunDir, type SupervisorClient } from './client.ts';
import { findRunDir } from './run-dir.ts';

/** The folder a lab path names (a lab.yaml/lab.conf file stands for its folder). */
export function labFolder(labPath: string): string {
  return existsSync(labPath) && statSync(labPath).isFile() ? dirname(labPath) : labPath;
}

/** The run dir of a lab that runs or ran (by folder, lab file or running lab's id); undefined when there is none. */
export function runDirOf(labPath: string, env: NodeJS.ProcessEnv): string | undefined {
  return findRunDir(labFolder(labPath), hostPaths(env));
}

/** The run dir a lab would use, even before its first start wrote a plan there (read from its files). */
export async function plannedRunDirOf(labPath: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  // Loaded here only: the lab reader (YAML, Netkit) is most of what `vnetlab status` would load, and it needs none of it.
  const { loadLab } = await import('../lab/index.ts');
  const { model } = await loadLab(labFolder(labPath)).catch(() => ({ model: undefined }));
  return model ? join(hostPaths(env).runtimeRoot, labIdFor(model.root, model.meta.name)) : undefined;
}

/** Connect to a running lab, or explain that it is not running. */
export async function requireSupervisor(labPath: string, env: NodeJS.ProcessEnv): Promise<SupervisorClient> {
  const runDir = runDirOf(labPath, env);
  const client = runDir ? await connectRunDir(runDir) : undefined;
  if (!client) {
    throw new UserError(`the lab in ${labFolder(labPath)} is not running`, 1, runDir ? `start it with: vnetlab start, or remove leftovers with: vnetlab clean` : 'start it with: vnetlab start');
  }
  return client;
}
