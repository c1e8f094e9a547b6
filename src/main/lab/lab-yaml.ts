// lab.yaml → LabModel. The YAML is checked against schemas/lab.schema.json first; the model is then
// built defensively (a schema error in one machine does not hide the rest of the lab from the editor).
import { basename } from 'node:path';
import type { Diagnostic } from '../../shared/diagnostics.ts';
import type { CableImpairments } from '../../shared/plan.ts';
import { DEFAULT_MEMORY_MIB, domainsOf, type Annotation, type SourceRef, type CollisionDomain, type FileEntry, type Interface, type LabModel, type Machine, type Script, type SwitchLink } from '../../shared/lab-model.ts';
import { ImpairmentError, linkFromYaml } from '../../shared/impairments.ts';
import { checksFromYaml, isRecord } from './checks.ts';
import { didYouMean, error, warning } from './diag.ts';
import { guessKind } from './guess.ts';
import { DEFAULT_IMAGE, KNOWN_IMAGES, mapImageName } from './images.ts';
import { describeValues, type ParamSpec, type ParamValues } from './params.ts';
import { coerceRendered, validateLabSchema } from './schema.ts';
import { drawWithDiagnostics, readParamSpecs, renderData } from './template-data.ts';
import { YamlSource, type YamlPath } from './yaml-source.ts';

export interface ParseResult {
  model?: LabModel;
  diagnostics: Diagnostic[];
  /** False when the file says `kathara_forwarding: false` (a vnetlab.yaml side file of a folder written from lab.yaml). */
  forwardingDefault?: boolean;
  /** A vnetlab.yaml side file's `links:` (cable impairments lab.conf cannot hold), by `machine:ethN`. */
  links?: { cable: string; link: CableImpairments; source: SourceRef }[];
  /** A vnetlab.yaml side file's `ports:` (switch port VLANs of interfaces, which lab.conf cannot hold), by `machine:ethN`. */
  ports?: { cable: string; vlan?: number; vlans?: number[]; source: SourceRef }[];
  /** A file with `params:`: the seed, the parameters and the values drawn for it (already rendered into the model). */
  variant?: ParsedVariant;
  /** The file's `solution:` section, kept apart from the model (applySolution puts it in). */
  solution?: LabSolution;
}

export interface ParseOptions {
  /** The variant to render when the file has `params:` (default "0"). */
  seed?: string;
}

export interface ParsedVariant {
  seed: string;
  specs: ParamSpec[];
  values: ParamValues;
}

/** What the intended solution adds to machines: startup lines run after the machine's own, files placed after its own. */
export interface LabSolution {
  machines: Record<string, { startup?: Script; files: FileEntry[]; source: SourceRef }>;
  source: SourceRef;
}

/**
 * A lab with params is read once per seed (a class's variants, a grader's submissions): its parsed text
 * is kept (a few files), and each reading gets its own copy of the data, which rendering changes.
 */
const parsedParamsLabs = new Map<string, YamlSource>();

function sourceOf(text: string, file: string): YamlSource {
  if (!text.includes('params:')) return new YamlSource(text, file);
  const key = `${file}\0${text}`;
  let source = parsedParamsLabs.get(key);
  if (!source) {
    source = new YamlSource(text, file);
    if (parsedParamsLabs.size >= 8) parsedParamsLabs.delete(parsedParamsLabs.keys().next().value!);
    parsedParamsLabs.set(key, source);
  }
  if (source.broken) return source;
  const copy = Object.create(source) as YamlSource;
  Object.defineProperty(copy, 'data', { value: structuredClone(source.data) });
  return copy;
}

const TEMPLATE_QUOTING_HINT = 'quote a value that holds a template ("{{ lan | host: 1 }}/24") or write it as a block (|): unquoted, YAML reads its ": " and a leading "{" itself';

/** Folder a solution's files must live in, so that a student's copy can leave the solution out whole. */
export const SOLUTION_FOLDER = 'solution';

