// Lab parameters (`params:` in lab.yaml or a folder's vnetlab.yaml): what each one is, how it is drawn
// from a seed, and the template engine that puts the values into the lab's texts.
//
// Templates are Liquid (liquidjs): the syntax of Shopify, Jekyll and GitHub Pages, so instructors
// may already know it, and a language made for templates written by people one does not trust —
// no code runs from a template, properties are read only from the values' own fields, every variable
// and filter must exist (strictVariables, strictFilters), nothing is read from disk (include/render/
// layout are removed), and parsing, rendering time and memory are bounded.
import { createHash } from 'node:crypto';
import { Drop, Liquid, type Template } from 'liquidjs';
import { ipv6Text } from './ipv6-text.ts';

/** A parameter as declared. `distinctFrom` names other parameters its value must differ from (subnets: not overlap). */
export type ParamSpec =
  | { kind: 'subnet'; name: string; pool: Cidr; prefix: number; distinctFrom: string[] }
  | { kind: 'range'; name: string; min: number; max: number; distinctFrom: string[] }
  | { kind: 'choice'; name: string; options: Array<string | number | boolean>; distinctFrom: string[] };

export type ParamValue = SubnetValue | string | number | boolean;
export type ParamValues = Record<string, ParamValue>;

/** Names a parameter may have: a Liquid variable name. */
export const PARAM_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

// ---------------------------------------------------------------------------------------------
// Addresses (IPv4 and IPv6 as bigint, so one code path serves both)

export interface Cidr {
  v6: boolean;
  /** The network address (host bits zero). */
  network: bigint;
  prefix: number;
}

const bitsOf = (v6: boolean) => (v6 ? 128 : 32);

export function parseAddress(text: string): { v6: boolean; value: bigint } | undefined {
  const t = text.trim();
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(t)) {
    const parts = t.split('.').map(Number);
    if (parts.some((p) => p > 255)) return undefined;
    return { v6: false, value: parts.reduce((acc, p) => (acc << 8n) | BigInt(p), 0n) };
  }
  if (!/^[0-9A-Fa-f:]+$/.test(t) || !t.includes(':')) return undefined;
  const halves = t.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0 || (halves.length === 2 && missing < 1)) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (all.some((g) => !/^[0-9A-Fa-f]{1,4}$/.test(g))) return undefined;
  return { v6: true, value: all.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n) };
}

export function formatAddress(v6: boolean, value: bigint): string {
  if (!v6) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 255n)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  return ipv6Text(groups);
}

/** `10.1.2.0/24`, `2001:db8::/48`; with `strict`, host bits must be zero. */
export function parseCidr(text: string, strict = false): Cidr | undefined {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(String(text).trim());
  if (!m) return undefined;
  const address = parseAddress(m[1]!);
  const prefix = Number(m[2]);
  if (!address || prefix > bitsOf(address.v6)) return undefined;
  const network = address.value & maskOf(address.v6, prefix);
  if (strict && network !== address.value) return undefined;
  return { v6: address.v6, network, prefix };
}

function maskOf(v6: boolean, prefix: number): bigint {
  const bits = BigInt(bitsOf(v6));
  const all = (1n << bits) - 1n;
  return prefix === 0 ? 0n : (all << (bits - BigInt(prefix))) & all;
}

const sizeOf = (c: Cidr) => 1n << BigInt(bitsOf(c.v6) - c.prefix);
const lastOf = (c: Cidr) => c.network + sizeOf(c) - 1n;
export const formatCidr = (c: Cidr) => `${formatAddress(c.v6, c.network)}/${c.prefix}`;
export const overlaps = (a: Cidr, b: Cidr) => a.v6 === b.v6 && a.network <= lastOf(b) && b.network <= lastOf(a);

/**
 * A drawn subnet as templates see it: `{{ lan }}` prints `10.1.2.0/24`; its fields are `cidr`,
 * `network`, `prefix`, `netmask`, `broadcast`, `wildcard` and `size`. A Liquid Drop, so that it
 * prints as its CIDR; templates read only its own fields.
 */
export class SubnetValue extends Drop {
  readonly cidr: string;
  readonly network: string;
  readonly prefix: number;
  readonly netmask: string;
  readonly broadcast: string;
  readonly wildcard: string;
  readonly size: string;

