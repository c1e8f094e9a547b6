// What goes into the read-only lab-fs image (layout in docs/ARCHITECTURE.md, guest contract):
// the lab folder under /lab, and per machine its root/ tree, startup and shutdown drivers with their
// parts, exec command, interface addresses, sysctls and environment. Pure: paths are checked
// lexically here; symlinks are resolved by the builder (src/main/guest/labfs.ts), which does the I/O.
import { isAbsolute, posix, relative, resolve } from 'node:path';
import type { LabFsEntry } from '../../shared/plan.ts';
import type { LabModel, Machine, Script, SourceRef } from '../../shared/lab-model.ts';
import { UserError } from '../errors.ts';
import { shellQuote } from '../../shared/shell-quote.ts';
import { compareNames } from './waves.ts';

const SCRIPT_MODE = 0o755;
const DATA_MODE = 0o644;

/** Interfaces as the compiler resolved them (bridged NICs included), for the `interfaces` file. */
export interface ResolvedInterface {
  name: string;
  addresses: string[];
}

export interface MachineFiles {
  machine: Machine;
  /** The machine's folder name in the image (its name, or a hashed stand-in for odd names). */
  dirName: string;
  interfaces: ResolvedInterface[];
}

export function labFsEntries(model: LabModel, machines: MachineFiles[]): LabFsEntry[] {
  const byDest = new Map<string, LabFsEntry>();
  const add = (entry: LabFsEntry) => byDest.set(entry.dest, entry);
  add({ dest: '/lab', from: model.root, kind: 'dir' });
  for (const m of machines) for (const entry of machineEntries(model, m)) add(entry);
  // Later entries for the same destination win (a file listed after a folder overrides it).
  return [...byDest.values()].sort((a, b) => compareNames(a.dest, b.dest));
}

/**
 * Whether the lab's shared folder is also copied onto / of every machine: Netkit's boot did that (then
 * the machine's own folder); Kathará only mounts it at /shared, and so does a lab.yaml.
 */
export function sharedOntoRoot(model: Pick<LabModel, 'format' | 'sharedFolder'>): boolean {
  return model.format === 'netkit' && model.sharedFolder !== undefined;
}

function machineEntries(model: LabModel, { machine, dirName, interfaces }: MachineFiles): LabFsEntry[] {
  const base = `/machines/${dirName}`;
  const entries: LabFsEntry[] = [];
  // Netkit: the shared folder is copied onto / before the machine's own files (which win). It is already
  // in the image under /lab: the guest copies it from there, so it is not stored once per machine.
  if (sharedOntoRoot(model)) {
    const folder = posix.normalize(model.sharedFolder!.replace(/\/+$/, ''));
    insideLab(model.root, folder, { file: model.sourceFile, line: 0, column: 0 });
    entries.push({ dest: `${base}/shared-onto-root`, content: `/lab/${folder}\n`, mode: DATA_MODE });
  }
  for (const file of machine.files) {
    const dest = `${base}/root${guestDest(file.guestPath, file.source)}`.replace(/\/$/, '');
    if (file.kind === 'inline') entries.push(withMode({ dest, content: file.content }, file.mode));
    else entries.push(withMode({ dest, from: insideLab(model.root, file.labPath, file.source), kind: file.kind }, file.kind === 'file' ? file.mode : undefined));
  }

  const startup = scriptDriver([
    ['shared.startup', model.sharedStartup],
    [`${dirName}.startup`, machine.startup],
  ]);
  const shutdown = scriptDriver([
    [`${dirName}.shutdown`, machine.shutdown],
    ['shared.shutdown', model.sharedShutdown],
  ]);
  // A machine without a script gets no file: the guest init then starts no shell for it (~20 ms of CPU each).
  if (startup) entries.push({ dest: `${base}/startup`, content: startup, mode: SCRIPT_MODE });
  if (shutdown) entries.push({ dest: `${base}/shutdown`, content: shutdown, mode: SCRIPT_MODE });
  if (machine.exec !== undefined && machine.exec.trim() !== '') {
    entries.push({ dest: `${base}/exec`, content: `#!/bin/sh\n${unixText(machine.exec)}`, mode: SCRIPT_MODE });
  }

  entries.push({ dest: `${base}/interfaces`, content: lines(interfaces.map((i) => [i.name, ...i.addresses].join(' '))), mode: DATA_MODE });
  entries.push({ dest: `${base}/sysctl`, content: lines(sortedPairs(machine.sysctls)), mode: DATA_MODE });
  entries.push({ dest: `${base}/env`, content: lines(sortedPairs(machine.env)), mode: DATA_MODE });
  return entries;
}

