// Lab files a guest could not place (kernels/guest/agent/vnetlab-agent.c, place_tree): on the first boot of
// its disk the agent lists them in /run/vnetlab/unplaced as `<source in the lab-fs>\t<guest path>\t<why>`
// lines. `vnetlab start` reads that list and says, per file, which lab file it was and why.
import { posix, relative } from 'node:path';
import type { GuestPlan, Plan } from '../../shared/plan.ts';
import { LABFS_MOUNT } from './labfs.ts';

export const UNPLACED_FILE = '/run/vnetlab/unplaced';

export interface UnplacedFile {
  machine: string;
  /** The lab file, relative to the lab folder when it is one (else its path in the lab-fs). */
  file: string;
  /** Where it was to go in the guest. */
  guestPath: string;
  why: string;
}

/** The machine's folder name in the lab-fs (`vnl_name=` of its command line). */
function labFsName(guest: GuestPlan): string {
  return guest.boot.name;
}

/** Whether the guest has files to place at all (a machine folder, `files:` entries, Netkit's shared/ onto /). */
export function placesFiles(plan: Plan, guest: GuestPlan): boolean {
  const base = `/machines/${labFsName(guest)}/`;
  return plan.labFs.entries.some((e) => e.dest.startsWith(`${base}root`) || e.dest === `${base}shared-onto-root`);
}

/** The lines of an unplaced list, each traced back to the lab file it came from. */
export function parseUnplaced(plan: Plan, guest: GuestPlan, text: string): UnplacedFile[] {
  const out: UnplacedFile[] = [];
  for (const line of text.split('\n')) {
    const [source, guestPath, why] = line.split('\t');
    if (!source || !guestPath || why === undefined) continue;
    out.push({ machine: guest.name, file: labFileOf(plan, source), guestPath, why });
  }
  return out;
}

/** A path of the mounted lab-fs → the lab file it was copied from (relative to the lab folder), when the plan says. */
export function labFileOf(plan: Plan, source: string): string {
  if (!source.startsWith(`${LABFS_MOUNT}/`)) return source;
  const inImage = source.slice(LABFS_MOUNT.length);
  let best: { dest: string; from: string } | undefined;
  for (const e of plan.labFs.entries) {
    if (!('from' in e)) continue;
    if ((inImage === e.dest || inImage.startsWith(`${e.dest}/`)) && (!best || e.dest.length > best.dest.length)) best = { dest: e.dest, from: e.from };
  }
  if (!best) return source;
  const host = posix.join(best.from, inImage.slice(best.dest.length));
  const rel = relative(plan.lab.root, host);
  return rel && !rel.startsWith('..') ? rel : host;
}
