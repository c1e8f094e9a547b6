// Entry point of the detached per-lab supervisor process: `node <bundle> <runDir>` (supervisor-entry.ts).
// Started by ensureSupervisor() in its own session with stdio to <runDir>/supervisor.log, so guests,
// switches and consoles outlive the command or window that started the lab. It exits on its own once
// every machine is stopped, after stopping the switches and removing its socket.
// `node <bundle> --standby`: started by `vnetlab start` before it knows the lab; it waits for its order
// on stdin, then goes on as above (supervisor-standby.ts).
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Plan } from '../../shared/plan.ts';
import { writeRunFile } from './disk-space.ts';
import { RealLauncher } from './real-launcher.ts';
import { removeRecord, takeProcessLock, writeRecord } from './records.ts';
import { READY_FD_ENV, readRunPlan, removeSockets, runFiles } from './run-dir.ts';
import { serveSupervisor } from './server.ts';
import { Supervisor } from './supervisor.ts';
import { LabPool } from './pool/pool-client.ts';
import { readStandbyOrder, replaceEnvironment, STANDBY_ARG } from './supervisor-standby.ts';

/** Exit if no machine was started this long after launch (the client that spawned us went away). */
const FIRST_REQUEST_GRACE_MS = 60_000;

/** Where log lines go: stdout, which a spawn points at <runDir>/supervisor.log; a standby opens that file itself. */
let logFd = 1;

function log(message: string): void {
  try {
    writeSync(logFd, `${new Date().toISOString()} ${message}\n`);
  } catch {
    // a full disk: the lab runs on without its log
  }
}

/**
 * The run dir to serve: the argument, or a standby's order. A standby whose command closed its stdin
 * without an order (the lab was running already, the command failed or died) exits here, having
 * started nothing. Node's own last words (a fatal error) go to a standby's stdout, /dev/null: the rest
 * of its log goes where a spawned supervisor's does.
 */
async function runDirToServe(): Promise<string> {
  const arg = process.argv[2];
  if (arg !== STANDBY_ARG) return arg ?? '';
  const order = await readStandbyOrder(process.stdin);
  if (!order) process.exit(0);
  replaceEnvironment(order.env);
  process.chdir(order.cwd);
  logFd = openSync(runFiles.log(order.runDir), 'a', 0o600);
  return order.runDir;
}

/** Tells the command that spawned us that we listen (READY_FD_ENV), once; only a fd it said it gave us. */
function sayListening(): void {
  const fd = Number(process.env[READY_FD_ENV]);
  delete process.env[READY_FD_ENV]; // not for the processes we start
  if (!Number.isInteger(fd) || fd < 3) return;
  try {
    writeSync(fd, 'listening\n');
    closeSync(fd);
  } catch {
    // the command is gone or gave up: it looks at the socket anyway
  }
}

async function main(): Promise<void> {
  const runDir = await runDirToServe();
  if (!runDir) throw new Error(`usage: supervisor-main.ts <runDir> | ${STANDBY_ARG}`);
  const plan = readRunPlan(runDir);
  if (!plan) throw new Error(`no plan in ${runDir}`);
  // One supervisor per run dir.
  if (!takeProcessLock(runFiles.lock(runDir))) {
    log('another supervisor owns this lab; exiting');
    return;
  }
  writeRecord(runDir, { kind: 'supervisor', name: 'supervisor', pid: process.pid, pgid: process.pid, argv: process.argv, sockets: [runFiles.socket(runDir)] });

  // VNETLAB_MAX_PARALLEL_BOOTS overrides the default bound (2 × cores, limited by free memory).
  const maxParallelBoots = Number(process.env.VNETLAB_MAX_PARALLEL_BOOTS) || undefined;
  // VNETLAB_MAX_PARALLEL_STOPS overrides how many guests a graceful stop takes down at once (stop-slots.ts).
  const maxParallelStops = Number(process.env.VNETLAB_MAX_PARALLEL_STOPS) || undefined;
  // Machines with a fresh disk take a booted guest from the warm pool when one runs (VNETLAB_POOL=0: never).
  const pool = process.env.VNETLAB_POOL === '0' ? undefined : new LabPool();
  // VNETLAB_CONSOLE_RECORD=1: every console is recorded (asciicast v2) in the lab's state folder, beside
  // its disks (console-record.ts); VNETLAB_CONSOLE_RECORD_MAX_BYTES bounds each machine's recording.
  const recordConsoles = process.env.VNETLAB_CONSOLE_RECORD === '1' ? { dir: join(plan.stateDir, 'recordings'), maxBytes: Number(process.env.VNETLAB_CONSOLE_RECORD_MAX_BYTES) || undefined } : undefined;
  const launcher = new RealLauncher();
  const sup = new Supervisor(plan, launcher, { recordsRunDir: runDir, maxParallelBoots, maxParallelStops, pool, recordConsoles });
  sup.on('event', (e) => log(JSON.stringify(e)));
  // `clean`, `status` and the next client read the plan the lab runs now.
  sup.on('plan', (next: Plan) => writeRunFile(runFiles.plan(runDir), `${JSON.stringify(next, null, 2)}\n`));

  let exiting = false;
  const exit = async (how: 'stop' | 'crash' | 'none') => {
    if (exiting) return;
    exiting = true;
    sup.exiting = true; // clients asking `hello` from now on wait for us to go, then start afresh
    log(`shutting down (${how})`);
    if (how !== 'none') await sup.shutdown(how);
    await sup.stopSwitches();
    // Our files go while our socket still answers: a start that connects meanwhile hears that we are
    // stopping and waits for us to go. Once the socket is gone, the next start builds its lab-fs image
    // and FIFOs at these very paths while we wait for our last clients: removed after, they were lost.
    removeSockets(runDir, [runFiles.socket(runDir)]);
    // Rebuilt by every start; the run dir may be on a small tmpfs ($XDG_RUNTIME_DIR).
    rmSync(plan.labFs.image, { force: true });
    await server.close();
    pool?.close();
    await launcher.close();
    removeRecord(runDir, 'supervisor', 'supervisor');
    rmSync(runFiles.lock(runDir), { force: true });
    log('bye');
    process.exit(0);
  };

  const server = await serveSupervisor(sup, runFiles.socket(runDir), () => void exit('none'));
  log(`supervisor of ${plan.lab.name} (${plan.lab.id}) listening, pid ${process.pid}`);
  sayListening();
  sup.bringNetworkUpAhead();

  sup.on('idle', () => void exit('none'));
  setTimeout(() => {
    if (!sup.isActive()) void exit('none');
  }, FIRST_REQUEST_GRACE_MS).unref();
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => void exit('stop'));
  process.on('uncaughtException', (err) => log(`uncaught: ${err.stack ?? err}`));
  process.on('unhandledRejection', (err) => log(`unhandled rejection: ${(err as Error)?.stack ?? err}`));
}

main().catch((err: Error) => {
  log(`supervisor failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
