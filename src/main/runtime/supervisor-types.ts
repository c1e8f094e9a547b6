// What the supervisor (supervisor.ts) is given and what its starts answer: its options, where pooled
// guests come from, and a start's result and timings (what `vnetlab start --profile` prints).
import type { GuestPlan } from '../../shared/plan.ts';
import type { PooledGuest } from './pool/protocol.ts';
import type { GuestMemoryOptions } from './proc-memory.ts';

export interface SupervisorOptions {
  /** Where records are written (the lab's run dir); omitted by fast tests that start no real process. */
  recordsRunDir?: string;
  /** Concurrent boots; default min(4 × cores, what free memory allows). */
  maxParallelBoots?: number;
  /** Guests stopped at once (stop-slots.ts); default: all, as far as file descriptors allow. */
  maxParallelStops?: number;
  /** How status's memory figures are refreshed (proc-memory.ts; tests give their own /proc reader). */
  memory?: GuestMemoryOptions;
  /** Graceful stop: wait this long after `cad` before `halt`, and after `halt` before SIGKILL. */
  cadTimeoutMs?: number;
  haltTimeoutMs?: number;
  /** Between the kernel's emergency sync (after the `cad` timeout) and `halt` (guest-shutdown.ts). */
  syncTimeoutMs?: number;
  /** Console log files live in each guest's dir unless false (fake tests). */
  consoleLogs?: boolean;
  /** The warm pool (pool/pool-client.ts LabPool): machines with a fresh disk take a booted guest from it. */
  pool?: GuestSource;
  /** Record every console (output and keystrokes) as `<dir>/<machine>.cast`, asciicast v2 (console-record.ts). */
  recordConsoles?: { dir: string; maxBytes?: number };
}

/** Where pooled guests come from (the warm pool; a fake in tests). */
export interface GuestSource {
  /** A booted guest that can become this machine, reserved for us; undefined when there is none. */
  claim(plan: GuestPlan): Promise<PooledGuest | undefined>;
  /** We hold it now: the pool lets go. */
  taken(id: string): Promise<void>;
  /** We could not take it: the pool ends it. */
  release(id: string): Promise<void>;
}

export interface StartOptions {
  /** Per-guest readiness timeout (default 120 s). */
  timeoutMs?: number;
  /** When the user asked for this start (ms since the epoch): a stop of every machine after it wins. */
  requestedAt?: number;
}

export interface StartResult {
  /** Every selected machine is ready (a failing startup script does not make it false). */
  ok: boolean;
  started: string[];
  failed: { machine: string; error: string }[];
  /** Machines that are ready but whose startup script exited non-zero. */
  startupFailed: { machine: string; exitCode: number }[];
  /** Machines a stop (or crash) ended while this start was bringing them up: stop wins over start. */
  stopped: string[];
  /** Where the time went (host clock, ms since the epoch): what `vnetlab start --profile` prints. */
  timings?: StartTimings;
}

/** Host-side moments of one start (ms since the epoch, the supervisor's clock = the host's). */
export interface StartTimings {
  /** The start request reached the supervisor. */
  received: number;
  /** The switches were up (each guest then waits only for its own cables: its `ports` phase). */
  networkUp: number;
  /** Per machine booted by this start. */
  machines: Record<string, MachineTimings>;
}

export interface MachineTimings {
  /** Its turn came (its wave, and a free slot of the parallel-boot bound). */
  slot: number;
  /** Its cable ports were renewed and the launcher was asked to spawn it. */
  spawn: number;
  /** The process runs (recorded, gate opened). */
  spawned: number;
  /** The kernel's first console line. */
  kernel?: number;
  /** The agent's `R`. */
  ready?: number;
  /** It took a booted guest from the warm pool (spawn→spawned is then the handover). */
  pooled?: boolean;
}
