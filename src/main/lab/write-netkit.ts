// LabModel → a Netkit/Kathará lab folder: lab.conf, lab.dep, *.startup/*.shutdown, machine folders,
// shared/ and _test/. What lab.conf cannot say (interface addresses, layout, checks, domain kinds,
// a multi-line description) is kept where Kathará ignores it but vnetlab reads it back: an
// address block at the top of each startup file, and vnetlab.yaml.
import { cp, mkdir, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { linkToYaml } from '../../shared/impairments.ts';
import { DEFAULT_MEMORY_MIB, type LabModel, type Machine } from '../../shared/lab-model.ts';
import { writeFileInside } from './atomic.ts';
import { DEFAULT_IMAGE } from './images.ts';
import { guestPathProblem } from './lab-paths.ts';
import { destinationInside, makeOwnerWritable, sourceInside } from './safe-paths.ts';
import { ADDRESS_BLOCK_END, ADDRESS_BLOCK_START, forwardingDefaults, NOT_MACHINE_FOLDERS, SIDECAR_FILE } from './netkit.ts';
import { labNameFromFolder } from './lab-yaml.ts';
import { refuseOverwritingTemplate, writeLabYaml } from './write-yaml.ts';

/**
 * Writes the lab as a Netkit/Kathará folder in `dir`. A new folder is built next to `dir` and renamed
 * into place; an existing folder gets each file replaced atomically (other files in it are kept).
 */
export async function writeNetkitLab(model: LabModel, dir: string): Promise<void> {
  const target = resolve(dir);
  refuseOverwritingTemplate(join(target, 'vnetlab.yaml'));
  const exists = await stat(target).then((s) => s.isDirectory(), () => false);
  if (exists) return writeInto(model, target);
  const staging = join(dirname(target), `.${basename(target)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await mkdir(staging, { recursive: true });
    await writeInto(model, staging);
    await rename(staging, target);
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    throw e;
  }
}

async function writeInto(model: LabModel, dir: string): Promise<void> {
  const omitDefaults = keepsForwardingDefaults(model);
  const kathara = model.format === 'kathara' || model.machines.some((m) => usesKatharaOptions(m, omitDefaults));
  // Netkit takes every subfolder for a machine unless lab.conf lists them: when the folder already
  // holds others (a machine deleted in the editor), list the machines so it does not come back.
  const names = new Set(model.machines.map((m) => m.name));
  const existing = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const strayFolders = existing.some((e) => e.isDirectory() && !e.name.startsWith('.') && !NOT_MACHINE_FOLDERS.has(e.name) && !names.has(e.name));
  // Every file goes through writeFileInside: a machine name is part of the path.
  const write = (rel: string, content: string, mode?: number) => writeFileInside(dir, rel, content, 'file', mode);
  await write('lab.conf', labConf(model, kathara, !kathara && strayFolders, omitDefaults));
  const deps = model.machines.filter((m) => m.dependsOn.length > 0).map((m) => `${m.name}: ${m.dependsOn.join(' ')}\n`);
  if (deps.length) await write('lab.dep', deps.join(''));
  if (model.sharedStartup) await write('shared.startup', model.sharedStartup.text);
  if (model.sharedShutdown) await write('shared.shutdown', model.sharedShutdown.text);
  for (const m of model.machines) {
    const startup = addressBlock(m) + (m.startup?.text ?? '');
    if (startup) await write(`${m.name}.startup`, startup);
    if (m.shutdown) await write(`${m.name}.shutdown`, m.shutdown.text);
    await writeMachineFolder(model, m, dir);
  }
  for (const [folder, name] of [[model.sharedFolder, 'shared'], [model.testFolder, '_test']] as const) {
    if (folder !== undefined) await copyIfDifferent(model.root, folder, dir, name);
  }
  const sidecar = sidecarText(model, labNameFromFolder(dir) !== model.meta.name);
  if (sidecar) await write(SIDECAR_FILE, sidecar);
}

function usesKatharaOptions(m: Machine, omitDefaults: boolean): boolean {
  return m.image !== DEFAULT_IMAGE || m.imageAlias !== undefined || m.cpus !== undefined || m.bridged || !m.ipv6 || m.exec !== undefined
    || writtenSysctls(m, omitDefaults).length > 0 || Object.keys(m.env).length > 0 || m.consoles !== 1 || m.interfaces.some((i) => i.mac);
}

/** The reader adds Netkit's forwarding defaults back (unless the side file turns them off): only what differs from them is written. */
function writtenSysctls(m: Machine, omitDefaults: boolean): [string, string][] {
  const defaults = omitDefaults ? forwardingDefaults(m) : {};
  return Object.entries(m.sysctls).filter(([k, v]) => defaults[k] !== v);
}

function labConf(model: LabModel, kathara: boolean, listMachines: boolean, omitDefaults: boolean): string {
  const lines: string[] = [];
  if (listMachines) lines.push(`machines=${quote(model.machines.map((m) => m.name).join(' '))}`);
  const meta = model.meta;
  if (meta.title !== undefined) lines.push(`LAB_NAME=${quote(meta.title)}`);
  if (meta.description !== undefined) lines.push(`LAB_DESCRIPTION=${quote(oneLine(meta.description))}`);
  if (meta.version !== undefined) lines.push(`LAB_VERSION=${quote(meta.version)}`);
  if (meta.authors.length) lines.push(`LAB_AUTHOR=${quote(meta.authors.join(', '))}`);
  if (meta.email !== undefined) lines.push(`LAB_EMAIL=${quote(meta.email)}`);
  if (meta.web !== undefined) lines.push(`LAB_WEB=${quote(meta.web)}`);
  for (const m of model.machines) {
    lines.push('');
    for (const i of m.interfaces) lines.push(`${m.name}[${i.index}]=${quote(i.mac ? `${i.domain}/${i.mac}` : i.domain)}`);
    const option = (key: string, value: string) => lines.push(`${m.name}[${key}]=${quote(value)}`);
    if (m.imageAlias !== undefined || m.image !== DEFAULT_IMAGE) option('image', m.imageAlias ?? m.image);
    if (m.memoryMiB !== DEFAULT_MEMORY_MIB) option('mem', kathara ? `${m.memoryMiB}m` : String(m.memoryMiB));
    if (m.cpus !== undefined) option('cpus', String(m.cpus));
    if (m.bridged) option('bridged', 'true');
    if (!m.ipv6) option('ipv6', 'false');
    if (m.exec !== undefined) option('exec', m.exec);
    for (const [k, v] of writtenSysctls(m, omitDefaults)) option('sysctl', `${k}=${v}`);
    for (const [k, v] of Object.entries(m.env)) option('env', `${k}=${v}`);
    if (m.consoles !== 1) option('num_terms', String(m.consoles));
  }
  return `${lines.join('\n').replace(/^\n/, '')}\n`;
}

/** A Markdown description as one lab.conf line: its first paragraph, without heading marks (the whole text goes to vnetlab.yaml). */
function oneLine(description: string): string {
  const paragraphs = description.split(/\n\s*\n/).map((p) => p.replace(/^#+\s*/gm, '').replace(/\s+/g, ' ').trim()).filter(Boolean);
  return paragraphs[0] ?? '';
}

/** True when a lab.conf line carries the text unchanged (one line, not both kinds of quotes). */
function survivesLabConf(text: string): boolean {
  return !/[\r\n]/.test(text) && !(text.includes('"') && text.includes("'"));
}

/** lab.conf values are quoted with " (or ' when the value contains "); newlines cannot be kept. */
function quote(value: string): string {
  const flat = value.replace(/\r?\n/g, ' ');
  return flat.includes('"') ? `'${flat.replace(/'/g, '')}'` : `"${flat}"`;
}

