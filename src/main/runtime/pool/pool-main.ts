// Entry point of the warm pool's detached process: `node pool-main.ts <poolDir>`, started by
// `vnetlab pool up` (pool-client.ts ensurePool) in its own session, logging to <poolDir>/pool.log.
// It serves pool/protocol.ts on <poolDir>/pool.sock (0600 in a 0700 folder) until `pool down`.
import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { hostPaths, type HostPaths } from '../../paths.ts';
import { lineReader } from '../protocol.ts';
import { reapRecorded } from '../reaper.ts';
import { removeRecordedMemoryFolders } from '../clean.ts';
import { isSameProcess, readRecords, removeRecord, takeProcessLock, writeRecord } from '../records.ts';
import { assertPrivateDir } from '../private-dir.ts';
import { GuestPool } from './pool.ts';
import { poolDiskDir, poolFiles } from './pool-files.ts';
import type { PoolMethod, PoolMethods, PoolRequest, PoolResponse } from './protocol.ts';

const OWNER_CHECK_MS = 2_000;

function log(message: string): void {
  process.stdout.write(`${new Date().toISOString()} ${message}\n`);
}

/**
 * What a pool killed earlier left: its guests power themselves off when it dies, but their records,
 * folders and disks stay. A guest still running (it had not reached its wait yet) is ended here.
 */
async function clearPreviousPool(dir: string, paths: HostPaths): Promise<void> {
  const records = readRecords(dir);
  await reapRecorded(dir, { how: 'kill', forget: true });
  removeRecordedMemoryFolders(records);
  for (const path of [poolFiles.umlDir(dir), join(dir, 'guests'), poolDiskDir(paths)]) rmSync(path, { recursive: true, force: true });
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: pool-main.ts <poolDir> [--owner <pid>:<start time>]');
  // A pool started by the app lives as long as the app: it ends when its owner is gone (even kill -9).
  const ownerAt = process.argv.indexOf('--owner');
  const owner = ownerAt > 0 ? process.argv[ownerAt + 1] : undefined;
  assertPrivateDir(dir);
  if (!takeProcessLock(poolFiles.lock(dir))) {
    log('another pool process owns this folder; exiting');
    return;
  }
  const socketPath = poolFiles.socket(dir);
  await clearPreviousPool(dir, hostPaths());
  writeRecord(dir, { kind: 'pool', name: 'process', pid: process.pid, pgid: process.pid, argv: process.argv, sockets: [socketPath] });
  const pool = new GuestPool(dir, hostPaths(), log);
  const connections = new Set<Socket>();

  let exiting = false;
  const exit = async (why: string) => {
    if (exiting) return;
    exiting = true;
    log(`shutting down (${why})`);
    server.close();
    await pool.down();
    for (const c of connections) c.destroy();
    rmSync(socketPath, { force: true });
    removeRecord(dir, 'pool', 'process');
    rmSync(poolFiles.lock(dir), { force: true });
    log('bye');
    process.exit(0);
  };

  const handlers: { [M in PoolMethod]: (params: PoolMethods[M]['params'], conn: Socket) => Promise<PoolMethods[M]['result']> } = {
    up: async (p) => {
      await pool.up(p.targets, { only: p.only });
      return pool.status();
    },
    status: async () => pool.status(),
    claim: async (p, conn) => pool.claim(p.key, conn),
    taken: async (p) => {
      pool.taken(p.id);
      return null;
    },
    release: async (p) => {
      pool.release(p.id);
      return null;
    },
    down: async () => {
      setImmediate(() => void exit('pool down'));
      return null;
    },
  };

  const server = createServer((conn) => {
    connections.add(conn);
    const send = (message: PoolResponse) => {
      if (!conn.destroyed) conn.write(`${JSON.stringify(message)}\n`);
    };
    conn.on('data', lineReader((raw) => {
      const req = raw as PoolRequest;
      const handler = handlers[req.method] as ((p: unknown, c: Socket) => Promise<unknown>) | undefined;
      if (!handler || typeof req.id !== 'number') return send({ id: req.id, error: { message: `unknown method ${String(req.method)}` } });
      handler(req.params ?? {}, conn).then(
        (result) => send({ id: req.id, result }),
        (err: Error) => send({ id: req.id, error: { message: err.message } }),
      );
    }));
    const gone = () => {
      connections.delete(conn);
      pool.dropClaimsOf(conn);
    };
    conn.on('close', gone);
    conn.on('error', gone);
  });
  rmSync(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  chmodSync(socketPath, 0o600);
  log(`pool listening, pid ${process.pid}`);
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => void exit(signal));
  if (owner) {
    const [pid, startTime] = owner.split(':');
    setInterval(() => {
      if (!isSameProcess(Number(pid), startTime ?? '')) void exit(`its owner, pid ${pid}, is gone`);
    }, OWNER_CHECK_MS).unref();
  }
  process.on('uncaughtException', (err) => log(`uncaught: ${err.stack ?? err}`));
  process.on('unhandledRejection', (err) => log(`unhandled rejection: ${(err as Error)?.stack ?? err}`));
}

main().catch((err: Error) => {
  log(`pool failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
