// The service: implements src/shared/service-api.ts on top of the other modules, with no transport.
// Each client (a browser tab over WebSocket, an Electron window over IPC) gets its own session that
// owns its event subscriptions and console attachments; closing it detaches them and leaves labs running.
import { existsSync, lstatSync, readdirSync, readlinkSync, realpathSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Diagnostic } from '../../shared/diagnostics.ts';
import type { LabModel } from '../../shared/lab-model.ts';
import type { ConsoleHandle } from '../../shared/runtime-api.ts';
import { warning } from '../lab/diag.ts';
import { KNOWN_IMAGES } from '../lab/images.ts';
import {
  type CaptureInfo,
  type ConsoleAttachment,
  type FolderEntry,
  type FolderListing,
  type LabSummary,
  type PushMessage,
  serviceMethodsOfKind,
  type VnetlabService,
} from '../../shared/service-api.ts';
import { UserError } from '../errors.ts';
import type { Backends, RuntimeBackends } from './backends.ts';
import { PacketView, TSHARK_MISSING, tsharkPath, wiresharkPath } from './packet-view.ts';

export interface ServiceOptions {
  backends: Backends;
  /** Folder of the labs that ship (labs/). */
  labsDir: string;
  /** The user's home: the open/save dialogs may browse it. */
  home: string;
  /** More folders the dialogs may use (e.g. the lab given on the command line). */
  extraRoots?: string[];
}

export interface ClientSession extends VnetlabService {
  /** Detaches consoles and subscriptions of this client. Labs keep running. */
  close(): void;
}

export class Service {
  private nextConsoleId = 1;

  constructor(private readonly options: ServiceOptions) {}

  get backends(): Backends {
    return this.options.backends;
  }

  /** Folders the open/save dialogs may use; anything outside them is refused. */
  roots(): string[] {
    const roots = [this.options.home, this.options.labsDir, ...(this.options.extraRoots ?? [])].map((r) => resolve(r));
    return [...new Set(roots)];
  }

  /** Resolves a user-given path, following symlinks, and refuses it unless it is inside an allowed root. */
  allowedPath(path: string, what: string): string {
    if (typeof path !== 'string' || path.trim() === '') throw new UserError(`no ${what} given`);
    const abs = resolve(this.options.home, path.replace(/^~(?=$|\/)/, this.options.home));
    // The deepest part of the path that exists decides where a write lands: resolve it with realpath
    // (so a link cannot lead outside). A symlink counts as existing even when it leads nowhere: taking
    // it for a missing name (existsSync follows links) let a write through a dangling link land outside.
    let existing = abs;
    while (!lstatOrUndefined(existing) && dirname(existing) !== existing) existing = dirname(existing);
    let realExisting: string;
    try {
      realExisting = realpathSync(existing);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? `is a symbolic link that leads nowhere${linkTarget(existing)}` : code === 'ELOOP' ? 'is a loop of symbolic links' : `cannot be resolved (${code ?? (err as Error).message})`;
      throw new UserError(`${abs} is refused: ${existing} ${why}`, 2, 'remove the link, or choose another name or folder');
    }
    const real = join(realExisting, relative(existing, abs));
    if (!this.roots().some((root) => isInside(real, safeRealpath(root)))) {
      throw new UserError(`${abs} is outside the folders the app may use`, 2, `use a folder inside ${this.roots().join(' or ')}`);
    }
    return real;
  }

  connect(push: (message: PushMessage) => void): ClientSession {
    const session = new Session(this, push, () => `c${this.nextConsoleId++}`);
    return Object.assign(session, this.runtimeCalls());
  }

  /** The table's `runtime` methods: check the lab folder, then hand the call to the runtime unchanged. */
  private runtimeCalls(): RuntimeBackends {
    const runtime = serviceMethodsOfKind('runtime') as (keyof RuntimeBackends)[];
    return Object.fromEntries(
      runtime.map((method) => [
        method,
        async (labRoot: string, ...rest: unknown[]) => {
          const root = this.allowedPath(labRoot, 'lab path');
          return (this.backends[method] as (root: string, ...rest: unknown[]) => Promise<unknown>)(root, ...rest);
        },
      ]),
    ) as unknown as RuntimeBackends;
  }

