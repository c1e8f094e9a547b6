// What loadLab reads from a lab folder, kept across the seeds of one batch (renderVariants): every
// seed of a lab resolves, lists and reads the same paths, so each answer (or error) is asked for once.
// The lab folder is taken as it is when the batch first reads it.
import type { Dirent, Stats } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';

/** One Map per batch; undefined (a single load) reads the disk every time. */
export type LabFileReads = Map<string, Promise<unknown>>;

export function once<T>(reads: LabFileReads | undefined, key: string, read: () => Promise<T>): Promise<T> {
  if (!reads) return read();
  let p = reads.get(key) as Promise<T> | undefined;
  if (!p) reads.set(key, (p = read()));
  return p;
}

/** node:fs/promises' calls the lab checks use, answered once per path in a batch. */
export function labFs(reads: LabFileReads | undefined) {
  return {
    realpath: (path: string): Promise<string> => once(reads, `realpath\0${path}`, () => realpath(path)),
    stat: (path: string): Promise<Stats> => once(reads, `stat\0${path}`, () => stat(path)),
    lstat: (path: string): Promise<Stats> => once(reads, `lstat\0${path}`, () => lstat(path)),
    readdir: (path: string): Promise<Dirent[]> => once(reads, `readdir\0${path}`, () => readdir(path, { withFileTypes: true })),
  };
}