/** Parses the text of a lab.yaml. `file` is its path relative to `root` (the lab folder, absolute). Touches no disk. */
export function parseLabYaml(text: string, file: string, root: string, options: ParseOptions = {}): ParseResult {
  const source = sourceOf(text, file);
  const diagnostics: Diagnostic[] = source.diagnostics.map((d) => (d.code === 'yaml-syntax' && !d.hint && /\{\{|\{%/.test(text.split('\n')[d.line - 1] ?? '') ? { ...d, hint: TEMPLATE_QUOTING_HINT } : d));
  if (source.broken) return { diagnostics };
  const data = source.data;
  if (!isRecord(data)) {
    diagnostics.push(error('invalid-type', 'lab.yaml must be a mapping with `lab:`, `machines:` and `domains:` sections', source.at([]), { hint: 'see docs/lab-format.md for an example' }));
    return { diagnostics };
  }
  // Parameters first: every other value may be a template, rendered before the schema sees it.
  let variant: ParsedVariant | undefined;
  if (data.params !== undefined) {
    const seed = options.seed ?? '0';
    const specs = readParamSpecs(data.params, source, diagnostics);
    const values = drawWithDiagnostics(specs, seed, source, diagnostics);
    if (values) {
      coerceRendered(data, renderData(data, values, source, diagnostics));
      variant = { seed, specs, values };
    }
  }
  diagnostics.push(...validateLabSchema(source));
  const builder = new YamlLabBuilder(source, diagnostics);
  const model = builder.build(data, file, root);
  if (variant) model.variant = { seed: variant.seed, params: describeValues(variant.values) };
  const result: ParseResult = data.kathara_forwarding === false ? { model, diagnostics, forwardingDefault: false } : { model, diagnostics };
  if (variant) result.variant = variant;
  if (data.solution !== undefined) {
    const solution = builder.solution(data.solution);
    if (solution) result.solution = solution;
  }
  if (isRecord(data.links)) {
    result.links = [];
    for (const [cable, raw] of Object.entries(data.links)) {
      if (!isRecord(raw)) continue;
      try {
        result.links.push({ cable, link: linkFromYaml(raw, `links: ${cable}`), source: source.at(['links', cable]) });
      } catch (err) {
        if (!(err instanceof ImpairmentError)) throw err;
        diagnostics.push(error('invalid-link', err.message, source.at(['links', cable])));
      }
    }
  }
  if (isRecord(data.ports)) {
    result.ports = Object.entries(data.ports).filter(([, raw]) => isRecord(raw)).map(([cable, raw]) => ({ cable, ...vlansOf(raw as Record<string, unknown>), source: source.at(['ports', cable]) }));
  }
  return result;
}

class YamlLabBuilder {
  constructor(
    private readonly source: YamlSource,
    private readonly diagnostics: Diagnostic[],
  ) {}

  build(data: Record<string, unknown>, file: string, root: string): LabModel {
    const meta = isRecord(data.lab) ? data.lab : {};
    const machines = Object.entries(isRecord(data.machines) ? data.machines : {}).map(([name, raw]) => this.machine(name, isRecord(raw) ? raw : {}));
    this.dropUnknownDependencies(machines);
    const shared = isRecord(data.shared) ? data.shared : {};
    const model: LabModel = {
      format: 'vnetlab',
      root,
      sourceFile: file,
      meta: {
        name: str(meta.name) ?? labNameFromFolder(root),
        authors: Array.isArray(meta.authors) ? meta.authors.filter((a): a is string => typeof a === 'string') : [],
      },
      machines,
      domains: this.domains(data.domains, machines),
      checks: checksFromYaml(data.checks, this.source, ['checks']),
      layout: this.layout(data.layout),
    };
    const switchLinks = this.switchLinks(data.switch_links);
    if (switchLinks.length) model.switchLinks = switchLinks;
    const annotations = readAnnotations(data.annotations);
    if (annotations.length) model.annotations = annotations;
    assignDefined(model.meta, { title: str(meta.title), description: str(meta.description), version: versionText(meta.version, this.source), email: str(meta.email), web: str(meta.web), startingScore: typeof meta.starting_score === 'number' ? meta.starting_score : undefined });
    assignDefined(model, {
      sharedStartup: this.script(shared.startup, ['shared', 'startup']),
      sharedShutdown: this.script(shared.shutdown, ['shared', 'shutdown']),
      sharedFolder: str(shared.folder),
      testFolder: str(data.test_folder),
    });
    return model;
  }

  private machine(name: string, raw: Record<string, unknown>): Machine {
    const at: YamlPath = ['machines', name];
    const written = str(raw.image) ?? DEFAULT_IMAGE;
    const mapped = mapImageName(written);
    // A bare unknown name may be an image the teacher built; a Docker-style name (with / or :) never is.
    const dockerStyle = /[/:]/.test(written);
    const image = mapped.unknown && !dockerStyle ? written : mapped.image;
    if (mapped.unknown) {
      this.diagnostics.push(warning('unknown-image', `machine '${name}' uses image '${written}', which vnetlab does not build (known: ${KNOWN_IMAGES.join(', ')})`, this.source.at([...at, 'image']), { target: `machine:${name}`, hint: dockerStyle ? `it runs on '${mapped.image}'; use 'debian' (FRR, bind9, apache2…) or 'tiny' (busybox)` : `use 'debian' (FRR, bind9, apache2…) or 'tiny' (busybox), unless you built '${written}' yourself` }));
    }
    const machine: Machine = {
      name,
      kind: 'host',
      image,
      memoryMiB: typeof raw.memory === 'number' ? raw.memory : DEFAULT_MEMORY_MIB,
      interfaces: this.interfaces(raw.interfaces, [...at, 'interfaces']),
      files: this.files(raw.files, [...at, 'files']),
      dependsOn: Array.isArray(raw.depends_on) ? raw.depends_on.filter((d): d is string => typeof d === 'string') : [],
      sysctls: stringMap(raw.sysctls),
      env: stringMap(raw.env),
      ipv6: raw.ipv6 !== false,
      bridged: raw.bridged === true,
      consoles: typeof raw.consoles === 'number' ? raw.consoles : 1,
      source: this.source.keyAt(at),
    };
    assignDefined(machine, {
      imageAlias: mapped.alias && (!mapped.unknown || dockerStyle) ? mapped.alias : undefined,
      cpus: typeof raw.cpus === 'number' ? raw.cpus : undefined,
      startup: this.script(raw.startup, [...at, 'startup']),
      shutdown: this.script(raw.shutdown, [...at, 'shutdown']),
      exec: str(raw.exec),
      grader: raw.grader === true ? true : undefined,
    });
    machine.kind = raw.kind === 'router' || raw.kind === 'host' ? raw.kind : guessKind(machine);
    if (machine.cpus !== undefined) {
      this.diagnostics.push(warning('option-ignored', `machine '${name}': cpus is ignored: a UML guest always runs on one CPU`, this.source.at([...at, 'cpus']), { target: `machine:${name}`, hint: 'remove it, or keep it for Kathará; vnetlab runs the lab the same either way' }));
    }
    return machine;
  }

  /** Reports a `depends_on` entry naming no machine at its own line (validateLab only knows the machine's line), and leaves it out. */
  private dropUnknownDependencies(machines: Machine[]): void {
    const names = new Set(machines.map((m) => m.name));
    for (const m of machines) {
      m.dependsOn = m.dependsOn.filter((dep, i) => {
        if (names.has(dep)) return true;
        const close = didYouMean(dep, names);
        this.diagnostics.push(error('unknown-machine', `machine '${m.name}' depends on '${dep}', which is not a machine of this lab${close ? ` (did you mean '${close}'?)` : ''}`, this.source.at(['machines', m.name, 'depends_on', i]), { target: `machine:${m.name}` }));
        return false;
      });
    }
  }

  private interfaces(raw: unknown, at: YamlPath): Interface[] {
    const entries: Array<[number, unknown, string | number]> = [];
    if (Array.isArray(raw)) raw.forEach((v, i) => entries.push([i, v, i]));
    else if (isRecord(raw)) {
      for (const [key, v] of Object.entries(raw)) {
        const m = /^eth(\d+)$/.exec(key);
        if (m) entries.push([Number(m[1]), v, key]);
      }
      entries.sort((a, b) => a[0] - b[0]);
    }
    const result: Interface[] = [];
    for (const [index, value, key] of entries) {
      const spec = typeof value === 'string' ? { domain: value } : isRecord(value) ? value : undefined;
      const domain = spec && str(spec.domain);
      if (!spec || !domain) continue;
      const iface: Interface = { index, domain, ipv4: addressList(spec.ipv4), ipv6: addressList(spec.ipv6), source: this.source.at([...at, key]) };
      const mac = str(spec.mac);
      if (mac) iface.mac = mac.toLowerCase();
      assignDefined(iface, vlansOf(spec));
      if (isRecord(spec.link)) {
        try {
          const link = linkFromYaml(spec.link, `machine ${String(at[1])} eth${index}: link`);
          if (link.in || link.out) iface.link = link;
        } catch (err) {
          if (!(err instanceof ImpairmentError)) throw err;
          this.diagnostics.push(error('invalid-link', err.message, this.source.at([...at, key, 'link']), { hint: 'loss, dup and corrupt are percentages; delay is MS or MS:JITTER; rate is like 10mbit' }));
        }
      }
      result.push(iface);
    }
    return result;
  }

  private files(raw: unknown, at: YamlPath): FileEntry[] {
    if (!Array.isArray(raw)) return [];
    const result: FileEntry[] = [];
    raw.forEach((entry, i) => {
      if (!isRecord(entry) || typeof entry.path !== 'string') return;
      const source = this.source.at([...at, i]);
      const mode = fileMode(entry.mode);
      const hasContent = typeof entry.content === 'string';
      const hasSource = typeof entry.source === 'string';
      if (hasContent === hasSource) {
        this.diagnostics.push(error('file-entry', `file ${entry.path} needs exactly one of 'content' (the text) or 'source' (a file or folder in the lab)`, source));
        return;
      }
      // `source` is a file until the disk says it is a folder (resolveLabFiles in files.ts).
      const file: FileEntry = hasContent
        ? { kind: 'inline', guestPath: entry.path, content: entry.content as string, source }
        : { kind: 'file', guestPath: entry.path, labPath: entry.source as string, source };
      if (mode !== undefined) file.mode = mode;
      result.push(file);
    });
    return result;
  }

  private domains(raw: unknown, machines: Machine[]): CollisionDomain[] {
    const declared: CollisionDomain[] = Object.entries(isRecord(raw) ? raw : {}).map(([name, spec]) => {
      const s = isRecord(spec) ? spec : {};
      const domain: CollisionDomain = { name, kind: s.kind === 'switch' ? 'switch' : 'hub', hostNat: s.host_nat === true, source: this.source.keyAt(['domains', name]) };
      if (s.stp === true) domain.stp = {};
      else if (isRecord(s.stp)) domain.stp = typeof s.stp.priority === 'number' ? { priority: s.stp.priority } : {};
      return domain;
    });
    // Without a `domains:` section, domains only named by interfaces are hubs, as in Netkit and
    // Kathará. With one, it lists them all: a name missing from it is a typo until proven otherwise.
    const all = domainsOf({ machines, domains: declared });
    if (isRecord(raw)) {
      const names = declared.map((d) => d.name);
      for (const d of all.slice(declared.length)) {
        const user = machines.find((m) => m.interfaces.some((i) => i.domain === d.name))!;
        const iface = user.interfaces.find((i) => i.domain === d.name)!;
        const close = didYouMean(d.name, names);
        this.diagnostics.push(error('unknown-domain', `${user.name} eth${iface.index} is attached to collision domain '${d.name}', which is not listed under domains:${close ? ` (did you mean '${close}'?)` : ''}`, iface.source, {
          target: `machine:${user.name}/eth${iface.index}`,
          hint: `add it under domains: (e.g. ${d.name}: {kind: hub}), or remove the domains: section to make every unlisted domain a hub`,
        }));
      }
    }
    return all;
  }

  /** `switch_links:`: cables between two domains, with the VLANs their ports carry. */
  private switchLinks(raw: unknown): SwitchLink[] {
    if (!Array.isArray(raw)) return [];
    const links: SwitchLink[] = [];
    raw.forEach((spec, i) => {
      if (!isRecord(spec) || !Array.isArray(spec.between) || spec.between.length !== 2) return;
      const [a, b] = spec.between;
      if (typeof a !== 'string' || typeof b !== 'string') return;
      const link: SwitchLink = { a, b, source: this.source.at(['switch_links', i]) };
      assignDefined(link, vlansOf(spec));
      if (isRecord(spec.link)) {
        try {
          const impairments = linkFromYaml(spec.link, `switch link ${a}--${b}: link`);
          if (impairments.in || impairments.out) link.link = impairments;
        } catch (err) {
          if (!(err instanceof ImpairmentError)) throw err;
          this.diagnostics.push(error('invalid-link', err.message, this.source.at(['switch_links', i, 'link'])));
        }
      }
      links.push(link);
    });
    return links;
  }

  private layout(raw: unknown): LabModel['layout'] {
    const layout: LabModel['layout'] = {};
    if (!isRecord(raw)) return layout;
    for (const [name, pos] of Object.entries(raw)) {
      if (isRecord(pos) && typeof pos.x === 'number' && typeof pos.y === 'number') layout[name] = { x: pos.x, y: pos.y };
    }
    return layout;
  }

  /** The `solution:` section: per machine, startup lines and files; every file's source in the solution/ folder. */
  solution(raw: unknown): LabSolution | undefined {
    if (!isRecord(raw)) return undefined;
    const solution: LabSolution = { machines: {}, source: this.source.keyAt(['solution']) };
    const machines = isRecord(raw.machines) ? raw.machines : {};
    for (const [name, spec] of Object.entries(machines)) {
      const at: YamlPath = ['solution', 'machines', name];
      if (!isRecord(spec)) continue;
      const files = this.files(spec.files, [...at, 'files']);
      for (const f of files) {
        if (f.kind === 'inline') continue;
        const clean = f.labPath.replace(/^\.\//, '');
        if (clean !== SOLUTION_FOLDER && !clean.startsWith(`${SOLUTION_FOLDER}/`)) {
          this.diagnostics.push(error('solution-outside-folder', `the solution's file '${f.labPath}' is not in the ${SOLUTION_FOLDER}/ folder`, f.source, { hint: `move it to ${SOLUTION_FOLDER}/ (a student's copy of the lab leaves that folder out), or write it inline with content:` }));
        }
      }
      const entry: LabSolution['machines'][string] = { files, source: this.source.keyAt(at) };
      const startup = this.script(spec.startup, [...at, 'startup']);
      if (startup) entry.startup = startup;
      solution.machines[name] = entry;
    }
    return solution;
  }

  private script(raw: unknown, at: YamlPath): Script | undefined {
    return typeof raw === 'string' ? { text: raw, source: this.source.at(at) } : undefined;
  }
}

/** `mode: "0755"`, `mode: 0o755`, and the unquoted `mode: 0755` that YAML 1.2 reads as decimal 755. */
function fileMode(v: unknown): number | undefined {
  if (typeof v === 'string' && /^0?[0-7]{3,4}$/.test(v)) return parseInt(v, 8);
  if (typeof v === 'number' && Number.isInteger(v)) return /^[0-7]{3,4}$/.test(String(v)) ? parseInt(String(v), 8) : v;
  return undefined;
}

/** A version as written: `version: 1.0` stays "1.0" although YAML reads the number 1. */
function versionText(v: unknown, source: YamlSource): string | undefined {
  if (v === undefined || v === null) return undefined;
  return typeof v === 'number' ? (source.rawScalarAt(['lab', 'version']) ?? String(v)) : String(v);
}

function addressList(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((a): a is string => typeof a === 'string') : [];
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isRecord(v)) for (const [k, val] of Object.entries(v)) if (val !== null && typeof val !== 'object') out[k] = String(val);
  return out;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Copies only the defined values, so optional fields stay absent (clean JSON, stable snapshots). */
export function assignDefined<T extends object>(target: T, values: Partial<T>): T {
  for (const [k, v] of Object.entries(values)) if (v !== undefined) (target as Record<string, unknown>)[k] = v;
  return target;
}

/** A lab name derived from its folder: lowercase, [a-z0-9_-]. */
export function labNameFromFolder(root: string): string {
  return basename(root).toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[-_]+|-+$/g, '') || 'lab';
}

/** `vlan:` (untagged) and `vlans:` (tagged) of an interface or a switch link, as the schema allows them. */
function vlansOf(spec: Record<string, unknown>): { vlan?: number; vlans?: number[] } {
  const vlans = Array.isArray(spec.vlans) ? spec.vlans.filter((v): v is number => Number.isInteger(v)) : [];
  return {
    ...(Number.isInteger(spec.vlan) ? { vlan: spec.vlan as number } : {}),
    ...(vlans.length ? { vlans: [...new Set(vlans)].sort((x, y) => x - y) } : {}),
  };
}

/** `annotations:`: notes and rectangles of the canvas (the schema says what is wrong with a bad one; it is left out). */
export function readAnnotations(raw: unknown): Annotation[] {
  if (!Array.isArray(raw)) return [];
  const out: Annotation[] = [];
  for (const a of raw) {
    if (!isRecord(a) || (a.type !== 'note' && a.type !== 'rect') || typeof a.x !== 'number' || typeof a.y !== 'number') continue;
    const note: Annotation = { type: a.type, x: a.x, y: a.y, text: typeof a.text === 'string' ? a.text : '' };
    if (a.type === 'rect') {
      note.width = typeof a.width === 'number' && a.width > 0 ? a.width : 200;
      note.height = typeof a.height === 'number' && a.height > 0 ? a.height : 120;
      if (typeof a.color === 'string' && /^#[0-9a-fA-F]{6}$/.test(a.color)) note.color = a.color;
    }
    out.push(note);
  }
  return out;
}
