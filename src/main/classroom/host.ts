// Running a classroom on one host: the data dir, the worker secret, the local worker processes (the
// same `vnetlab classroom worker` a cluster runs as pods, here on Unix sockets), and the front door.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EnvironmentError, UserError } from '../errors.ts';
import { ensurePrivateDir } from '../runtime/private-dir.ts';
import type { ClassroomConfig } from './config.ts';
import { WorkerClient } from './worker-client.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');

export function privateDir(path: string): string {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  const st = statSync(path);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) throw new EnvironmentError(`${path} belongs to another user`, 'use a data_dir of your own');
  chmodSync(path, 0o700);
  return path;
}

/** The front door ↔ worker secret: read from its file, or made (0600) when the file does not exist. */
export function workerSecret(config: ClassroomConfig, create: boolean): string {
  const file = config.workerSecretFile;
  if (!existsSync(file)) {
    if (!create) throw new EnvironmentError(`no worker secret at ${file}`, 'start the front door first (it makes one), or mount the secret there');
    writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
  }
  const st = statSync(file);
  // Group-readable is allowed (a Kubernetes Secret mounted with fsGroup); readable by everyone is not.
  if ((st.mode & 0o007) !== 0) throw new EnvironmentError(`${file} can be read by others (mode ${(st.mode & 0o777).toString(8)})`, `chmod 600 ${file}`);
  const secret = readFileSync(file, 'utf8').trim();
  if (secret.length < 32) throw new EnvironmentError(`the worker secret in ${file} is too short`, 'use at least 32 random characters');
  return secret;
}

/**
 * A short private folder for sockets (Unix socket paths must stay under 108 bytes). It lives in a
 * shared place ($TMPDIR is world-writable), so another user may have put something there first: the
 * same checks as the runtime root (src/main/runtime/private-dir.ts) — not a symlink, ours, writable by
 * nobody else, parents that nobody else can swap — before anything is chmod'ed or put in it.
 */
export function socketBase(config: ClassroomConfig, env: NodeJS.ProcessEnv): string {
  const hash = createHash('sha256').update(config.dataDir).digest('hex').slice(0, 8);
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const dir = join(env.XDG_RUNTIME_DIR || env.TMPDIR || tmpdir(), `vncr-${uid}-${hash}`);
  ensurePrivateDir(dir, { checkParents: true });
  return dir;
}

export interface LocalWorker {
  address: string;
  child: ChildProcess;
}

/** Spawns `vnetlab classroom worker` for index i on a Unix socket; its output goes to `log`. */
export function spawnLocalWorker(config: ClassroomConfig, index: number, env: NodeJS.ProcessEnv, log: (line: string) => void, wrap: string[] = []): LocalWorker {
  const address = `unix:${join(socketBase(config, env), `w${index}.sock`)}`;
  const argv = [join(REPO_ROOT, 'bin', 'vnetlab.mjs'), 'classroom', 'worker', '--config', config.file, '--index', String(index), '--listen', address];
  const [cmd, ...args] = wrap.length ? [...wrap, process.execPath, ...argv] : [process.execPath, ...argv];
  const child = spawn(cmd!, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const relay = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) log(`[worker ${index}] ${line}`);
  };
  child.stdout!.on('data', relay);
  child.stderr!.on('data', relay);
  return { address, child };
}

/** Waits until a worker answers the handshake. */
export async function waitForWorker(address: string, secret: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: Error | undefined;
  while (Date.now() < deadline) {
    const client = new WorkerClient(address, secret, () => {});
    try {
      await client.request({ op: 'usage' });
      client.close();
      return;
    } catch (err) {
      last = err as Error;
      client.close();
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new UserError(`the worker at ${address} did not start: ${last?.message ?? 'timeout'}`, 3, 'see its messages above');
}
