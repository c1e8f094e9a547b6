// Where a lab's files land in its guests, told before anything starts: which files of a Netkit lab's
// shared/ folder are copied onto / of every machine, and which files of any lab cannot be placed where
// they ask to be (a folder of the guest image where the lab has a file, /proc, a read-only mount…), or
// land on a file system the guest mounts at every boot and so vanish after the first one.
//
// The guest is the judge (kernels/guest/agent/vnetlab-agent.c, place_tree: `vnetlab start` reports what
// it could not place); this is the same judgement made from what vnetlab knows of its images, so that
// `vnetlab validate` warns first. On the debian image /bin, /sbin, /lib and /lib64 are links into /usr
// (merged /usr): files under bin/ and the like are placed through them and are no problem.
import { statSync, type Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Diagnostic } from '../../shared/diagnostics.ts';
import type { LabModel, Machine, SourceRef } from '../../shared/lab-model.ts';
import { info, warning, wholeFile } from './diag.ts';
import { isInside, labPathProblem } from './lab-paths.ts';

/** Folders of every guest that are mounted before the lab's files are placed, and what they are. */
const MOUNTED: Record<string, { why: string; volatile?: boolean }> = {
  '/proc': { why: 'the kernel\'s process file system (proc): nothing can be written there' },
  '/sys': { why: 'the kernel\'s sysfs: nothing can be written there' },
  '/hostlab': { why: 'the lab folder, mounted read-only' },
  '/shared': { why: 'the lab\'s shared folder, mounted read-only' },
  '/dev': { why: 'a devtmpfs mounted at every boot', volatile: true },
  '/run': { why: 'a tmpfs mounted at every boot', volatile: true },
  '/tmp': { why: 'a tmpfs mounted at every boot', volatile: true },
};

/** Symlinks of the debian image (and the images built from its recipe) that lead to folders. */
const DEBIAN_LINKS: Record<string, string> = { '/bin': '/usr/bin', '/sbin': '/usr/sbin', '/lib': '/usr/lib', '/lib64': '/usr/lib64', '/var/run': '/run', '/var/lock': '/run/lock' };

/** Folders every image has (a lab file of the same path cannot replace them). */
const COMMON_FOLDERS = ['/', '/bin', '/dev', '/etc', '/proc', '/root', '/run', '/sbin', '/sys', '/tmp', '/usr', '/usr/bin', '/usr/sbin', '/usr/local', '/usr/local/bin', '/usr/local/sbin', '/var', '/var/lib', '/var/log', '/lib', '/lib/modules'];
const DEBIAN_FOLDERS = [
  '/boot', '/home', '/media', '/mnt', '/opt', '/srv', '/lib64', '/usr/lib', '/usr/share', '/usr/lib64', '/var/cache', '/var/mail', '/var/spool', '/var/tmp', '/var/www', '/var/www/html',
  '/etc/init.d', '/etc/default', '/etc/network', '/etc/sysctl.d', '/etc/profile.d', '/etc/ssh', '/etc/bind', '/etc/frr', '/etc/apache2', '/etc/squid', '/etc/exim4', '/etc/dovecot', '/etc/snmp', '/etc/openvpn', '/etc/dhcp', '/var/run', '/var/lock',
];
/** Files every image has (a lab folder of the same path cannot replace them). */
const COMMON_FILES = ['/etc/hostname', '/etc/hosts', '/etc/passwd', '/etc/group', '/etc/fstab', '/etc/resolv.conf'];

/** Entries walked before giving up (files.ts reports labs this large). */
const MAX_WALKED = 200_000;
/** Shared files named in the listing; the rest are counted. */
const MAX_SHARED_LISTED = 12;

interface Placed {
  /** Lab path of the file or folder (relative to the lab root), or the guest path of inline content. */
  shown: string;
  guestPath: string;
  isDir: boolean;
  at: SourceRef;
}

export async function placementDiagnostics(model: LabModel): Promise<Diagnostic[]> {
  const out: Diagnostic[] = [];
  // Netkit's boot copied shared/ onto / of every machine; Kathará (and a lab.yaml) only mount it at /shared.
  const shared = model.format === 'netkit' && model.sharedFolder !== undefined && !labPathProblem(model.sharedFolder) ? model.sharedFolder.replace(/\/+$/, '') : undefined;
  const sharedFiles = shared !== undefined ? await walk(model.root, shared, '/', wholeFile(shared)) : [];
  const reported = new Set<string>();
  for (const m of model.machines) {
    const own = await machineFiles(model.root, m);
    for (const p of [...sharedFiles, ...own]) {
      const problem = placementProblem(p, m.image);
      if (!problem) continue;
      // A shared file is the same problem on every machine: said once, for all of them.
      const key = `${p.shown}|${p.guestPath}|${problem.code}|${sharedFiles.includes(p) ? '' : m.name}`;
      if (reported.has(key)) continue;
      reported.add(key);
      const who = sharedFiles.includes(p) ? 'every machine' : m.name;
      if (problem.code === 'unplaceable-file') {
        out.push(warning('unplaceable-file', `${p.shown} cannot be placed at ${p.guestPath} on ${who}: ${problem.why}`, p.at, { target: `machine:${m.name}`, hint: `vnetlab start reports it as an error and the machine runs without it; move it in the lab folder (or create it from the startup file)` }));
      } else {
        out.push(warning('volatile-file', `${p.shown} is placed at ${p.guestPath} on ${who}, ${problem.why}: it is there on the first boot only (lab files are placed once per disk) and gone after a restart`, p.at, { target: `machine:${m.name}`, hint: 'create it from the startup file instead, which runs at every boot' }));
      }
    }
  }
  if (shared !== undefined) out.push(...sharedListing(model, shared, sharedFiles));
  return out;
}