/**
 * The `startup`/`shutdown` script of a machine, self-contained (the guest init may run a copy of it);
 * undefined when the machine has neither part. Netkit and Kathará run shared.startup and
 * <machine>.startup as separate scripts, so an `exit` or a syntax error in one does not skip the other:
 * each part runs in its own shell (bash when the image has it), its text carried verbatim in a
 * single-quoted word (no `$(cat <<…)`: a fork costs ~20 ms of CPU in UML). Exits with the status of the
 * last part that failed, 0 when none did; a lone part is exec'd, so its status is the script's.
 */
function scriptDriver(parts: [string, Script | undefined][]): string | undefined {
  const present = parts.filter((p): p is [string, Script] => p[1] !== undefined);
  if (present.length === 0) return undefined;
  const out = [
    '#!/bin/sh',
    `# Generated by vnetlab: ${present.map(([n]) => n).join(', then ')}, ${present.length > 1 ? 'each ' : ''}in its own shell, as Netkit and Kathará run them.`,
    'vnetlab_shell=sh',
    'command -v bash >/dev/null 2>&1 && vnetlab_shell=bash',
  ];
  if (present.length === 1) {
    const [name, script] = present[0]!;
    out.push(`exec "$vnetlab_shell" -c ${shellQuote(unixText(script.text))} ${shellQuote(name)}`, '');
    return out.join('\n');
  }
  out.push('vnetlab_status=0');
  for (const [name, script] of present) out.push(`"$vnetlab_shell" -c ${shellQuote(unixText(script.text))} ${shellQuote(name)} || vnetlab_status=$?`);
  out.push('exit $vnetlab_status', '');
  return out.join('\n');
}

/** Lab scripts are often written on Windows; a CR at the end of a shell line is never intended. */
function unixText(text: string): string {
  const lf = text.replace(/\r\n?/g, '\n');
  return lf.endsWith('\n') || lf === '' ? lf : `${lf}\n`;
}

function lines(rows: string[]): string {
  return rows.map((r) => `${r}\n`).join('');
}

function sortedPairs(record: Record<string, string>): string[] {
  return Object.keys(record)
    .sort(compareNames)
    .map((k) => `${k}=${record[k]}`);
}

function withMode<T extends LabFsEntry>(entry: T, mode: number | undefined): T {
  return mode === undefined ? entry : { ...entry, mode };
}

/** The guest path, absolute and normalised, refusing `..`: the reader checks this too (defence in depth). */
function guestDest(guestPath: string, source: SourceRef): string {
  const normal = posix.normalize(`/${guestPath}`);
  if (guestPath.split('/').includes('..')) {
    throw new UserError(`${where(source)}: guest path '${guestPath}' must not contain '..'`, undefined, 'write it as an absolute path, like /etc/frr/frr.conf');
  }
  return normal === '/' ? '' : normal;
}

/** The absolute path of a lab file, refusing any that leaves the lab folder (checked again, with symlinks, at build time). */
export function insideLab(root: string, labPath: string, source: SourceRef): string {
  const abs = resolve(root, labPath);
  const rel = relative(root, abs);
  if (rel === '..' || rel.startsWith(`..${'/'}`) || isAbsolute(rel)) {
    throw new UserError(`${where(source)}: '${labPath}' is outside the lab folder ${root}`, undefined, 'lab files may only use files inside the lab folder; copy the file into it');
  }
  return abs;
}

function where(source: SourceRef): string {
  return source.line > 0 ? `${source.file}:${source.line}:${source.column > 0 ? source.column : 1}` : source.file;
}
