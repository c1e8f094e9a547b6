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
  /** The values of the student's variant of each copy with params (class lab id or exam id → name → value). */
  values?: Record<string, Record<string, unknown>>;
}

/** Operations the front door asks of a worker. `student` is always set by the front door, never by a browser. */
export type WorkerOp =
  | { op: 'open'; session: string; student: string; readOnly?: boolean }
  | { op: 'call'; session: string; method: string; params: unknown[] }
  | { op: 'close'; session: string }
  | { op: 'prepare'; student: string }
  | { op: 'requirements'; student: string; lab: string }
  | { op: 'usage' }
  /** Liveness: the front door asks every few seconds; a worker that stops answering is taken for gone. */
  | { op: 'ping' }
  | { op: 'stop'; student: string; lab: string }
  | { op: 'reset'; student: string; lab: string }
  | { op: 'grade'; student: string; lab: string; hidden: boolean }
  /** The student's copy of a lab as a hand-in pack (docs/snapshots.md): PackFile. */
  | { op: 'pack'; student: string; lab: string }
  | { op: 'examStart'; student: string; exam: string; endsAt: number }
  | { op: 'examExtend'; student: string; exam: string; endsAt: number }
  | { op: 'examEnd'; student: string; exam: string }
  | { op: 'examInfo'; student: string; exam: string }
  | { op: 'recording'; student: string; exam: string; machine: string; offset: number };

export interface ExamStartResult {
  /** The student's exam copy on the worker. */
  path: string;
  /** The values of the student's variant (empty for a lab without params). */
  values: Record<string, unknown>;
}

export interface ExamEndResult {
  /** Every check, hidden ones included; null when there was nothing to grade (see reason). */
  report: CheckReport | null;
  /** The lab was stopped at the end, so it was started to be graded. */
  startedForGrading?: boolean;
  reason?: string;
}

export interface ExamInfo {
  state: { startedAt: number; endsAt: number; ended: boolean; checksUsed: number } | null;
  values: Record<string, unknown>;
  /** One asciicast v2 file per machine whose console was recorded. */
  recordings: { machine: string; bytes: number }[];
}

/** A piece of a recording: base64 bytes from an offset, the file's size and where the next piece starts. */
export interface RecordingChunk {
  data: string;
  size: number;
  next: number;
}

export type WorkerRequest = { id: number } & WorkerOp;

export type Notice = { kind: 'idle-stopped'; student: string; lab: string; path: string } | { kind: 'checked'; student: string; lab: string; report: CheckReport };

export type WorkerFrame =
  | { hello: { worker: string } }
  | { id: number; result: unknown }
  | { id: number; error: ServiceErrorInfo }
  | { session: string; push: PushMessage }
  | { notice: Notice };

/**
 * The largest frame either side sends: a request the front door would send past it is refused to its
 * caller, and a reply the worker would send past it becomes an error for that one call (a push or a
 * notice past it is dropped). Checked while serializing, so an answer that would be huge (a small
 * request can ask for a large one) is given up on before it is built. One oversize message never
 * closes the shared connection: every student on the worker is on it.
 */
export const MAX_FRAME_BYTES = 8 * 1024 * 1024;

/** A frame over MAX_FRAME_BYTES; `bytes` is a lower bound when serializing stopped early. */
export class FrameTooLarge extends Error {
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`a message of ${mib(bytes)} or more, over the limit of ${mib(limit)}`);
  }
}

export const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/**
 * One frame as a JSON line, or FrameTooLarge. The replacer counts the characters of the strings and
 * keys it meets (a lower bound of the output) and stops as soon as that alone is over the limit, before
 * a long string is copied into the output; the exact size of what is left is checked at the end.
 */
export function encodeFrame(frame: unknown, limit = MAX_FRAME_BYTES): string {
  let counted = 0;
  const line = JSON.stringify(frame, function (this: unknown, key: string, value: unknown) {
    if (!Array.isArray(this)) counted += key.length;
    if (typeof value === 'string') counted += value.length;
    if (counted > limit) throw new FrameTooLarge(counted, limit);
    return value;
  });
  const bytes = Buffer.byteLength(line) + 1;
  if (bytes > limit) throw new FrameTooLarge(bytes, limit);
  return `${line}\n`;
}

/** The id at the start of a frame line (`{"id":N,…`, as both sides write them), for a line too large to parse. */
export function idOfHead(head: string): number | undefined {
  const m = /^\{"id":(\d{1,15})[,}]/.exec(head);
  return m ? Number(m[1]) : undefined;
}

export interface LineReaderOptions {
  /** Longest line read (bytes, without its newline); longer ones are skipped, not parsed. */
  maxBytes?: number;
  /** A line over maxBytes was skipped: its first bytes (to find its id) and its length. */
  onOversize?(head: string, bytes: number): void;
}

/**
 * Splits a byte stream into JSON lines. A line over the limit is skipped up to its newline and
 * reported to onOversize (the connection goes on); a line that is not JSON calls onBad, after which
 * nothing more is read (the peer does not speak the protocol). Looks for newlines only in new bytes.
 */
export function lineReader(onFrame: (frame: unknown) => void, onBad: (why: string) => void, options: LineReaderOptions = {}): (chunk: Buffer) => void {
  const max = options.maxBytes ?? MAX_FRAME_BYTES;
  let parts: Buffer[] = [];
  let size = 0;
  let skipping = false;
  let head = '';
  let skipped = 0;
  let dead = false;
  return (chunk) => {
    let start = 0;
    while (!dead && start < chunk.length) {
      const nl = chunk.indexOf(10, start);
      const piece = chunk.subarray(start, nl < 0 ? chunk.length : nl);
      if (skipping) skipped += piece.length;
      else if (size + piece.length > max) {
        head = Buffer.concat([...parts, piece.subarray(0, 256)]).subarray(0, 256).toString('utf8');
        skipped = size + piece.length;
        parts = [];
        size = 0;
        skipping = true;
      } else if (piece.length) {
        parts.push(piece);
        size += piece.length;
      }
      if (nl < 0) return;
      start = nl + 1;
      if (skipping) {
        skipping = false;
        options.onOversize?.(head, skipped);
        continue;
      }
      const line = (parts.length === 1 ? parts[0]! : Buffer.concat(parts, size)).toString('utf8');
      parts = [];
      size = 0;
      if (!line.trim()) continue;
      let frame: unknown;
      try {
        frame = JSON.parse(line);
      } catch {
        dead = true;
        return onBad('not JSON');
      }
      onFrame(frame);
    }
  };
}
