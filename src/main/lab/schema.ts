// JSON Schema validation of lab.yaml and checks files (schemas/*.schema.json, also used by editors
// through the `# yaml-language-server: $schema=…` line). Ajv errors become diagnostics at the
// offending key, with "did you mean" for misspelt keys.
import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Diagnostic } from '../../shared/diagnostics.ts';
import { didYouMean, error } from './diag.ts';
import type { YamlSource } from './yaml-source.ts';

export const SCHEMA_DIR = fileURLToPath(new URL('../../../schemas/', import.meta.url));
/** Where the schemas' compiled validators are kept between runs (beside the command's own bundles). */
const CACHE_DIR = fileURLToPath(new URL('../../../node_modules/.cache/', import.meta.url));
const AJV_OPTIONS = { allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true, verbose: true } as const;
/** The validators a module of ours exports, by the schema (or schema part) each checks. */
const EXPORTS = { lab: 'lab.schema.json', checks: 'checks.schema.json', check: 'checks.schema.json#/definitions/check' } as const;

type Validators = { [K in keyof typeof EXPORTS]: ValidateFunction };
let validators: Validators | undefined;
const requireHere = createRequire(import.meta.url);

/**
 * Ajv compiles the two schemas in ~0.2 s, on every command that reads a lab (a `start` spent a third of
 * its planning there). Its standalone output is the same validators as plain code: written once per
 * schema text and Ajv version, then loaded in a few ms. Without a writable cache we compile each time.
 */
function compiled(): Validators {
  validators ??= loadValidators(CACHE_DIR).validators;
  return validators;
}

/** The validators from `cacheDir`'s module for these schema texts, compiled (and that module written) when missing. */
export function loadValidators(cacheDir: string): { validators: Validators; from: 'cache' | 'compiled' } {
  const texts = { lab: readFileSync(`${SCHEMA_DIR}lab.schema.json`, 'utf8'), checks: readFileSync(`${SCHEMA_DIR}checks.schema.json`, 'utf8') };
  const ajvPackage = requireHere.resolve('ajv/package.json');
  const ajvVersion = (requireHere(ajvPackage) as { version: string }).version;
  // The module names Ajv's helpers by absolute path (saveStandalone): a checkout moved elsewhere makes its own.
  const key = createHash('sha256').update(JSON.stringify([ajvVersion, ajvPackage, AJV_OPTIONS, texts])).digest('hex').slice(0, 16);
  const cached = join(cacheDir, `vnetlab-schemas-${key}.cjs`);
  try {
    const loaded = requireHere(cached) as Validators;
    if (Object.keys(EXPORTS).every((name) => typeof loaded[name as keyof Validators] === 'function')) return { validators: loaded, from: 'cache' };
  } catch {
    // not built yet (or unreadable): compile below
  }
  // Ajv itself only when compiling: loading it costs ~30 ms, which a command reading the kept module skips.
  const { Ajv: AjvClass } = requireHere('ajv') as typeof import('ajv');
  const ajv = new AjvClass({ ...AJV_OPTIONS, code: { source: true } });
  ajv.addSchema(JSON.parse(texts.checks));
  ajv.addSchema(JSON.parse(texts.lab));
  const fresh = { lab: ajv.getSchema(EXPORTS.lab)!, checks: ajv.getSchema(EXPORTS.checks)!, check: ajv.getSchema(EXPORTS.check)! };
  saveStandalone(ajv, cached);
  return { validators: fresh, from: 'compiled' };
}

function saveStandalone(ajv: Ajv, file: string): void {
  const partial = `${file}.${process.pid}.partial`;
  try {
    const standaloneCode = requireHere('ajv/dist/standalone') as (ajv: Ajv, refs: Record<string, string>) => string;
    mkdirSync(dirname(file), { recursive: true });
    // Its runtime helpers by absolute path: the module resolves them wherever it is kept.
    const ajvDir = dirname(requireHere.resolve('ajv/package.json'));
    writeFileSync(partial, standaloneCode(ajv, { ...EXPORTS }).replaceAll('require("ajv/', `require(${JSON.stringify(`${ajvDir}/`).slice(0, -1)}`));
    renameSync(partial, file);
  } catch {
    // A read-only install compiles on every run: slower, not wrong.
    rmSync(partial, { force: true });
  }
}

