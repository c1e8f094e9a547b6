// The ONE contract between the UI and Node. The service (src/main/service) implements it without any
// transport; the WebSocket server (src/main/server) and the Electron IPC shell (src/main/electron)
// bind exactly this interface, and the renderer talks to nothing else. Plain JSON data only.

import type { CheckReport } from './checks.ts';
import type { Diagnostic } from './diagnostics.ts';
import type { LabFormat, LabModel } from './lab-model.ts';
import type { Plan } from './plan.ts';
import type { CableChange, CableStatus, LabEvent, LabStatus } from './runtime-api.ts';

/** A lab the app ships (labs/) or one found while listing a folder. */
export interface LabSummary {
  /** Absolute path of the lab folder. */
  path: string;
  name: string;
  title?: string;
  format: LabFormat;
}

/** One folder of the "open lab" dialog. Listing is limited to the user's home and the shipped labs. */
export interface FolderListing {
  path: string;
  /** Absent at the top of an allowed root. */
  parent?: string;
  /** Roots the dialog may browse (home, shipped labs), for its shortcuts. */
  roots: string[];
  entries: FolderEntry[];
}

export interface FolderEntry {
  name: string;
  path: string;
  /** `lab` when the folder holds lab.yaml or lab.conf (it opens instead of descending). */
  kind: 'lab' | 'folder';
  format?: LabFormat;
}

export interface OpenLabResult {
  /** Absent when the lab could not be read at all (see diagnostics). */
  model?: LabModel;
  diagnostics: Diagnostic[];
}

/** `yaml` writes `<folder>/lab.yaml`; `netkit` writes lab.conf + <machine>.startup + folders. */
export type SaveFormat = 'yaml' | 'netkit';

export interface SaveResult {
  /** The file written, absolute. */
  file: string;
  /** Validation of what was saved (saving never refuses a lab with errors: students save work in progress). */
  diagnostics: Diagnostic[];
}

export interface CompileResult {
  plan?: Plan;
  diagnostics: Diagnostic[];
}

/** What the host lacks to run labs, with the exact command to fix it. Empty `problems` = ready. */
export interface EnvironmentReport {
  problems: { what: string; fix: string }[];
}

export type MachineAction = 'start' | 'stop' | 'restart' | 'crash';

/** A console attached for one client. `replay` is the recent output to write before any new data. */
export interface ConsoleAttachment {
  consoleId: string;
  machine: string;
  /** Which console of the machine: 0 is the guest's own, 1.. the extra ones (a machine has at most 8). */
  console: number;
  replay: string;
}

/** A saved state of a lab (`vnetlab snapshot`, docs/snapshots.md). */
export interface SavedStateInfo {
  name: string;
  parent: string | null;
  createdAt: string;
  note: string;
  /** Made by a restore (`before-restore-N`). */
  auto: boolean;
  /** The state the lab was last saved as or restored to. */
  current: boolean;
  /** Bytes on disk its copies add. */
  diskBytes: number;
  machines: { name: string; running: boolean; hasDisk: boolean }[];
}

export interface RestoreStateResult {
  /** The machines as they were, saved first (undo by restoring it). */
  before: string;
  restored: string[];
  failed: { machine: string; error: string }[];
  /** Per machine: how its network state went back ("4 changes"), or what still differs. */
  notes: string[];
}

/** A hand-in pack (`vnetlab pack`), for the browser to save. */
export interface PackFile {
  fileName: string;
  base64: string;
  bytes: number;
}

/** Everything the renderer can ask. Lab-scoped calls name the lab by its absolute folder. */
export interface VnetlabService {
  environment(): Promise<EnvironmentReport>;
  listLabs(): Promise<LabSummary[]>;
  listFolder(path?: string): Promise<FolderListing>;
  openLab(path: string): Promise<OpenLabResult>;
  /** A new, empty, unsaved lab that will live in `folder` (the model's root). */
  newLab(folder: string): Promise<LabModel>;
  validate(model: LabModel): Promise<Diagnostic[]>;
  /** Atomic write of the model into `folder` (created if missing; must be inside the user's home or the lab roots). */
  saveLab(folder: string, model: LabModel, format: SaveFormat): Promise<SaveResult>;
  compile(model: LabModel): Promise<CompileResult>;

