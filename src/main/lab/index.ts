// Public API of the lab readers and writers: the GUI editor, the compiler, the grader and the CLI
// all load labs through loadLab and report the same diagnostics.
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Diagnostic } from '../../shared/diagnostics.ts';
import type { LabModel } from '../../shared/lab-model.ts';
import { error, sortDiagnostics, wholeFile } from './diag.ts';
import { resolveLabFiles } from './files.ts';
import { applySolution, renderLabFiles, solutionDiagnostics, type LabFileReads, type RenderedFile } from './lab-variant.ts';
import { parseLabYaml, type LabSolution, type ParsedVariant, type ParseResult } from './lab-yaml.ts';
import { readLabExt } from './lab-ext.ts';
import { legacyDiagnostics } from './legacy.ts';
import { placementDiagnostics } from './placement.ts';
import { MAX_LAB_FILE_BYTES } from './limits.ts';
import { readNetkitLab } from './netkit.ts';
import { validateLab } from './validate.ts';

export { parseLabYaml } from './lab-yaml.ts';
export { validateLab, validateChecks } from './validate.ts';
export { writeLabYaml, saveLabYaml } from './write-yaml.ts';
export { writeNetkitLab } from './write-netkit.ts';
export { loadChecksFile, parseChecksYaml, type ChecksFileResult } from './checks.ts';
export { relocateLab } from './relocate.ts';
export { checkClientModel, refuseUnsafeModel } from './client-model.ts';
export * as limits from './limits.ts';

export interface LoadResult {
  /** Undefined only when errors make the lab unusable (not YAML, no lab file); otherwise present even with errors. */
  model?: LabModel;
  diagnostics: Diagnostic[];
  /** A lab with `params:`: the variant the model is (seed, values), and the lab files rendered for it. */
  variant?: ParsedVariant & { renderedFiles: RenderedFile[] };
  /** True when the lab declares a solution (applied to the model only with `withSolution`). */
  hasSolution?: boolean;
}

export interface LoadOptions {
  /** Which variant of a lab with `params:` to load (default "0"). Labs without parameters ignore it. */
  seed?: string;
  /** Apply the lab's intended solution (`solution:`): its startup lines and files join the machines'. */
  withSolution?: boolean;
  /** What an earlier seed of the same lab read from its folder (renderVariants: one Map per batch, lab-reads.ts). */
  labFileReads?: LabFileReads;
}

/**
 * Loads a lab from a folder (lab.yaml, else lab.conf), a lab.yaml file or a lab.conf file.
 * Never throws for bad input: every problem is a diagnostic with file:line:col.
 */
