// Finding processes a test started, from /proc: the way to look at one, never to kill by name.
import { readFileSync, readlinkSync } from 'node:fs';

/** This process's children that run `program` now (their /proc/PID/exe). */
export function childrenRunning(program: string): number[] {
  const children = readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  return children.filter((pid) => {
    try {
      return readlinkSync(`/proc/${pid}/exe`) === program;
    } catch {
      return false; // gone meanwhile
    }
  });
}