  startLab(labRoot: string): Promise<LabStatus>;
  stopLab(labRoot: string): Promise<void>;
  machine(labRoot: string, machine: string, action: MachineAction): Promise<void>;
  /** Null when the lab is not running. */
  status(labRoot: string): Promise<LabStatus | null>;
  /** Push this lab's LabEvents to the client (`{kind:'event'}` messages) until unsubscribe or disconnect. */
  subscribe(labRoot: string): Promise<void>;
  unsubscribe(labRoot: string): Promise<void>;

  /** `console` 1.. opens (or attaches to) an extra console of the machine: a shell of its own. */
  attachConsole(labRoot: string, machine: string, console?: number): Promise<ConsoleAttachment>;
  consoleInput(consoleId: string, data: string): Promise<void>;
  consoleResize(consoleId: string, cols: number, rows: number): Promise<void>;
  /** The renderer has parsed this many more characters of output (flow control). */
  consoleAck(consoleId: string, chars: number): Promise<void>;
  detachConsole(consoleId: string): Promise<void>;

  /** Runs the lab's visible checks ("check my work"). */
  runChecks(labRoot: string): Promise<CheckReport>;

  /** Saved states of the lab, as a flat list with parents (a tree). */
  listStates(labRoot: string): Promise<SavedStateInfo[]>;
  /** Save the lab as it is (running machines with their network state). */
  saveState(labRoot: string, name: string, note: string): Promise<SavedStateInfo>;
  /** Machines (all of the state's when empty) back to a saved state; they boot. */
  restoreState(labRoot: string, name: string, machines: string[]): Promise<RestoreStateResult>;
  deleteState(labRoot: string, name: string): Promise<void>;
  /** Delete a stopped machine's disk: its next start begins from the lab files. */
  wipeMachine(labRoot: string, machine: string): Promise<void>;
  /** The lab as it is now, saved on the spot and packed (`vnetlab pack`). */
  packLab(labRoot: string): Promise<PackFile>;

  /** Every cable of a running lab. */
  links(labRoot: string): Promise<CableStatus[]>;
  /** Unplug, replug, move or impair one cable of a running lab. */
  changeLink(labRoot: string, cable: string, change: CableChange): Promise<CableStatus>;
  /** Apply the lab's files (as saved) to the running lab; with dryRun, only list the changes. */
  applyLab(labRoot: string, dryRun: boolean): Promise<{ changes: string[]; applied: boolean }>;

  /** Capture on a cable (`pc1:eth0`) or a collision domain; packets arrive as `packets` pushes. */
  startCapture(labRoot: string, target: string): Promise<CaptureInfo>;
  /** Show only the packets matching a Wireshark display filter (empty: all); the list is sent again. */
  setCaptureFilter(captureId: string, filter: string): Promise<void>;
  /** The protocol tree and bytes of one captured packet. */
  packetDetail(captureId: string, number: number): Promise<PacketDetail>;
  /** Stop capturing (the packets stay, for details and saving, until closeCapture). */
  stopCapture(captureId: string): Promise<void>;
  closeCapture(captureId: string): Promise<void>;
  /** Write what was captured as a pcap file (a path inside the folders the app may use). */
  saveCapture(captureId: string, path: string): Promise<string>;
  /** Open Wireshark on this capture: what was captured so far, then live. */
  openInWireshark(captureId: string): Promise<void>;
}

export interface CaptureInfo {
  captureId: string;
  target: string;
  /** Null when tshark is installed (packets are dissected); otherwise what to install. */
  dissectorMissing: string | null;
  /** Wireshark is installed and there is a display: the capture can be followed there live. */
  wireshark: boolean;
}

/** One row of the packet list: Wireshark's columns, from tshark. */
export interface PacketSummary {
  number: number;
  /** Seconds since the capture started. */
  time: number;
  source: string;
  destination: string;
  protocol: string;
  length: number;
  info: string;
  /** The Ethernet header's source and destination MACs (`02:…`): which cables the frame crosses (packet flow). */
  ethSrc?: string;
  ethDst?: string;
}

/** A node of the protocol tree (tshark's PDML `showname`s). */
export interface PacketTreeNode {
  label: string;
  /** The display-filter field name (`ip.src`), to filter on it. */
  field?: string;
  children: PacketTreeNode[];
}

export interface PacketDetail {
  number: number;
  tree: PacketTreeNode[];
  /** The frame's bytes, hex. */
  hex: string;
}

export type ServiceMethod = keyof VnetlabService;

