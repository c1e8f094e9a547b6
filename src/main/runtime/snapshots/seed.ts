// The first start of an unpacked pack (runtime/snapshots/pack.ts): its disks go in place of the
// machines' (over this host's file of the same image build) and their network states are left to apply
// at boot, once: `<stateDir>/pack-seeded` holds the id of the pack the lab was seeded from.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Plan } from '../../../shared/plan.ts';
import { UserError } from '../../errors.ts';
import { copyDisk, rebaseCow } from '../../guest/cow-disk.ts';
import type { NetState } from '../../guest/netstate.ts';
import { hostPaths, PACK_DIR } from '../../paths.ts';
import { writePendingNet } from './live.ts';
import type { PackHeader } from './pack.ts';
import type { ImageIdentity } from './store.ts';

/** `<stateDir>/pack-seeded`: the id of the pack whose state the lab's disks were seeded from. */
function seededMarker(plan: Plan): string {
  return join(plan.stateDir, 'pack-seeded');
}

/**
 * When the lab folder is an unpacked pack and its disks were not seeded yet: put the pack's disks in
 * place (over this host's copy of the same image build) and leave their network states to apply at
 * boot. A machine that already has a disk keeps it (it is the student's work since).
 */
export function seedFromPack(plan: Plan, env: NodeJS.ProcessEnv = process.env, progress: (m: string) => void = () => {}): void {
  const packDir = join(plan.lab.root, PACK_DIR);
  const headerFile = join(packDir, 'pack.json');
  if (!existsSync(headerFile)) return;
  let header: PackHeader;
  try {
    header = JSON.parse(readFileSync(headerFile, 'utf8')) as PackHeader;
  } catch {
    return;
  }
  const marker = seededMarker(plan);
  if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === header.id) return;
  const imageDir = hostPaths(env).imageDir;
  const plans = new Map(plan.guests.map((g) => [g.name, g]));
  const todo = header.machines.filter((m) => plans.has(m.name));
  // Find every image first: refuse before any disk is put in place.
  const backing = new Map<string, { path: string; mtime: number; size: number }>();
  for (const m of todo) {
    if (!m.disk) continue;
    const guest = plans.get(m.name)!;
    const found = localImageFor(imageDir, guest.image, m.disk.imageIdentity);
    if (!found) {
      const id = m.disk.imageIdentity;
      throw new UserError(
        `the disk of ${m.name} in this pack belongs to the ${guest.image} image built ${id.builtAt ?? 'elsewhere'}${id.manifestHash ? ` (manifest ${id.manifestHash.slice(0, 12)})` : ''}, which this host does not have`,
        3,
        `import that image (vnetlab image import ${guest.image}.vnlimg, from whoever made the pack or the course), then start again`,
      );
    }
    backing.set(m.name, found);
  }
  for (const m of todo) {
    const guest = plans.get(m.name)!;
    if (existsSync(guest.cow)) {
      progress(`${m.name} already has a disk of its own; the pack's is not used`);
      continue;
    }
    const disk = join(packDir, 'disks', `${m.name}.cow`);
    if (m.disk && existsSync(disk)) {
      mkdirSync(dirname(guest.cow), { recursive: true, mode: 0o700 });
      const temp = `${guest.cow}.${process.pid}.seed`;
      copyDisk(disk, temp);
      const b = backing.get(m.name)!;
      rebaseCow(temp, b.path, b.mtime, b.size);
      renameSync(temp, guest.cow);
    }
    const netFile = join(packDir, 'net', `${m.name}.json`);
    if (existsSync(netFile)) writePendingNet(guest, JSON.parse(readFileSync(netFile, 'utf8')) as NetState);
  }
  mkdirSync(plan.stateDir, { recursive: true, mode: 0o700 });
  writeFileSync(marker, `${header.id}\n`, { mode: 0o600 });
}

/** This host's file of the image a packed disk was made over: the same file (mtime and size), or the same build (record). */
function localImageFor(imageDir: string, name: string, id: ImageIdentity): { path: string; mtime: number; size: number } | undefined {
  const candidates = [join(imageDir, `${name}.ext4`), ...safeList(imageDir).filter((f) => f.startsWith(`${name}@`) && f.endsWith('.ext4')).map((f) => join(imageDir, f))];
  let sameBuild: { path: string; mtime: number; size: number } | undefined;
  for (const path of candidates) {
    let st;
    try {
      st = statSync(path);
    } catch {
      continue;
    }
    const here = { path, mtime: Math.floor(st.mtimeMs / 1000), size: st.size };
    if (st.size !== id.sizeBytes) continue;
    if (here.mtime === id.mtime) return here;
    if (id.builtAt && id.manifestHash) {
      try {
        const record = JSON.parse(readFileSync(path.replace(/\.ext4$/, '.json'), 'utf8')) as { builtAt?: string; manifestHash?: string };
        if (record.builtAt === id.builtAt && record.manifestHash === id.manifestHash) sameBuild ??= here;
      } catch {
        // no record: not the same build as far as we can tell
      }
    }
  }
  return sameBuild;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
