// A guest console that outlives its viewers (VS Code ptyService / Hyper style): output is batched,
// kept in a bounded replay buffer for viewers that attach later, logged to a rotating file, and
// flow-controlled per viewer. This is the one flow control of consoles (the CLI's `connect` and the
// app's windows, through the service, are both viewers here).
//
// Flow control pauses *delivery* to one viewer, never the guest: a viewer that attached with
// `flowControl` acknowledges what it rendered; above FLOW_HIGH_WATERMARK unacknowledged characters its
// output is held, and released once its acknowledgements bring it below FLOW_LOW_WATERMARK. Held
// output is bounded (HELD_LIMIT_CHARS): past it the oldest is dropped and the viewer is told how much
// it skipped. Pausing the pty instead would stall UML's console until its next keystroke (a 20 MB
// flood stopped for good until a key was pressed), and one slow window would stall every other viewer.
import { appendFileSync, renameSync, statSync } from 'node:fs';
import type { ConsolePty } from './launcher.ts';
import type { ConsoleHandle } from '../../shared/runtime-api.ts';

export const REPLAY_LIMIT_CHARS = 256 * 1024;
/** Output is flushed to viewers this often (and at once above BATCH_MAX_CHARS). */
export const BATCH_INTERVAL_MS = 8;
export const BATCH_MAX_CHARS = 200 * 1024;
/** Hold a viewer's output when it has this many characters not yet acknowledged; release below the low mark. */
export const FLOW_HIGH_WATERMARK = 100_000;
export const FLOW_LOW_WATERMARK = 5_000;
/** Output held for one viewer that is behind, at most; a terminal that far behind scrolls past it anyway. */
export const HELD_LIMIT_CHARS = 2 * 1024 * 1024;
const LOG_ROTATE_BYTES = 1024 * 1024;
/**
 * A guest's boot has settled once its console has been quiet this long after ready (at most
 * SETTLE_MAX_MS after it). The kernel's last boot lines can reach us after the agent's ready, which
 * comes on another channel: until the boot settles they are still boot log, and the shell is not woken.
 */
export const SETTLE_QUIET_MS = 100;
export const SETTLE_MAX_MS = 1000;

/**
 * Something that sees a console's bytes as they pass (a recorder, console-record.ts): every output
 * chunk from the first one, what any viewer types into the guest, and size changes. Called inline;
 * a tap that throws is dropped, never the console.
 */
export interface ConsoleTap {
  output?(data: string): void;
  input?(data: string): void;
  resize?(cols: number, rows: number): void;
}

export interface ConsoleViewerOptions {
  onData(data: string): void;
  /** A viewer with flow control acknowledges characters it has rendered with ack(). */
  flowControl?: boolean;
  /** Send the replay buffer first (default true). */
  replay?: boolean;
}

interface ViewerState {
  options: ConsoleViewerOptions;
  unacked: number;
  /** Output not delivered yet because the viewer is behind (flow control only). */
  held: string[];
  heldChars: number;
  /** Characters dropped from `held` since the viewer last caught up. */
  skipped: number;
}

/** What a viewer is told in place of output it skipped. */
export function skippedNote(chars: number): string {
  return `\r\n\x1b[2m[vnetlab: ${Math.max(1, Math.round(chars / 1024))} KiB of output skipped to keep up]\x1b[0m\r\n`;
}

export class ConsoleSession {
  private replay: string[] = [];
  private replayChars = 0;
  /** Characters ever remembered (the replay keeps the last REPLAY_LIMIT_CHARS of them). */
  private rememberedChars = 0;
  /**
   * Where the console's boot output not yet filtered begins, counted as `rememberedChars`: set when a
   * boot begins, undefined once the boot has settled (SETTLE_QUIET_MS).
   */
  private bootFrom: number | undefined;
  /** The pty's guest has not said it is ready yet (from bindPty until bootDone). */
  private booting = false;
  private lastOutputAt = 0;
  private settleTimer: NodeJS.Timeout | undefined;
  private pending = '';
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly viewers = new Set<ViewerState>();
  private pty: ConsolePty | undefined;
  private size = { cols: 80, rows: 24 };
  /** A booting guest's console keeps its size until it is ready (bindPty); whether a viewer asked meanwhile. */
  private holdResize = false;
  private resizeHeld = false;
  /** A guest console's shell starts on a key (the guest init, vnetlab-agent --init): this one, sent once the guest is ready and a viewer looks. */
  private wakeKey: string | undefined;