  constructor(readonly subnet: Cidr) {
    super();
    const bits = bitsOf(subnet.v6);
    this.cidr = formatCidr(subnet);
    this.network = formatAddress(subnet.v6, subnet.network);
    this.prefix = subnet.prefix;
    this.netmask = formatAddress(subnet.v6, maskOf(subnet.v6, subnet.prefix));
    this.broadcast = formatAddress(subnet.v6, lastOf(subnet));
    this.wildcard = formatAddress(subnet.v6, ((1n << BigInt(bits)) - 1n) ^ maskOf(subnet.v6, subnet.prefix));
    this.size = String(sizeOf(subnet));
  }

  override valueOf(): string {
    return this.cidr;
  }

  override toString(): string {
    return this.cidr;
  }
}

/** Fields of a subnet value, for messages. */
export const SUBNET_FIELDS = ['cidr', 'network', 'prefix', 'netmask', 'broadcast', 'wildcard', 'size'];

// ---------------------------------------------------------------------------------------------
// Drawing: a deterministic generator per (seed, parameter), so adding a parameter leaves the others' values alone

/** sfc32, seeded from SHA-256 of the seed and the parameter's name. Never Math.random. */
export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(...parts: string[]) {
    const h = createHash('sha256').update(parts.join('\0')).digest();
    this.a = h.readUInt32LE(0);
    this.b = h.readUInt32LE(4);
    this.c = h.readUInt32LE(8);
    this.d = h.readUInt32LE(12);
    for (let i = 0; i < 12; i++) this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A uniform integer in [0, n), n ≥ 1, by rejection (no modulo bias). */
  below(n: bigint): bigint {
    if (n <= 1n) return 0n;
    const bits = (n - 1n).toString(2).length;
    const words = Math.ceil(bits / 32);
    const mask = (1n << BigInt(bits)) - 1n;
    for (;;) {
      let v = 0n;
      for (let i = 0; i < words; i++) v = (v << 32n) | BigInt(this.next());
      v &= mask;
      if (v < n) return v;
    }
  }
}

export class DrawError extends Error {
  constructor(
    readonly param: string,
    message: string,
  ) {
    super(message);
  }
}

const MAX_TRIES = 64;

/**
 * The values of every parameter for `seed`. Same specs and seed, same values, on every machine.
 * Parameters are drawn after those they must differ from; a cycle or an impossible draw throws a DrawError.
 */
export function drawValues(specs: readonly ParamSpec[], seed: string): ParamValues {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const values: ParamValues = {};
  const state = new Map<string, 'drawing' | 'done'>();
  const draw = (spec: ParamSpec, chain: string[]) => {
    if (state.get(spec.name) === 'done') return;
    if (state.get(spec.name) === 'drawing') throw new DrawError(spec.name, `distinct_from makes a cycle: ${[...chain, spec.name].join(' → ')}`);
    state.set(spec.name, 'drawing');
    const others: ParamSpec[] = [];
    for (const name of spec.distinctFrom) {
      const other = byName.get(name);
      if (!other) throw new DrawError(spec.name, `'${spec.name}' must differ from '${name}', which is not a parameter`);
      if (other.kind !== spec.kind) throw new DrawError(spec.name, `'${spec.name}' (${spec.kind}) cannot be distinct from '${name}' (${other.kind})`);
      draw(other, [...chain, spec.name]);
      others.push(other);
    }
    values[spec.name] = drawOne(spec, others.map((o) => values[o.name]!), new SeededRandom('vnetlab-param', seed, spec.name));
    state.set(spec.name, 'done');
  };
  for (const spec of specs) draw(spec, []);
  // Declaration order, whatever order the draws happened in.
  return Object.fromEntries(specs.map((s) => [s.name, values[s.name]!]));
}

function drawOne(spec: ParamSpec, avoid: ParamValue[], random: SeededRandom): ParamValue {
  const count = candidateCount(spec);
  const candidate = (i: bigint): ParamValue => {
    if (spec.kind === 'subnet') return new SubnetValue({ v6: spec.pool.v6, prefix: spec.prefix, network: spec.pool.network + (i << BigInt(bitsOf(spec.pool.v6) - spec.prefix)) });
    if (spec.kind === 'range') return spec.min + Number(i);
    return spec.options[Number(i)]!;
  };
  const clashes = (v: ParamValue) => avoid.some((a) => (v instanceof SubnetValue && a instanceof SubnetValue ? overlaps(v.subnet, a.subnet) : String(a) === String(v)));
  for (let t = 0; t < MAX_TRIES; t++) {
    const v = candidate(random.below(count));
    if (!clashes(v)) return v;
  }
  // Crowded pool: walk from a random start to the first value that fits (at most a few thousand steps).
  const start = random.below(count);
  const limit = count < 65_536n ? count : 65_536n;
  for (let k = 0n; k < limit; k++) {
    const v = candidate((start + k) % count);
    if (!clashes(v)) return v;
  }
  throw new DrawError(spec.name, `no value of '${spec.name}' differs from ${spec.distinctFrom.join(', ')}: its pool is too small`);
}