/**
 * One info for a Netkit lab's shared/ folder: which of its files land where on every machine
 * ("shared/etc/hosts → /etc/hosts"), and where a machine's own folder has the same file (it wins).
 */
function sharedListing(model: LabModel, shared: string, files: Placed[]): Diagnostic[] {
  const plain = files.filter((f) => !f.isDir);
  if (plain.length === 0) return [];
  const ownFolders = model.machines.flatMap((m) => m.files.flatMap((f) => (f.kind === 'dir' && posix.normalize(`/${f.guestPath}`) === '/' && !labPathProblem(f.labPath) ? [{ machine: m.name, labPath: f.labPath }] : [])));
  const listed = plain.slice(0, MAX_SHARED_LISTED).map((f) => {
    const own = ownFolders.filter((o) => ownFileExists(model.root, o.labPath, f.guestPath)).map((o) => o.machine);
    return `${f.shown} → ${f.guestPath}${own.length ? ` (not on ${own.join(', ')}, whose own folder has one)` : ''}`;
  });
  const more = plain.length > MAX_SHARED_LISTED ? `, and ${plain.length - MAX_SHARED_LISTED} more file(s) at the same paths under /` : '';
  return [info('shared-onto-root', `Netkit copies ${shared}/ onto / of every machine (on the first boot of its disk, before the machine's own folder): ${listed.join(', ')}${more}`, wholeFile(shared), { hint: `it is also at /shared, read-only; a machine's own folder wins over ${shared}/ for the same file` })];
}

function ownFileExists(root: string, labPath: string, guestPath: string): boolean {
  try {
    return statSync(join(root, labPath, guestPath)).isFile();
  } catch {
    return false;
  }
}

type Problem = { code: 'unplaceable-file' | 'volatile-file'; why: string };

/** What is wrong with placing `p` in a guest of `image`, if anything. */
export function placementProblem(p: Pick<Placed, 'guestPath' | 'isDir'>, image: string): Problem | undefined {
  const debianLike = image !== 'tiny';
  // Through the image's symlinked folders first: /var/run/x is /run/x on debian.
  let path = p.guestPath;
  if (debianLike) {
    for (const [link, target] of Object.entries(DEBIAN_LINKS)) {
      if (path === link || path.startsWith(`${link}/`)) {
        path = target + path.slice(link.length);
        break;
      }
    }
  }
  const via = path === p.guestPath ? '' : ` (${p.guestPath} is ${path} in the ${image} image)`;
  for (const [mount, what] of Object.entries(MOUNTED)) {
    if (path === mount && p.isDir) return undefined; // the folder itself exists: only what is in it matters
    if (path === mount || path.startsWith(`${mount}/`)) {
      return what.volatile ? { code: 'volatile-file', why: `which is in ${mount}, ${what.why}${via}` } : { code: 'unplaceable-file', why: `${mount} is ${what.why}${via}` };
    }
  }
  const folders = new Set([...COMMON_FOLDERS, ...(debianLike ? DEBIAN_FOLDERS : [])]);
  if (!p.isDir && (folders.has(p.guestPath) || folders.has(path))) return { code: 'unplaceable-file', why: `the ${image} image has a folder there, not a file` };
  if (p.isDir && COMMON_FILES.includes(path)) return { code: 'unplaceable-file', why: `the ${image} image has a file there, not a folder` };
  return undefined;
}

/** Every file and folder a machine's entries place, with its guest path. */
async function machineFiles(root: string, m: Machine): Promise<Placed[]> {
  const out: Placed[] = [];
  for (const f of m.files) {
    const guestPath = posix.normalize(`/${f.guestPath}`).replace(/(.)\/$/, '$1');
    if (f.kind === 'inline') {
      out.push({ shown: `${m.name}: ${guestPath}`, guestPath, isDir: false, at: f.source });
      continue;
    }
    if (labPathProblem(f.labPath) || !isInside(root, join(root, f.labPath))) continue;
    const isDir = f.kind === 'dir' || (await stat(join(root, f.labPath)).then((s) => s.isDirectory(), () => false));
    if (!isDir) out.push({ shown: f.labPath, guestPath, isDir: false, at: f.source });
    else out.push(...(await walk(root, f.labPath.replace(/\/+$/, ''), guestPath, f.source)));
  }
  return out;
}

/** The files and folders under a lab folder placed at `guestRoot` (symlinks followed, as the lab-fs builder does). */
async function walk(root: string, labFolder: string, guestRoot: string, entryAt: SourceRef): Promise<Placed[]> {
  const out: Placed[] = [];
  const queue: Array<{ lab: string; guest: string }> = [{ lab: labFolder, guest: guestRoot }];
  let walked = 0;
  while (queue.length > 0 && walked < MAX_WALKED) {
    const { lab, guest } = queue.shift()!;
    let entries: Dirent[];
    try {
      entries = await readdir(join(root, lab), { withFileTypes: true });
    } catch {
      continue; // files.ts reports what cannot be read
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      walked++;
      const labPath = `${lab}/${e.name}`;
      const guestPath = guest === '/' ? `/${e.name}` : `${guest}/${e.name}`;
      let isDir = e.isDirectory();
      if (e.isSymbolicLink()) {
        const target = await stat(join(root, labPath)).catch(() => undefined);
        if (!target) continue;
        isDir = target.isDirectory();
      } else if (!isDir && !e.isFile()) continue;
      out.push({ shown: labPath, guestPath, isDir, at: entryAt.line > 0 ? entryAt : wholeFile(labPath) });
      if (isDir) queue.push({ lab: labPath, guest: guestPath });
    }
  }
  return out;
}