  listLabs(): LabSummary[] {
    const dir = this.options.labsDir;
    if (!existsSync(dir)) return [];
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => labSummaryOf(join(dir, e.name)))
      .filter((s): s is LabSummary => !!s)
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  listFolder(path?: string): FolderListing {
    const roots = this.roots();
    const folder = this.allowedPath(path ?? this.options.home, 'folder');
    if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new UserError(`${folder} is not a folder`);
    const entries: FolderEntry[] = [];
    for (const e of readdirSync(folder, { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue;
      const p = join(folder, e.name);
      let isDir = e.isDirectory();
      if (e.isSymbolicLink()) {
        try {
          isDir = statSync(p).isDirectory();
        } catch {
          isDir = false;
        }
      }
      if (!isDir) continue;
      const lab = labSummaryOf(p);
      entries.push(lab ? { name: e.name, path: p, kind: 'lab', format: lab.format } : { name: e.name, path: p, kind: 'folder' });
    }
    entries.sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === 'lab' ? -1 : 1));
    const atRoot = roots.some((r) => safeRealpath(r) === folder);
    return { path: folder, ...(atRoot ? {} : { parent: dirname(folder) }), roots, entries };
  }
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined; // ENOENT, or ENOTDIR when a part of it is a file: not there either way
  }
}

function linkTarget(p: string): string {
  try {
    return ` (to ${readlinkSync(p)})`;
  } catch {
    return '';
  }
}

function safeRealpath(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && !rel.split(sep).includes('..'));
}

/** A folder is a lab when it holds lab.yaml (vnetlab) or lab.conf (Netkit/Kathará). */
export function labSummaryOf(folder: string): LabSummary | undefined {
  const name = basename(folder);
  if (existsSync(join(folder, 'lab.yaml'))) return { path: folder, name, format: 'vnetlab' };
  if (existsSync(join(folder, 'lab.conf'))) return { path: folder, name, format: existsSync(join(folder, 'shared')) ? 'kathara' : 'netkit' };
  return undefined;
}

/** A console this client attached. Flow control is not here: the lab's console session does it per viewer. */
interface AttachedConsole {
  machine: string;
  link?: ConsoleHandle;
  closed: boolean;
}

/** The `editor` and `session` methods of one client; the `runtime` ones are added by Service.connect. */
/** A capture this client opened for its packet view. */
interface OpenCapture {
  view: PacketView;
  link?: { stop(): Promise<{ frames: number; dropped: number }> };
  running: boolean;
}

class Session implements Omit<ClientSession, keyof RuntimeBackends> {
  private readonly subscriptions = new Map<string, Promise<() => void>>();
  private readonly consoles = new Map<string, AttachedConsole>();
  private readonly captures = new Map<string, OpenCapture>();
  private closed = false;

  constructor(
    private readonly service: Service,
    private readonly push: (message: PushMessage) => void,
    private readonly newConsoleId: () => string,
  ) {}

  private get backends(): Backends {
    return this.service.backends;
  }

  async environment() {
    return this.backends.environment();
  }

  async listLabs() {
    return this.service.listLabs();
  }

  async listFolder(path?: string) {
    return this.service.listFolder(path);
  }

  async openLab(path: string) {
    const folder = this.service.allowedPath(path, 'lab path');
    return this.backends.loadLab(folder);
  }

