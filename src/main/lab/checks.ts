// Grading checks: YAML (snake_case, friendly defaults) ⇄ the Check model (src/shared/checks.ts).
// Used for the `checks:` list of lab.yaml and for a separate checks file an instructor keeps private.
import { readFile } from 'node:fs/promises';
import type { Check, CheckKind, NetworkChange } from '../../shared/checks.ts';
import { ImpairmentError, linkFromYaml, linkToYaml } from '../../shared/impairments.ts';
import type { CableImpairments } from '../../shared/plan.ts';
import type { Diagnostic } from '../../shared/diagnostics.ts';
import type { SourceRef } from '../../shared/lab-model.ts';
import { error, wholeFile } from './diag.ts';
import { MAX_LAB_FILE_BYTES } from './limits.ts';
import { labRegexProblem } from './regex.ts';
import { isValidCheck, validateChecksSchema } from './schema.ts';
import { YamlSource, type YamlPath } from './yaml-source.ts';

export const DEFAULT_CHECK_TIMEOUT_SEC = 10;
export const DEFAULT_CHECK_POINTS = 1;

const KINDS: readonly CheckKind[] = ['reach', 'route', 'interface', 'command', 'file', 'listening', 'dns', 'http', 'frr', 'capture'];

/** YAML key → model key, for the keys whose names differ. */
const RENAMED: Record<string, string> = {
  timeout: 'timeoutSec',
  exit_code: 'exitCode',
  stdout_contains: 'stdoutContains',
  stdout_matches: 'stdoutMatches',
  body_contains: 'bodyContains',
};
const YAML_NAME = Object.fromEntries(Object.entries(RENAMED).map(([y, m]) => [m, y]));

/** Builds checks from already schema-validated (or at least object-shaped) YAML data. Skips entries too broken to use. */
export function checksFromYaml(list: unknown, source: YamlSource, path: YamlPath): Check[] {
  if (!Array.isArray(list)) return [];
  const checks: Check[] = [];
  list.forEach((raw, i) => {
    // The schema pass has reported what is wrong with a broken entry; the model only gets usable checks.
    if (!isRecord(raw) || !KINDS.includes(raw.kind as CheckKind) || !isValidCheck(raw)) return;
    const check: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(raw)) check[RENAMED[key] ?? key] = value;
    check.points = typeof raw.points === 'number' ? raw.points : DEFAULT_CHECK_POINTS;
    check.timeoutSec = typeof raw.timeout === 'number' ? raw.timeout : DEFAULT_CHECK_TIMEOUT_SEC;
    check.hidden = raw.hidden === true;
    if (isRecord(raw.during)) {
      const during = raw.during;
      const unplug = typeof during.unplug === 'string' ? [during.unplug] : Array.isArray(during.unplug) ? during.unplug.filter((c): c is string => typeof c === 'string') : [];
      const link: Record<string, CableImpairments> = {};
      for (const [cable, value] of Object.entries(isRecord(during.link) ? during.link : {})) {
        try {
          if (isRecord(value)) link[cable] = linkFromYaml(value, `during.link: ${cable}`);
        } catch (err) {
          if (!(err instanceof ImpairmentError)) throw err; // the schema reported the range
        }
      }
      check.during = { unplug, link };
    }
    if (check.kind === 'reach') check.expect ??= 'success';
    if (check.kind === 'route') check.expect ??= 'present';
    if (check.kind === 'listening') check.protocol ??= 'tcp';
    if (check.kind === 'capture') check.count ??= 1;
    if (check.kind === 'dns') {
      check.type ??= 'A';
      check.expect = typeof check.expect === 'string' ? [check.expect] : Array.isArray(check.expect) ? check.expect : [];
    }
    check.description = typeof raw.description === 'string' && raw.description.trim() ? raw.description : defaultDescription(check);
    check.source = source.at([...path, i]);
    checks.push(check as unknown as Check);
  });
  return checks;
}

