// Everything `start` does before the supervisor takes over: read and validate the lab, compile it
// with this host's paths, build the lab-fs image and make sure the kernel and images exist.
// Shared by the CLI, the grader and the GUI service so they all start labs the same way.
import { basename, dirname, resolve } from 'node:path';
import type { Diagnostic } from '../../shared/diagnostics.ts';
import { formatDiagnostic, hasErrors } from '../../shared/diagnostics.ts';
import type { LabModel } from '../../shared/lab-model.ts';
import type { Plan } from '../../shared/plan.ts';
import { compile } from '../compiler/index.ts';
import { UserError } from '../errors.ts';
import { buildLabFs, type BuildLabFsOptions } from '../guest/labfs.ts';
import { ensureImage } from '../images/build.ts';
import { loadLab } from '../lab/index.ts';
import { hostPaths } from '../paths.ts';
import { compileOptionsFor } from './compile-options.ts';
import { makeGuestFifos } from './fifos.ts';
import { ourTmpfsFolder } from './host-tmpfs.ts';
import { checkStartSpace, isNoSpace, noSpaceError } from './disk-space.ts';
import { ensurePrivateDir } from './private-dir.ts';
import { ensureRunDir } from './run-dir.ts';
import { seedFromPack } from './snapshots/seed.ts';

export interface PrepareOptions {
  env?: NodeJS.ProcessEnv;
  /**
   * Boot every machine on this image instead of the one the lab names (e.g. `tiny` when the Debian
   * image is not built). Also read from VNETLAB_IMAGE_OVERRIDE.
   */
  imageOverride?: string;
  /** Build images that are missing or stale (default true). */
  buildImages?: boolean;
  onProgress?(message: string): void;
}

export interface PreparedLab {
  plan: Plan;
  model: LabModel;
  /** Warnings and infos from reading the lab (errors throw). */
  diagnostics: Diagnostic[];
}

/** Read + validate + compile: no side effects on the host. Errors in the lab throw a UserError (exit 2). */
export async function planLab(labPath: string, options: PrepareOptions = {}): Promise<PreparedLab> {
  const env = options.env ?? process.env;
  const { model, diagnostics } = await loadLab(labPath);
  if (!model || hasErrors(diagnostics)) {
    const errors = diagnostics.filter((d) => d.severity === 'error');
    throw new UserError(
      `the lab has ${errors.length} error${errors.length === 1 ? '' : 's'}:\n${diagnostics.map(formatDiagnostic).join('\n')}`,
      2,
      'fix the lab file, then run the command again (vnetlab validate shows the same messages)',
    );
  }
  const override = options.imageOverride ?? env.VNETLAB_IMAGE_OVERRIDE;
  const effective: LabModel = override ? { ...model, machines: model.machines.map((m) => ({ ...m, image: override })) } : model;
  const plan = compile(effective, compileOptionsFor(model, env));
  return { plan, model, diagnostics };
}

/** planLab, then the host side: run dir, lab-fs image, images. Ready for ensureSupervisor(plan). */
export async function prepareLab(labPath: string, options: PrepareOptions = {}): Promise<PreparedLab> {
  const prepared = await planLab(labPath, options);
  await prepareHost(prepared.plan, options);
  return prepared;
}

/**
 * The host side of a plan: run and state dirs, images (built when missing or stale), the lab-fs image.
 * `onReady` is called as soon as guests can boot, which may be before the returned promise settles.
 */
export async function prepareHost(plan: Plan, options: PrepareOptions & { onReady?(): void } = {}): Promise<void> {
  const env = options.env ?? process.env;
  const progress = options.onProgress ?? (() => {});
  const paths = hostPaths(env);
  ensureRunDir(plan.runDir, paths);
  ensureStateDir(plan.stateDir, paths.stateRoot);
  checkStartSpace(plan, env);
  // An unpacked hand-in pack: its first start boots from the packed state.
  seedFromPack(plan, env, progress);
  // The guests' exec channels, by one process while the images are checked and the lab-fs is built (in
  // the supervisor it was one more spawn on the way to the first boot). Should it fail, the supervisor
  // makes them, or its guest's start says why.
  const fifos = makeGuestFifos(plan.guests).catch(() => {});
  if (options.buildImages !== false) {
    for (const image of [...new Set(plan.guests.map((g) => g.image))].sort()) {
      progress(`checking image ${image}`);
      await ensureImage(image, { env, progress: (message) => progress(`image ${image}: ${message}`) });
    }
  }
  progress('building the lab-fs image');
  // `onReady`: guests may boot once their lab-fs image and FIFOs are in place, while the build tidies up.
  const onImageReady = options.onReady && (() => void fifos.then(options.onReady));
  await buildLabFs(plan.labFs, { ...labFsOptions(plan), onImageReady }).catch((err: unknown) => {
    throw isNoSpace(err) ? noSpaceError(dirname(plan.labFs.image)) : err;
  });
  await fifos;
}

/** `<stateRoot>/labs/<labId>`: each level private (the state root may be redirected to a shared place). */
function ensureStateDir(stateDir: string, stateRoot: string): void {
  if (resolve(stateDir) === resolve(stateRoot, 'labs', basename(stateDir))) {
    ensurePrivateDir(stateRoot);
    ensurePrivateDir(dirname(stateDir));
  }
  ensurePrivateDir(stateDir);
}

/** How every start, apply and restore builds a plan's lab-fs: kept in its state folder, staged on the tmpfs. */
export function labFsOptions(plan: Plan): BuildLabFsOptions {
  let stagingParent: string | undefined;
  try {
    stagingParent = ourTmpfsFolder();
  } catch {
    // Not ours alone (the guests' launch says so plainly): staged beside the image, as without a tmpfs.
  }
  return { labRoot: plan.lab.root, cacheDir: plan.stateDir, stagingParent };
}
