// Saved states of a lab (`vnetlab snapshot save|list|restore|delete`, the app's States panel).
//
// On disk, in the lab's state dir (next to its guest disks):
//   snapshots/index.json          the states: name, parent, time, note, lab-files hash, topology, and
//                                 per machine its disk copy, network state file and image identity
//   snapshots/disks/<id>.cow      disk copies (sparse, or reflinks); one copy may serve several states
//                                 (a stopped machine's unchanged disk is not copied again)
//   snapshots/net/<id>.json       a running machine's network state (guest/netstate.ts)
// The index is replaced atomically under a lock; a copy is deleted when no state names it any more.
// The states form a tree: a new state's parent is the state the lab was last saved as or restored to.
// A restore first saves the machines as they are (`before-restore-N`), so it can itself be undone.
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Plan } from '../../../shared/plan.ts';
import { UserError } from '../../errors.ts';
import { allocatedBytes } from '../../guest/cow-disk.ts';
import type { NetState } from '../../guest/netstate.ts';
import { backingImageFor } from '../../images/backing.ts';
import { connectRunDir, type SupervisorClient } from '../client.ts';
import { launchLab } from '../launch.ts';
import { planLab } from '../prepare.ts';
import type { StartResult } from '../supervisor.ts';
import { ensurePrivateDir } from '../private-dir.ts';
import { pidExists } from '../records.ts';
import { imageIdentityOf, labFilesHash, topologyDifferences, topologyOf } from './lab-identity.ts';
import { restoreMachineDisk, saveMachineDisk, syncFiles, type NetRestoreReport, type SavedDisk } from './live.ts';

export { PACK_DIR } from '../../paths.ts';
export { labFilesHash } from './lab-identity.ts';
export const STATE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface ImageIdentity {
  name: string;
  /** From the image's build record: the same build on any host (an imported image keeps it). */
  builtAt?: string;
  manifestHash?: string;
  kernelVersion?: string;
  sizeBytes: number;
  /** The image file's mtime (seconds) the disk was made over: what UML checks. */
  mtime: number;
}

export interface StateMachine {
  /** Disk copy (file name in snapshots/disks/), or null when the machine had never booted. */
  disk: string | null;
  /** Network state file (in snapshots/net/), for a machine that was running. */
  net?: string;
  running: boolean;
  image?: ImageIdentity;
  /** dev:ino:size:mtime of the machine's disk when it was copied (a later save of an unchanged, stopped disk reuses the copy). */
  source?: string;
}

export interface TopologyMachine {
  image: string;
  interfaces: string[];
}

export interface SavedState {
  name: string;
  parent: string | null;
  createdAt: string;
  note: string;
  /** Made by a restore (`before-restore-N`). */
  auto: boolean;
  /** sha256 of the lab's files when it was saved. */
  labHash: string;
  topology: Record<string, TopologyMachine>;
  machines: Record<string, StateMachine>;
}

interface StateIndex {
  version: 1;
  states: SavedState[];
  /** The state the lab was last saved as or restored to: the parent of the next one. */
  current: string | null;
  /** Last N of before-restore-N. */
  autoCounter: number;
}

export interface StateSummary extends SavedState {
  /** Bytes on disk of the copies this state added (a copy shared with an earlier state counts there). */
  diskBytes: number;
  current: boolean;
}

export interface SaveResult {
  state: SavedState;
  machines: SavedDisk[];
  seconds: number;
}

export interface RestoreResult {
  state: SavedState;
  /** The automatic state the machines were saved as first. */
  before: string;
  restored: string[];
  start: StartResult;
  net: Record<string, NetRestoreReport>;
  /** Topology differences that --force went past. */
  differences: string[];
  seconds: number;
}

export interface StoreOptions {
  env?: NodeJS.ProcessEnv;
  onProgress?(message: string): void;
}

// ---- where -----------------------------------------------------------------------------------

export function snapshotDir(plan: Pick<Plan, 'stateDir'>): string {
  return join(plan.stateDir, 'snapshots');
}

