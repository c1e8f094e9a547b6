// Netkit and Kathará lab folders, read unchanged: lab.conf (both dialects), lab.dep, *.startup,
// *.shutdown, shared.*, machine folders, shared/ and _test/. Netkit's parser was lenient; so is this
// one, but every oddity becomes a diagnostic with file:line:col instead of being silently dropped.
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Diagnostic } from '../../shared/diagnostics.ts';
import { defaultMachine, domainsOf, type LabModel, type Machine, type Script } from '../../shared/lab-model.ts';
import { didYouMean, error, info, warning, wholeFile } from './diag.ts';
import { guessKind } from './guess.ts';
import { DEFAULT_IMAGE } from './images.ts';
import { isInside } from './lab-paths.ts';
import { assignDefined, labNameFromFolder, parseLabYaml, type LabSolution, type ParsedVariant, type ParseOptions, type ParseResult } from './lab-yaml.ts';
import type { ParamValues } from './params.ts';
import { renderFileText } from './template-data.ts';
import { cleanMachineName, parseLabConf, type LabConf, type MachineDraft } from './lab-conf.ts';
import { applyOption, forwardingDefaults } from './machine-options.ts';
export { forwardingDefaults } from './machine-options.ts';
import { MAX_LAB_FILE_BYTES, MAX_MACHINES } from './limits.ts';

/** Folders of a lab folder that are never machines. */
export const NOT_MACHINE_FOLDERS = new Set(['shared', '_test', 'CVS', '.svn', '.git', 'node_modules']);
/** Side file written by writeNetkitLab with what lab.conf cannot say (layout, checks, domain kinds, long description). */
export const SIDECAR_FILE = 'vnetlab.yaml';
/** Markers of the address block writeNetkitLab puts at the top of a startup file; read back into interface addresses. */
export const ADDRESS_BLOCK_START = '# vnetlab: interface addresses (from lab.yaml)';
export const ADDRESS_BLOCK_END = '# vnetlab: end of interface addresses';

export interface ReadResult {
  model?: LabModel;
  diagnostics: Diagnostic[];
  variant?: ParsedVariant;
  solution?: LabSolution;
}