  async newLab(folder: string): Promise<LabModel> {
    const root = this.service.allowedPath(folder, 'lab folder');
    const name = basename(root).toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+/, '') || 'lab';
    return { format: 'vnetlab', root, sourceFile: 'lab.yaml', meta: { name, authors: [] }, machines: [], domains: [], checks: [], layout: {} };
  }

  async validate(model: LabModel) {
    const checked = checkModel(model);
    return withImageDiagnostics(checked, await this.backends.validateLab(checked));
  }

  async saveLab(folder: string, model: LabModel, format: 'yaml' | 'netkit') {
    if (format !== 'yaml' && format !== 'netkit') throw new UserError(`unknown save format "${String(format)}"`, 2, 'use yaml or netkit');
    const root = this.service.allowedPath(folder, 'lab folder');
    const checked = checkModel(model);
    // Files the lab references are copied from its current folder: that folder must be one we may read.
    const from = checked.root ? this.service.allowedPath(checked.root, 'lab folder') : '';
    const file = await this.backends.saveLab(root, { ...checked, root: from }, format);
    return { file, diagnostics: withImageDiagnostics(checked, await this.backends.validateLab({ ...checked, root })) };
  }

  async compile(model: LabModel) {
    const checked = checkModel(model);
    const diagnostics = await this.backends.validateLab(checked);
    if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
    return { plan: await this.backends.compile(checked), diagnostics };
  }

  async subscribe(labRoot: string) {
    const root = this.service.allowedPath(labRoot, 'lab path');
    if (this.subscriptions.has(root)) return;
    const unwatch = this.backends.watch(root, (event) => {
      if (!this.closed) this.push({ kind: 'event', labRoot, event });
    });
    this.subscriptions.set(root, unwatch);
    unwatch.catch(() => this.subscriptions.delete(root));
    await unwatch;
  }

  async unsubscribe(labRoot: string) {
    const root = this.service.allowedPath(labRoot, 'lab path');
    const unwatch = this.subscriptions.get(root);
    this.subscriptions.delete(root);
    if (unwatch) (await unwatch.catch(() => () => {}))();
  }

  async attachConsole(labRoot: string, machine: string, console: unknown = 0): Promise<ConsoleAttachment> {
    const root = this.service.allowedPath(labRoot, 'lab path');
    // Checked for range by the supervisor (runtime/extra-console.ts); only a number is passed on.
    const index = typeof console === 'number' ? console : Number(console);
    const consoleId = this.newConsoleId();
    const state: AttachedConsole = { machine, closed: false };
    this.consoles.set(consoleId, state);
    // Output that arrives before the attach call returns is the runtime's replay of recent output.
    let replay = '';
    let attached = false;
    try {
      state.link = await this.backends.attachConsole(root, String(machine), {
        onData: (data) => {
          if (!attached) replay += data;
          else if (!state.closed && !this.closed) this.push({ kind: 'console-data', consoleId, data });
        },
        onExit: (reason) => {
          if (!state.closed && !this.closed) this.push({ kind: 'console-exit', consoleId, reason });
        },
      }, index);
    } catch (err) {
      this.consoles.delete(consoleId);
      throw err;
    }
    attached = true;
    if (this.closed) {
      // The client went away while we attached: let go at once.
      state.link.detach();
      this.consoles.delete(consoleId);
      throw new UserError('the window closed while its console was opening');
    }
    return { consoleId, machine, console: index, replay };
  }

  private console(consoleId: string): AttachedConsole {
    const state = this.consoles.get(consoleId);
    if (!state?.link) throw new UserError(`console ${consoleId} is not attached`, 2, 'open the console again');
    return state;
  }

  async consoleInput(consoleId: string, data: string) {
    this.console(consoleId).link!.write(String(data));
  }

  async consoleResize(consoleId: string, cols: number, rows: number) {
    if (Number.isInteger(cols) && Number.isInteger(rows) && cols > 0 && rows > 0 && cols < 1000 && rows < 1000) {
      this.console(consoleId).link!.resize(cols, rows);
    }
  }

  async consoleAck(consoleId: string, chars: number) {
    const n = Number(chars);
    if (Number.isFinite(n) && n > 0) this.console(consoleId).link!.ack(n);
  }

  async detachConsole(consoleId: string) {
    const state = this.consoles.get(consoleId);
    this.consoles.delete(consoleId);
    if (state) {
      state.closed = true;
      state.link?.detach();
    }
  }

  // ---- captures (the packet view) -----------------------------------------------------------

  async startCapture(labRoot: string, target: string): Promise<CaptureInfo> {
    const root = this.service.allowedPath(labRoot, 'lab path');
    if (typeof target !== 'string' || !/^[^\s:]+(:eth\d+)?$/.test(target)) throw new UserError('capture on a cable (pc1:eth0) or a collision domain', 2);
    const captureId = `cap${this.newConsoleId()}`;
    const tshark = tsharkPath();
    const view = new PacketView(tshark, (packets, reset) => {
      if (!this.closed) this.push({ kind: 'packets', captureId, packets, ...(reset ? { reset } : {}) });
    });
    const entry: OpenCapture = { view, running: true };
    this.captures.set(captureId, entry);
    try {
      entry.link = await this.backends.capture(root, target, {
        onFrame: (frame, timeUs) => view.addFrame(frame, timeUs),
        onEnd: (reason, dropped) => {
          entry.running = false;
          if (!this.closed) this.push({ kind: 'capture-status', captureId, frames: view.frameCount, dropped, running: false, message: reason });
        },
      });
    } catch (err) {
      this.captures.delete(captureId);
      view.close();
      throw err;
    }
    if (this.closed) {
      await this.closeCapture(captureId);
      throw new UserError('the window closed while its capture was starting');
    }
    return { captureId, target, dissectorMissing: tshark ? null : TSHARK_MISSING, wireshark: !!wiresharkPath() };
  }

  private capture(captureId: string): OpenCapture {
    const entry = this.captures.get(String(captureId));
    if (!entry) throw new UserError(`capture ${String(captureId)} is not open`, 2, 'start a capture again');
    return entry;
  }

  async setCaptureFilter(captureId: string, filter: string) {
    await this.capture(captureId).view.setFilter(String(filter ?? ''));
  }

  async packetDetail(captureId: string, number: number) {
    return this.capture(captureId).view.detail(Number(number));
  }

  async stopCapture(captureId: string) {
    const entry = this.capture(captureId);
    if (!entry.running) return;
    entry.running = false;
    const counts = await entry.link?.stop();
    const dropped = counts?.dropped ?? 0;
    const truncated = entry.view.truncated ? '; the capture reached its size limit, later packets were not kept' : '';
    this.push({ kind: 'capture-status', captureId, frames: entry.view.frameCount, dropped, running: false, message: `stopped${truncated}` });
  }

  async closeCapture(captureId: string) {
    const entry = this.captures.get(String(captureId));
    if (!entry) return;
    this.captures.delete(String(captureId));
    if (entry.running) await entry.link?.stop().catch(() => undefined);
    entry.view.close();
  }

  async openInWireshark(captureId: string) {
    const entry = this.capture(captureId);
    const bin = wiresharkPath();
    if (!bin) throw new UserError('Wireshark is not installed here (or there is no display)', 3, 'sudo apt-get install wireshark, or save the capture as pcap and open it elsewhere');
    entry.view.openInWireshark(bin);
  }

  async saveCapture(captureId: string, path: string) {
    const entry = this.capture(captureId);
    // allowedPath resolves the folder with realpath and refuses a dangling link; saveAs opens the file
    // itself with O_NOFOLLOW, so a link put there in between is not followed either.
    const target = this.service.allowedPath(String(path), 'capture file');
    if (!target.endsWith('.pcap')) throw new UserError('save the capture as a .pcap file', 2, 'e.g. ~/capture.pcap');
    const folder = lstatOrUndefined(dirname(target));
    if (!folder?.isDirectory()) throw new UserError(`cannot save the capture: the folder ${dirname(target)} does not exist`, 2, 'choose an existing folder');
    entry.view.saveAs(target);
    return target;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const id of [...this.captures.keys()]) void this.closeCapture(id);
    for (const id of [...this.consoles.keys()]) void this.detachConsole(id);
    for (const unwatch of this.subscriptions.values()) unwatch.then((f) => f(), () => {});
    this.subscriptions.clear();
  }
}

