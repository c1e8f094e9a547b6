// Running a classroom on one host: the data dir, the worker secret, the local worker processes (the
// same `vnetlab classroom worker` a cluster runs as pods, here on Unix sockets), and the front door.
// The local workers are supervised: one that exits (a crash, an out-of-memory kill, a `kill -9`) is
// logged and started again with back-off, on the same socket and data folder, so its students'
// copies and disks are there when they reconnect (the front door tells them to).
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EnvironmentError, UserError } from '../errors.ts';
import { ensurePrivateDir } from '../runtime/private-dir.ts';
import type { ClassroomConfig } from './config.ts';
import { startClassroom, type ClassroomServer } from './server.ts';
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
    const client = new WorkerClient(address, secret, () => {}, { connectWaitMs: 0 });
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

export interface SupervisorOptions {
  /** A command line the worker runs under (e.g. setpriv …). */
  wrap?: string[];
  /** First restart delay; doubled for each exit that follows a short run, up to maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** A worker that ran this long before it exited is restarted after minBackoffMs again. */
  stableMs?: number;
}

export interface WorkerProcessStatus {
  index: number;
  address: string;
  /** The running process; absent while it waits to be restarted. */
  pid?: number;
  restarts: number;
}

interface Slot {
  index: number;
  address: string;
  child?: ChildProcess;
  startedAt: number;
  restarts: number;
  /** Exits in a row that came soon after a start (the back-off's exponent). */
  quickExits: number;
  timer?: NodeJS.Timeout;
}

/** The local worker processes of `classroom serve`, each restarted (with back-off) when it exits. */
export class LocalWorkers {
  readonly addresses: string[];
  private readonly slots: Slot[];
  private stopping = false;

  constructor(
    private readonly config: ClassroomConfig,
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: (line: string) => void,
    private readonly options: SupervisorOptions = {},
  ) {
    this.slots = Array.from({ length: config.workers.local }, (_, index) => ({ index, address: `unix:${join(socketBase(config, env), `w${index}.sock`)}`, startedAt: 0, restarts: 0, quickExits: 0 }));
    this.addresses = this.slots.map((s) => s.address);
  }

  start(): this {
    for (const slot of this.slots) this.spawn(slot);
    return this;
  }

  /** The pid of worker `index` now (undefined while it is being restarted). */
  pid(index: number): number | undefined {
    return this.slots[index]?.child?.pid;
  }

  status(): WorkerProcessStatus[] {
    return this.slots.map((s) => ({ index: s.index, address: s.address, restarts: s.restarts, ...(s.child?.pid ? { pid: s.child.pid } : {}) }));
  }

  private spawn(slot: Slot): void {
    const { child } = spawnLocalWorker(this.config, slot.index, this.env, this.log, this.options.wrap);
    slot.child = child;
    slot.startedAt = Date.now();
    child.once('error', (err) => this.exited(slot, child, `could not run: ${err.message}`));
    child.once('exit', (code, signal) => this.exited(slot, child, signal ? `was killed by ${signal}` : `exited with code ${code}`));
  }

  private exited(slot: Slot, child: ChildProcess, how: string): void {
    if (slot.child !== child) return;
    slot.child = undefined;
    const ranMs = Date.now() - slot.startedAt;
    const who = `worker ${slot.index}${child.pid ? ` (pid ${child.pid})` : ''}`;
    if (this.stopping) return this.log(`${who} stopped`);
    const min = this.options.minBackoffMs ?? 500;
    const max = this.options.maxBackoffMs ?? 30_000;
    slot.quickExits = ranMs >= (this.options.stableMs ?? 60_000) ? 0 : slot.quickExits + 1;
    const delay = Math.min(max, min * 2 ** Math.max(0, slot.quickExits - 1));
    this.log(`${who} ${how} after ${(ranMs / 1000).toFixed(1)} s; its students must reconnect; restarting it in ${(delay / 1000).toFixed(1)} s (restart ${slot.restarts + 1})`);
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      if (this.stopping) return;
      slot.restarts++;
      this.spawn(slot);
      this.log(`worker ${slot.index} restarted (pid ${slot.child?.pid ?? '?'})`);
    }, delay);
  }

  /** Stops every worker: SIGTERM, then SIGKILL for one still there after graceMs. No restarts after this. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.slots.map(async (slot) => {
        if (slot.timer) clearTimeout(slot.timer);
        const child = slot.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const gone = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await gone;
        clearTimeout(timer);
      }),
    );
  }
}

export interface LocalClassroom {
  server: ClassroomServer;
  workers: LocalWorkers;
  close(): Promise<void>;
}

/** `classroom serve`: the supervised local workers (and any remote ones the config names), then the front door. */
export async function startLocalClassroom(
  config: ClassroomConfig,
  secret: string,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
  options: { staticDir?: string; supervisor?: SupervisorOptions } = {},
): Promise<LocalClassroom> {
  const workers = new LocalWorkers(config, env, log, options.supervisor).start();
  try {
    const addresses = [...workers.addresses, ...config.workers.urls.map((u) => u.replace(/^tcp:\/\//, 'tcp:'))];
    for (const a of addresses) await waitForWorker(a, secret);
    const server = await startClassroom({ config, workers: addresses, workerSecret: secret, ...(options.staticDir ? { staticDir: options.staticDir } : {}), log });
    return {
      server,
      workers,
      close: async () => {
        await server.close();
        await workers.stop();
      },
    };
  } catch (err) {
    await workers.stop();
    throw err;
  }
}
