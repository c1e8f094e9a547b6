// What a saved state records about the lab it was taken of, to tell later whether it still fits:
// the lab files' hash, the topology (machines, images, interfaces) and each disk's backing image.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Plan } from '../../../shared/plan.ts';
import { PACK_DIR } from '../../paths.ts';
import { readCowLayout } from '../../guest/cow-disk.ts';
import { backingImageFor } from '../../images/backing.ts';
import type { ImageRecord } from '../../images/build.ts';
import type { ImageIdentity, TopologyMachine } from './store.ts';
/** sha256 of the lab folder's files (paths, modes, contents; link targets), without an unpacked pack's folder. */
export function labFilesHash(root: string): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const rel = relative(root, path);
      if (rel === PACK_DIR) continue;
      const st = lstatSync(path);
      if (st.isSymbolicLink()) hash.update(`L ${rel} ${readlinkSync(path)}\n`);
      else if (st.isDirectory()) {
        hash.update(`D ${rel}\n`);
        walk(path);
      } else if (st.isFile()) {
        hash.update(`F ${rel} ${st.size}\n`);
        hash.update(readFileSync(path));
      }
    }
  };
  walk(root);
  return hash.digest('hex');
}

export function topologyOf(plan: Plan): Record<string, TopologyMachine> {
  return Object.fromEntries(plan.guests.map((g) => [g.name, { image: g.image, interfaces: g.interfaces.map((i) => `${i.name} ${i.domain}${i.addresses.length ? ` ${i.addresses.join(' ')}` : ''}`) }]));
}

/** What changed between a saved topology and the lab's now, in words. */
export function topologyDifferences(saved: Record<string, TopologyMachine>, now: Record<string, TopologyMachine>): string[] {
  const out: string[] = [];
  for (const [name, was] of Object.entries(saved)) {
    const is = now[name];
    if (!is) {
      out.push(`machine ${name} is no longer in the lab`);
      continue;
    }
    if (is.image !== was.image) out.push(`${name} now runs image ${is.image} (it was ${was.image})`);
    const before = new Set(was.interfaces);
    const after = new Set(is.interfaces);
    for (const i of was.interfaces.filter((x) => !after.has(x))) out.push(`${name}: interface ${i} changed or was removed`);
    for (const i of is.interfaces.filter((x) => !before.has(x))) out.push(`${name}: interface ${i} is new`);
  }
  for (const name of Object.keys(now).filter((n) => !(n in saved))) out.push(`machine ${name} is new in the lab`);
  return out;
}

/** The image a disk was made over: found from the disk's header among this host's images. */
export function imageIdentityOf(cow: string, imageName: string, env: NodeJS.ProcessEnv): ImageIdentity | undefined {
  const layout = safe(() => readCowLayout(cow));
  if (!layout) return undefined;
  const file = backingImageFor(cow, imageName, env);
  const record = file ? (safe(() => JSON.parse(readFileSync(file.replace(/\.ext4$/, '.json'), 'utf8')) as ImageRecord) ?? undefined) : undefined;
  return {
    name: imageName,
    ...(record ? { builtAt: record.builtAt, manifestHash: record.manifestHash, kernelVersion: record.kernelVersion } : {}),
    sizeBytes: layout.backingSize,
    mtime: layout.backingMtime,
  };
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}
