// What a supervisor that died (kill -9, a crash) left running: its guests hold a student's work, so
// they are shut down the way `stop` does it (mconsole `cad`: the guest runs its shutdown and syncs its
// disk; then `halt`; SIGKILL only last), never just killed. The network daemons are simply ended.
// Used by the next start of the lab and by `vnetlab clean`; works from the on-disk records alone.
import { mconsoleCommand } from './mconsole.ts';
import { isAlive } from './clean.ts';
import { readRecords, removeRecord, signalRecorded, type ProcessRecord } from './records.ts';

const CAD_WAIT_MS = 15_000;
const HALT_WAIT_MS = 5_000;
const TERM_WAIT_MS = 3_000;

/** End every recorded process still alive in a run dir; returns what was ended, as `kind name`. */
export async function endLeftovers(runDir: string, options: { graceful?: boolean } = {}): Promise<string[]> {
  const live = readRecords(runDir).filter(isAlive);
  const graceful = options.graceful ?? true;
  const guests = live.filter((r) => r.kind === 'guest');
  await Promise.all(guests.map((r) => (graceful ? shutDownGuest(r) : kill(r))));
  // Captures and wires before ports, ports before switches: nothing is left talking to a dead socket.
  for (const kinds of [['supervisor', 'capture'], ['wire', 'host-nat'], ['port'], ['switch']]) {
    await Promise.all(live.filter((r) => kinds.includes(r.kind)).map((r) => terminate(r)));
  }
  for (const r of live) if (!isAlive(r)) removeRecord(runDir, r.kind, r.name);
  return live.map((r) => `${r.kind} ${r.name}`);
}

async function shutDownGuest(r: ProcessRecord): Promise<void> {
  const mconsole = mconsoleOf(r.argv);
  if (mconsole) {
    for (const [command, ms] of [['cad', CAD_WAIT_MS], ['halt', HALT_WAIT_MS]] as const) {
      await umlMconsole(mconsole, command);
      if (await gone(r, ms)) return;
    }
  }
  await kill(r);
}

async function terminate(r: ProcessRecord): Promise<void> {
  signalRecorded(r, 'SIGTERM');
  if (!(await gone(r, TERM_WAIT_MS))) await kill(r);
}

async function kill(r: ProcessRecord): Promise<void> {
  signalRecorded(r, 'SIGKILL');
  await gone(r, TERM_WAIT_MS);
}

async function gone(r: ProcessRecord, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isAlive(r)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}

/** `<uml_dir>/<umid>/mconsole`, from the guest's recorded command line. */
export function mconsoleOf(argv: string[]): string | undefined {
  const umid = argv.find((a) => a.startsWith('umid='))?.slice(5);
  const umlDir = argv.find((a) => a.startsWith('uml_dir='))?.slice(8);
  return umid && umlDir ? `${umlDir}/${umid}/mconsole` : undefined;
}

function umlMconsole(socket: string, command: string): Promise<void> {
  return mconsoleCommand(socket, command).then(
    () => {},
    () => {},
  );
}