function indexPath(dir: string): string {
  return join(dir, 'index.json');
}

function readIndex(dir: string): StateIndex {
  const file = indexPath(dir);
  if (!existsSync(file)) return { version: 1, states: [], current: null, autoCounter: 0 };
  try {
    const index = JSON.parse(readFileSync(file, 'utf8')) as StateIndex;
    if (index.version !== 1 || !Array.isArray(index.states)) throw new Error('unknown format');
    return index;
  } catch (err) {
    throw new UserError(`the list of saved states (${file}) cannot be read: ${(err as Error).message}`, 3, 'it was changed by hand or damaged; move it away to start a new list (the disk copies stay in that folder)');
  }
}

function writeIndex(dir: string, index: StateIndex): void {
  const file = indexPath(dir);
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(index, null, 1)}\n`, { mode: 0o600 });
  renameSync(temp, file);
}

/** One writer at a time per lab: a lock file holding our pid (a dead holder's lock is taken over). */
async function withLock<T>(dir: string, body: () => Promise<T>): Promise<T> {
  ensurePrivateDir(dir);
  const lock = join(dir, '.lock');
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSafe(lock));
      if (!holder || !pidExists(holder)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new UserError(`another snapshot command (pid ${holder}) is still working on this lab`, 1, 'wait for it to finish, then try again');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await body();
  } finally {
    rmSync(lock, { force: true });
  }
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

// ---- lab identity ------------------------------------------------------------------------------

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

function sourceKey(path: string): string | undefined {
  try {
    const st = statSync(path, { bigint: true });
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}`;
  } catch {
    return undefined;
  }
}

// ---- save --------------------------------------------------------------------------------------

export interface SaveOptions extends StoreOptions {
  machines?: string[];
  note?: string;
  /** A before-restore-N state (internal). */
  auto?: boolean;
  /** Use this connection to the running lab (else connect when it runs). */
  client?: SupervisorClient;
  /** Who copies the disks (restore: the supervisor, as it pulls the machines down); default saveDisks. */
  copier?: (requests: { machine: string; dest: string }[]) => Promise<SavedDisk[]>;
}

export function checkStateName(name: string): void {
  if (!STATE_NAME.test(name)) {
    throw new UserError(`'${name}' cannot be the name of a saved state`, 2, 'use letters, digits, . _ and - (at most 64, starting with a letter or digit), e.g. routes-done');
  }
}

