// The supervisor's wire protocol: newline-delimited JSON over `<runDir>/supervisor.sock`.
// A request carries an `id` when it wants a response; console input is fire-and-forget so a
// keystroke costs one write. The server also pushes events, console output and exec output.
import type { CableStatus, ExecResult, LabEvent, LabStatus } from '../../shared/runtime-api.ts';
import type { Plan } from '../../shared/plan.ts';
import type { CableChange } from './network/network.ts';
import type { ApplyResult } from './apply.ts';
import type { StartResult } from './supervisor.ts';
import type { DiskRestoreRequest, DiskSaveRequest, NetRestoreReport, SavedDisk } from './snapshots/live.ts';

export interface Methods {
  /** `stopping`: the supervisor is on its way out (every machine stopped); start a new one after it exits. */
  hello: { params: Record<string, never>; result: { labId: string; pid: number; stopping: boolean } };
  status: { params: Record<string, never>; result: LabStatus };
  start: { params: { machines?: string[]; timeoutMs?: number; requestedAt?: number }; result: StartResult };
  stop: { params: { machines?: string[] }; result: null };
  crash: { params: { machines?: string[] }; result: null };
  restart: { params: { machine: string; timeoutMs?: number }; result: StartResult };
  exec: { params: { machine: string; command: string; timeoutMs?: number; stdin?: string; stream?: boolean; tools?: boolean; grader?: boolean }; result: ExecResult };
  subscribe: { params: Record<string, never>; result: null };
  /** `console`: which console of the machine (0, the default, is the guest's own; 1.. are opened by their first attach). */
  'console.attach': { params: { machine: string; console?: number; replay?: boolean; flowControl?: boolean; cols?: number; rows?: number }; result: { consoleId: number } };
  'console.write': { params: { consoleId: number; data: string }; result: null };
  'console.resize': { params: { consoleId: number; cols: number; rows: number }; result: null };
  'console.ack': { params: { consoleId: number; chars: number }; result: null };
  'console.detach': { params: { consoleId: number }; result: null };
  /** Every cable with its state and impairments. */
  'link.list': { params: Record<string, never>; result: CableStatus[] };
  /** Change one cable live (unplug, replug, move, impair). */
  'link.set': { params: { cable: string; change: CableChange }; result: CableStatus };
  /** Start capturing on a cable (`pc1:eth0`) or a domain: frames arrive as `{ capture, frame, t }` pushes. */
  'capture.start': { params: { target: string }; result: { captureId: string } };
  'capture.stop': { params: { captureId: string }; result: { frames: number; dropped: number } };
  /** Bring the running lab to a newly compiled plan (or only say what would change). */
  apply: { params: { plan: Plan; dryRun?: boolean; restart?: string[] }; result: ApplyResult };
  /** Copy machines' disks for a saved state (running ones: network state read, paused for the copy). */
  'snapshot.save': { params: { machines: DiskSaveRequest[] }; result: SavedDisk[] };
  /** Put saved disks and network states in place of machines' own, and boot them. */
  'snapshot.restore': { params: { machines: DiskRestoreRequest[]; timeoutMs?: number; saveFirst?: DiskSaveRequest[] }; result: StartResult & { net: Record<string, NetRestoreReport>; saved: SavedDisk[] } };
  /** Stop (or crash) every machine and the switches, then exit. */
  shutdown: { params: { how?: 'stop' | 'crash' }; result: null };
}

export type MethodName = keyof Methods;

export interface Request<M extends MethodName = MethodName> {
  id?: number;
  method: M;
  params: Methods[M]['params'];
}

export interface WireError {
  message: string;
  hint?: string;
  exitCode?: number;
}

export type ServerMessage =
  | { id: number; result: unknown }
  | { id: number; error: WireError }
  | { event: LabEvent }
  | { console: number; data: string }
  | { id: number; stream: 'stdout' | 'stderr'; data: string }
  /** A captured frame (base64) and its time in µs since the epoch; `end` once the capture is over. */
  | { capture: string; frame: string; t: number }
  | { capture: string; end: string; frames: number; dropped: number };

/** Splits a byte stream into JSON lines, tolerating chunks that end mid-line. */
export function lineReader(onMessage: (message: unknown) => void): (chunk: Buffer | string) => void {
  let buffer = '';
  return (chunk) => {
    buffer += chunk.toString();
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (!line.trim()) continue;
      try {
        onMessage(JSON.parse(line));
      } catch {
        // not JSON: ignore rather than tear down the connection
      }
    }
  };
}
