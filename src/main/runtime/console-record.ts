// Console recordings in asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/): a JSON header
// line, then one JSON array a line, `[seconds, "o", output]`, `[seconds, "i", keystrokes]`,
// `[seconds, "r", "COLSxROWS"]` and `[seconds, "m", note]` (a marker), so asciinema's player and tools
// read them. A recorder is a ConsoleTap (console-session.ts): it sees every byte of a machine's console
// from the first one, whoever watches, and every keystroke any viewer sends.
//
// Written where the console lives (the lab's supervisor), so a recording goes on when the app, the
// server or a classroom worker restarts. Each event is appended with write(2) on an O_APPEND file
// (a crash of the supervisor loses nothing already written) and fdatasync'ed at most FSYNC_DELAY_MS
// later (a power cut loses at most that much). A new supervisor of the same lab appends to the same
// file: times go on from the header's timestamp (the gap while the lab was stopped shows as a pause).
//
// Bounded per machine (maxBytes, default 8 MiB): output stops being recorded once the file reaches
// OUTPUT_SHARE of the bound (a marker says so), keystrokes go on being recorded in the room left, and
// once the bound is reached nothing more is written (a last marker says so: a file ends at most one
// short marker line past the bound). The console itself is
// never slowed or stopped by its recording: a write error ends the recording, not the console.
import { closeSync, fdatasync, fdatasyncSync, fstatSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ConsoleTap } from './console-session.ts';

export const DEFAULT_RECORD_MAX_BYTES = 8 * 1024 * 1024;
/** Output is recorded up to this share of the bound; the rest is kept for keystrokes. */
export const OUTPUT_SHARE = 0.875;
export const FSYNC_DELAY_MS = 250;

export interface CastHeader {
  version: 2;
  width: number;
  height: number;
  /** Unix time (seconds) of the first event's zero. */
  timestamp: number;
  title?: string;
  env?: Record<string, string>;
}

export type CastEvent = [number, 'o' | 'i' | 'r' | 'm', string];

export interface RecorderOptions {
  /** The .cast file (created 0600 with its folder 0700 on the first event). */
  file: string;
  title?: string;
  maxBytes?: number;
  /** Terminal size for a new file's header. */
  cols?: number;
  rows?: number;
  /** The clock (tests). */
  now?: () => number;
}

export class ConsoleRecorder implements ConsoleTap {
  private fd: number | undefined;
  private t0 = 0;
  private bytes = 0;
  private outputFull = false;
  private full = false;
  private failed = false;
  private syncTimer: NodeJS.Timeout | undefined;
  private readonly max: number;
  private readonly now: () => number;

  constructor(private readonly options: RecorderOptions) {
    this.max = Math.max(4096, options.maxBytes ?? DEFAULT_RECORD_MAX_BYTES);
    this.now = options.now ?? Date.now;
  }

  output(data: string): void {
    if (this.outputFull || !data) return;
    this.event('o', data, Math.floor(this.max * OUTPUT_SHARE));
  }

  input(data: string): void {
    if (data) this.event('i', data, this.max);
  }

  resize(cols: number, rows: number): void {
    this.event('r', `${cols}x${rows}`, Math.floor(this.max * OUTPUT_SHARE));
  }

  /** Bytes in the file (the header included). */
  get size(): number {
    return this.bytes;
  }

  /** Flushes to the disk and closes the file; a later event opens it again. */
  close(): void {
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    if (this.fd === undefined) return;
    try {
      fdatasyncSync(this.fd);
    } catch {
      /* closing anyway */
    }
    closeSync(this.fd);
    this.fd = undefined;
  }

  private event(kind: CastEvent[1], data: string, limit: number): void {
    if (this.full || this.failed) return;
    try {
      this.open();
      if (this.full || (kind !== 'i' && this.outputFull)) return;
      const t = Math.max(0, Math.round(this.now() - this.t0)) / 1000;
      const line = `${JSON.stringify([t, kind, data])}\n`;
      const size = Buffer.byteLength(line);
      if (this.bytes + size > limit) {
        // The bound: say so once, in the room kept for it, and record no more of this kind.
        if (kind === 'i') this.full = true;
        else this.outputFull = true;
        const note = kind === 'i' ? `recording limit reached (${this.max} bytes): nothing more is recorded` : `output recording limit reached (${Math.floor(this.max * OUTPUT_SHARE)} bytes): keystrokes are still recorded`;
        this.append(`${JSON.stringify([t, 'm', note])}\n`);
        return;
      }
      this.append(line);
    } catch {
      // A recording that cannot be written ends; the console goes on.
      this.failed = true;
    }
  }

  private append(line: string): void {
    const buf = Buffer.from(line);
    writeSync(this.fd!, buf);
    this.bytes += buf.length;
    this.syncTimer ??= setTimeout(() => {
      this.syncTimer = undefined;
      if (this.fd !== undefined) fdatasync(this.fd, () => {});
    }, FSYNC_DELAY_MS);
    this.syncTimer.unref?.();
  }

  private open(): void {
    if (this.fd !== undefined) return;
    mkdirSync(dirname(this.options.file), { recursive: true, mode: 0o700 });
    const fd = openSync(this.options.file, 'a+', 0o600);
    try {
      const size = fstatSync(fd).size;
      const header = size > 0 ? readHeader(fd) : undefined;
      this.bytes = size;
      if (header) {
        this.t0 = header.timestamp * 1000;
        // A line cut short by a crash: end it, so the next event is a line of its own.
        const last = Buffer.alloc(1);
        if (readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 10) {
          writeSync(fd, '\n');
          this.bytes += 1;
        }
      } else {
        if (size > 0) throw new Error(`${this.options.file} is not an asciicast v2 recording`);
        this.t0 = this.now();
        const h: CastHeader = { version: 2, width: this.options.cols ?? 80, height: this.options.rows ?? 24, timestamp: this.t0 / 1000, ...(this.options.title ? { title: this.options.title } : {}), env: { TERM: 'xterm-256color' } };
        const line = Buffer.from(`${JSON.stringify(h)}\n`);
        writeSync(fd, line);
        this.bytes = line.length;
      }
      if (this.bytes >= Math.floor(this.max * OUTPUT_SHARE)) this.outputFull = true;
      if (this.bytes >= this.max) this.full = true;
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    this.fd = fd;
  }
}

function readHeader(fd: number): CastHeader | undefined {
  const buf = Buffer.alloc(4096);
  const n = readSync(fd, buf, 0, buf.length, 0);
  const nl = buf.subarray(0, n).indexOf(10);
  if (nl < 0) return undefined;
  try {
    const h = JSON.parse(buf.subarray(0, nl).toString('utf8')) as CastHeader;
    return h && h.version === 2 && typeof h.timestamp === 'number' ? h : undefined;
  } catch {
    return undefined;
  }
}

/** A recording read back: its header and events; lines that are not events (a torn last line) are skipped. */
export function parseCast(text: string): { header: CastHeader; events: CastEvent[] } {
  const lines = text.split('\n');
  const header = JSON.parse(lines[0] ?? '') as CastHeader;
  if (header?.version !== 2) throw new Error('not an asciicast v2 recording');
  const events: CastEvent[] = [];
  for (const line of lines.slice(1)) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as unknown;
      if (Array.isArray(e) && typeof e[0] === 'number' && typeof e[1] === 'string' && typeof e[2] === 'string') events.push(e as CastEvent);
    } catch {
      /* torn line */
    }
  }
  return { header, events };
}