/** The YAML form of a check: snake_case keys, defaults left out, no source position. */
export function checkToYaml(check: Check): Record<string, unknown> {
  const out: Record<string, unknown> = { id: check.id, kind: check.kind, description: check.description };
  for (const [key, value] of Object.entries(check)) {
    if (['id', 'kind', 'description', 'source'].includes(key) || value === undefined) continue;
    if (key === 'points' && value === DEFAULT_CHECK_POINTS) continue;
    if (key === 'timeoutSec' && value === DEFAULT_CHECK_TIMEOUT_SEC) continue;
    if (key === 'hidden' && value === false) continue;
    if (key === 'during') {
      const d = value as NetworkChange;
      out.during = {
        ...(d.unplug.length ? { unplug: d.unplug.length === 1 ? d.unplug[0] : d.unplug } : {}),
        ...(Object.keys(d.link).length ? { link: Object.fromEntries(Object.entries(d.link).map(([c, l]) => [c, linkToYaml(l)])) } : {}),
      };
      continue;
    }
    if (key === 'expect' && ((check.kind === 'reach' && value === 'success') || (check.kind === 'route' && value === 'present'))) continue;
    if (key === 'protocol' && value === 'tcp') continue;
    if (key === 'count' && check.kind === 'capture' && value === 1) continue;
    if (key === 'type' && check.kind === 'dns' && value === 'A') continue;
    out[YAML_NAME[key] ?? key] = value;
  }
  return out;
}

function defaultDescription(c: Record<string, unknown>): string {
  switch (c.kind) {
    case 'reach':
      return `${c.from} ${c.expect === 'failure' ? 'cannot reach' : 'reaches'} ${c.to}`;
    case 'route':
      return `${c.on} has ${c.expect === 'absent' ? 'no ' : 'a '}route to ${c.prefix}${c.via ? ` via ${c.via}` : ''}`;
    case 'interface':
      return `${c.on}'s ${c.name} is configured`;
    case 'command':
      return `${c.on}: ${c.run}`;
    case 'file':
      return `${c.on}: ${c.path}`;
    case 'listening':
      return `${c.on} listens on ${c.protocol}/${c.port}`;
    case 'dns':
      return `${c.on} resolves ${c.name}`;
    case 'http':
      return `${c.on} fetches ${c.url}`;
    case 'capture':
      return `frames seen on cable ${c.cable}`;
    default:
      return `${c.on}: ${c.command}`;
  }
}

export interface ChecksFileResult {
  checks: Check[];
  diagnostics: Diagnostic[];
}

/** Parses the text of a checks file (`checks: [...]`). `file` is how diagnostics name it. */
export function parseChecksYaml(text: string, file: string): ChecksFileResult {
  const source = new YamlSource(text, file);
  const diagnostics = [...source.diagnostics];
  if (source.broken) return { checks: [], diagnostics };
  if (!isRecord(source.data)) {
    diagnostics.push(error('invalid-type', 'a checks file must be a mapping with a `checks:` list', source.at([]), { hint: 'start the file with `checks:` and list the checks under it' }));
    return { checks: [], diagnostics };
  }
  diagnostics.push(...validateChecksSchema(source));
  const checks = checksFromYaml(source.data.checks, source, ['checks']);
  diagnostics.push(...checkIdDiagnostics(checks));
  return { checks, diagnostics };
}

/** Reads a checks file kept apart from the lab (`vnetlab check --checks FILE`). Never throws for bad input. */
export async function loadChecksFile(path: string): Promise<ChecksFileResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    return { checks: [], diagnostics: [error('file-unreadable', `cannot read the checks file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, wholeFile(path))] };
  }
  if (text.length > MAX_LAB_FILE_BYTES) return { checks: [], diagnostics: [error('file-too-large', 'the checks file is larger than 16 MiB', wholeFile(path))] };
  return parseChecksYaml(text, path);
}

/** Duplicate ids and regular expressions that do not compile: things the schema cannot see. */
export function checkIdDiagnostics(checks: Check[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const firstById = new Map<string, SourceRef>();
  for (const c of checks) {
    const first = firstById.get(c.id);
    if (first) out.push(error('duplicate-check', `check id '${c.id}' is used twice (first at line ${first.line})`, c.source, { target: `check:${c.id}`, hint: 'give every check its own id' }));
    else firstById.set(c.id, c.source);
    for (const key of ['matches', 'stdoutMatches'] as const) {
      const pattern = (c as unknown as Record<string, unknown>)[key];
      if (typeof pattern !== 'string') continue;
      // Checked as the grader will run it: with the linear-time engine (./regex.ts), which refuses
      // lookaround and backreferences; a pattern it cannot take would fail its check every time.
      const problem = labRegexProblem(pattern, { multiline: true });
      if (problem?.unsupported) out.push(error('unsupported-regex', `check '${c.id}': ${YAML_NAME[key] ?? key}: ${problem.message}`, c.source, { target: `check:${c.id}`, hint: 'match without it, e.g. two checks, or a pattern that spells out what may come between' }));
      else if (problem) out.push(error('invalid-regex', `check '${c.id}': ${YAML_NAME[key] ?? key} is not a valid regular expression: ${problem.message}`, c.source, { target: `check:${c.id}` }));
    }
  }
  return out;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