export async function saveState(labPath: string, name: string, options: SaveOptions = {}): Promise<SaveResult> {
  const env = options.env ?? process.env;
  checkStateName(name);
  const started = Date.now();
  const { plan, model } = await planLab(labPath, { env });
  const dir = snapshotDir(plan);
  ensurePrivateDir(plan.stateDir);
  const machines = selectMachines(plan, options.machines);
  return withLock(dir, async () => {
    const index = readIndex(dir);
    if (index.states.some((s) => s.name === name)) throw new UserError(`there is already a saved state called ${name}`, 2, `pick another name, or delete it first: vnetlab snapshot delete ${name}`);
    mkdirSync(join(dir, 'disks'), { recursive: true, mode: 0o700 });
    mkdirSync(join(dir, 'net'), { recursive: true, mode: 0o700 });
    const id = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const guests = plan.guests.filter((g) => machines.includes(g.name));
    const client = options.client ?? (await connectRunDir(plan.runDir));
    const status = client ? await client.status() : undefined;
    const isRunning = (m: string) => !!status?.machines.find((s) => s.name === m && s.state !== 'stopped' && s.state !== 'crashed');
    // A stopped machine whose disk did not change since a state copied it shares that copy.
    const reuse = new Map<string, StateMachine>();
    for (const g of guests) {
      if (isRunning(g.name)) continue;
      const key = sourceKey(g.cow);
      const earlier = key && index.states.map((s) => s.machines[g.name]).find((m) => m?.source === key && m.disk && existsSync(join(dir, 'disks', m.disk)));
      if (earlier) reuse.set(g.name, { disk: earlier.disk, running: false, ...(earlier.image ? { image: earlier.image } : {}), source: key });
    }
    const requests = guests.filter((g) => !reuse.has(g.name)).map((g) => ({ machine: g.name, dest: join(dir, 'disks', `${id}-${diskFileName(g.cow)}`), source: sourceKey(g.cow) }));
    let saved: SavedDisk[] = [];
    try {
      if (options.copier) saved = await options.copier(requests.map(({ machine, dest }) => ({ machine, dest })));
      else if (client) saved = await client.saveDisks(requests.map(({ machine, dest }) => ({ machine, dest })));
      else {
        for (const r of requests) saved.push(await saveMachineDisk(guests.find((g) => g.name === r.machine)!, r, undefined));
        await syncFiles(requests.filter((r) => saved.find((s) => s.machine === r.machine)?.copy).map((r) => r.dest));
      }
    } catch (err) {
      for (const r of requests) rmSync(r.dest, { force: true });
      throw err;
    } finally {
      if (client && !options.client) client.close();
    }
    const entries: Record<string, StateMachine> = {};
    for (const g of guests) {
      if (reuse.has(g.name)) {
        entries[g.name] = reuse.get(g.name)!;
        continue;
      }
      const s = saved.find((x) => x.machine === g.name)!;
      const request = requests.find((r) => r.machine === g.name)!;
      const entry: StateMachine = { disk: s.hasDisk ? relative(join(dir, 'disks'), request.dest) : null, running: s.running };
      if (s.hasDisk) {
        const image = imageIdentityOf(request.dest, g.image, env);
        if (image) entry.image = image;
        if (!s.running && request.source) entry.source = request.source;
      }
      if (s.net) {
        const netFile = `${id}-${diskFileName(g.cow).replace(/\.cow$/, '')}.json`;
        writeFileSync(join(dir, 'net', netFile), JSON.stringify(s.net), { mode: 0o600 });
        entry.net = netFile;
      }
      entries[g.name] = entry;
    }
    const state: SavedState = {
      name,
      parent: index.current && index.states.some((s) => s.name === index.current) ? index.current : null,
      createdAt: new Date().toISOString(),
      note: options.note ?? '',
      auto: options.auto === true,
      labHash: labFilesHash(model.root),
      topology: topologyOf(plan),
      machines: entries,
    };
    index.states.push(state);
    index.current = name;
    writeIndex(dir, index);
    return { state, machines: saved, seconds: (Date.now() - started) / 1000 };
  });
}

function diskFileName(cow: string): string {
  return cow.slice(cow.lastIndexOf('/') + 1);
}

function selectMachines(plan: Plan, names: string[] | undefined): string[] {
  const all = plan.guests.map((g) => g.name);
  if (!names?.length) return all;
  const unknown = names.filter((n) => !all.includes(n));
  if (unknown.length) throw new UserError(`no machine named ${unknown.join(', ')} in lab ${plan.lab.name}`, 2, `machines: ${all.join(', ')}`);
  return names;
}

// ---- list --------------------------------------------------------------------------------------

export async function listStates(labPath: string, options: StoreOptions = {}): Promise<StateSummary[]> {
  const { plan } = await planLab(labPath, { env: options.env });
  const dir = snapshotDir(plan);
  const index = readIndex(dir);
  const counted = new Set<string>();
  return index.states.map((s) => {
    let diskBytes = 0;
    for (const m of Object.values(s.machines)) {
      for (const file of [m.disk ? join(dir, 'disks', m.disk) : undefined, m.net ? join(dir, 'net', m.net) : undefined]) {
        if (!file || counted.has(file)) continue;
        counted.add(file);
        diskBytes += safe(() => allocatedBytes(file)) ?? 0;
      }
    }
    return { ...s, diskBytes, current: index.current === s.name };
  });
}

