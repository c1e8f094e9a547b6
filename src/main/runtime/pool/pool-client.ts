// Talking to the warm pool: `vnetlab pool up|status|down` (ensurePool, PoolClient) and the lab
// supervisors that take guests from it (LabPool). A lab never needs the pool: when there is none, or it
// has no guest of the right kind, machines boot cold as always.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MEMORY_MIB } from '../../../shared/lab-model.ts';
import type { GuestPlan } from '../../../shared/plan.ts';
import { imagePathOf, sharedBootArgs } from '../../compiler/index.ts';
import { guestMemoryMiB } from '../../compiler/memory.ts';
import { EnvironmentError, UserError } from '../../errors.ts';
import { sharedArgs } from '../guest-argv.ts';
import { bootKernel } from '../compile-options.ts';
import { hostPaths, type HostPaths } from '../../paths.ts';
import { ensurePrivateDir } from '../private-dir.ts';
import { lineReader } from '../protocol.ts';
import { isAlive, processStartTime, readRecords } from '../records.ts';
import { poolCommand } from '../supervisor-entry.ts';
import { canTakePooledGuest } from './pooled-guest.ts';
import { poolDir, poolFiles, poolKey } from './pool-files.ts';
import type { PooledGuest, PoolMethod, PoolMethods, PoolResponse, PoolTarget } from './protocol.ts';
import { withoutTlsSetup } from '../node-env.ts';

const POOL_START_TIMEOUT_MS = 15_000;

export class PoolClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  closed = false;

  constructor(private readonly socket: Socket) {
    socket.on('data', lineReader((raw) => {
      const m = raw as PoolResponse;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if ('error' in m) p.reject(new UserError(`the pool: ${m.error.message}`, 1));
      else p.resolve(m.result);
    }));
    const gone = () => {
      this.closed = true;
      for (const p of this.pending.values()) p.reject(new UserError('the pool went away', 1));
      this.pending.clear();
    };
    socket.on('close', gone);
    socket.on('error', gone);
  }

  call<M extends PoolMethod>(method: M, params: PoolMethods[M]['params']): Promise<PoolMethods[M]['result']> {
    if (this.closed) return Promise.reject(new UserError('the pool went away', 1));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.socket.write(`${JSON.stringify({ id, method, params })}\n`);
    });
  }

  close(): void {
    this.socket.end();
  }
}

/** The running pool, or undefined when there is none. */
export async function connectPool(paths: HostPaths = hostPaths()): Promise<PoolClient | undefined> {
  const socketPath = poolFiles.socket(poolDir(paths));
  if (!existsSync(socketPath)) return undefined;
  return new Promise((resolve) => {
    const socket = createConnection(socketPath);
    socket.once('connect', () => resolve(new PoolClient(socket)));
    socket.once('error', () => resolve(undefined));
  });
}

/**
 * Connect to the pool, starting its process first when none runs. `owned`: a pool started here ends
 * when this process does (the app's); `started` says whether this call started it.
 */
export async function ensurePool(env: NodeJS.ProcessEnv = process.env, options: { owned?: boolean } = {}): Promise<PoolClient & { started?: boolean }> {
  const paths = hostPaths(env);
  const existing = await connectPool(paths);
  if (existing) return existing;
  const dir = poolDir(paths);
  ensurePrivateDir(paths.runtimeRoot, { checkParents: true });
  ensurePrivateDir(dir);
  const logFd = openSync(poolFiles.log(dir), 'a', 0o600);
  const owner = options.owned ? ['--owner', `${process.pid}:${processStartTime(process.pid) ?? ''}`] : [];
  const child = spawn(process.execPath, [...(await poolCommand(dir)), ...owner], { detached: true, stdio: ['ignore', logFd, logFd], env: withoutTlsSetup(env), cwd: dirname(fileURLToPath(import.meta.url)) });
  closeSync(logFd);
  child.unref();
  const deadline = Date.now() + POOL_START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const client = await connectPool(paths);
    if (client) return Object.assign(client, { started: true });
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new EnvironmentError(`the pool's process did not start: ${logTail(poolFiles.log(dir))}`, `see ${poolFiles.log(dir)}`);
}

/** Whether a pool process runs (its record is alive), for `clean` and tests. */
export function poolRunning(paths: HostPaths = hostPaths()): boolean {
  const dir = poolDir(paths);
  if (!existsSync(dir)) return false;
  try {
    return readRecords(dir).some((r) => r.kind === 'pool' && isAlive(r));
  } catch {
    return false;
  }
}

/**
 * What a pool of `image` guests boots with: the shared arguments of a machine of that image and memory
 * (with IPv6, as machines are by default), made by the compiler's rules for a lab's machine (so the keys match).
 */
export function poolTarget(image: string, size: number, memoryMiB = DEFAULT_MEMORY_MIB, env: NodeJS.ProcessEnv = process.env): PoolTarget {
  const { kernel, loopsPerJiffy } = bootKernel(env);
  const machine = { image, memoryMiB, ipv6: true };
  const guest = { image, imagePath: imagePathOf(hostPaths(env).imageDir, image), memoryMiB: guestMemoryMiB(machine), boot: { kernel, shared: sharedBootArgs(machine, loopsPerJiffy) } };
  return poolTargetOf(guest, size);
}

/** Keep `size` guests that can become this machine. */
export function poolTargetOf(guest: Pick<GuestPlan, 'image' | 'imagePath' | 'memoryMiB'> & { boot: Pick<GuestPlan['boot'], 'kernel' | 'shared'> }, size: number): PoolTarget {
  return { image: guest.image, imagePath: guest.imagePath, memoryMiB: guest.memoryMiB, shared: sharedArgs(guest), size };
}

/**
 * A lab supervisor's view of the pool: a guest for a machine, when the pool has one that matches it
 * and the machine's disk is fresh (an existing disk is the student's work: that machine boots cold).
 * One connection for the supervisor's life; a pool that is gone just means cold boots.
 */
export class LabPool {
  private client: Promise<PoolClient | undefined> | undefined;

  constructor(private readonly paths: HostPaths = hostPaths()) {}

  async claim(plan: GuestPlan): Promise<PooledGuest | undefined> {
    if (!canTakePooledGuest(plan)) return undefined;
    const client = await this.connection();
    if (!client) return undefined;
    const key = poolKey(sharedArgs(plan), plan.imagePath);
    return (await client.call('claim', { key }).catch(() => null)) ?? undefined;
  }

  async taken(id: string): Promise<void> {
    const client = await this.connection();
    if (!client) throw new Error('the pool went away during the handover');
    await client.call('taken', { id });
  }

  async release(id: string): Promise<void> {
    const client = await this.connection();
    await client?.call('release', { id }).catch(() => {});
  }

  close(): void {
    void this.client?.then((c) => c?.close());
  }

  private async connection(): Promise<PoolClient | undefined> {
    const current = await this.client;
    if (current && !current.closed) return current;
    this.client = connectPool(this.paths);
    return this.client;
  }
}

function logTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' / ');
  } catch {
    return '(no log)';
  }
}