/** Reads the Netkit/Kathará lab in folder `root` (absolute). */
export async function readNetkitLab(root: string, options: ParseOptions = {}): Promise<ReadResult> {
  const diagnostics: Diagnostic[] = [];
  const confText = await readSmallText(root, 'lab.conf', diagnostics);
  if (confText === undefined) return { diagnostics };
  const conf = parseLabConf(confText, diagnostics);
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  // A linked folder counts as a folder (Kathará follows it): a `shared` linked out of the lab is then
  // the shared folder, reported where it is (files.ts) instead of silently not being one.
  const linkedFolders = await Promise.all(entries.filter((e) => e.isSymbolicLink()).map(async (e) => ((await stat(join(root, e.name)).then((i) => i.isDirectory(), () => false)) ? e.name : undefined)));
  const folders = new Set([...entries.filter((e) => e.isDirectory()).map((e) => e.name), ...linkedFolders.filter((n): n is string => n !== undefined)].filter((n) => !n.startsWith('.')));
  const files = new Set(entries.filter((e) => e.isFile() || e.isSymbolicLink()).map((e) => e.name));

  // Netkit without `machines=` takes every subfolder as a machine (which is why labs ship empty
  // folders like r5/dummyfile); Kathará only knows the devices lab.conf names.
  if (conf.dialect === 'netkit' && !conf.machineList) {
    for (const folder of [...folders].sort()) {
      if (NOT_MACHINE_FOLDERS.has(folder) || conf.machines.has(folder)) continue;
      if (conf.machines.size >= MAX_MACHINES) {
        diagnostics.push(error('too-many-machines', `the lab folder has more than ${MAX_MACHINES} machines (every subfolder is one: '${folder}' is one too many); vnetlab allows at most ${MAX_MACHINES}`, wholeFile(folder), { hint: 'list the machines with machines="pc1 r1 …" in lab.conf, or remove folders that are not machines' }));
        break;
      }
      conf.machines.set(folder, { written: folder, name: cleanMachineName(folder), source: wholeFile(folder), interfaces: [], options: [] });
    }
  }
  const byWrittenName = new Map([...conf.machines.values()].map((d) => [d.written, d]));
  for (const folder of folders) {
    if (!NOT_MACHINE_FOLDERS.has(folder) && !byWrittenName.has(folder)) {
      diagnostics.push(warning('stray-folder', `folder '${folder}' is not a machine of lab.conf; it is not copied into any guest`, wholeFile(folder), { hint: `add a line like ${folder}[0]=A to lab.conf if it should be a machine` }));
    }
  }
  for (const file of files) {
    const m = /^(.+)\.(startup|shutdown)$/.exec(file);
    if (m && m[1] !== 'shared' && !byWrittenName.has(m[1]!)) {
      diagnostics.push(warning('stray-script', `'${file}' belongs to no machine of lab.conf; it never runs`, wholeFile(file), { hint: 'rename it after a machine, or declare the machine in lab.conf' }));
    }
  }

  const machines: Machine[] = [];
  // Machines read their scripts concurrently (a few at a time: each read holds a file descriptor);
  // their diagnostics are kept per machine, so the output does not depend on which read ends first.
  const built = await mapConcurrently([...conf.machines.values()], MACHINE_READS_AT_ONCE, async (draft) => {
    const own: Diagnostic[] = [];
    return { machine: await buildMachine(root, draft, folders.has(draft.written), files, own), own };
  });
  for (const { machine, own } of built) {
    diagnostics.push(...own);
    machines.push(machine);
  }
  if (conf.machines.size === 0) diagnostics.push(error('no-machines', 'lab.conf declares no machines', wholeFile('lab.conf'), { hint: 'declare interfaces like pc1[0]=A, one line per interface' }));

  const model: LabModel = {
    format: conf.dialect,
    root,
    sourceFile: 'lab.conf',
    meta: { name: labNameFromFolder(root), authors: conf.meta.LAB_AUTHOR ? splitAuthors(conf.meta.LAB_AUTHOR) : [] },
    machines,
    // lab.conf names domains only through interfaces: all hubs (vnetlab.yaml may say otherwise).
    domains: domainsOf({ machines, domains: [] }),
    checks: [],
    layout: {},
  };
  assignDefined(model.meta, { title: conf.meta.LAB_NAME, description: conf.meta.LAB_DESCRIPTION, version: conf.meta.LAB_VERSION, email: conf.meta.LAB_EMAIL, web: conf.meta.LAB_WEB });
  assignDefined(model, {
    sharedStartup: files.has('shared.startup') ? await readScript(root, 'shared.startup', diagnostics) : undefined,
    sharedShutdown: files.has('shared.shutdown') ? await readScript(root, 'shared.shutdown', diagnostics) : undefined,
    sharedFolder: folders.has('shared') ? 'shared' : undefined,
    testFolder: folders.has('_test') ? '_test' : undefined,
  });
  if (files.has('lab.dep')) await readLabDep(root, model, conf, diagnostics);
  const side = files.has(SIDECAR_FILE) ? await mergeSidecar(root, model, diagnostics, options) : undefined;
  // The side file's parameters are rendered into the scripts, each reporting at its own file's lines.
  if (side?.variant) renderScripts(model, side.variant.values, diagnostics);
  // Kathará devices (and Netkit's filesystem) forward IP by default and routers rely on it: the
  // default goes into the model, so the lab still forwards when saved as lab.yaml or converted.
  // A folder written from a lab.yaml says so in its side file: its machines keep their own sysctls.
  if (side?.forwardingDefault !== false) for (const m of machines) m.sysctls = { ...forwardingDefaults(m), ...m.sysctls };
  const result: ReadResult = { model, diagnostics };
  if (side?.variant) result.variant = side.variant;
  if (side?.solution) result.solution = side.solution;
  return result;
}

function renderScripts(model: LabModel, values: ParamValues, diagnostics: Diagnostic[]): void {
  const render = (script: Script | undefined): Script | undefined => {
    if (!script) return script;
    const text = renderFileText(script.text, values, script.source.file, diagnostics);
    return text === undefined ? script : { ...script, text };
  };
  for (const m of model.machines) {
    const startup = render(m.startup);
    const shutdown = render(m.shutdown);
    if (startup) m.startup = startup;
    if (shutdown) m.shutdown = shutdown;
    if (m.exec !== undefined) m.exec = renderFileText(m.exec, values, 'lab.conf', diagnostics) ?? m.exec;
  }
  const sharedStartup = render(model.sharedStartup);
  const sharedShutdown = render(model.sharedShutdown);
  if (sharedStartup) model.sharedStartup = sharedStartup;
  if (sharedShutdown) model.sharedShutdown = sharedShutdown;
}

