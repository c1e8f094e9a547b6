// Models that arrive from clients of the app API (the editor, or anyone holding the app's token) did
// not come through a reader: they get the readers' validation here before anything writes or compiles
// them. Same validators, same messages as a lab read from disk.
import type { Diagnostic } from '../../shared/diagnostics.ts';
import type { LabModel } from '../../shared/lab-model.ts';
import { UserError } from '../errors.ts';
import { error, wholeFile } from './diag.ts';
import { validateLab } from './validate.ts';

/** Findings that make writing a model unsafe (a path or name would leave the lab folder), whatever else is unfinished in it. */
const UNSAFE = new Set(['malformed-model', 'invalid-name', 'invalid-domain-name', 'path-escapes-lab', 'invalid-guest-path']);

/** Every diagnostic of a model from a client: its shape first (so validators never crash on it), then validateLab. */
export function checkClientModel(model: LabModel): Diagnostic[] {
  const shape = shapeProblems(model);
  if (shape.length) return shape;
  return validateLab(model);
}

/**
 * Throws a UserError when the model's names or paths are unsafe to write (saving a lab that is still
 * being drawn, with other errors, is fine). Returns the model's diagnostics otherwise.
 */
export function refuseUnsafeModel(model: LabModel): Diagnostic[] {
  const diagnostics = checkClientModel(model);
  const unsafe = diagnostics.filter((d) => d.severity === 'error' && UNSAFE.has(d.code));
  if (unsafe.length) {
    const more = unsafe.length > 1 ? ` (and ${unsafe.length - 1} more)` : '';
    throw new UserError(`the lab cannot be saved: ${unsafe[0]!.message}${more}`, undefined, unsafe[0]!.hint ?? 'fix the names and paths shown in the lab panel, then save again');
  }
  return diagnostics;
}

/** Types the validators rely on; a model built by hand (or by an attacker) may have anything. */
function shapeProblems(model: LabModel): Diagnostic[] {
  const problems: string[] = [];
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const isStr = (v: unknown) => typeof v === 'string';
  const strings = (v: unknown) => isObj(v) && Object.values(v).every(isStr);
  const at = (what: string, ok: boolean) => void (ok || problems.push(what));
  if (!isObj(model)) return [malformed('the lab is not an object')];
  at('meta', isObj(model.meta) && isStr(model.meta.name) && Array.isArray(model.meta.authors));
  at('root', isStr(model.root));
  at('sourceFile', isStr(model.sourceFile));
  at('machines', Array.isArray(model.machines));
  at('domains', Array.isArray(model.domains) && model.domains.every((d) => isObj(d) && isStr(d.name) && isObj(d.source)));
  at('checks', Array.isArray(model.checks));
  at('layout', isObj(model.layout));
  at('annotations', model.annotations === undefined || (Array.isArray(model.annotations) && (model.annotations as unknown[]).every((a) => isObj(a) && (a.type === 'note' || a.type === 'rect') && typeof a.x === 'number' && typeof a.y === 'number' && isStr(a.text) && (a.width === undefined || typeof a.width === 'number') && (a.height === undefined || typeof a.height === 'number') && (a.color === undefined || isStr(a.color)))));
  const vlanFields = (x: Record<string, unknown>) => (x.vlan === undefined || typeof x.vlan === 'number') && (x.vlans === undefined || (Array.isArray(x.vlans) && x.vlans.every((v) => typeof v === 'number')));
  at('switchLinks', model.switchLinks === undefined || (Array.isArray(model.switchLinks) && (model.switchLinks as unknown[]).every((l) => isObj(l) && isStr(l.a) && isStr(l.b) && isObj(l.source) && vlanFields(l))));
  at('domains: stp', !Array.isArray(model.domains) || model.domains.every((d) => !isObj(d) || d.stp === undefined || (isObj(d.stp) && (d.stp.priority === undefined || typeof d.stp.priority === 'number'))));
  for (const [key, folder] of [['sharedFolder', model.sharedFolder], ['testFolder', model.testFolder]] as const) at(key, folder === undefined || isStr(folder));
  for (const m of Array.isArray(model.machines) ? (model.machines as unknown[]) : []) {
    if (!isObj(m) || !isStr(m.name)) {
      problems.push('a machine without a name');
      continue;
    }
    const name = `machine '${m.name}'`;
    at(`${name}: source`, isObj(m.source));
    at(`${name}: memoryMiB`, typeof m.memoryMiB === 'number');
    at(`${name}: interfaces`, Array.isArray(m.interfaces) && m.interfaces.every((i) => isObj(i) && Number.isInteger(i.index) && isStr(i.domain) && Array.isArray(i.ipv4) && Array.isArray(i.ipv6) && isObj(i.source) && vlanFields(i)));
    at(`${name}: files`, Array.isArray(m.files) && m.files.every((f) => isObj(f) && isStr(f.guestPath) && isObj(f.source) && (f.kind === 'inline' ? isStr(f.content) : (f.kind === 'file' || f.kind === 'dir') && isStr(f.labPath))));
    at(`${name}: dependsOn`, Array.isArray(m.dependsOn) && m.dependsOn.every(isStr));
    at(`${name}: sysctls`, strings(m.sysctls));
    at(`${name}: env`, strings(m.env));
  }
  return problems.length ? [malformed(`the lab sent to vnetlab is malformed (${problems.slice(0, 3).join(', ')}${problems.length > 3 ? ', …' : ''})`)] : [];
}

function malformed(message: string): Diagnostic {
  return error('malformed-model', message, wholeFile('lab.yaml'), { hint: 'reload the lab; if it persists, report it' });
}
