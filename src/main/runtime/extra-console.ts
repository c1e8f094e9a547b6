// More consoles of one machine (issue 23; Kathará's `num_terms`). Console 0 is UML's own console on a
// host pty (real-launcher.ts). Console 1.. is a login shell on a pty allocated inside the guest
// (`vnetlab-agent --pty`, kernels/guest/agent/vnetlab-agent.c), carried over the exec channel as an
// interactive command: the host opens nothing new for it, and the guest only ever talks the exec
// protocol it already speaks. The same ConsoleSession as console 0 serves it (replay, flow control,
// per-viewer holding, a log file), so every viewer (the CLI's connect, the app) treats them alike.
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { ConsoleSession, type ConsoleTap } from './console-session.ts';
import type { ConsolePty, GuestAgent, InteractiveExec } from './launcher.ts';

/** Consoles of one machine at most, console 0 included. */
export const MAX_CONSOLES = 8;

/** The pty the guest's relay says it made; anything else it says is not trusted into a command line. */
const PTS_LINE = /^pts (\/dev\/pts\/\d{1,6})$/m;

/** The guest's login shell on a pty of its own: bash where the image has it, as on console 0. */
export function extraConsoleCommand(cols: number, rows: number): string {
  const dim = (n: number) => Math.min(1000, Math.max(1, Math.floor(n) || 1));
  return `shell=/bin/sh; [ -x /bin/bash ] && shell=/bin/bash; exec /usr/sbin/vnetlab-agent --pty ${dim(rows)} ${dim(cols)} "$shell" -l`;
}

export function checkConsoleIndex(machine: string, index: unknown): number {
  if (typeof index === 'number' && Number.isInteger(index) && index >= 0 && index < MAX_CONSOLES) return index;
  const shown = typeof index === 'number' && Number.isInteger(index) ? `console ${index + 1}` : `console '${String(index)}'`;
  throw new UserError(`${machine} has no ${shown}: a machine has at most ${MAX_CONSOLES} consoles`, 2, `close one of ${machine}'s consoles you no longer use, or use one of consoles 1 to ${MAX_CONSOLES}`);
}

/** One shell's terminal: what a ConsoleSession binds, like console 0's pty. */
export interface ShellPty extends ConsolePty {
  /** Settles when the shell has ended (or the exec channel closed). */
  ended: Promise<void>;
  /** Hang its pty up (the shell and its jobs get SIGHUP). */
  close(): void;
}

export function startShellPty(agent: GuestAgent, size: { cols: number; rows: number }): ShellPty {
  const listeners: ((data: string) => void)[] = [];
  const emit = (data: string) => listeners.forEach((l) => l(data));
  let pts: string | undefined;
  let stderr = '';
  // Resizes come in bursts while a window is dragged: at most one `--winsize` runs, then the latest.
  let resizing = false;
  let wanted: { cols: number; rows: number } | undefined;
  let over = false;
  const resizeNow = () => {
    if (resizing || !wanted || !pts || over) return;
    const { cols, rows } = wanted;
    wanted = undefined;
    resizing = true;
    void agent
      .exec(`/usr/sbin/vnetlab-agent --winsize ${pts} ${rows} ${cols}`, { timeoutMs: 5_000 })
      .catch(() => undefined)
      .then(() => {
        resizing = false;
        resizeNow();
      });
  };
  const exec: InteractiveExec = agent.interactive(extraConsoleCommand(size.cols, size.rows), {
    onStdout: emit,
    onStderr: (chunk) => {
      if (pts) return emit(chunk);
      stderr += chunk;
      const found = PTS_LINE.exec(stderr);
      if (found) {
        pts = found[1];
        const rest = stderr.slice(found.index + found[0].length).replace(/^\n/, '');
        stderr = '';
        if (rest) emit(rest);
        resizeNow();
      } else if (stderr.length > 4096 || /\n/.test(stderr)) {
        emit(stderr.replace(/\r?\n/g, '\r\n')); // an error from the guest (no pty, an old agent): show it
        stderr = '';
      }
    },
  });
  const ended = exec.done.then(
    () => undefined,
    () => undefined,
  );
  void ended.then(() => (over = true));
  return {
    ended,
    onData: (listener) => listeners.push(listener),
    write: (data) => exec.write(data),
    resize: (cols, rows) => {
      wanted = { cols, rows };
      resizeNow();
    },
    close: () => {
      exec.end();
      exec.kill();
    },
  };
}

/**
 * The extra consoles of one machine: created by their first viewer, kept (with their replay) while
 * the lab runs. Each gets a new shell whenever the machine becomes ready; a shell that ends (`exit`)
 * is started again by the next Enter, as console 0's is respawned by the guest's init.
 */
export class ExtraConsoles {
  private readonly sessions = new Map<number, { session: ConsoleSession; shell?: ShellPty }>();
  private agent: GuestAgent | undefined;

  constructor(
    private readonly machine: string,
    /** Where console-N.log goes; none without. */
    private readonly logDir: string | undefined,
    /** A recorder of console N (an exam's lab records every console), if any. */
    private readonly tapFor: (index: number) => ConsoleTap | undefined = () => undefined,
  ) {}

  session(index: number): ConsoleSession {
    let entry = this.sessions.get(index);
    if (!entry) {
      const session = new ConsoleSession(`${this.machine}/${index}`, this.logDir ? join(this.logDir, `console-${index}.log`) : undefined, this.tapFor(index));
      entry = { session };
      this.sessions.set(index, entry);
      if (this.agent) this.startShell(index);
      else session.push(`[vnetlab: ${this.machine} is not ready: console ${index + 1} opens when it is]\r\n`);
    }
    return entry.session;
  }

  /** The machine is ready: every console opened so far gets its shell. */
  guestReady(agent: GuestAgent): void {
    this.agent = agent;
    for (const index of this.sessions.keys()) this.startShell(index);
  }

  /** The guest is gone (stopped, crashed): its shells with it. */
  guestGone(): void {
    this.agent = undefined;
    for (const [index, entry] of this.sessions) {
      entry.shell = undefined;
      entry.session.unbindPty();
      entry.session.note(`\r\n[vnetlab: ${this.machine} stopped: console ${index + 1} ended with it]\r\n`);
    }
  }

  dispose(): void {
    for (const entry of this.sessions.values()) {
      entry.shell?.close();
      entry.session.dispose();
    }
    this.sessions.clear();
  }

  private startShell(index: number): void {
    const entry = this.sessions.get(index);
    const agent = this.agent;
    if (!entry || !agent || entry.shell) return;
    const shell = startShellPty(agent, entry.session.dimensions);
    entry.shell = shell;
    // Enter after the shell ended starts a new one; other keys wait for it.
    const respawn: ConsolePty = {
      onData: (listener) => shell.onData(listener),
      resize: (cols, rows) => shell.resize(cols, rows),
      write: (data) => {
        if (entry.shell === shell) shell.write(data);
        else if (/[\r\n]/.test(data) && this.agent === agent && !entry.shell) this.startShell(index);
      },
    };
    entry.session.bindPty(respawn);
    void shell.ended.then(() => {
      if (entry.shell !== shell) return;
      entry.shell = undefined;
      if (this.agent === agent) entry.session.push(`\r\n[vnetlab: the shell of ${this.machine}'s console ${index + 1} ended: press Enter for a new one]\r\n`);
    });
  }
}