async function buildMachine(root: string, draft: MachineDraft, hasFolder: boolean, files: Set<string>, diagnostics: Diagnostic[]): Promise<Machine> {
  const target = `machine:${draft.name}`;
  const machine: Machine = defaultMachine(draft.name, DEFAULT_IMAGE, draft.source, {
    interfaces: [...draft.interfaces].sort((a, b) => a.index - b.index),
    files: hasFolder ? [{ kind: 'dir', guestPath: '/', labPath: draft.written, source: wholeFile(draft.written) }] : [],
  });
  for (const { key, value, at } of draft.options) applyOption(machine, key, value, at, diagnostics);
  const startupFile = `${draft.written}.startup`;
  const shutdownFile = `${draft.written}.shutdown`;
  if (files.has(startupFile)) {
    const script = await readScript(root, startupFile, diagnostics);
    if (script) {
      const { text, addresses } = takeAddressBlock(script.text);
      for (const { index, family, cidr } of addresses) {
        const iface = machine.interfaces.find((i) => i.index === index);
        if (iface) (family === 4 ? iface.ipv4 : iface.ipv6).push(cidr);
      }
      if (text.trim() !== '' || addresses.length === 0) machine.startup = { text, source: script.source };
    }
  }
  if (files.has(shutdownFile)) {
    const script = await readScript(root, shutdownFile, diagnostics);
    if (script) machine.shutdown = script;
  }
  const routingFolder = hasFolder && (await anyExists(['etc/frr', 'etc/quagga', 'etc/zebra', 'etc/bird'].map((p) => join(root, draft.written, p))));
  machine.kind = guessKind(machine, routingFolder);
  if (draft.interfaces.length === 0 && !machine.bridged) {
    diagnostics.push(info('no-interfaces', `machine '${draft.name}' has no network interface`, draft.source, { target }));
  }
  return machine;
}

/** Authors as Kathará writes them: "A. One, B. Two and C. Three". */
function splitAuthors(text: string): string[] {
  return text.split(/\s*,\s*/).map((a) => a.trim()).filter(Boolean);
}

/** The address block writeNetkitLab generates at the top of a startup file, turned back into addresses. */
function takeAddressBlock(text: string): { text: string; addresses: Array<{ index: number; family: 4 | 6; cidr: string }> } {
  const start = text.indexOf(ADDRESS_BLOCK_START);
  const end = text.indexOf(ADDRESS_BLOCK_END);
  if (start !== 0 || end < 0) return { text, addresses: [] };
  const block = text.slice(0, end);
  const addresses: Array<{ index: number; family: 4 | 6; cidr: string }> = [];
  for (const line of block.split('\n')) {
    const m = /^ip (-6 )?address add (\S+) dev eth(\d+)\s*$/.exec(line.trim());
    if (m) addresses.push({ index: Number(m[3]), family: m[1] ? 6 : 4, cidr: m[2]! });
  }
  const after = text.slice(end + ADDRESS_BLOCK_END.length).replace(/^\r?\n/, '');
  return { text: after, addresses };
}

async function readScript(root: string, file: string, diagnostics: Diagnostic[]): Promise<Script | undefined> {
  const text = await readSmallText(root, file, diagnostics);
  return text === undefined ? undefined : { text, source: { file, line: 1, column: 1 } };
}