function addressBlock(m: Machine): string {
  const lines: string[] = [];
  for (const i of m.interfaces) {
    for (const a of i.ipv4) lines.push(`ip address add ${a} dev eth${i.index}`);
    for (const a of i.ipv6) lines.push(`ip -6 address add ${a} dev eth${i.index}`);
  }
  return lines.length ? `${ADDRESS_BLOCK_START}\n${lines.join('\n')}\n${ADDRESS_BLOCK_END}\n` : '';
}

/** The machine folder `<name>/` is what Netkit copies onto `/`: every file entry lands there. */
async function writeMachineFolder(model: LabModel, m: Machine, dir: string): Promise<void> {
  for (const f of m.files) {
    if (guestPathProblem(f.guestPath)) continue;
    const destination = `${m.name}${f.guestPath}`;
    if (f.kind === 'inline') {
      await writeFileInside(dir, destination, f.content, 'file', f.mode);
      continue;
    }
    await copyIfDifferent(model.root, f.labPath, dir, destination);
  }
}

/** Copies lab path `from` of the lab folder `root` to `to` in the folder `dir`; both checked after resolving symlinks. */
async function copyIfDifferent(root: string, from: string, dir: string, to: string): Promise<void> {
  const source = await sourceInside(root, from, 'lab file');
  const destination = await destinationInside(dir, to, 'lab file');
  if (source === (await realpath(destination).catch(() => destination))) return;
  await mkdir(dirname(destination), { recursive: true });
  // Links are copied as links (sourceInside refused any that lead out of the lab folder).
  await cp(source, destination, { recursive: true, verbatimSymlinks: true, force: true, preserveTimestamps: true });
  await makeOwnerWritable(destination);
}

