// How the supervisor starts processes. The supervisor takes a Launcher as a parameter: the real one
// (real-launcher.ts) spawns vde_switch and linux.uml; the fake one (fake-launcher.ts) lets tests drive
// boots, failures and stops in milliseconds.
import { constants } from 'node:os';
import type { GuestPlan } from '../../shared/plan.ts';
import type { ExecResult } from '../../shared/runtime-api.ts';
import type { PooledGuest } from './pool/protocol.ts';

export interface ExitInfo {
  code: number | null;
  signal: string | null;
}

/** A signal's name from its number (as a wait status gives it): SIGKILL, SIGTERM… */
export function signalName(signal: number): string {
  return Object.entries(constants.signals).find(([, n]) => n === signal)?.[0] ?? `signal ${signal}`;
}

/** How a process ended, in words for a message. */
export function describeExit(exit: ExitInfo): string {
  // Neither is known for a process that is not our child (a guest taken from the warm pool).
  return exit.signal ? `signal ${exit.signal}` : exit.code === null ? 'it ended' : `exit code ${exit.code}`;
}

/** A started process the supervisor owns. */
export interface ProcessHandle {
  pid: number;
  /** Process group (the process is its leader): what stop/crash signal. */
  pgid: number;
  argv: string[];
  /** Resolves once the process has exited. */
  exited: Promise<ExitInfo>;
  /** Signal the whole process group. */
  kill(signal: NodeJS.Signals): void;
}

/**
 * The terminal of a guest's main console (a pty in the real launcher, FIFOs for a pooled guest). It has
 * no pause: flow control holds output per viewer (console-session.ts) and never stops reading the guest.
 */
export interface ConsolePty {
  onData(listener: (data: string) => void): void;
  write(data: string): void;
  resize(cols: number, rows: number): void;
}

export interface ExecOptions {
  timeoutMs?: number;
  /** Run in the lab-fs tool set (`T`), not the guest's /bin/sh: what checks use (docs/grading.md). */
  tools?: boolean;
  /** The grader asks: the only exec a grader machine accepts (checked by the supervisor, not passed on). */
  grader?: boolean;
  stdin?: string;
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
}

/** A command whose stdin stays open: what carries an extra console (extra-console.ts). */
export interface InteractiveExec {
  /** Settles when the command has ended (rejects if the exec channel closes first). */
  done: Promise<ExecResult>;
  write(data: string): void;
  /** Close its stdin. */
  end(): void;
  /** SIGKILL to its process group. */
  kill(): void;
}

/** The exec channel of a guest (docs/ARCHITECTURE.md, "Exec channel protocol"). */
export interface GuestAgent {
  /** Resolves with the startup script's exit code once `R` arrives; rejects on timeout. */
  waitReady(timeoutMs: number): Promise<number>;
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /** Run a command in the guest's /bin/sh with stdin kept open; output is only streamed, never kept. */
  interactive(command: string, options: { onStdout(chunk: string): void; onStderr(chunk: string): void }): InteractiveExec;
  /** Ask the guest's init to shut down over the channel; false when the guest did not take it (see AgentClient.requestHalt). */
  requestHalt(timeoutMs?: number): Promise<boolean>;
  /** IPv6 now, in a guest whose lab-fs let it wait (guest/ipv6-later.ts); resolves once the guest has done it. */
  ipv6Now(): Promise<void>;
  /**
   * The guest's link watch (runtime/link-watch.ts): `links …` lines, now and at each change, until the
   * guest ends. Served by the agent itself when it can (`S`), else run as a command.
   */
  watchLinks(onStdout: (chunk: string) => void): Promise<ExecResult>;
  close(): void;
}

export interface GuestHandle extends ProcessHandle {
  console: ConsolePty;
  agent: GuestAgent;
  /** Sockets and FIFOs of this guest, recorded so `clean` removes them. */
  sockets: string[];
}

/** What the launcher reports about a process it has just spawned, before that process may run. */
export interface SpawnedProcess {
  pid: number;
  pgid: number;
  argv: string[];
  /** Sockets, FIFOs and logs the process owns, removed with it (and by `clean`). */
  sockets: string[];
  /** A guest's management socket (recorded: a guest left running is shut down through it). */
  mconsole?: string;
  /** Its start time (/proc), when the launcher has read it already: the record then does not read it again. */
  startTime?: string;
}

/**
 * Called by the launcher synchronously right after spawning and before the process is let go (it
 * waits on a gate until then): the supervisor writes its on-disk record here, so there is no moment
 * in which a process runs that `clean` could not find, even if the supervisor is killed with -9.
 */
export type Register = (process: SpawnedProcess) => void;

/** A helper daemon of the network: a switch, a cable's port hub or wirefilter, a capture's vde_plug. */
export interface DaemonSpec {
  /** For messages: "the switch of collision domain A". */
  what: string;
  argv: string[];
  /** stdout and stderr go here (stderr only, with pipeStdout). */
  logFile: string;
  /** A FIFO the daemon holds open as its stdin: vde_switch exits at EOF on stdin, a FIFO never sends one. */
  stdinFifo?: string;
  /** Resolve only once this path exists (a switch's control socket). */
  readyPath?: string;
  /** Sockets and files the daemon owns (recorded with it). */
  sockets: string[];
  /** Give us the daemon's stdout (a capture) instead of writing it to the log. */
  pipeStdout?: boolean;
  /** The lab's network folders: all the daemon's sandbox may write to (src/main/runtime/confinement.ts). */
  folders: string[];
  /** Host NAT (slirpvde): the one daemon that talks TCP/UDP to the outside and reads the host's resolver files. */
  hostNat?: boolean;
}

export interface DaemonHandle extends ProcessHandle {
  stdout?: NodeJS.ReadableStream;
}

export interface Launcher {
  /** Start a network daemon; resolves once it is usable (its readyPath exists). */
  spawnDaemon(spec: DaemonSpec, register: Register): Promise<DaemonHandle>;
  /**
   * Make what the guests about to boot need that costs a process to make (their exec channels' FIFOs),
   * in one go: one process for a whole wave rather than one per guest, which under the load of a big
   * start took ~0.1 s each on the supervisor's loop. spawnGuest makes whatever is still missing.
   */
  prepareGuests?(plans: GuestPlan[]): Promise<void>;
  /** Start a guest; resolves once the process runs (not when it is ready). */
  spawnGuest(plan: GuestPlan, console: { cols: number; rows: number }, register: Register): Promise<GuestHandle>;
  /**
   * Take over a guest booted by the warm pool (pool/pooled-guest.ts): it becomes this machine's, as if
   * spawned by spawnGuest. `handover` tells the pool to let go once we hold the guest's files. Throws
   * (leaving nothing at the machine's paths) when it cannot; the machine then boots cold.
   */
  adoptGuest?(plan: GuestPlan, pooled: PooledGuest, console: { cols: number; rows: number }, register: Register, handover: () => Promise<void>): Promise<GuestHandle>;
  /** Send a management command (`cad`, `halt`, `config eth1=…`) to a running guest; resolves with its reply. */
  mconsole(plan: GuestPlan, command: string): Promise<string>;
}