export function validateLabSchema(source: YamlSource): Diagnostic[] {
  const validate = compiled().lab;
  return validate(source.data) ? [] : schemaDiagnostics(validate.errors ?? [], source);
}

export function validateChecksSchema(source: YamlSource): Diagnostic[] {
  const validate = compiled().checks;
  return validate(source.data) ? [] : schemaDiagnostics(validate.errors ?? [], source);
}

/** True when one check entry matches its kind's schema; entries that do not are reported and left out of the model. */
export function isValidCheck(raw: unknown): boolean {
  return compiled().check(raw) === true;
}

function schemaDiagnostics(errors: ErrorObject[], source: YamlSource): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const e of pickUseful(errors)) {
    const path = pointerToPath(e.instancePath);
    const d = describe(e, path, source);
    const target = targetOf(path);
    if (target) d.target = target;
    const key = `${d.line}:${d.column}:${d.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(d);
    }
  }
  return out;
}

/** Drops the noise Ajv adds around the real problem: "must match then schema", and the branches of a oneOf that another error already explains. */
function pickUseful(errors: ErrorObject[]): ErrorObject[] {
  const real = errors.filter((e) => e.keyword !== 'if');
  // For a oneOf (e.g. "interface is a string or an object"), report the object branch's specific errors when there are some.
  const withinOneOf = real.filter((e) => !e.schemaPath.includes('/oneOf/'));
  const branchErrors = real.filter((e) => e.schemaPath.includes('/oneOf/') && e.keyword !== 'type');
  const result: ErrorObject[] = [];
  for (const e of withinOneOf) {
    if (e.keyword === 'oneOf') {
      const specific = branchErrors.filter((b) => b.instancePath.startsWith(e.instancePath));
      if (specific.length > 0) {
        result.push(...specific);
        continue;
      }
    }
    result.push(e);
  }
  return result;
}

function describe(e: ErrorObject, path: string[], source: YamlSource): Diagnostic {
  const where = path.length ? `'${path.join('.')}'` : 'the file';
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String((e.params as { additionalProperty: string }).additionalProperty);
      const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {}).filter((k) => k !== '$schema');
      const suggestion = didYouMean(key, known);
      const message = `unknown key '${key}' in ${where}${suggestion ? ` (did you mean '${suggestion}'?)` : ''}`;
      return error('unknown-key', message, source.keyAt([...path, key]), {
        hint: known.length ? `keys allowed here: ${known.join(', ')}` : undefined,
      });
    }
    case 'required':
      return error('missing-key', `${where} needs '${(e.params as { missingProperty: string }).missingProperty}'`, source.at(path));
    case 'enum': {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map(String);
      const suggestion = typeof e.data === 'string' ? didYouMean(e.data, allowed) : undefined;
      return error('invalid-value', `${where} is ${JSON.stringify(e.data)}; it must be one of ${allowed.join(', ')}${suggestion ? ` (did you mean '${suggestion}'?)` : ''}`, source.at(path));
    }
    case 'type':
      return error('invalid-type', `${where} must be ${describeType((e.params as { type: string | string[] }).type)}, not ${typeName(e.data)}`, source.at(path));
    case 'oneOf':
      return error('invalid-value', `${where} has the wrong shape${(e.parentSchema as { description?: string })?.description ? `: ${(e.parentSchema as { description: string }).description}` : ''}`, source.at(path));
    case 'propertyNames':
    case 'pattern':
      if (e.keyword === 'pattern' && e.propertyName === undefined) {
        return error('invalid-value', `${where} is ${JSON.stringify(e.data)}, which is not valid${patternHint(e)}`, source.at(path));
      }
      return error('invalid-value', `${where}: ${e.message ?? 'invalid'}`, source.at(path));
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return error('out-of-range', `${where} is ${JSON.stringify(e.data)}; it must be ${comparisonWords(e)}`, source.at(path), {
        hint: path[path.length - 1] === 'memory' ? 'in MiB: 64 is enough for the tiny image, 128 for debian with FRR (6.1 UML kernels do not boot with less than 64)' : undefined,
      });
    case 'const':
      return error('invalid-value', `${where} must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`, source.at(path));
    default:
      return error('schema', `${where} ${e.message ?? 'is invalid'}`, source.at(path));
  }
}

function comparisonWords(e: ErrorObject): string {
  const { comparison, limit } = e.params as { comparison: string; limit: number };
  const words: Record<string, string> = { '>=': 'at least', '<=': 'at most', '>': 'more than', '<': 'less than' };
  return `${words[comparison] ?? comparison} ${limit}`;
}

function patternHint(e: ErrorObject): string {
  const pattern = String((e.params as { pattern: string }).pattern);
  if (pattern.startsWith('^/')) return ': it must be an absolute path starting with /';
  if (pattern.includes('[0-9A-Fa-f]{2}(:')) return ': a MAC address looks like 02:00:00:00:00:01';
  return ` (expected to match ${pattern})`;
}

/** What the GUI highlights for an error at this path: the machine, its interface, the domain or the check. */
function targetOf(path: string[]): string | undefined {
  const [section, name, field, key] = path;
  if (section === 'machines' && name !== undefined) {
    if (field === 'interfaces' && key !== undefined) return `machine:${name}/${/^\d+$/.test(key) ? `eth${key}` : key}`;
    return `machine:${name}`;
  }
  if (section === 'domains' && name !== undefined) return `domain:${name}`;
  return undefined;
}

function pointerToPath(pointer: string): string[] {
  if (!pointer) return [];
  return pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function describeType(t: string | string[]): string {
  const list = Array.isArray(t) ? t : [t];
  return list.map((x) => (x === 'object' ? 'a mapping' : x === 'array' ? 'a list' : x === 'null' ? 'empty' : x === 'integer' ? 'a whole number' : `a ${x}`)).join(' or ');
}

function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'empty';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `a ${typeof v} (${JSON.stringify(v)})`;
}

/**
 * A template renders text; where the lab schema asks for a number or a boolean, a value written as one
 * whole `{{ … }}` (at `paths`) is read as one (`memory: "{{ mem }}"` → 256). Changes `data` in place.
 */
export function coerceRendered(data: unknown, paths: ReadonlyArray<ReadonlyArray<string | number>>): void {
  if (!paths.length) return;
  const pointer = (p: ReadonlyArray<string | number>) => p.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
  const wanted = new Map(paths.map((p) => [pointer(p), p]));
  const validate = compiled().lab;
  for (let pass = 0; pass < 3; pass++) {
    if (validate(data)) return;
    let changed = false;
    for (const e of validate.errors ?? []) {
      const path = e.keyword === 'type' ? wanted.get(e.instancePath) : undefined;
      if (!path) continue;
      let holder: unknown = data;
      for (const segment of path.slice(0, -1)) holder = (holder as Record<string, unknown>)[segment];
      const key = path[path.length - 1]!;
      const value = (holder as Record<string | number, unknown>)[key];
      if (typeof value !== 'string') continue;
      const types = ([] as string[]).concat((e.params as { type: string | string[] }).type);
      const t = value.trim();
      let out: number | boolean | undefined;
      if ((types.includes('integer') || types.includes('number')) && /^-?\d+(\.\d+)?$/.test(t)) out = Number(t);
      else if (types.includes('boolean') && (t === 'true' || t === 'false')) out = t === 'true';
      if (out === undefined) continue;
      (holder as Record<string | number, unknown>)[key] = out;
      changed = true;
    }
    if (!changed) return;
  }
}
