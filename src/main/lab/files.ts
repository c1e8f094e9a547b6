// The disk side of a lab's files: does each `source` exist, is it a file or a folder, does any
// symlink lead out of the lab folder, and do sizes stay within limits. Run by loadLab after parsing.
import type { Dirent } from 'node:fs';
import { join } from 'node:path';
import type { Diagnostic } from '../../shared/diagnostics.ts';
import type { FileEntry, LabModel, SourceRef } from '../../shared/lab-model.ts';
import { error, wholeFile } from './diag.ts';
import { labFs, type LabFileReads } from './lab-reads.ts';
import { cleanLabPath, isInside, labPathProblem } from './lab-paths.ts';
import { MAX_FILE_BYTES, MAX_LAB_BYTES } from './limits.ts';

const MiB = 1024 * 1024;

/**
 * Checks every lab path of the model against the disk and turns `file` entries whose source is a
 * folder into `dir` entries. Paths that escape lexically are left to validateLab (no disk access for them).
 */
export async function resolveLabFiles(model: LabModel, reads?: LabFileReads): Promise<Diagnostic[]> {
  const out: Diagnostic[] = [];
  const fs = labFs(reads);
  const root = await fs.realpath(model.root).catch(() => model.root);
  const leaving = await linksLeavingLab(fs, root, out);
  /** Links a file entry reports at its own line (more useful to the editor); the others are reported at the link. */
  const covered = new Set<string>();
  const cover = (labPath: string) => {
    const p = cleanLabPath(labPath);
    for (const l of leaving.keys()) if (p === l || p.startsWith(`${l}/`) || l.startsWith(`${p}/`)) covered.add(l);
  };
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
      cover(f.labPath);
      const found = await inspect(fs, root, f.labPath, f.source, `machine '${m.name}'`, out);
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
    // A shared folder linked out of the lab (Kathará `shared` → /root) is reported at the link, below.
    if (folder === undefined || labPathProblem(folder) || leaving.has(cleanLabPath(folder))) continue;
    cover(folder);
    const found = await inspect(fs, root, folder, labAt, `the ${what}`, out);
    if (found) total += found.bytes;
  }
  for (const [path, target] of leaving) {
    if (covered.has(path)) continue;
    out.push(error('path-escapes-lab', `'${path}' is a symlink that leads out of the lab folder (to ${target}); vnetlab start refuses it`, wholeFile(path), { hint: 'the whole lab folder goes into every guest: copy what it points to into the lab folder, or remove the link' }));
  }
  if (total > MAX_LAB_BYTES) {
    out.push(error('lab-too-large', `the files this lab places in guests add up to ${Math.round(total / MiB)} MiB; vnetlab allows at most ${MAX_LAB_BYTES / MiB} MiB`, labAt, { hint: 'leave large data out of the lab folder, or generate it inside the guest' }));
  }
  return out;
}

/** Entries looked at before the walk gives up (a lab is small; a home folder opened by mistake is not). */
const MAX_WALKED_ENTRIES = 200_000;

/**
 * Symlinks anywhere in the lab folder that lead out of it (lab path → where it leads). `start` places
 * the whole lab folder in every guest and refuses such a link, so validate must say so first (a
 * Kathará `shared` linked to /root, say). Unreadable folders are reported into `out`.
 */
async function linksLeavingLab(fs: LabFs, root: string, out: Diagnostic[]): Promise<Map<string, string>> {
  const leaving = new Map<string, string>();
  const queue: string[] = [''];
  let walked = 0;
  while (queue.length > 0 && walked < MAX_WALKED_ENTRIES) {
    const rel = queue.shift()!;
    let entries: Dirent[];
    try {
      entries = await fs.readdir(join(root, rel));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      out.push(error('file-unreadable', `cannot read the folder '${rel || '.'}' of the lab (${code}); vnetlab start would fail on it`, wholeFile(rel || '.'), { hint: 'make it readable (chmod u+rx), or move it out of the lab folder' }));
      continue;
    }
    for (const entry of entries) {
      walked++;
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) queue.push(path);
      else if (entry.isSymbolicLink()) {
        // A dangling link is left out of the guest; one inside the lab is walked where it points.
        const target = await fs.realpath(join(root, path)).catch(() => undefined);
        if (target === undefined || isInside(root, target)) continue;
        leaving.set(path, target);
      }
    }
  }
  return leaving;
}

type LabFs = ReturnType<typeof labFs>;

interface Found {
  isDir: boolean;
  bytes: number;
}

/** Checks one lab path (file or folder, recursively); reports problems into `out`. */
async function inspect(fs: LabFs, root: string, labPath: string, at: SourceRef, owner: string, out: Diagnostic[]): Promise<Found | undefined> {
  const absolute = join(root, labPath);
  let real: string;
  try {
    real = await fs.realpath(absolute);
  } catch {
    out.push(error('file-not-found', `${owner}: '${labPath}' does not exist in the lab folder`, at, { hint: 'check the spelling; paths are relative to the lab folder' }));
    return undefined;
  }
  if (!isInside(root, real)) {
    out.push(error('path-escapes-lab', `${owner}: '${labPath}' is a symlink that leads out of the lab folder (to ${real}); it is refused`, at, { hint: 'copy the file into the lab folder instead of linking to it' }));
    return undefined;
  }
  const info = await fs.stat(real);
  if (!info.isDirectory()) {
    if (info.size > MAX_FILE_BYTES) out.push(error('file-too-large', `${owner}: '${labPath}' is ${Math.round(info.size / MiB)} MiB; a file placed in a guest may be at most ${MAX_FILE_BYTES / MiB} MiB`, at));
    return { isDir: false, bytes: info.size };
  }
  return { isDir: true, bytes: await folderBytes(fs, root, real, labPath, at, owner, out) };
}

async function folderBytes(fs: LabFs, root: string, dir: string, labPath: string, at: SourceRef, owner: string, out: Diagnostic[]): Promise<number> {
  let bytes = 0;
  const entries = await fs.readdir(dir).catch((): Dirent[] => []);
  for (const entry of entries) {
    const full = join(dir, entry.name);
    const shown = `${labPath}/${entry.name}`;
    if (entry.isSymbolicLink()) {
      const target = await fs.realpath(full).catch(() => undefined);
      // A dangling link inside the lab is harmless (it is copied as a link); one pointing out is not.
      if (target !== undefined && !isInside(root, target)) {
        out.push(error('path-escapes-lab', `${owner}: '${shown}' is a symlink that leads out of the lab folder (to ${target}); it is refused`, at, { hint: 'copy the file into the lab folder instead of linking to it' }));
      }
      continue;
    }
    if (entry.isDirectory()) bytes += await folderBytes(fs, root, full, shown, at, owner, out);
    else if (entry.isFile()) {
      const size = (await fs.lstat(full)).size;
      if (size > MAX_FILE_BYTES) out.push(error('file-too-large', `${owner}: '${shown}' is ${Math.round(size / MiB)} MiB; a file placed in a guest may be at most ${MAX_FILE_BYTES / MiB} MiB`, at));
      bytes += size;
    }
  }
  return bytes;
}