/** Reads a text file of the lab folder; a symlink leading out of the folder is refused (its content would reach a guest). */
async function readSmallText(root: string, shown: string, diagnostics: Diagnostic[]): Promise<string | undefined> {
  const path = join(root, shown);
  try {
    const [realRoot, real] = await Promise.all([realpath(root), realpath(path)]);
    if (!isInside(realRoot, real)) {
      diagnostics.push(error('path-escapes-lab', `${shown} is a symlink that leads out of the lab folder (to ${real}); it is not read`, wholeFile(shown), { hint: 'copy the file into the lab folder instead of linking to it' }));
      return undefined;
    }
    const info = await stat(path);
    if (!info.isFile()) {
      diagnostics.push(error('file-unreadable', `${shown} is not a regular file`, wholeFile(shown)));
      return undefined;
    }
    if (info.size > MAX_LAB_FILE_BYTES) {
      diagnostics.push(error('file-too-large', `${shown} is larger than ${MAX_LAB_FILE_BYTES / 1024 / 1024} MiB; it is not read`, wholeFile(shown)));
      return undefined;
    }
    const bytes = await readFile(path);
    if (bytes.includes(0)) diagnostics.push(warning('binary-file', `${shown} contains NUL bytes; is it really a text file?`, wholeFile(shown)));
    return bytes.toString('utf8');
  } catch (e) {
    diagnostics.push(error('file-unreadable', `cannot read ${shown}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, wholeFile(shown)));
    return undefined;
  }
}

const MACHINE_READS_AT_ONCE = 16;

/** `items.map(fn)` with at most `limit` calls running at once; results in the order of `items`. */
async function mapConcurrently<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

async function anyExists(paths: string[]): Promise<boolean> {
  for (const p of paths) if (await stat(p).then(() => true, () => false)) return true;
  return false;
}

/** lab.dep: Makefile syntax, `pc2: pc1 r1` (pc2 boots after pc1 and r1), with `\` continuations. */
async function readLabDep(root: string, model: LabModel, conf: LabConf, diagnostics: Diagnostic[]): Promise<void> {
  const text = await readSmallText(root, 'lab.dep', diagnostics);
  if (text === undefined) return;
  const byWritten = new Map([...conf.machines.values()].map((d) => [d.written, d.name]));
  const machineByName = new Map(model.machines.map((m) => [m.name, m]));
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const lineNo = n + 1;
    let line = lines[n]!.replace(/\r$/, '');
    while (line.endsWith('\\') && n + 1 < lines.length) line = line.slice(0, -1) + ' ' + lines[++n]!.replace(/\r$/, '');
    line = line.replace(/#.*$/, '');
    if (!line.trim()) continue;
    const colon = line.indexOf(':');
    if (colon < 0) {
      diagnostics.push(error('lab-dep-syntax', `cannot read this line of lab.dep: '${line.trim().slice(0, 60)}'`, { file: 'lab.dep', line: lineNo, column: 1 }, { hint: 'lines look like pc2: pc1 r1 (pc2 starts after pc1 and r1)' }));
      continue;
    }
    const resolveName = (written: string, column: number) => {
      const name = byWritten.get(written) ?? (machineByName.has(written) ? written : undefined);
      if (!name) {
        const close = didYouMean(written, byWritten.keys());
        diagnostics.push(error('unknown-machine', `lab.dep names '${written}', which is not a machine of lab.conf${close ? ` (did you mean '${close}'?)` : ''}`, { file: 'lab.dep', line: lineNo, column }));
      }
      return name;
    };
    const words = (part: string, offset: number) => [...part.matchAll(/\S+/g)].map((w) => ({ word: w[0], column: offset + w.index! + 1 }));
    const deps = words(line.slice(colon + 1), colon + 1).map((w) => resolveName(w.word, w.column)).filter((d): d is string => d !== undefined);
    for (const t of words(line.slice(0, colon), 0)) {
      const name = resolveName(t.word, t.column);
      const machine = name ? machineByName.get(name) : undefined;
      if (machine) for (const d of deps) if (!machine.dependsOn.includes(d)) machine.dependsOn.push(d);
    }
  }
}

/** vnetlab.yaml next to lab.conf: what lab.conf cannot say, written by writeNetkitLab. */
async function mergeSidecar(root: string, model: LabModel, diagnostics: Diagnostic[], options: ParseOptions): Promise<Pick<ParseResult, 'forwardingDefault' | 'variant' | 'solution'> | undefined> {
  const text = await readSmallText(root, SIDECAR_FILE, diagnostics);
  if (text === undefined) return undefined;
  const side = parseLabYaml(text, SIDECAR_FILE, root, options);
  diagnostics.push(...side.diagnostics);
  if (!side.model) return undefined;
  if (side.model.machines.length > 0) {
    diagnostics.push(warning('sidecar-machines', `machines in ${SIDECAR_FILE} are ignored: lab.conf defines the machines of this lab`, side.model.machines[0]!.source));
  }
  assignDefined(model.meta, { title: side.model.meta.title, description: side.model.meta.description, startingScore: side.model.meta.startingScore });
  if (side.model.variant) model.variant = side.model.variant;
  // Same folder, so this is the folder's name unless the side file names the lab.
  model.meta.name = side.model.meta.name;
  for (const d of side.model.domains) {
    const mine = model.domains.find((x) => x.name === d.name);
    if (mine) Object.assign(mine, { kind: d.kind, hostNat: d.hostNat }, d.stp ? { stp: d.stp } : {});
    else model.domains.push(d);
  }
  if (side.model.switchLinks?.length) model.switchLinks = side.model.switchLinks;
  for (const { cable, source, ...vlans } of side.ports ?? []) {
    const [machine, iface] = cable.split(':');
    const target = model.machines.find((m) => m.name === machine)?.interfaces.find((i) => `eth${i.index}` === iface);
    if (target) Object.assign(target, vlans);
    else diagnostics.push(warning('unknown-cable', `ports: '${cable}' names no machine interface of lab.conf`, source, { hint: 'write it as machine:ethN, e.g. pc1:eth0' }));
  }
  model.layout = side.model.layout;
  if (side.model.annotations?.length) model.annotations = side.model.annotations;
  model.checks = side.model.checks;
  for (const { cable, link, source } of side.links ?? []) {
    const [machine, iface] = cable.split(':');
    const target = model.machines.find((m) => m.name === machine)?.interfaces.find((i) => `eth${i.index}` === iface);
    if (target) target.link = link;
    else diagnostics.push(warning('unknown-cable', `links: '${cable}' names no machine interface of lab.conf`, source, { hint: 'write it as machine:ethN, e.g. pc1:eth0' }));
  }
  const out: Pick<ParseResult, 'forwardingDefault' | 'variant' | 'solution'> = { forwardingDefault: side.forwardingDefault };
  if (side.variant) out.variant = side.variant;
  if (side.solution) out.solution = side.solution;
  return out;
}
