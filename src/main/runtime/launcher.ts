// How the supervisor starts processes. The supervisor takes a Launcher as a parameter: the real one
// (real-launcher.ts) spawns vde_switch and linux.uml; the fake one (fake-launcher.ts) lets tests drive
// boots, failures and stops in milliseconds.
import type { GuestPlan, SwitchPlan } from '../../shared/plan.ts';
import type { ExecResult } from '../../shared/runtime-api.ts';

export interface ExitInfo {
  code: number | null;
  signal: string | null;
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

/** The terminal of a guest's main console (a pty in the real launcher). */
export interface ConsolePty {
  onData(listener: (data: string) => void): void;
  write(data: string): void;
  resize(cols: number, rows: number): void;
  /** Flow control: stop reading from the guest until resume(). */
  pause(): void;
  resume(): void;
}

export interface ExecOptions {
  timeoutMs?: number;
  stdin?: string;
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
}

/** The exec channel of a guest (docs/ARCHITECTURE.md, "Exec channel protocol"). */
export interface GuestAgent {
  /** Resolves with the startup script's exit code once `R` arrives; rejects on timeout. */
  waitReady(timeoutMs: number): Promise<number>;
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  close(): void;
}

export interface GuestHandle extends ProcessHandle {
  console: ConsolePty;
  agent: GuestAgent;
  /** Sockets and FIFOs of this guest, recorded so `clean` removes them. */
  sockets: string[];
}

export interface SwitchHandles {
  switch: ProcessHandle;
  /** slirpvde for a host-NAT domain. */
  hostNat?: ProcessHandle;
  sockets: string[];
}

export interface Launcher {
  /** Start a collision domain's switch (and its slirpvde); resolves once guests can attach to it. */
  spawnSwitch(plan: SwitchPlan): Promise<SwitchHandles>;
  /** Start a guest; resolves once the process runs (not when it is ready). */
  spawnGuest(plan: GuestPlan, console: { cols: number; rows: number }): Promise<GuestHandle>;
  /** Send a management command (`cad`, `halt`) to a running guest. */
  mconsole(plan: GuestPlan, command: 'cad' | 'halt'): Promise<void>;
  /** Delete a guest's disk (only called while it is stopped). */
  wipeDisk(plan: GuestPlan): Promise<void>;
}