function candidateCount(spec: ParamSpec): bigint {
  if (spec.kind === 'subnet') return 1n << BigInt(spec.prefix - spec.pool.prefix);
  if (spec.kind === 'range') return BigInt(spec.max - spec.min + 1);
  return BigInt(spec.options.length);
}

/** Values as text, as `variant --show` prints them and the dashboard shows them. */
export function describeValues(values: ParamValues): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)]));
}

// ---------------------------------------------------------------------------------------------
// The template engine

export class FilterError extends Error {}

function subnetOf(v: unknown, filter: string): Cidr {
  if (v instanceof SubnetValue) return v.subnet;
  const c = typeof v === 'string' ? parseCidr(v) : undefined;
  if (!c) throw new FilterError(`${filter}: ${JSON.stringify(v === undefined ? null : String(v))} is not a subnet (give a subnet parameter or a CIDR such as 10.0.0.0/24)`);
  return c;
}

function intArg(v: unknown, filter: string, what: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isInteger(n)) throw new FilterError(`${filter}: ${what} must be a whole number, not ${JSON.stringify(v === undefined ? null : v)}`);
  return n;
}

/** The n-th address of a subnet: 1 is the first after the network address, -1 the last before the broadcast (IPv4) or the last (IPv6). */
function hostOf(c: Cidr, n: number, filter: string): bigint {
  const size = sizeOf(c);
  const top = c.v6 || c.prefix >= 31 ? size - 1n : size - 2n;
  const bottom = !c.v6 && c.prefix >= 31 ? 0n : 1n;
  const i = n >= 0 ? BigInt(n) : top + 1n + BigInt(n);
  if (i < bottom || i > top || (n === 0 && bottom === 1n)) {
    throw new FilterError(`${filter}: ${formatCidr(c)} has no host ${n} (its hosts are ${bottom === 1n ? '1' : '0'}…${String(top)}, or -1 for the last)`);
  }
  return c.network + i;
}

/** Filters a template may use on subnets, beyond Liquid's standard ones. */
export const NETWORK_FILTERS: Record<string, (value: unknown, ...args: unknown[]) => unknown> = {
  host: (v, n) => {
    const c = subnetOf(v, 'host');
    return formatAddress(c.v6, hostOf(c, intArg(n, 'host', 'the host number'), 'host'));
  },
  address: (v, n) => {
    const c = subnetOf(v, 'address');
    return `${formatAddress(c.v6, hostOf(c, intArg(n, 'address', 'the host number'), 'address'))}/${c.prefix}`;
  },
  network: (v) => new SubnetValue(subnetOf(v, 'network')).network,
  netmask: (v) => new SubnetValue(subnetOf(v, 'netmask')).netmask,
  prefix: (v) => subnetOf(v, 'prefix').prefix,
  broadcast: (v) => new SubnetValue(subnetOf(v, 'broadcast')).broadcast,
  wildcard: (v) => new SubnetValue(subnetOf(v, 'wildcard')).wildcard,
  cidr: (v) => formatCidr(subnetOf(v, 'cidr')),
  subnet: (v, newPrefix, index) => {
    const c = subnetOf(v, 'subnet');
    const p = intArg(newPrefix, 'subnet', 'the new prefix length');
    const i = index === undefined ? 0 : intArg(index, 'subnet', 'the index');
    if (p < c.prefix || p > bitsOf(c.v6)) throw new FilterError(`subnet: ${formatCidr(c)} cannot be cut into /${p} subnets`);
    const count = 1n << BigInt(p - c.prefix);
    const k = i >= 0 ? BigInt(i) : count + BigInt(i);
    if (k < 0n || k >= count) throw new FilterError(`subnet: ${formatCidr(c)} has ${String(count)} subnets of /${p}, so no number ${i}`);
    return new SubnetValue({ v6: c.v6, prefix: p, network: c.network + (k << BigInt(bitsOf(c.v6) - p)) });
  },
};

let engine: Liquid | undefined;

