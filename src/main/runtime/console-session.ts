// A guest console that outlives its viewers (VS Code ptyService / Hyper style): output is batched,
// kept in a bounded replay buffer for viewers that attach later, logged to a rotating file, and
// flow-controlled so a viewer that cannot keep up pauses the guest instead of growing memory.
import { appendFileSync, renameSync, statSync } from 'node:fs';
import type { ConsolePty } from './launcher.ts';

export const REPLAY_LIMIT_CHARS = 256 * 1024;
/** Output is flushed to viewers this often (and at once above BATCH_MAX_CHARS). */
export const BATCH_INTERVAL_MS = 8;
export const BATCH_MAX_CHARS = 200 * 1024;
/** Pause the pty when a viewer has this many characters not yet acknowledged; resume below the low mark. */
export const FLOW_HIGH_WATERMARK = 100_000;
export const FLOW_LOW_WATERMARK = 5_000;
const LOG_ROTATE_BYTES = 1024 * 1024;

export interface ConsoleViewerOptions {
  onData(data: string): void;
  /** A viewer with flow control acknowledges characters it has rendered with ack(). */
  flowControl?: boolean;
  /** Send the replay buffer first (default true). */
  replay?: boolean;
}

export interface ConsoleViewer {
  write(data: string): void;
  resize(cols: number, rows: number): void;
  ack(chars: number): void;
  detach(): void;
}

interface ViewerState {
  options: ConsoleViewerOptions;
  unacked: number;
}

export class ConsoleSession {
  private replay: string[] = [];
  private replayChars = 0;
  private pending = '';
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly viewers = new Set<ViewerState>();
  private pty: ConsolePty | undefined;
  private paused = false;
  private size = { cols: 80, rows: 24 };

  constructor(
    readonly key: string,
    private readonly logFile?: string,
  ) {}

  get dimensions(): { cols: number; rows: number } {
    return { ...this.size };
  }

  /** Attach the session to a (new) pty: the session survives guest restarts, the pty does not. */
  bindPty(pty: ConsolePty): void {
    this.pty = pty;
    this.paused = false;
    pty.onData((data) => {
      if (this.pty === pty) this.push(data);
    });
  }

  unbindPty(): void {
    this.flush();
    this.pty = undefined;
  }

  /** Output from the guest (or a note from the supervisor). */
  push(data: string): void {
    this.pending += data;
    this.remember(data);
    if (this.pending.length >= BATCH_MAX_CHARS) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), BATCH_INTERVAL_MS);
  }

  /** The last lines of output (for error messages). */
  tail(lines: number): string {
    const text = this.replay.join('').slice(-16 * 1024);
    // eslint-disable-next-line no-control-regex
    const clean = text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
    return clean.split('\n').filter((l) => l.trim() !== '').slice(-lines).join('\n');
  }

  attach(options: ConsoleViewerOptions): ConsoleViewer {
    this.flush();
    const state: ViewerState = { options, unacked: 0 };
    this.viewers.add(state);
    if (options.replay !== false && this.replayChars > 0) this.deliver(state, this.replay.join(''));
    return {
      write: (data) => this.pty?.write(data),
      resize: (cols, rows) => this.resize(cols, rows),
      ack: (chars) => {
        state.unacked = Math.max(0, state.unacked - chars);
        this.updateFlow();
      },
      detach: () => {
        this.viewers.delete(state);
        this.updateFlow();
      },
    };
  }

  /** The latest viewer to resize wins: the terminal follows whoever is actively looking at it. */
  resize(cols: number, rows: number): void {
    if (!(cols > 0 && rows > 0)) return;
    this.size = { cols: Math.floor(cols), rows: Math.floor(rows) };
    this.pty?.resize(this.size.cols, this.size.rows);
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  dispose(): void {
    this.flush();
    this.viewers.clear();
    this.pty = undefined;
  }

  private flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (!this.pending) return;
    const data = this.pending;
    this.pending = '';
    this.log(data);
    for (const viewer of this.viewers) this.deliver(viewer, data);
  }

  private deliver(viewer: ViewerState, data: string): void {
    if (viewer.options.flowControl) viewer.unacked += data.length;
    try {
      viewer.options.onData(data);
    } catch {
      this.viewers.delete(viewer); // a broken viewer must not stop the console for the others
    }
    this.updateFlow();
  }

  private updateFlow(): void {
    let worst = 0;
    for (const v of this.viewers) if (v.options.flowControl) worst = Math.max(worst, v.unacked);
    if (!this.paused && worst > FLOW_HIGH_WATERMARK) {
      this.paused = true;
      this.pty?.pause();
    } else if (this.paused && worst < FLOW_LOW_WATERMARK) {
      this.paused = false;
      this.pty?.resume();
    }
  }

  private remember(data: string): void {
    this.replay.push(data);
    this.replayChars += data.length;
    while (this.replayChars > REPLAY_LIMIT_CHARS && this.replay.length > 1) {
      this.replayChars -= this.replay.shift()!.length;
    }
    if (this.replayChars > REPLAY_LIMIT_CHARS) {
      let only = this.replay[0]!.slice(-REPLAY_LIMIT_CHARS);
      if (/^[\udc00-\udfff]/.test(only)) only = only.slice(1); // never start with half a character
      this.replay = [only];
      this.replayChars = only.length;
    }
  }

  private log(data: string): void {
    if (!this.logFile) return;
    try {
      appendFileSync(this.logFile, data);
      if (statSync(this.logFile).size > LOG_ROTATE_BYTES) renameSync(this.logFile, `${this.logFile}.1`);
    } catch {
      // The console keeps working for viewers even when its log cannot be written.
    }
  }
}
