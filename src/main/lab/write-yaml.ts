// LabModel → lab.yaml text, in the friendly shapes people write by hand: interfaces as flow maps,
// descriptions and scripts as block scalars, defaults left out, and the `$schema` line for editors.
import { readFileSync } from 'node:fs';
import { basename, posix, relative, sep } from 'node:path';
import { Document, isMap, isPair, isScalar, isSeq, Scalar, YAMLMap, YAMLSeq } from 'yaml';
import { linkToYaml } from '../../shared/impairments.ts';
import { DEFAULT_MEMORY_MIB, domainsOf, type Interface, type LabModel, type Machine, type SwitchLink } from '../../shared/lab-model.ts';
import { UserError } from '../errors.ts';
import { writeFileAtomic } from './atomic.ts';
import { checkToYaml } from './checks.ts';
import { SCHEMA_DIR } from './schema.ts';

/** The `# yaml-language-server: $schema=…` line, relative to the lab folder so editors find the schema. */
export function schemaComment(labRoot: string): string {
  const path = relative(labRoot, `${SCHEMA_DIR}lab.schema.json`).split(sep).join(posix.sep);
  return ` yaml-language-server: $schema=${path}`;
}

export function writeLabYaml(model: LabModel): string {
  const data: Record<string, unknown> = { lab: metaToYaml(model) };
  data.machines = Object.fromEntries(model.machines.map((m) => [m.name, machineToYaml(m)]));
  // Every domain, also one a client's model names only in an interface: the file's domains: section is complete.
  data.domains = Object.fromEntries(domainsOf(model).map((d) => [d.name, { kind: d.kind, ...(d.hostNat ? { host_nat: true } : {}), ...(d.stp ? { stp: d.stp.priority === undefined ? true : { priority: d.stp.priority } } : {}) }]));
  if (model.switchLinks?.length) data.switch_links = model.switchLinks.map(switchLinkToYaml);
  const shared: Record<string, unknown> = {};
  if (model.sharedStartup) shared.startup = model.sharedStartup.text;
  if (model.sharedShutdown) shared.shutdown = model.sharedShutdown.text;
  if (model.sharedFolder !== undefined) shared.folder = model.sharedFolder;
  if (Object.keys(shared).length) data.shared = shared;
  if (model.testFolder !== undefined) data.test_folder = model.testFolder;
  if (Object.keys(model.layout).length) data.layout = model.layout;
  if (model.annotations?.length) data.annotations = model.annotations.map((a) => ({ ...a }));
  if (model.checks.length) data.checks = model.checks.map(checkToYaml);

  const doc = new Document(data);
  doc.commentBefore = schemaComment(model.root);
  styleNodes(doc);
  return doc.toString({ lineWidth: 0, blockQuote: 'literal' });
}

/** Writes lab.yaml atomically (temp file + rename). Never over a lab file with params: (see refuseOverwritingTemplate). */
export async function saveLabYaml(path: string, model: LabModel): Promise<void> {
  refuseOverwritingTemplate(path);
  await writeFileAtomic(path, writeLabYaml(model));
}

/**
 * A lab file with `params:` is a template; a model read from it is one variant, with the values in
 * place of the templates. Saving that model over the file would turn every student's lab into this
 * one, so it is refused (the app's Save on a params lab, say); save it elsewhere, or edit the file.
 */
export function refuseOverwritingTemplate(path: string): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return;
  }
  if (/^params\s*:/m.test(text)) {
    throw new UserError(`${basename(path)} declares params: — it is a template, and what the app shows is one variant of it (seed 0); saving would replace the templates with that variant's values`, 2, 'edit the lab file in a text editor, save this variant into another folder, or write one with `vnetlab variant LAB --seed S -o DIR`');
  }
}

function metaToYaml(model: LabModel): Record<string, unknown> {
  const m = model.meta;
  const out: Record<string, unknown> = { name: m.name };
  if (m.title !== undefined) out.title = m.title;
  if (m.version !== undefined) out.version = m.version;
  if (m.authors.length) out.authors = m.authors;
  if (m.email !== undefined) out.email = m.email;
  if (m.web !== undefined) out.web = m.web;
  if (m.description !== undefined) out.description = m.description;
  if (m.startingScore !== undefined) out.starting_score = m.startingScore;
  return out;
}

