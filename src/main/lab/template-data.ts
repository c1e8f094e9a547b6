// The lab side of parameters: reading `params:` from a lab.yaml (or vnetlab.yaml) with diagnostics at
// file:line:col, and rendering every text value of the file with the drawn values, in place, before
// the schema and the model builder see it. Texts from other files (Netkit startup scripts, files placed
// in machines) are rendered by renderFileText with their own file as the position.
import type { Diagnostic } from '../../shared/diagnostics.ts';
import type { SourceRef } from '../../shared/lab-model.ts';
import { isRecord } from './checks.ts';
import { error, warning } from './diag.ts';
import { DrawError, drawValues, formatCidr, isTemplate, overlaps, PARAM_NAME_RE, parseCidr, renderTemplate, type ParamSpec, type ParamValues, type TemplateProblem } from './params.ts';
import type { YamlPath, YamlSource } from './yaml-source.ts';

const KINDS = ['subnet', 'range', 'choice'] as const;

/** The parameters a file declares, in order; problems are reported, and a broken parameter is left out. */
export function readParamSpecs(raw: unknown, source: YamlSource, diagnostics: Diagnostic[]): ParamSpec[] {
  if (raw === undefined || raw === null) return [];
  if (!isRecord(raw)) {
    diagnostics.push(error('invalid-param', 'params: must be a mapping of parameter names to their pools', source.at(['params'])));
    return [];
  }
  const specs: ParamSpec[] = [];
  for (const [name, spec] of Object.entries(raw)) {
    const at = (...rest: (string | number)[]) => source.at(['params', name, ...rest]);
    const bad = (message: string, where: SourceRef = at(), hint?: string) => diagnostics.push(error('invalid-param', `parameter '${name}': ${message}`, where, hint ? { hint } : {}));
    if (!PARAM_NAME_RE.test(name)) {
      diagnostics.push(error('invalid-param', `'${name}' cannot be a parameter name: use letters, digits and _ (not starting with a digit)`, source.keyAt(['params', name]), { hint: 'templates name it as {{ name }}; a - would read as a minus' }));
      continue;
    }
    if (!isRecord(spec)) {
      bad('give its pool as {subnet: …, prefix: …}, {range: [MIN, MAX]} or {choice: [A, B, …]}');
      continue;
    }
    const kinds = KINDS.filter((k) => spec[k] !== undefined);
    if (kinds.length !== 1) {
      bad(kinds.length ? `has both ${kinds.join(' and ')}; give one` : 'needs one of subnet, range or choice', at(), 'e.g. {subnet: 10.0.0.0/8, prefix: 24}, {range: [64512, 65534]}, {choice: [rome, paris]}');
      continue;
    }
    const distinct = spec.distinct_from === undefined ? [] : Array.isArray(spec.distinct_from) ? spec.distinct_from : [spec.distinct_from];
    if (!distinct.every((d): d is string => typeof d === 'string')) {
      bad('distinct_from must be a parameter name or a list of them', at('distinct_from'));
      continue;
    }
    const distinctFrom = distinct;
    if (kinds[0] === 'subnet') {
      const pool = typeof spec.subnet === 'string' ? parseCidr(spec.subnet, true) : undefined;
      if (!pool) {
        const loose = typeof spec.subnet === 'string' ? parseCidr(spec.subnet) : undefined;
        bad(loose ? `'${spec.subnet}' has host bits set` : `subnet must be a CIDR such as 10.0.0.0/8, not ${JSON.stringify(spec.subnet)}`, at('subnet'), loose ? `write its network address: ${formatCidr(loose)}` : undefined);
        continue;
      }
      const bits = pool.v6 ? 128 : 32;
      const prefix = spec.prefix;
      if (typeof prefix !== 'number' || !Number.isInteger(prefix) || prefix < pool.prefix || prefix > bits) {
        bad(`prefix must be a whole number from ${pool.prefix} (the pool's) to ${bits}: the length of the subnet drawn inside ${spec.subnet}`, prefix === undefined ? at() : at('prefix'));
        continue;
      }
      specs.push({ kind: 'subnet', name, pool, prefix, distinctFrom });
    } else if (kinds[0] === 'range') {
      const r = spec.range;
      if (!Array.isArray(r) || r.length !== 2 || !r.every((n) => Number.isSafeInteger(n)) || (r[0] as number) > (r[1] as number)) {
        bad('range must be [MIN, MAX], two whole numbers with MIN ≤ MAX', at('range'));
        continue;
      }
      specs.push({ kind: 'range', name, min: r[0] as number, max: r[1] as number, distinctFrom });
    } else {
      const c = spec.choice;
      if (!Array.isArray(c) || c.length === 0 || !c.every((v) => ['string', 'number', 'boolean'].includes(typeof v))) {
        bad('choice must be a non-empty list of values (text, numbers)', at('choice'));
        continue;
      }
      specs.push({ kind: 'choice', name, options: c as Array<string | number | boolean>, distinctFrom });
    }
    for (const key of Object.keys(spec)) {
      if (![...KINDS, 'prefix', 'distinct_from', 'description'].includes(key)) bad(`unknown key '${key}'`, source.keyAt(['params', name, key]), 'keys: subnet + prefix, range, choice, distinct_from, description');
    }
  }
  overlapWarnings(specs, source, diagnostics);
  return specs;
}