/** The states as an indented tree, for `snapshot list`. */
export function formatStateTree(states: StateSummary[]): string {
  if (!states.length) return 'no saved states (save one: vnetlab snapshot save NAME)\n';
  const children = new Map<string | null, StateSummary[]>();
  const names = new Set(states.map((s) => s.name));
  for (const s of states) {
    const parent = s.parent && names.has(s.parent) ? s.parent : null;
    children.set(parent, [...(children.get(parent) ?? []), s]);
  }
  const lines: string[] = [];
  const walk = (parent: string | null, prefix: string) => {
    const list = children.get(parent) ?? [];
    list.forEach((s, i) => {
      const last = i === list.length - 1;
      const branch = parent === null ? '' : last ? '└─ ' : '├─ ';
      const when = s.createdAt.replace('T', ' ').replace(/:\d\d\.\d+Z$/, '');
      const machines = Object.entries(s.machines)
        .map(([n, m]) => `${n}${m.running ? '' : m.disk ? ' (stopped)' : ' (no disk)'}`)
        .join(', ');
      lines.push(`${prefix}${branch}${s.current ? '* ' : ''}${s.name}  ${when}  ${formatBytes(s.diskBytes)}  ${machines}${s.note ? `  "${s.note}"` : ''}${s.auto ? '  (automatic)' : ''}`);
      walk(s.name, parent === null ? prefix : `${prefix}${last ? '   ' : '│  '}`);
    });
  };
  walk(null, '');
  return `${lines.join('\n')}\n`;
}

export function formatBytes(n: number): string {
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

// ---- restore -----------------------------------------------------------------------------------

export interface RestoreOptions extends StoreOptions {
  machines?: string[];
  /** Restore onto a changed topology: only the machines that still exist. */
  force?: boolean;
  timeoutMs?: number;
}

export async function restoreState(labPath: string, name: string, options: RestoreOptions = {}): Promise<RestoreResult> {
  const env = options.env ?? process.env;
  const started = Date.now();
  const { plan } = await planLab(labPath, { env });
  const dir = snapshotDir(plan);
  const state = findState(readIndex(dir), name, dir);
  const differences = topologyDifferences(state.topology, topologyOf(plan));
  if (differences.length && !options.force) {
    throw new UserError(
      `the lab's machines changed since state ${name} was saved:\n  ${differences.join('\n  ')}`,
      2,
      `restore only the machines that still exist with: vnetlab snapshot restore ${name} --force`,
    );
  }
  const inLab = new Set(plan.guests.map((g) => g.name));
  const asked = options.machines?.length ? options.machines : Object.keys(state.machines);
  const missing = asked.filter((m) => !(m in state.machines));
  if (missing.length) throw new UserError(`state ${name} does not hold ${missing.join(', ')}`, 2, `it holds: ${Object.keys(state.machines).join(', ')}`);
  const machines = asked.filter((m) => inLab.has(m));
  if (!machines.length) throw new UserError(`none of the machines of state ${name} is in the lab any more`, 2);
  for (const m of machines) {
    const entry = state.machines[m]!;
    if (!entry.disk) continue;
    const disk = join(dir, 'disks', entry.disk);
    if (!existsSync(disk)) throw new UserError(`the disk copy of ${m} in state ${name} is missing (${disk})`, 3, 'the state cannot be restored; delete it: vnetlab snapshot delete ' + name);
    const guest = plan.guests.find((g) => g.name === m)!;
    if (!backingImageFor(disk, guest.image, env)) {
      throw new UserError(
        `state ${name}: the disk of ${m} was made over a ${guest.image} image this host no longer has (built ${entry.image?.builtAt ?? 'at another time'})`,
        3,
        `import that build of the image (vnetlab image import FILE.vnlimg), or restore another state`,
      );
    }
  }
  // Saved first: the machines as they are now, so this restore can be undone.
  const before = await withLock(dir, async () => {
    const index = readIndex(dir);
    index.autoCounter += 1;
    while (index.states.some((s) => s.name === `before-restore-${index.autoCounter}`)) index.autoCounter += 1;
    writeIndex(dir, index);
    return `before-restore-${index.autoCounter}`;
  });
  const client = await connectRunDir(plan.runDir);
  try {
    const requests = machines.map((m) => {
      const entry = state.machines[m]!;
      return {
        machine: m,
        ...(entry.disk ? { disk: join(dir, 'disks', entry.disk) } : {}),
        ...(entry.net ? { net: JSON.parse(readFileSync(join(dir, 'net', entry.net), 'utf8')) as NetState } : {}),
      };
    });
    options.onProgress?.(`saving the machines as they are now as ${before}, then restoring ${machines.join(', ')} to ${name}`);
    let start: StartResult | undefined;
    let net: Record<string, NetRestoreReport> = {};
    if (client) {
      // One call: the supervisor reads the running machines' network state, pulls them down, copies their disks (the before state), puts the saved ones in place and boots them.
      await saveState(labPath, before, {
        env,
        machines,
        note: `before restoring ${name}`,
        auto: true,
        client,
        copier: async (saveFirst) => {
          const r = await client.restoreDisks(requests, { timeoutMs: options.timeoutMs, saveFirst });
          const { net: reports, saved, ...started } = r;
          net = reports;
          start = started;
          return saved;
        },
      });
      if (!start) start = (await client.restoreDisks(requests, { timeoutMs: options.timeoutMs })) as StartResult; // every disk was shared: nothing to copy first
    } else {
      await saveState(labPath, before, { env, machines, note: `before restoring ${name}`, auto: true });
      for (const r of requests) restoreMachineDisk(plan.guests.find((g) => g.name === r.machine)!, r);
      await syncFiles(requests.filter((r) => r.disk).map((r) => plan.guests.find((g) => g.name === r.machine)!.cow));
      const launched = await launchLab(labPath, { env, machines, ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}), ...(options.onProgress ? { onProgress: options.onProgress } : {}) });
      launched.client.close();
      start = launched.result;
    }
    await withLock(dir, async () => {
      const index = readIndex(dir);
      index.current = name;
      writeIndex(dir, index);
    });
    return { state, before, restored: machines, start: start!, net, differences, seconds: (Date.now() - started) / 1000 };
  } finally {
    client?.close();
  }
}