/**
 * True when every machine already has Netkit's forwarding defaults, so that the reader adding them
 * changes nothing. Otherwise (a lab.yaml host that does not forward) the side file turns them off.
 */
function keepsForwardingDefaults(model: LabModel): boolean {
  return model.machines.every((m) => Object.keys(forwardingDefaults(m)).every((k) => k in m.sysctls));
}

function sidecarText(model: LabModel, needsName: boolean): string | undefined {
  const { title, description } = model.meta;
  const needsTitle = title !== undefined && !survivesLabConf(title);
  const needsDescription = description !== undefined && (oneLine(description) !== description || !survivesLabConf(description));
  const needsDomains = model.domains.some((d) => d.kind !== 'hub' || d.hostNat || d.stp) || !!model.switchLinks?.length;
  const needsNoForwarding = !keepsForwardingDefaults(model);
  const links = model.machines.flatMap((m) => m.interfaces.filter((i) => i.link && (i.link.in || i.link.out)).map((i) => [`${m.name}:eth${i.index}`, linkToYaml(i.link!)] as const));
  const ports = model.machines.flatMap((m) => m.interfaces.filter((i) => i.vlan !== undefined || i.vlans?.length).map((i) => [`${m.name}:eth${i.index}`, { ...(i.vlan !== undefined ? { vlan: i.vlan } : {}), ...(i.vlans?.length ? { vlans: i.vlans } : {}) }] as const));
  if (!needsName && links.length === 0 && ports.length === 0 && !needsTitle && !needsDescription && !needsDomains && !needsNoForwarding && Object.keys(model.layout).length === 0 && !model.annotations?.length && model.checks.length === 0 && model.meta.startingScore === undefined) return undefined;
  const side: LabModel = { ...model, machines: [], domains: needsDomains ? model.domains : [], sharedStartup: undefined, sharedShutdown: undefined, sharedFolder: undefined, testFolder: undefined };
  side.meta = { name: model.meta.name, authors: [] };
  if (needsTitle) side.meta.title = title;
  if (needsDescription) side.meta.description = description;
  if (model.meta.startingScore !== undefined) side.meta.startingScore = model.meta.startingScore;
  const header = '# What lab.conf cannot say (layout, notes, checks, collision domain kinds, the full description).\n# vnetlab reads it back; Netkit and Kathará ignore it.\n';
  const forwarding = needsNoForwarding ? '# Machines keep the sysctls of lab.conf: Kathará\'s IP forwarding default is not added.\nkathara_forwarding: false\n' : '';
  const linksText = links.length ? `# Impairments of cables (vnetlab link); Kathará's lconfig has none of these.\n${stringify({ links: Object.fromEntries(links) }, { flow: false })}` : '';
  const portsText = ports.length ? `# VLANs of the switch ports machines plug into; Kathará has no switches of this kind.\n${stringify({ ports: Object.fromEntries(ports) }, { flow: false })}` : '';
  return header + writeLabYaml(side).replace(/^machines: \{\}\n/m, '').replace(/^domains: \{\}\n/m, '') + forwarding + linksText + portsText;
}
