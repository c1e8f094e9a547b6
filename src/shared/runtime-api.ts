// Types of a running lab, shared by the supervisor (src/main/runtime), its clients (CLI, service,
// grader) and the renderer.
import type { CableImpairments, Impairment } from './plan.ts';

export type MachineState = 'stopped' | 'booting' | 'ready' | 'failed' | 'stopping' | 'crashed';

export interface MachineStatus {
  name: string;
  state: MachineState;
  pid?: number;
  /** Resident memory of the UML process tree, bytes. */
  rssBytes?: number;
  startedAt?: string;
  /** Exit code of the startup script as reported by the guest (undefined until ready). */
  startupExitCode?: number;
  /** Why the machine failed: e.g. "kernel panic", "not ready after 60 s", with console tail. */
  error?: string;
  interfaces: { name: string; domain: string; mac: string }[];
  /** Each NIC's state as the guest sees it (link lights), while it runs: `eth0: 'up'`. */
  links?: Record<string, LinkState>;
}

/** A NIC as its guest sees it: up, administratively down (`ip link set eth0 down`), or up without carrier (cable pulled). */
export type LinkState = 'up' | 'down' | 'no-carrier';

export interface LabStatus {
  labId: string;
  name: string;
  root: string;
  supervisorPid?: number;
  machines: MachineStatus[];
  switches: { domain: string; pid?: number; running: boolean }[];
  cables: CableStatus[];
  /** Problems of the running lab a user must see (e.g. the disk holding the guests' disks is full). */
  warnings?: string[];
}

/**
 * A cable as it is now: `up` carries frames; `unplugged` by request; `down` while its domain's switch
 * is being restarted; `cut` when its port hub died under a running guest (restart the machine).
 */
export interface CableStatus {
  id: string;
  machine: string;
  interface: string;
  domain: string;
  plugged: boolean;
  state: 'up' | 'unplugged' | 'down' | 'cut';
  impairments: CableImpairments;
  /** pid of the wirefilter while plugged. */
  pid?: number;
  /**
   * A switch link (a cable between two switches, `machine` and `interface` empty): the two domains it
   * joins; `domain` is the second.
   */
  between?: [string, string];
  /** Spanning tree keeps its port from forwarding at these ends (switch domains), in these VLANs (0: the default one). */
  blocked?: { domain: string; vlans: number[] }[];
}

export type LabEvent =
  | { type: 'machine-state'; machine: string; state: MachineState; error?: string }
  | { type: 'progress'; message: string }
  | { type: 'cable'; cable: CableStatus }
  /** A guest's NICs changed state (link lights): every NIC of that machine, as it is now. */
  | { type: 'link-state'; machine: string; interfaces: Record<string, LinkState> }
  | { type: 'lab-stopped' };

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  timedOut: boolean;
}

/** A change to one cable (`vnetlab link`, the canvas, checks with `during:`); absent fields stay as they are. */
export interface CableChange {
  plugged?: boolean;
  domain?: string;
  /** Set these impairment fields in these directions (other fields are kept). */
  impair?: { direction: 'in' | 'out' | 'both'; values: Impairment };
  /** Back to a perfect cable first. */
  reset?: boolean;
}

/**
 * A viewer's end of a guest's console, wherever it is held: the supervisor's console session
 * (runtime/console-session.ts), its client over the socket (runtime/client.ts), the service's backends.
 */
export interface ConsoleHandle {
  /** Keystrokes to the guest. */
  write(data: string): void;
  resize(cols: number, rows: number): void;
  /** With flow control, this many more characters were rendered: held output is released below the low mark. */
  ack(chars: number): void;
  detach(): void;
}