function findState(index: StateIndex, name: string, dir: string): SavedState {
  const state = index.states.find((s) => s.name === name);
  if (!state) {
    const names = index.states.map((s) => s.name);
    throw new UserError(`there is no saved state called ${name}`, 2, names.length ? `saved states: ${names.join(', ')}` : `this lab has no saved states yet (${dir})`);
  }
  return state;
}

// ---- delete ------------------------------------------------------------------------------------

export async function deleteState(labPath: string, name: string, options: StoreOptions = {}): Promise<{ freedBytes: number }> {
  const { plan } = await planLab(labPath, { env: options.env });
  const dir = snapshotDir(plan);
  return withLock(dir, async () => {
    const index = readIndex(dir);
    const state = findState(index, name, dir);
    index.states = index.states.filter((s) => s !== state);
    for (const s of index.states) if (s.parent === name) s.parent = state.parent;
    if (index.current === name) index.current = state.parent;
    writeIndex(dir, index);
    // Copies that no remaining state names are deleted.
    const used = new Set(index.states.flatMap((s) => Object.values(s.machines).flatMap((m) => [m.disk ? `disks/${m.disk}` : '', m.net ? `net/${m.net}` : ''])));
    let freedBytes = 0;
    for (const m of Object.values(state.machines)) {
      for (const rel of [m.disk ? `disks/${m.disk}` : '', m.net ? `net/${m.net}` : '']) {
        if (!rel || used.has(rel)) continue;
        const file = join(dir, rel);
        freedBytes += safe(() => allocatedBytes(file)) ?? 0;
        rmSync(file, { force: true });
      }
    }
    return { freedBytes };
  });
}