  constructor(
    readonly key: string,
    private readonly logFile?: string,
    private tap?: ConsoleTap,
  ) {}

  get dimensions(): { cols: number; rows: number } {
    return { ...this.size };
  }

  /** Attach the session to a (new) pty: the session survives guest restarts, the pty does not. */
  /**
   * `booting`: the pty is a guest's console and its kernel is booting. Its size then stays what it was
   * spawned with until bootDone(): a SIGWINCH that reaches UML in its first milliseconds (a viewer that
   * re-attached and sent its size right after a restart) panics the kernel from its `winch` handler, before
   * its interrupts are set up (seen in journey-student: "Kernel panic … winch … memmap_init_range").
   */
  bindPty(pty: ConsolePty, { booting = false, wakeKey }: { booting?: boolean; wakeKey?: string } = {}): void {
    this.pty = pty;
    this.wakeKey = wakeKey;
    this.booting = true;
    this.clearSettleTimer();
    this.holdResize = booting;
    this.resizeHeld = false;
    this.bootFrom = this.rememberedChars;
    pty.onData((data) => {
      if (this.pty === pty) this.push(data);
    });
  }

  unbindPty(): void {
    this.flush();
    this.clearSettleTimer();
    this.pty = undefined;
  }

  /** Output from the guest (or a note from the supervisor). */
  push(data: string): void {
    this.lastOutputAt = Date.now();
    this.pending += data;
    this.remember(data);
    if (this.tap?.output) this.tapped(() => this.tap!.output!(data));
    if (this.pending.length >= BATCH_MAX_CHARS) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), BATCH_INTERVAL_MS);
  }

  /**
   * A line from the supervisor (the machine stopped…), delivered at once rather than at the next batch:
   * it is often the last thing said before the supervisor exits.
   */
  note(text: string): void {
    this.push(text);
    this.flush();
  }

  /**
   * The guest is ready: the kernel's boot messages (printed before the guest's init quietens the
   * console) leave the replay, so a window that attaches later — a reload — shows the console as the
   * student left it, not the boot log. The init's own `vnetlab: …` lines stay (they report a problem
   * with the lab's files); the console log file keeps everything. A boot that fails keeps all of it.
   * Lines that still arrive until the boot settles are late boot log and leave too.
   */
  bootDone(): void {
    this.booting = false;
    if (this.holdResize) {
      this.holdResize = false;
      if (this.resizeHeld) this.pty?.resize(this.size.cols, this.size.rows);
    }
    this.dropBootLog();
    const readyAt = Date.now();
    const settleWhenQuiet = () => {
      const quietFor = Date.now() - this.lastOutputAt;
      if (quietFor >= SETTLE_QUIET_MS || Date.now() - readyAt >= SETTLE_MAX_MS) this.settle();
      else this.settleTimer = setTimeout(settleWhenQuiet, SETTLE_QUIET_MS - quietFor);
    };
    settleWhenQuiet();
  }

  /** The boot has settled: its last lines leave the replay, and a viewer's look wakes the shell. */
  private settle(): void {
    this.clearSettleTimer();
    if (this.booting || this.bootFrom === undefined) return;
    this.dropBootLog();
    this.bootFrom = undefined;
    this.wakeIfViewed();
  }

  /** The boot output since `bootFrom` leaves the replay, but for the init's `vnetlab:` lines. */
  private dropBootLog(): void {
    if (this.bootFrom === undefined) return;
    this.flush();
    const bootChars = this.rememberedChars - this.bootFrom;
    this.bootFrom = this.rememberedChars;
    if (bootChars <= 0) return;
    const text = this.replay.join('');
    const cut = Math.max(0, text.length - bootChars);
    const kept = text.slice(cut).split(/(?<=\n)/).filter((line) => /^(\x1b\[[0-9;]*m)*vnetlab: /.test(line)).join('');
    const replay = text.slice(0, cut) + kept;
    this.replay = replay ? [replay] : [];
    this.replayChars = replay.length;
  }

  /** The last lines of output (for error messages). */
  tail(lines: number): string {
    const text = this.replay.join('').slice(-16 * 1024);
    // eslint-disable-next-line no-control-regex
    const clean = text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
    return clean.split('\n').filter((l) => l.trim() !== '').slice(-lines).join('\n');
  }

  attach(options: ConsoleViewerOptions): ConsoleHandle {
    this.flush();
    const state: ViewerState = { options, unacked: 0, held: [], heldChars: 0, skipped: 0 };
    if (!this.booting) this.dropBootLog(); // a look between ready and the settling: no late boot lines
    this.viewers.add(state);
    if (options.replay !== false && this.replayChars > 0) this.deliver(state, this.replay.join(''));
    this.wakeIfViewed();
    return {
      write: (data) => {
        if (!this.pty) return;
        if (this.tap?.input) this.tapped(() => this.tap!.input!(data));
        if (!this.booting) this.settle(); // a key typed before the wake must reach the shell, not start it
        this.pty.write(data);
      },
      resize: (cols, rows) => this.resize(cols, rows),
      ack: (chars) => this.ack(state, chars),
      detach: () => {
        this.viewers.delete(state);
        state.held = [];
        state.heldChars = 0;
      },
    };
  }

  /** The first look at a ready guest's console, once its boot has settled, starts its shell (once per boot). */
  private wakeIfViewed(): void {
    if (this.wakeKey === undefined || !this.pty || this.bootFrom !== undefined || this.viewers.size === 0) return;
    this.pty.write(this.wakeKey);
    this.wakeKey = undefined;
  }

  private clearSettleTimer(): void {
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = undefined;
  }

  /** The latest viewer to resize wins: the terminal follows whoever is actively looking at it. */
  resize(cols: number, rows: number): void {
    if (!(cols > 0 && rows > 0)) return;
    this.size = { cols: Math.floor(cols), rows: Math.floor(rows) };
    if (this.holdResize) this.resizeHeld = true;
    else this.pty?.resize(this.size.cols, this.size.rows);
    if (this.tap?.resize) this.tapped(() => this.tap!.resize!(this.size.cols, this.size.rows));
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  dispose(): void {
    this.flush();
    this.clearSettleTimer();
    this.viewers.clear();
    this.pty = undefined;
  }

  private tapped(fn: () => void): void {
    try {
      fn();
    } catch {
      this.tap = undefined;
    }
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

  /** Sends output to one viewer, or holds it (bounded) while that viewer is too far behind. */
  private deliver(viewer: ViewerState, data: string): void {
    if (viewer.options.flowControl && (viewer.unacked > FLOW_HIGH_WATERMARK || viewer.held.length)) {
      viewer.held.push(data);
      viewer.heldChars += data.length;
      while (viewer.heldChars > HELD_LIMIT_CHARS && viewer.held.length > 1) {
        const dropped = viewer.held.shift()!.length;
        viewer.heldChars -= dropped;
        viewer.skipped += dropped;
      }
      return;
    }
    this.send(viewer, data);
  }

  private send(viewer: ViewerState, data: string): void {
    if (viewer.options.flowControl) viewer.unacked += data.length;
    try {
      viewer.options.onData(data);
    } catch {
      this.viewers.delete(viewer); // a broken viewer must not stop the console for the others
    }
  }

  private ack(viewer: ViewerState, chars: number): void {
    const n = Number.isFinite(chars) && chars > 0 ? chars : 0;
    viewer.unacked = Math.max(0, viewer.unacked - n);
    if (viewer.unacked >= FLOW_LOW_WATERMARK || viewer.held.length === 0 || !this.viewers.has(viewer)) return;
    const data = (viewer.skipped ? skippedNote(viewer.skipped) : '') + viewer.held.join('');
    viewer.held = [];
    viewer.heldChars = 0;
    viewer.skipped = 0;
    this.send(viewer, data);
  }

  private remember(data: string): void {
    this.replay.push(data);
    this.replayChars += data.length;
    this.rememberedChars += data.length;
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
