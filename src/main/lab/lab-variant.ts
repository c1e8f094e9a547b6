// Disk-side steps of loading a variant (loadLab calls them): render the lab files a params lab places
// in machines (a `source:` file, a Netkit machine folder), and apply a lab's intended solution.
import type { Dirent } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Diagnostic } from '../../shared/diagnostics.ts';
import type { FileEntry, LabModel } from '../../shared/lab-model.ts';
import { error } from './diag.ts';
import { isInside } from './lab-paths.ts';
import type { LabSolution } from './lab-yaml.ts';
import { MAX_FILE_BYTES } from './limits.ts';
import { once, type LabFileReads } from './lab-reads.ts';
import { isTemplate, type ParamValues } from './params.ts';
import { renderFileText } from './template-data.ts';

/** A lab file rendered for a variant: placed in the guest as `entry` (inline), and written at `labPath` by renderVariant. */
export interface RenderedFile {
  labPath: string;
  content: string;
  mode: number;
  /** The inline entry that now carries it in the model. */
  entry: FileEntry & { kind: 'inline' };
  /** True when it lies in a folder entry (the entry stays; this one overrides one file of it). */
  inFolder: boolean;
  /** The `mode:` the lab gave the file entry, if any. */
  declaredMode?: number;
}

export type { LabFileReads } from './lab-reads.ts';

const MAX_RENDERED_FILES = 10_000;

/**
 * Renders the text files a machine receives from the lab folder that hold template syntax. A `file`
 * entry becomes an inline entry with the rendered text (same mode); a file inside a `dir` entry gets an
 * inline entry after the folder's, which overrides it in the guest. Binary files are left alone.
 */
export async function renderLabFiles(model: LabModel, values: ParamValues, diagnostics: Diagnostic[], reads?: LabFileReads): Promise<RenderedFile[]> {
  const root = await once(reads, `root\0${model.root}`, () => realpath(model.root).catch(() => model.root));
  const rendered: RenderedFile[] = [];
  const templateAt = (absolute: string) =>
    once(reads, `template\0${absolute}`, async (): Promise<{ text: string; mode: number } | undefined> => {
      const info = await stat(absolute).catch(() => undefined);
      if (!info?.isFile() || info.size > MAX_FILE_BYTES) return undefined;
      const bytes = await readFile(absolute).catch(() => undefined);
      if (!bytes || bytes.includes(0)) return undefined;
      const text = bytes.toString('utf8');
      return isTemplate(text) ? { text, mode: info.mode & 0o7777 } : undefined;
    });
  const renderOne = async (labPath: string, absolute: string): Promise<{ content: string; mode: number } | undefined> => {
    const template = await templateAt(absolute);
    if (!template) return undefined;
    const content = renderFileText(template.text, values, labPath, diagnostics);
    return content === undefined ? undefined : { content, mode: template.mode };
  };
  for (const m of model.machines) {
    const files: FileEntry[] = [];
    for (const f of m.files) {
      files.push(f);
      if (f.kind === 'inline' || rendered.length >= MAX_RENDERED_FILES) continue;
      const absolute = await once(reads, `real\0${root}\0${f.labPath}`, () => realpath(join(root, f.labPath)).catch(() => undefined));
      if (!absolute || !isInside(root, absolute)) continue;
      if (f.kind === 'file') {
        const out = await renderOne(f.labPath, absolute);
        if (!out) continue;
        const entry: FileEntry & { kind: 'inline' } = { kind: 'inline', guestPath: f.guestPath, content: out.content, mode: f.mode ?? out.mode, source: f.source };
        files[files.length - 1] = entry;
        const done: RenderedFile = { labPath: f.labPath, content: out.content, mode: out.mode, entry, inFolder: false };
        if (f.mode !== undefined) done.declaredMode = f.mode;
        rendered.push(done);
        continue;
      }
      for (const rel of await once(reads, `under\0${absolute}`, () => filesUnder(absolute, root))) {
        const labPath = posix.join(f.labPath, rel);
        const out = await renderOne(labPath, join(absolute, rel));
        if (!out) continue;
        const entry: FileEntry & { kind: 'inline' } = { kind: 'inline', guestPath: posix.join(f.guestPath, rel), content: out.content, mode: out.mode, source: f.source };
        files.push(entry);
        rendered.push({ labPath, content: out.content, mode: out.mode, entry, inFolder: true });
      }
    }
    m.files = files;
  }
  return rendered;
}

/** Regular files under a folder (relative, sorted), without following links out of the lab. */
async function filesUnder(dir: string, root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    let entries: Dirent[];
    try {
      entries = await readdir(join(dir, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path);
      else if (e.isFile()) out.push(path);
      else if (e.isSymbolicLink()) {
        const target = await realpath(join(dir, path)).catch(() => undefined);
        if (target && isInside(root, target) && (await stat(target)).isFile()) out.push(path);
      }
      if (out.length >= MAX_RENDERED_FILES) return;
    }
  };
  await walk('');
  return out;
}

/** Puts the intended solution into the model: each machine's solution startup runs after its own startup, its files are placed after its own. */
export function applySolution(model: LabModel, solution: LabSolution | undefined, diagnostics: Diagnostic[]): void {
  if (!solution) {
    diagnostics.push(error('no-solution', 'this lab has no solution: section to apply', { file: model.sourceFile === 'lab.conf' ? 'vnetlab.yaml' : model.sourceFile, line: 0, column: 0 }, { hint: 'add solution: {machines: {NAME: {startup: …, files: […]}}} (docs/lab-format.md, "Solutions")' }));
    return;
  }
  for (const [name, part] of Object.entries(solution.machines)) {
    const machine = model.machines.find((m) => m.name === name);
    if (!machine) continue; // reported by solutionDiagnostics
    if (part.startup) {
      const own = machine.startup?.text ?? '';
      const joined = own === '' ? part.startup.text : `${own.replace(/\r?\n?$/, '\n')}${part.startup.text}`;
      machine.startup = { text: joined, source: machine.startup?.source ?? part.startup.source };
    }
    machine.files = [...machine.files, ...part.files];
  }
}

/** Problems of a solution that do not depend on applying it: machines that are not in the lab. */
export function solutionDiagnostics(model: LabModel, solution: LabSolution | undefined): Diagnostic[] {
  if (!solution) return [];
  const names = new Set(model.machines.map((m) => m.name));
  return Object.entries(solution.machines)
    .filter(([name]) => !names.has(name))
    .map(([name, part]) => error('unknown-machine', `the solution names machine '${name}', which is not a machine of this lab`, part.source));
}
