// The front door ↔ worker boundary: newline-delimited JSON over one socket (a Unix socket on one
// host, TCP between pods in a cluster: the same process and the same frames either way). The first
// line from the front door is `{hello:{secret}}`; the worker answers `{hello:{worker}}` or hangs up.
import type { CheckReport } from '../../shared/checks.ts';
import type { PushMessage, ServiceErrorInfo } from '../../shared/service-api.ts';

export interface LabRequirements {
  machines: number;
  memoryMb: number;
  /** Guest memory of each machine by name (what a start of that machine alone reserves). */
  perMachine?: Record<string, number>;
}

export interface StudentLab {
  id: string;
  title: string;
  /** The student's copy on the worker (what the renderer names the lab by). */
  path: string;
}

export interface LabUsage {
  id: string;
  path: string;
  machines: { name: string; state: string; rssBytes?: number }[];
}

export interface StudentUsage {
  student: string;
  lastActivity: number;
  labs: LabUsage[];
}

/** Operations the front door asks of a worker. `student` is always set by the front door, never by a browser. */
export type WorkerOp =
  | { op: 'open'; session: string; student: string; readOnly?: boolean }
  | { op: 'call'; session: string; method: string; params: unknown[] }
  | { op: 'close'; session: string }
  | { op: 'prepare'; student: string }
  | { op: 'requirements'; student: string; lab: string }
  | { op: 'usage' }
  | { op: 'stop'; student: string; lab: string }
  | { op: 'reset'; student: string; lab: string }
  | { op: 'grade'; student: string; lab: string; hidden: boolean };

export type WorkerRequest = { id: number } & WorkerOp;

export type Notice = { kind: 'idle-stopped'; student: string; lab: string; path: string } | { kind: 'checked'; student: string; lab: string; report: CheckReport };

export type WorkerFrame =
  | { hello: { worker: string } }
  | { id: number; result: unknown }
  | { id: number; error: ServiceErrorInfo }
  | { session: string; push: PushMessage }
  | { notice: Notice };

/** Frames larger than this close the connection (a console flood is batched well below it). */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

/** Splits a byte stream into JSON lines; a line over the limit or not JSON calls onBad. */
export function lineReader(onFrame: (frame: unknown) => void, onBad: (why: string) => void): (chunk: Buffer) => void {
  let buf = '';
  return (chunk) => {
    buf += chunk.toString('utf8');
    if (buf.length > MAX_LINE_BYTES) return onBad('frame too large');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      let frame: unknown;
      try {
        frame = JSON.parse(line);
      } catch {
        return onBad('not JSON');
      }
      onFrame(frame);
    }
  };
}