export async function loadLab(path: string, options: LoadOptions = {}): Promise<LoadResult> {
  const absolute = resolve(path);
  const info = await stat(absolute).catch(() => undefined);
  if (!info) return fail(path, 'lab-not-found', `no lab here: '${path}' does not exist`, 'give the folder of a lab, its lab.yaml or its lab.conf');
  let root: string;
  let yamlFile: string | undefined;
  if (info.isDirectory()) {
    root = absolute;
    // Without this, a folder we may not list looks like one without a lab file.
    const unreadable = await readdir(root).then(() => undefined, (e: NodeJS.ErrnoException) => e.code ?? e.message);
    if (unreadable) return fail(path, 'file-unreadable', `cannot read the folder '${path}' (${unreadable})`, 'check its permissions (ls -ld); vnetlab needs to list it and enter it (chmod u+rx)');
    if (await isFile(join(root, 'lab.yaml'))) yamlFile = 'lab.yaml';
    else if (await isFile(join(root, 'lab.yml'))) yamlFile = 'lab.yml';
    else if (!(await isFile(join(root, 'lab.conf')))) {
      return fail(path, 'lab-not-found', `no lab here: '${path}' has neither a lab.yaml nor a lab.conf`, 'create one with `vnetlab convert`, or open the folder that contains it');
    }
  } else {
    root = dirname(absolute);
    const name = basename(absolute);
    if (name === 'lab.conf') yamlFile = undefined;
    else if (/\.ya?ml$/i.test(name)) yamlFile = name;
    else return fail(path, 'lab-not-found', `'${path}' is neither a lab.yaml nor a lab.conf`, 'give the folder of a lab, its lab.yaml or its lab.conf');
  }

  let result: Pick<ParseResult, 'model' | 'diagnostics' | 'variant' | 'solution'>;
  const parseOptions = options.seed !== undefined ? { seed: options.seed } : {};
  if (yamlFile) {
    const text = await readLabText(join(root, yamlFile), yamlFile);
    if (typeof text !== 'string') return { diagnostics: [text] };
    result = parseLabYaml(text, yamlFile, root, parseOptions);
  } else {
    result = await readNetkitLab(root, parseOptions);
  }
  const diagnostics = [...result.diagnostics];
  // Kathará's lab.ext (a Netkit folder has none): warned about, and the folder is Kathará's.
  const ext = !yamlFile && result.model ? await readLabExt(root, result.model) : undefined;
  if (ext) {
    diagnostics.push(...ext.diagnostics);
    result.model!.format = 'kathara';
  }
  let renderedFiles: RenderedFile[] = [];
  if (result.model) {
    diagnostics.push(...solutionDiagnostics(result.model, result.solution));
    if (options.withSolution) applySolution(result.model, result.solution, diagnostics);
    else if (result.solution) diagnostics.push(...(await solutionFileDiagnostics(result.model, result.solution)));
    diagnostics.push(...(await resolveLabFiles(result.model, options.labFileReads)));
    if (result.variant) renderedFiles = await renderLabFiles(result.model, result.variant.values, diagnostics, options.labFileReads);
    // A domain lab.ext bridges to the host has one machine on purpose: lab.ext's own warning says what
    // vnetlab offers instead, not this one's host_nat hint.
    const bridged = new Set((ext?.domains ?? []).map((d) => `domain:${d}`));
    diagnostics.push(...validateLab(result.model).filter((d) => !(d.code === 'single-ended-domain' && d.target && bridged.has(d.target))));
    diagnostics.push(...(await legacyDiagnostics(result.model)));
    diagnostics.push(...(await placementDiagnostics(result.model)));
  }
  const loaded: LoadResult = { model: result.model, diagnostics: sortDiagnostics(dedupe(dropRepeatedBySemantics(diagnostics))) };
  if (result.variant) loaded.variant = { ...result.variant, renderedFiles };
  if (result.solution) loaded.hasSolution = true;
  return loaded;
}

/** The solution's files exist and stay in the lab folder, even when it is not applied (validate says so). */
async function solutionFileDiagnostics(model: LabModel, solution: LabSolution): Promise<Diagnostic[]> {
  const machines = Object.entries(solution.machines).map(([name, part]) => ({ ...(model.machines.find((m) => m.name === name) ?? model.machines[0]!), name, files: part.files.filter((f) => f.kind !== 'inline') }));
  if (!machines.some((m) => m.files.length)) return [];
  const probe: LabModel = { ...model, machines, sharedFolder: undefined, testFolder: undefined };
  return resolveLabFiles(probe);
}

async function readLabText(path: string, shown: string): Promise<string | Diagnostic> {
  try {
    const info = await stat(path);
    if (info.size > MAX_LAB_FILE_BYTES) return error('file-too-large', `${shown} is larger than ${MAX_LAB_FILE_BYTES / 1024 / 1024} MiB`, wholeFile(shown));
    return await readFile(path, 'utf8');
  } catch (e) {
    return error('file-unreadable', `cannot read ${shown}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, wholeFile(shown));
  }
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isFile(), () => false);
}

function fail(file: string, code: string, message: string, hint: string): LoadResult {
  return { diagnostics: [error(code, message, wholeFile(file), { hint })] };
}

/** Semantic findings the schema already reported, at a more precise position, for the same machine. */
const SAME_AS_SCHEMA: Record<string, string> = { 'memory-out-of-range': 'out-of-range' };

function dropRepeatedBySemantics(list: Diagnostic[]): Diagnostic[] {
  const schemaFindings = new Set(list.filter((d) => d.target).map((d) => `${d.code}|${d.target}`));
  return list.filter((d) => !(SAME_AS_SCHEMA[d.code] && schemaFindings.has(`${SAME_AS_SCHEMA[d.code]}|${d.target}`)));
}

/** The same finding from two passes (e.g. a parse-time and a semantic check) is shown once. */
function dedupe(list: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return list.filter((d) => {
    const key = `${d.file}:${d.line}:${d.column}:${d.code}:${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
