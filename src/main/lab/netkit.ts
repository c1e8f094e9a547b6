// Netkit and Kathará lab folders, read unchanged: lab.conf (both dialects), lab.dep, *.startup,
// *.shutdown, shared.*, machine folders, shared/ and _test/. Netkit's parser was lenient; so is this
// one, but every oddity becomes a diagnostic with file:line:col instead of being silently dropped.
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Diagnostic } from '../../shared/diagnostics.ts';
import { defaultMachine, domainsOf, MIN_MEMORY_MIB, type Interface, type LabFormat, type LabModel, type Machine, type Script, type SourceRef } from '../../shared/lab-model.ts';
import { didYouMean, error, info, warning, wholeFile } from './diag.ts';
import { guessKind } from './guess.ts';
import { DEFAULT_IMAGE, KNOWN_IMAGES, mapImageName } from './images.ts';
import { isInside } from './lab-paths.ts';
import { assignDefined, labNameFromFolder, parseLabYaml, type LabSolution, type ParsedVariant, type ParseOptions, type ParseResult } from './lab-yaml.ts';
import type { ParamValues } from './params.ts';
import { renderFileText } from './template-data.ts';
import { MACHINE_NAME, MAX_INTERFACES, MAX_LAB_FILE_BYTES, MAX_MACHINES } from './limits.ts';

/** Folders of a lab folder that are never machines. */
export const NOT_MACHINE_FOLDERS = new Set(['shared', '_test', 'CVS', '.svn', '.git', 'node_modules']);
/** Side file written by writeNetkitLab with what lab.conf cannot say (layout, checks, domain kinds, long description). */
export const SIDECAR_FILE = 'vnetlab.yaml';
/** Markers of the address block writeNetkitLab puts at the top of a startup file; read back into interface addresses. */
export const ADDRESS_BLOCK_START = '# vnetlab: interface addresses (from lab.yaml)';
export const ADDRESS_BLOCK_END = '# vnetlab: end of interface addresses';

type Dialect = Exclude<LabFormat, 'vnetlab'>;

interface MachineDraft {
  written: string;
  name: string;
  source: SourceRef;
  interfaces: Interface[];
  options: Array<{ key: string; value: string; at: SourceRef }>;
}

/** Options each dialect understands; anything else is reported. */
const KATHARA_OPTIONS = new Set(['image', 'mem', 'cpus', 'bridged', 'ipv6', 'exec', 'sysctl', 'env', 'num_terms', 'port', 'shell', 'entrypoint', 'privileged', 'ulimit', 'hostname']);
const NETKIT_OPTIONS = new Set(['mem', 'M', 'con0', 'con1', 'kernel', 'filesystem', 'append', 'model-fs', 'modules', 'hostlab']);
/** Options that only make sense for Docker or for Netkit's own host setup; accepted and ignored. */
const IGNORED_OPTIONS: Record<string, string> = {
  port: 'vnetlab does not forward host ports into guests; reach services from another machine of the lab (or a host_nat domain)',
  shell: 'consoles open the guest\'s login shell',
  entrypoint: 'vnetlab guests boot their own init',
  privileged: 'UML guests are always "privileged" inside and never on the host',
  ulimit: 'not applicable to UML guests',
  hostname: 'the guest\'s host name is the machine name',
  con0: 'vnetlab opens consoles itself',
  con1: 'vnetlab opens consoles itself',
  kernel: 'vnetlab uses its own UML kernel; nothing in a lab runs on the host',
  filesystem: 'vnetlab uses its own images; set image: instead',
  'model-fs': 'vnetlab uses its own images; set image: instead',
  append: 'kernel command lines come from vnetlab',
  modules: 'kernel modules come with vnetlab\'s images',
  hostlab: 'the lab folder is always at /hostlab',
};

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

interface LabConf {
  dialect: Dialect;
  meta: Record<string, string>;
  machines: Map<string, MachineDraft>;
  machineList: boolean;
}