/** The one Liquid engine: strict, sandboxed, bounded. */
export function templateEngine(): Liquid {
  if (engine) return engine;
  const e = new Liquid({
    strictVariables: true,
    strictFilters: true,
    ownPropertyOnly: true,
    outputEscape: undefined,
    // A template cannot stall the reader or fill its memory: `{% for i in (1..1e9) %}` is an error.
    parseLimit: 4_000_000,
    renderLimit: 2_000,
    memoryLimit: 64_000_000,
    // Nothing is read from disk.
    relativeReference: false,
    fs: {
      exists: () => Promise.resolve(false),
      existsSync: () => false,
      readFile: () => Promise.reject(new Error('templates cannot read files')),
      readFileSync: () => {
        throw new Error('templates cannot read files');
      },
      resolve: (_dir: string, file: string) => file,
    },
  });
  for (const tag of ['include', 'render', 'layout']) delete (e.tags as Record<string, unknown>)[tag];
  for (const [name, fn] of Object.entries(NETWORK_FILTERS)) e.registerFilter(name, fn);
  engine = e;
  return e;
}

/** True when a text holds template syntax (only such texts are parsed and rendered). */
export function isTemplate(text: string): boolean {
  return text.includes('{{') || text.includes('{%');
}

/** A problem in a template, at a 1-based line and column of the template's own text. */
export interface TemplateProblem {
  code: 'unknown-param' | 'unknown-filter' | 'template-syntax' | 'template-error';
  message: string;
  line: number;
  column: number;
  hint?: string;
}

const parsedCache = new Map<string, Template[] | TemplateProblem>();

/** Parses once per distinct text (a lab's templates are rendered for many seeds). */
function parsed(text: string): Template[] | TemplateProblem {
  let p = parsedCache.get(text);
  if (p === undefined) {
    try {
      p = templateEngine().parse(text);
    } catch (err) {
      p = problemOf(err, [], undefined);
    }
    if (parsedCache.size > 20_000) parsedCache.clear();
    parsedCache.set(text, p);
  }
  return p;
}

/** Renders a template with the values, or says what is wrong and where in the template. */
export function renderTemplate(text: string, values: ParamValues): { text: string } | { problem: TemplateProblem } {
  const templates = parsed(text);
  if (!Array.isArray(templates)) return { problem: templates };
  try {
    return { text: String(templateEngine().renderSync(templates, values)) };
  } catch (err) {
    return { problem: problemOf(err, Object.keys(values), values) };
  }
}

function problemOf(err: unknown, names: string[], values: ParamValues | undefined): TemplateProblem {
  const e = err as Error & { token?: { getPosition?(): [number, number] }; originalError?: Error };
  const [line, column] = e.token?.getPosition?.() ?? [1, 1];
  const raw = (e.originalError instanceof FilterError ? e.originalError.message : e.message ?? String(err)).replace(/, line:\d+, col:\d+$/, '');
  const known = names.length ? `parameters of this lab: ${names.join(', ')}` : 'this lab has no parameters';
  let m = /^undefined variable: (.+)$/.exec(raw);
  if (m) {
    const [head, ...rest] = m[1]!.split('.');
    const value = values?.[head!];
    if (value !== undefined && rest.length) {
      const fields = value instanceof SubnetValue ? `a subnet has ${SUBNET_FIELDS.join(', ')}` : `'${head}' is a ${typeof value} and has no fields`;
      return { code: 'unknown-param', message: `'${head}' has no field '${rest.join('.')}'`, line, column, hint: fields };
    }
    return { code: 'unknown-param', message: `unknown parameter '${m[1]}'`, line, column, hint: `declare it under params:, or check the spelling (${known})` };
  }
  m = /^undefined filter: (.+)$/.exec(raw);
  if (m) {
    return { code: 'unknown-filter', message: `unknown filter '${m[1]}'`, line, column, hint: `network filters: ${Object.keys(NETWORK_FILTERS).join(', ')} (e.g. {{ lan | host: 1 }}), plus Liquid's standard ones` };
  }
  if (e.name === 'TokenizationError' || e.name === 'ParseError') {
    const hint = /expected ":" after filter name/.test(raw) ? 'Liquid gives a filter its arguments after a colon: {{ lan | host: 1 }}, not host(1)' : 'see docs/lab-format.md, "Parameters and variants"';
    return { code: 'template-syntax', message: `template syntax: ${raw}`, line, column, hint };
  }
  return { code: 'template-error', message: raw, line, column };
}
