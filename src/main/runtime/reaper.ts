// The one way recorded processes are ended, from the on-disk records alone (records.ts): `vnetlab clean`
// (a lab's run dir, the pool's folder), the next start of a lab whose supervisor died, and a pool that
// finds what the pool before it left. A process is signalled only while its pid still has the recorded
// start time; nothing is ever looked up or killed by name.
//
// One order for everyone: whoever could start something new (a supervisor, the pool) first; then the
// guests; then what talks to a socket before what owns it (captures, wires and host NAT, ports,
// switches), so nothing is left writing to a dead socket.
import { shutDownGuest } from './guest-shutdown.ts';
import { mconsoleCommand } from './mconsole.ts';
import { isAlive, readRecords, removeRecord, signalRecorded, type ProcessKind, type ProcessRecord } from './records.ts';

const STAGES: ProcessKind[][] = [['supervisor', 'pool'], ['guest'], ['capture'], ['wire', 'host-nat'], ['port'], ['switch']];

/** After `cad`: the guest runs its shutdown script and syncs its disk. */
const CAD_WAIT_MS = 15_000;
const HALT_WAIT_MS = 5_000;
/** SIGTERM, then SIGKILL after this long. */
const TERM_WAIT_MS = 3_000;
/** After SIGKILL: how long a process (and what is left of its group) may take to go. */
const KILL_WAIT_MS = 5_000;
const POLL_MS = 20;

export interface ReapOptions {
  /**
   * `graceful`: guests hold a student's work, so they are shut down the way `stop` does it (mconsole
   * `cad`, then `halt`, SIGKILL last) and the other processes get SIGTERM before SIGKILL. `kill`:
   * SIGKILL at once (`clean`, or throwaway pooled guests).
   */
  how: 'graceful' | 'kill';
  /** Remove the record of each process once it is gone (otherwise the caller removes the folder). */
  forget?: boolean;
}

/** End every recorded process of a folder that still runs; returns the records of those it signalled. */
export async function reapRecorded(dir: string, options: ReapOptions): Promise<ProcessRecord[]> {
  const records = readRecords(dir);
  const live = records.filter(isAlive);
  const ended: ProcessRecord[] = [];
  for (const kinds of STAGES) {
    const stage = live.filter((r) => kinds.includes(r.kind));
    const outcomes = await Promise.all(stage.map((r) => (options.how === 'graceful' ? (r.kind === 'guest' ? shutDown(r) : terminate(r)) : kill(r))));
    stage.forEach((r, i) => outcomes[i] && ended.push(r));
  }
  if (options.forget) for (const r of records) if (!isAlive(r)) removeRecord(dir, r.kind, r.name);
  return ended;
}

async function shutDown(r: ProcessRecord): Promise<boolean> {
  const mconsole = r.mconsole;
  if (!mconsole) return kill(r);
  await shutDownGuest(
    { mconsole: (command) => mconsoleCommand(mconsole, command).catch(() => undefined), gone: (ms) => gone(r, ms), kill: () => kill(r) },
    { cadMs: CAD_WAIT_MS, haltMs: HALT_WAIT_MS },
  );
  return true;
}

async function terminate(r: ProcessRecord): Promise<boolean> {
  const signalled = signalRecorded(r, 'SIGTERM');
  if (await gone(r, TERM_WAIT_MS)) return signalled;
  return kill(r);
}

async function kill(r: ProcessRecord): Promise<boolean> {
  const signalled = signalRecorded(r, 'SIGKILL');
  await gone(r, KILL_WAIT_MS);
  return signalled;
}

async function gone(r: ProcessRecord, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isAlive(r)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return true;
}