/** Two subnet parameters drawn from overlapping pools, not declared distinct: their subnets may collide. */
function overlapWarnings(specs: ParamSpec[], source: YamlSource, diagnostics: Diagnostic[]): void {
  const subnets = specs.filter((s): s is Extract<ParamSpec, { kind: 'subnet' }> => s.kind === 'subnet');
  for (let i = 0; i < subnets.length; i++) {
    for (let j = i + 1; j < subnets.length; j++) {
      const a = subnets[i]!;
      const b = subnets[j]!;
      if (!overlaps(a.pool, b.pool) || a.distinctFrom.includes(b.name) || b.distinctFrom.includes(a.name)) continue;
      diagnostics.push(warning('params-may-overlap', `subnets '${a.name}' and '${b.name}' are drawn from overlapping pools and may overlap in some variants`, source.at(['params', b.name]), { hint: `add distinct_from: [${a.name}] to '${b.name}'` }));
    }
  }
}

/** Draws the values for a seed; a draw that cannot succeed is a diagnostic at the parameter, and undefined. */
export function drawWithDiagnostics(specs: ParamSpec[], seed: string, source: YamlSource, diagnostics: Diagnostic[]): ParamValues | undefined {
  try {
    return drawValues(specs, seed);
  } catch (err) {
    if (!(err instanceof DrawError)) throw err;
    diagnostics.push(error('invalid-param', err.message, source.at(['params', err.param, 'distinct_from'])));
    return undefined;
  }
}

/** A single `{{ … }}` and nothing else: its result may be read as a number or a boolean where the schema wants one. */
const WHOLE_OUTPUT = /^\s*\{\{[^{}]*\}\}\s*$/;

/**
 * Renders every string value of the parsed file in place (keys are not templates), except under
 * `params:`. Returns the paths of values written as one whole `{{ … }}`, which coerceRendered may
 * turn into numbers or booleans where the schema asks for them.
 */
export function renderData(data: Record<string, unknown>, values: ParamValues, source: YamlSource, diagnostics: Diagnostic[]): YamlPath[] {
  const whole: YamlPath[] = [];
  const visit = (holder: Record<string, unknown> | unknown[], key: string | number, path: (string | number)[]) => {
    const value = (holder as Record<string | number, unknown>)[key];
    if (typeof value === 'string') {
      if (!isTemplate(value)) return;
      const out = renderTemplate(value, values);
      if ('problem' in out) {
        diagnostics.push(problemDiagnostic(out.problem, source.positionInValue(path, out.problem.line, out.problem.column)));
        return;
      }
      (holder as Record<string | number, unknown>)[key] = out.text;
      if (WHOLE_OUTPUT.test(value)) whole.push(path);
    } else if (Array.isArray(value)) {
      value.forEach((_, i) => visit(value, i, [...path, i]));
    } else if (isRecord(value)) {
      for (const k of Object.keys(value)) visit(value, k, [...path, k]);
    }
  };
  for (const key of Object.keys(data)) if (key !== 'params') visit(data, key, [key]);
  return whole;
}

/** Renders the text of a lab file (a startup script, a file placed in a machine); problems are at `file`'s own lines. */
export function renderFileText(text: string, values: ParamValues, file: string, diagnostics: Diagnostic[]): string | undefined {
  if (!isTemplate(text)) return text;
  const out = renderTemplate(text, values);
  if ('problem' in out) {
    diagnostics.push(problemDiagnostic(out.problem, { file, line: out.problem.line, column: out.problem.column }));
    return undefined;
  }
  return out.text;
}

export function problemDiagnostic(p: TemplateProblem, at: SourceRef): Diagnostic {
  return error(p.code, p.message, at, p.hint ? { hint: p.hint } : {});
}