function parseLabConf(text: string, diagnostics: Diagnostic[]): LabConf {
  const conf: LabConf = { dialect: 'netkit', meta: {}, machines: new Map(), machineList: false };
  // A runaway lab.conf (a generator gone wrong: 600,000 machines in 10 MB) is refused at the first
  // machine or interface past the limit, before it costs seconds and gigabytes.
  let stopped = false;
  const tooMany = (code: string, message: string, at: SourceRef) => {
    diagnostics.push(error(code, message, at, { hint: 'the rest of lab.conf is not read; check the script or the edit that produced it' }));
    stopped = true;
  };
  const draftFor = (written: string, at: SourceRef): MachineDraft | undefined => {
    let draft = conf.machines.get(written);
    if (!draft && conf.machines.size >= MAX_MACHINES) {
      tooMany('too-many-machines', `lab.conf declares more than ${MAX_MACHINES} machines ('${written.slice(0, 40)}' is one too many); vnetlab allows at most ${MAX_MACHINES}`, at);
      return undefined;
    }
    if (!draft) {
      const name = cleanMachineName(written);
      if (name !== written) {
        diagnostics.push(warning('name-cleaned', `machine name '${written}' is not a valid vnetlab name; it is used as '${name}'`, at, { target: `machine:${name}`, hint: 'rename it in lab.conf (and its files) to lowercase letters, digits, - and _' }));
      }
      draft = { written, name, source: at, interfaces: [], options: [] };
      conf.machines.set(written, draft);
    }
    return draft;
  };
  const readLine = (rawLine: string, n: number): void => {
    const line = rawLine.replace(/\r$/, '');
    const lineNo = n + 1;
    if (/^\s*(#.*)?$/.test(line)) return;
    const at = (column: number): SourceRef => ({ file: 'lab.conf', line: lineNo, column });
    let m = /^(\s*)(LAB_[A-Za-z_]+)\s*=\s*(.*)$/.exec(line);
    if (m) {
      const key = m[2]!.toUpperCase();
      const value = unquote(m[3]!, at(line.indexOf('=') + 2), diagnostics);
      if (!['LAB_NAME', 'LAB_DESCRIPTION', 'LAB_VERSION', 'LAB_AUTHOR', 'LAB_EMAIL', 'LAB_WEB'].includes(key)) {
        diagnostics.push(info('unknown-lab-option', `${m[2]} is not a lab.conf setting vnetlab knows; it is ignored`, at(m[1]!.length + 1)));
      } else conf.meta[key] = value;
      return;
    }
    m = /^(\s*)machines\s*=\s*(.*)$/.exec(line);
    if (m) {
      conf.machineList = true;
      for (const written of unquote(m[2]!, at(line.indexOf('=') + 2), diagnostics).split(/\s+/).filter(Boolean)) if (!draftFor(written, at(m[1]!.length + 1))) return;
      return;
    }
    m = /^(\s*)([^\s[\]=]+)\s*\[\s*([^\]]*?)\s*\]\s*=\s*(.*)$/.exec(line);
    if (!m) {
      diagnostics.push(error('lab-conf-syntax', `cannot read this line of lab.conf: '${line.trim().slice(0, 60)}'`, at(1), { hint: 'lines look like pc1[0]=A (interface), pc1[mem]=128 (option) or LAB_DESCRIPTION="…"' }));
      return;
    }
    const [, indent, written, key, rawValue] = m as unknown as [string, string, string, string, string];
    const valueColumn = line.indexOf('=', indent.length + written.length) + 2;
    const value = unquote(rawValue, at(valueColumn), diagnostics);
    const draft = draftFor(written, at(indent.length + 1));
    if (!draft) return;
    if (/^\d+$/.test(key)) {
      if (draft.interfaces.length >= MAX_INTERFACES) {
        return void tooMany('too-many-interfaces', `${written} has more than ${MAX_INTERFACES} interfaces in lab.conf; vnetlab allows eth0 to eth${MAX_INTERFACES - 1}`, at(indent.length + 1));
      }
      const slash = value.indexOf('/');
      const domain = (slash >= 0 ? value.slice(0, slash) : value).trim();
      if (!domain) {
        diagnostics.push(error('missing-domain', `${written}[${key}] names no collision domain`, at(valueColumn), { target: `machine:${draft.name}`, hint: `write ${written}[${key}]=A to attach eth${Number(key)} to domain A` }));
        return;
      }
      const iface: Interface = { index: Number(key), domain, ipv4: [], ipv6: [], source: at(valueColumn) };
      if (slash >= 0) {
        conf.dialect = 'kathara';
        iface.mac = value.slice(slash + 1).trim().toLowerCase();
      }
      draft.interfaces.push(iface);
      return;
    }
    if (KATHARA_OPTIONS.has(key) && !NETKIT_OPTIONS.has(key)) conf.dialect = 'kathara';
    draft.options.push({ key, value, at: at(line.indexOf('[') + 2) });
  };
  const lines = text.split('\n');
  for (let n = 0; n < lines.length && !stopped; n++) readLine(lines[n]!, n);
  return conf;
}

/** Strips Netkit/Kathará quoting: "…", '…', or a bare word with an optional trailing # comment. */
function unquote(raw: string, at: SourceRef, diagnostics: Diagnostic[]): string {
  const text = raw.trim();
  const quote = text[0];
  if (quote === '"' || quote === "'") {
    const end = text.indexOf(quote, 1);
    if (end < 0) {
      diagnostics.push(warning('unterminated-quote', `the value ${text.slice(0, 40)} has no closing ${quote}; read up to the end of the line`, at));
      return text.slice(1);
    }
    const rest = text.slice(end + 1).trim();
    if (rest && !rest.startsWith('#')) diagnostics.push(warning('trailing-text', `text after the closing quote is ignored: '${rest.slice(0, 40)}'`, at));
    return text.slice(1, end);
  }
  return text.replace(/\s+#.*$/, '').trim();
}

function cleanMachineName(written: string): string {
  const cleaned = written.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[-_]+/, '').slice(0, 63);
  return cleaned || 'machine';
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

/** The sysctls every Netkit/Kathará machine gets unless lab.conf sets them (writeNetkitLab leaves them out again). */
export function forwardingDefaults(machine: Pick<Machine, 'ipv6'>): Record<string, string> {
  return machine.ipv6 ? { 'net.ipv4.ip_forward': '1', 'net.ipv6.conf.all.forwarding': '1' } : { 'net.ipv4.ip_forward': '1' };
}

function applyOption(machine: Machine, key: string, value: string, at: SourceRef, diagnostics: Diagnostic[]): void {
  const target = `machine:${machine.name}`;
  const bad = (what: string, hint?: string) => diagnostics.push(error('invalid-option', `${machine.name}[${key}]: ${what}`, at, { target, hint }));
  switch (key) {
    case 'mem':
    case 'M': {
      const mib = parseMemory(value);
      if (mib === undefined) return void bad(`'${value}' is not an amount of memory`, 'write it in MiB, e.g. 128 or 128m');
      if (mib < MIN_MEMORY_MIB) {
        diagnostics.push(warning('memory-raised', `${machine.name} asks for ${mib} MiB; a 6.1 UML kernel does not boot reliably with less than ${MIN_MEMORY_MIB}, so vnetlab gives it ${MIN_MEMORY_MIB} MiB`, at, { target }));
        machine.memoryMiB = MIN_MEMORY_MIB;
      } else machine.memoryMiB = mib;
      return;
    }
    case 'image': {
      const mapped = mapImageName(value);
      machine.image = mapped.image;
      if (mapped.alias) machine.imageAlias = mapped.alias;
      if (mapped.unknown) {
        diagnostics.push(warning('unknown-image', `${machine.name} asks for image '${value}', which vnetlab does not have; it runs on '${DEFAULT_IMAGE}' instead`, at, { target, hint: `known images: ${KNOWN_IMAGES.join(', ')} (Kathará's kathara/* images map to debian)` }));
      }
      return;
    }
    case 'exec':
      machine.exec = value;
      return;
    case 'cpus': {
      const cpus = Number(value);
      if (!Number.isFinite(cpus) || cpus <= 0) return void bad(`'${value}' is not a number of CPUs`);
      machine.cpus = cpus;
      // Kept in the model (it goes back into lab.conf), but a UML guest runs on one CPU: say so.
      diagnostics.push(warning('option-ignored', `${machine.name}[cpus] is ignored: a UML guest always runs on one CPU`, at, { target, hint: 'remove it, or keep it for Kathará; vnetlab runs the lab the same either way' }));
      return;
    }
    case 'bridged':
    case 'ipv6': {
      const flag = parseBool(value);
      if (flag === undefined) return void bad(`'${value}' is not true or false`);
      machine[key] = flag;
      return;
    }
    case 'num_terms': {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) return void bad(`'${value}' is not a number of terminals`);
      machine.consoles = n;
      return;
    }
    case 'sysctl':
    case 'env': {
      const eq = value.indexOf('=');
      if (eq <= 0) return void bad(`'${value}' should look like ${key === 'sysctl' ? 'net.ipv4.ip_forward=1' : 'NAME=value'}`);
      (key === 'sysctl' ? machine.sysctls : machine.env)[value.slice(0, eq).trim()] = value.slice(eq + 1).trim();
      return;
    }
    default: {
      const why = IGNORED_OPTIONS[key];
      if (why) {
        diagnostics.push((key === 'port' || key === 'kernel' || key === 'filesystem' || key === 'model-fs' ? warning : info)('option-ignored', `${machine.name}[${key}] is ignored: ${why}`, at, { target }));
        return;
      }
      const close = didYouMean(key, [...KATHARA_OPTIONS, ...NETKIT_OPTIONS]);
      diagnostics.push(warning('unknown-option', `${machine.name}[${key}] is not an option vnetlab knows; it is ignored${close ? ` (did you mean '${close}'?)` : ''}`, at, { target }));
    }
  }
}

/** Netkit: plain MiB; Kathará (Docker): 512m, 1g, 262144k, with an optional trailing b. */
function parseMemory(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)b?$/i.exec(value.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2]!.toLowerCase();
  return Math.round(unit === 'g' ? n * 1024 : unit === 'k' ? n / 1024 : n);
}

function parseBool(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (['true', 'yes', '1', 'on'].includes(v)) return true;
  if (['false', 'no', '0', 'off'].includes(v)) return false;
  return undefined;
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
