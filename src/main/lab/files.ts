// The disk side of a lab's files: does each `source` exist, is it a file or a folder, does any
// symlink lead out of the lab folder, and do sizes stay within limits. Run by loadLab after parsing.
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Diagnostic } from '../../shared/diagnostics.ts';
import type { FileEntry, LabModel, SourceRef } from '../../shared/lab-model.ts';
import { error } from './diag.ts';
import { isInside, labPathProblem } from './lab-paths.ts';
import { MAX_FILE_BYTES, MAX_LAB_BYTES } from './limits.ts';

const MiB = 1024 * 1024;

/**
 * Checks every lab path of the model against the disk and turns `file` entries whose source is a
 * folder into `dir` entries. Paths that escape lexically are left to validateLab (no disk access for them).
 */
export async function resolveLabFiles(model: LabModel): Promise<Diagnostic[]> {
  const out: Diagnostic[] = [];
  const root = await realpath(model.root).catch(() => model.root);
  let total = 0;
  for (const m of model.machines) {
    const resolved: FileEntry[] = [];
    for (const f of m.files) {
      if (f.kind === 'inline') {
        total += Buffer.byteLength(f.content);
        resolved.push(f);
        continue;
      }
      if (labPathProblem(f.labPath)) {
        resolved.push(f);
        continue;
      }
      const found = await inspect(root, f.labPath, f.source, `machine '${m.name}'`, out);
      if (!found) continue;
      total += found.bytes;
      if (found.isDir && f.kind === 'file') {
        resolved.push({ kind: 'dir', guestPath: f.guestPath, labPath: f.labPath, source: f.source });
      } else resolved.push(f);
    }
    m.files = resolved;
  }
  const labAt: SourceRef = { file: model.sourceFile, line: 1, column: 1 };
  for (const [what, folder] of [['shared folder', model.sharedFolder], ['test folder', model.testFolder]] as const) {
    if (folder === undefined || labPathProblem(folder)) continue;
    const found = await inspect(root, folder, labAt, `the ${what}`, out);
    if (found) total += found.bytes;
  }
  if (total > MAX_LAB_BYTES) {
    out.push(error('lab-too-large', `the files this lab places in guests add up to ${Math.round(total / MiB)} MiB; vnetlab allows at most ${MAX_LAB_BYTES / MiB} MiB`, labAt, { hint: 'leave large data out of the lab folder, or generate it inside the guest' }));
  }
  return out;
}

interface Found {
  isDir: boolean;
  bytes: number;
}

/** Checks one lab path (file or folder, recursively); reports problems into `out`. */
async function inspect(root: string, labPath: string, at: SourceRef, owner: string, out: Diagnostic[]): Promise<Found | undefined> {
  const absolute = join(root, labPath);
  let real: string;
  try {
    real = await realpath(absolute);
  } catch {
    out.push(error('file-not-found', `${owner}: '${labPath}' does not exist in the lab folder`, at, { hint: 'check the spelling; paths are relative to the lab folder' }));
    return undefined;
  }
  if (!isInside(root, real)) {
    out.push(error('path-escapes-lab', `${owner}: '${labPath}' is a symlink that leads out of the lab folder (to ${real}); it is refused`, at, { hint: 'copy the file into the lab folder instead of linking to it' }));
    return undefined;
  }
  const info = await stat(real);
  if (!info.isDirectory()) {
    if (info.size > MAX_FILE_BYTES) out.push(error('file-too-large', `${owner}: '${labPath}' is ${Math.round(info.size / MiB)} MiB; a file placed in a guest may be at most ${MAX_FILE_BYTES / MiB} MiB`, at));
    return { isDir: false, bytes: info.size };
  }
  return { isDir: true, bytes: await folderBytes(root, real, labPath, at, owner, out) };
}

async function folderBytes(root: string, dir: string, labPath: string, at: SourceRef, owner: string, out: Diagnostic[]): Promise<number> {
  let bytes = 0;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const full = join(dir, entry.name);
    const shown = `${labPath}/${entry.name}`;
    if (entry.isSymbolicLink()) {
      const target = await realpath(full).catch(() => undefined);
      // A dangling link inside the lab is harmless (it is copied as a link); one pointing out is not.
      if (target !== undefined && !isInside(root, target)) {
        out.push(error('path-escapes-lab', `${owner}: '${shown}' is a symlink that leads out of the lab folder (to ${target}); it is refused`, at, { hint: 'copy the file into the lab folder instead of linking to it' }));
      }
      continue;
    }
    if (entry.isDirectory()) bytes += await folderBytes(root, full, shown, at, owner, out);
    else if (entry.isFile()) {
      const size = (await lstat(full)).size;
      if (size > MAX_FILE_BYTES) out.push(error('file-too-large', `${owner}: '${shown}' is ${Math.round(size / MiB)} MiB; a file placed in a guest may be at most ${MAX_FILE_BYTES / MiB} MiB`, at));
      bytes += size;
    }
  }
  return bytes;
}