function machineToYaml(m: Machine): Record<string, unknown> {
  const out: Record<string, unknown> = { kind: m.kind, image: m.imageAlias ?? m.image };
  out.memory = m.memoryMiB ?? DEFAULT_MEMORY_MIB;
  if (m.cpus !== undefined) out.cpus = m.cpus;
  const contiguous = m.interfaces.every((iface, n) => iface.index === n);
  out.interfaces = contiguous ? m.interfaces.map(interfaceToYaml) : Object.fromEntries(m.interfaces.map((i) => [`eth${i.index}`, interfaceToYaml(i)]));
  if (m.startup) out.startup = m.startup.text;
  if (m.shutdown) out.shutdown = m.shutdown.text;
  if (m.exec !== undefined) out.exec = m.exec;
  if (m.files.length) {
    out.files = m.files.map((f) => {
      const entry: Record<string, unknown> = { path: f.guestPath };
      if (f.kind === 'inline') entry.content = f.content;
      else entry.source = f.labPath;
      if (f.kind !== 'dir' && f.mode !== undefined) entry.mode = `0${f.mode.toString(8)}`;
      return entry;
    });
  }
  if (m.dependsOn.length) out.depends_on = m.dependsOn;
  if (Object.keys(m.sysctls).length) out.sysctls = m.sysctls;
  if (Object.keys(m.env).length) out.env = m.env;
  if (!m.ipv6) out.ipv6 = false;
  if (m.bridged) out.bridged = true;
  if (m.grader) out.grader = true;
  if (m.consoles !== 1) out.consoles = m.consoles;
  return out;
}

function interfaceToYaml(i: Interface): Record<string, unknown> {
  const out: Record<string, unknown> = { domain: i.domain };
  if (i.mac) out.mac = i.mac;
  if (i.ipv4.length) out.ipv4 = i.ipv4.length === 1 ? i.ipv4[0] : i.ipv4;
  if (i.ipv6.length) out.ipv6 = i.ipv6.length === 1 ? i.ipv6[0] : i.ipv6;
  if (i.vlan !== undefined) out.vlan = i.vlan;
  if (i.vlans?.length) out.vlans = i.vlans;
  if (i.link && (i.link.in || i.link.out)) out.link = linkToYaml(i.link);
  return out;
}

function switchLinkToYaml(l: SwitchLink): Record<string, unknown> {
  const out: Record<string, unknown> = { between: [l.a, l.b] };
  if (l.vlan !== undefined) out.vlan = l.vlan;
  if (l.vlans?.length) out.vlans = l.vlans;
  if (l.link && (l.link.in || l.link.out)) out.link = linkToYaml(l.link);
  return out;
}

/** Flow style for small maps (interfaces, positions, domains), block literals for multi-line text. */
function styleNodes(doc: Document): void {
  const root = doc.contents;
  if (!isMap(root)) return;
  const section = (key: string) => root.get(key, true);
  const flowValues = (node: unknown) => {
    if (isMap(node)) for (const pair of node.items) if (isMap(pair.value) || isSeq(pair.value)) (pair.value as YAMLMap | YAMLSeq).flow = true;
  };
  flowValues(section('domains'));
  flowValues(section('layout'));
  const switchLinks = section('switch_links');
  if (isSeq(switchLinks)) for (const item of switchLinks.items) if (isMap(item)) item.flow = true;
  const annotations = section('annotations');
  if (isSeq(annotations)) for (const item of annotations.items) if (isMap(item)) item.flow = true;
  const lab = section('lab');
  if (isMap(lab)) {
    const authors = lab.get('authors', true);
    if (isSeq(authors)) authors.flow = true;
    // Student instructions are Markdown: always a block, so they read and diff like text.
    const description = lab.get('description', true);
    if (isScalar(description)) description.type = Scalar.BLOCK_LITERAL;
  }
  const machines = section('machines');
  if (isMap(machines)) {
    for (const pair of machines.items) {
      const machine = pair.value;
      if (!isMap(machine)) continue;
      const interfaces = machine.get('interfaces', true);
      if (isSeq(interfaces)) {
        if (interfaces.items.length === 0) interfaces.flow = true;
        for (const item of interfaces.items) if (isMap(item)) item.flow = true;
      } else flowValues(interfaces);
      const files = machine.get('files', true);
      if (isSeq(files)) for (const f of files.items) if (isMap(f) && !f.has('content')) f.flow = true;
      const dependsOn = machine.get('depends_on', true);
      if (isSeq(dependsOn)) dependsOn.flow = true;
    }
  }
  literalMultiline(root);
}

function literalMultiline(node: unknown): void {
  if (isMap(node) || isSeq(node)) {
    for (const item of node.items as unknown[]) {
      if (isPair(item)) {
        if (isScalar(item.value)) markLiteral(item.value);
        else literalMultiline(item.value);
      } else if (isScalar(item)) markLiteral(item);
      else literalMultiline(item);
    }
  }
}

function markLiteral(s: Scalar): void {
  if (typeof s.value === 'string' && s.value.includes('\n')) s.type = Scalar.BLOCK_LITERAL;
}