/**
 * What a method is, which says where it is implemented:
 * - `editor`: lab files and dialogs, no running lab (the service itself, src/main/service/service.ts);
 * - `runtime`: the first parameter is a lab folder; the service checks it against the folders the app
 *   may use and hands the call unchanged to the runtime (Backends, src/main/service/real-backends.ts);
 * - `session`: state kept per client (event subscriptions, console attachments).
 */
export type ServiceMethodKind = 'editor' | 'runtime' | 'session';

/**
 * How the classroom (src/main/classroom/) treats a call:
 * - `lab`: its first parameter is a lab folder (made canonical where it arrives; the quota's key);
 * - `starts`: it may start machines (it holds a reservation of the quota; during an exam, only its lab's);
 * - `edits`: it changes lab files (refused while an exam runs: the lab and its checks are locked);
 * - `watch`: an instructor watching a student's console may make it (it types, resizes and changes nothing);
 * - `passive`: not a student's activity (the app polls and acknowledges on its own).
 */
export type ClassroomRule = 'lab' | 'starts' | 'edits' | 'watch' | 'passive';

/**
 * The one table of service methods: each one's kind and its classroom rules. The compiler checks it
 * against VnetlabService (a method missing here, or one the interface lacks, is a type error); the
 * WebSocket server, the Electron IPC and preload, the renderer adapter, the service's forwarding of
 * `runtime` calls and the classroom's front door and workers all derive from it.
 */
export const serviceMethods = {
  environment: { kind: 'editor', classroom: ['passive'] },
  listLabs: { kind: 'editor', classroom: ['watch', 'passive'] },
  listFolder: { kind: 'editor', classroom: [] },
  openLab: { kind: 'editor', classroom: [] },
  newLab: { kind: 'editor', classroom: [] },
  validate: { kind: 'editor', classroom: [] },
  saveLab: { kind: 'editor', classroom: ['edits'] },
  compile: { kind: 'editor', classroom: [] },
  startLab: { kind: 'runtime', classroom: ['lab', 'starts'] },
  stopLab: { kind: 'runtime', classroom: ['lab'] },
  machine: { kind: 'runtime', classroom: ['lab', 'starts'] },
  status: { kind: 'runtime', classroom: ['lab', 'watch', 'passive'] },
  runChecks: { kind: 'runtime', classroom: ['lab'] },
  listStates: { kind: 'runtime', classroom: ['lab', 'watch'] },
  saveState: { kind: 'runtime', classroom: ['lab'] },
  restoreState: { kind: 'runtime', classroom: ['lab', 'starts'] },
  deleteState: { kind: 'runtime', classroom: ['lab'] },
  wipeMachine: { kind: 'runtime', classroom: ['lab'] },
  packLab: { kind: 'runtime', classroom: ['lab'] },
  links: { kind: 'runtime', classroom: ['lab', 'watch', 'passive'] },
  changeLink: { kind: 'runtime', classroom: ['lab'] },
  applyLab: { kind: 'runtime', classroom: ['lab', 'starts'] },
  startCapture: { kind: 'session', classroom: ['lab'] },
  setCaptureFilter: { kind: 'session', classroom: [] },
  packetDetail: { kind: 'session', classroom: ['passive'] },
  stopCapture: { kind: 'session', classroom: [] },
  closeCapture: { kind: 'session', classroom: [] },
  saveCapture: { kind: 'session', classroom: [] },
  openInWireshark: { kind: 'session', classroom: [] },
  subscribe: { kind: 'session', classroom: ['lab', 'watch', 'passive'] },
  unsubscribe: { kind: 'session', classroom: ['lab', 'watch', 'passive'] },
  attachConsole: { kind: 'session', classroom: ['lab', 'watch'] },
  consoleInput: { kind: 'session', classroom: [] },
  consoleResize: { kind: 'session', classroom: ['passive'] },
  consoleAck: { kind: 'session', classroom: ['watch', 'passive'] },
  detachConsole: { kind: 'session', classroom: ['watch', 'passive'] },
} as const satisfies { readonly [K in ServiceMethod]: { kind: ServiceMethodKind; classroom: readonly ClassroomRule[] } };

export const SERVICE_METHODS = Object.keys(serviceMethods) as readonly ServiceMethod[];

