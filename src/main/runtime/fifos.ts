// FIFOs (named pipes): a guest's exec channel, and the stdin daemons share. Node has no mkfifo, so a
// batch is made by one `mkfifo` process: one per FIFO cost ~10 ms each at a start.
import { execFile, execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import type { GuestPlan } from '../../shared/plan.ts';

const execFileAsync = promisify(execFile);

/** Fresh FIFOs, made by one `mkfifo`. */
export function makeFifos(paths: string[]): void {
  execFileSync('mkfifo', mkfifoArgs(paths));
}

/** The same without blocking the event loop. */
export async function makeFifosAsync(paths: string[]): Promise<void> {
  await execFileAsync('mkfifo', mkfifoArgs(paths));
}

/** Clears the way for new FIFOs (a dead run's leftovers go, folders are made) and returns mkfifo's argv. */
function mkfifoArgs(paths: string[]): string[] {
  for (const path of paths) {
    rmSync(path, { force: true });
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  }
  return ['-m', '0600', ...paths];
}

export function isFifo(path: string): boolean {
  return lstatSync(path, { throwIfNoEntry: false })?.isFIFO() ?? false;
}

/**
 * The guests' exec channel FIFOs that are missing, made by one process. A FIFO already there is used as
 * it is: it holds no bytes once nobody has it open, and a dead run's guests are ended before a start.
 */
export async function makeGuestFifos(plans: GuestPlan[]): Promise<void> {
  const missing = plans.flatMap((p) => [p.execChannel.toGuest, p.execChannel.fromGuest]).filter((path) => !isFifo(path));
  if (missing.length) await makeFifosAsync(missing);
}