/**
 * The readers flag an image vnetlab does not build ('debain') while reading lab.yaml, but a model
 * edited in the app is never read again: the same warning, at the same target, for the editor.
 */
function withImageDiagnostics(model: LabModel, diagnostics: Diagnostic[]): Diagnostic[] {
  const known = KNOWN_IMAGES as readonly string[];
  const extra = model.machines
    .filter((m) => typeof m.image === 'string' && !known.includes(m.image))
    .filter((m) => !diagnostics.some((d) => d.code === 'unknown-image' && d.target === `machine:${m.name}`))
    .map((m) => warning('unknown-image', `machine '${m.name}' uses image '${m.image}', which vnetlab does not build (known: ${KNOWN_IMAGES.join(', ')})`, m.source, { target: `machine:${m.name}`, hint: `use 'debian' (FRR, bind9, apache2…) or 'tiny' (busybox), unless you built '${m.image}' yourself` }));
  return extra.length ? [...diagnostics, ...extra] : diagnostics;
}

/** The model comes from the network: check its shape before any module trusts it. */
function checkModel(model: unknown): LabModel {
  const m = model as LabModel;
  if (!m || typeof m !== 'object' || !Array.isArray(m.machines) || !Array.isArray(m.domains) || typeof m.meta !== 'object' || typeof m.root !== 'string') {
    throw new UserError('the lab sent by the editor is malformed', 2, 'reload the app; if it persists, report it');
  }
  return { ...m, checks: Array.isArray(m.checks) ? m.checks : [], layout: m.layout && typeof m.layout === 'object' ? m.layout : {} };
}