/** The methods of one kind, as a type (e.g. the runtime methods the Backends implement). */
export type ServiceMethodsOfKind<Kind extends ServiceMethodKind> = {
  [K in ServiceMethod]: (typeof serviceMethods)[K]['kind'] extends Kind ? K : never;
}[ServiceMethod];

/** The methods of one kind (e.g. the runtime methods the service forwards). */
export function serviceMethodsOfKind(kind: ServiceMethodKind): ServiceMethod[] {
  return SERVICE_METHODS.filter((m) => serviceMethods[m].kind === kind);
}

/** Whether the classroom applies `rule` to `method` (ClassroomRule). */
export function classroomRule(method: ServiceMethod, rule: ClassroomRule): boolean {
  return (serviceMethods[method].classroom as readonly ClassroomRule[]).includes(rule);
}

/** A method name from the wire: only the table's own keys (never `constructor`, `__proto__`, `close`…). */
export function isServiceMethod(name: unknown): name is ServiceMethod {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(serviceMethods, name);
}

/**
 * A timed exam the student is in (classroom only, sent by the server): the app shows a countdown from
 * `remainingMs` (the server's clock, not the browser's) and, in the last `finalMs`, shows it clearly.
 * The rules themselves are enforced by the server.
 */
export interface ExamNotice {
  id: string;
  title: string;
  /** The exam's lab (the student's copy). */
  labRoot: string;
  endsAt: string;
  remainingMs: number;
  finalMs: number;
  phase: 'running' | 'ended';
  checkMyWork: string;
  message?: string;
}

/** Messages the service pushes to one client. */
export type PushMessage =
  | { kind: 'exam'; exam: ExamNotice }
  | { kind: 'event'; labRoot: string; event: LabEvent }
  | { kind: 'console-data'; consoleId: string; data: string }
  | { kind: 'console-exit'; consoleId: string; reason: string }
  /** New rows of a capture's packet list (`reset`: the filter changed, the list starts over). */
  | { kind: 'packets'; captureId: string; packets: PacketSummary[]; reset?: boolean }
  | { kind: 'capture-status'; captureId: string; frames: number; dropped: number; running: boolean; message?: string };

/** An error the service reports to the UI: a message a student can act on (never a stack). */
export interface ServiceErrorInfo {
  message: string;
  hint?: string;
  /** `bad-input` (the request or lab is wrong), `environment` (host lacks something), `internal`. */
  code: 'bad-input' | 'environment' | 'internal' | 'unauthorized';
}

/** JSON-RPC-like framing over WebSocket (and reused by Electron IPC): request, reply, push. */
export type ClientFrame = { id: number; method: ServiceMethod; params: unknown[] };
export type ServerFrame =
  | { id: number; result: unknown }
  | { id: number; error: ServiceErrorInfo }
  | { push: PushMessage };

/**
 * The renderer acknowledges parsed console output in batches of at most this. Flow control is the lab's
 * console session's (src/main/runtime/console-session.ts, per viewer): a batch stays below its low mark,
 * so held output is always released (test/runtime/console-flow.test.ts).
 */
export const CONSOLE_ACK_BATCH_CHARS = 4_096;

/**
 * What the Electron preload exposes on `window.vnetlab` (contextBridge): one call that never throws
 * (errors come back as data, since IPC drops everything but an Error's message) and the push stream.
 */
export interface PreloadBridge {
  invoke(method: ServiceMethod, params: unknown[]): Promise<{ result: unknown } | { error: ServiceErrorInfo }>;
  onPush(listener: (message: PushMessage) => void): () => void;
}

/** IPC channel names shared by the Electron main process and its preload. */
export const IPC_CALL = 'vnetlab:call';
export const IPC_PUSH = 'vnetlab:push';

/** The renderer's typed view of the service, over WebSocket or over the preload bridge. */
export interface ServiceBridge {
  call<M extends ServiceMethod>(method: M, ...params: Parameters<VnetlabService[M]>): ReturnType<VnetlabService[M]>;
  onPush(listener: (message: PushMessage) => void): () => void;
  /**
   * Told `false` when the connection to the service is lost and `true` when it is (re)established
   * (WebSocket mode only); `false, 'refused'` when a server answers again at this address but refuses
   * this page's access token (it was started anew without `--port`'s kept token: its new link must be opened).
   * `reason`: what the server said as it closed the connection (a classroom whose lab server went away).
   */
  onConnection?(listener: (up: boolean, why?: 'refused', reason?: string) => void): void;
}
