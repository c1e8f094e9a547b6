// Where vnetlab keeps things on the host. One place, so the CLI, the supervisor, the grader and the
// tests agree. Everything can be redirected with environment variables (tests use a temp HOME).
import { createHash } from 'node:crypto';
import { accessSync, constants, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';

export interface HostPaths {
  /** Built images: `<cacheDir>/images/<name>.ext4`. */
  imageDir: string;
  /**
   * Per-user runtime root (sockets, pids, FIFOs, the lab-fs image): `$VNETLAB_RUNTIME_DIR`, else
   * `$XDG_RUNTIME_DIR/vnetlab`, else `$TMPDIR/vnetlab-<uid>` when TMPDIR is set, else on the host's
   * tmpfs, `/dev/shm/vnetlab-run-<uid>`, else `/tmp/vnetlab-<uid>`. All but the first two are in shared
   * folders: created 0700 and checked before use (src/main/runtime/private-dir.ts).
   */
  runtimeRoot: string;
  /** Per-user persistent state root (guest disks): `$XDG_STATE_HOME/vnetlab` or `~/.local/state/vnetlab`. */
  stateRoot: string;
}

/** The user's cache of things vnetlab can make again (images, the sandbox's program lists). */
export function cacheDirOf(env: NodeJS.ProcessEnv = process.env): string {
  return env.VNETLAB_CACHE_DIR || join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'vnetlab');
}

export function hostPaths(env: NodeJS.ProcessEnv = process.env): HostPaths {
  const home = env.HOME || homedir();
  const cache = cacheDirOf(env);
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  // Unix socket paths must stay under 108 bytes, so the runtime root has to be short.
  const runtimeRoot = env.VNETLAB_RUNTIME_DIR || (env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'vnetlab') : env.TMPDIR ? join(env.TMPDIR, `vnetlab-${uid}`) : tmpfsRuntimeRoot(uid));
  const stateRoot = env.VNETLAB_STATE_DIR || join(env.XDG_STATE_HOME || join(home, '.local', 'state'), 'vnetlab');
  return { imageDir: env.VNETLAB_IMAGE_DIR || join(cache, 'images'), runtimeRoot, stateRoot };
}

/**
 * Where a runtime root goes when nothing names one: the host's tmpfs, as `$XDG_RUNTIME_DIR` is on a
 * desktop. A start creates and removes a few hundred small files and sockets there (records, FIFOs,
 * switch folders, the lab-fs image): on a disk's ext4 a 10-machine start took ~10 % more CPU.
 */
function tmpfsRuntimeRoot(uid: number): string {
  return hasUsableShm() ? join('/dev/shm', `vnetlab-run-${uid}`) : join(tmpdir(), `vnetlab-${uid}`);
}

/** Whether the host has a /dev/shm folder we may write to (a tmpfs on every Linux we run on). */
export function hasUsableShm(): boolean {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return statSync('/dev/shm').isDirectory();
  } catch {
    return false;
  }
}

/** Stable id of a lab instance: its name plus a hash of its absolute folder, so two copies of the same lab never clash. */
export function labIdFor(labRoot: string, labName?: string): string {
  const abs = resolve(labRoot);
  const hash = createHash('sha256').update(abs).digest('hex').slice(0, 8);
  const name = (labName || basename(abs)).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 16) || 'lab';
  return `${name}-${hash}`;
}

/** Folder of an unpacked hand-in pack inside a lab folder (runtime/snapshots/): never one of the lab's files. */
export const PACK_DIR = '.vnetlab-pack';

export function labRunDir(paths: HostPaths, labId: string): string {
  return join(paths.runtimeRoot, labId);
}

export function labStateDir(paths: HostPaths, labId: string): string {
  return join(paths.stateRoot, 'labs', labId);
}
