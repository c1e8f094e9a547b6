// A student's copy of a class lab, made on the worker: the one place where the instructor's lab
// becomes the student's. A lab with `params:` is rendered as that student's variant (seed =
// HMAC(server secret, student id, copy id): seedFor and renderVariant, src/main/lab/variants.ts); the full rendering, hidden
// checks included, is kept apart (the grading copy, outside the student's folder) and the student's
// copy is made from it without grading data (hidden checks, _test signatures, the solution), and for
// an exam without internet, without host NAT.
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isMap, isSeq, parseDocument } from 'yaml';
import { UserError } from '../errors.ts';
import { loadLab } from '../lab/index.ts';
import { renderVariant, SEED_FILE, seedFor } from '../lab/variants.ts';

type Values = Record<string, unknown>;

/** The lab declares `params:` (in lab.yaml, or vnetlab.yaml beside a Netkit/Kathará lab.conf). */
export function labHasParams(labPath: string): boolean {
  for (const file of ['lab.yaml', 'vnetlab.yaml']) {
    const p = join(labPath, file);
    if (!existsSync(p)) continue;
    const doc = parseDocument(readFileSync(p, 'utf8'));
    if (doc.has('params')) return true;
  }
  return false;
}

/** The student's seed for one copy: unguessable without the server's secret, the same every time. */
export function seedOf(secret: string, student: string, copyId: string): string {
  return seedFor(secret, student, copyId);
}

/**
 * Renders `labPath` into `dest` (a new folder) for this seed: the variant when the lab has params,
 * else a plain copy. Returns the values drawn (empty without params). Symlinks are copied as they
 * are: the lab reader refuses any that leads out of the lab folder.
 */
export async function renderCopy(labPath: string, dest: string, seed: string): Promise<Values> {
  const tmp = `${dest}.${randomBytes(4).toString('hex')}.tmp`;
  mkdirSync(dirname(dest), { recursive: true, mode: 0o700 });
  try {
    let values: Values = {};
    if (labHasParams(labPath)) values = (await renderVariant(labPath, seed, tmp)).values;
    else cpSync(labPath, tmp, { recursive: true, verbatimSymlinks: true });
    writeFileSync(join(tmp, '.vnetlab-values.json'), `${JSON.stringify(values)}\n`, { mode: 0o600 });
    rmSync(dest, { recursive: true, force: true });
    renameSync(tmp, dest);
    return values;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** The values a rendered copy was made with (what renderCopy returned). */
export function valuesOf(renderedDir: string): Values {
  try {
    return JSON.parse(readFileSync(join(renderedDir, '.vnetlab-values.json'), 'utf8')) as Values;
  } catch {
    return {};
  }
}

/** Copies a rendered lab into the student's folder without its grading data (and host NAT when asked). */
export function studentCopy(rendered: string, dest: string, options: { internet: boolean } = { internet: true }): void {
  const tmp = `${dest}.${randomBytes(4).toString('hex')}.tmp`;
  cpSync(rendered, tmp, { recursive: true, verbatimSymlinks: true });
  try {
    rmSync(join(tmp, '.vnetlab-values.json'), { force: true });
    rmSync(join(tmp, SEED_FILE), { force: true });
    stripGradingData(tmp);
    if (!options.internet) stripHostNat(tmp);
    rmSync(dest, { recursive: true, force: true });
    renameSync(tmp, dest);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** The hidden checks, Netkit's _test signatures and the solution are grading data: a student's copy never holds them. */
export function stripGradingData(labDir: string): void {
  for (const file of ['lab.yaml', 'vnetlab.yaml']) {
    const p = join(labDir, file);
    if (!existsSync(p)) continue;
    const doc = parseDocument(readFileSync(p, 'utf8'));
    let changed = false;
    const checks = doc.get('checks');
    if (isSeq(checks)) {
      checks.items = checks.items.filter((item) => !(isMap(item) && item.get('hidden') === true));
      changed = true;
    }
    if (doc.has('solution')) {
      doc.delete('solution');
      changed = true;
    }
    if (changed) writeFileSync(p, doc.toString());
  }
  rmSync(join(labDir, '_test'), { recursive: true, force: true });
  rmSync(join(labDir, 'solution'), { recursive: true, force: true });
}

/** No way out of the lab: host-NAT domains become plain domains, Kathará `bridged` machines lose the extra NIC. */
export function stripHostNat(labDir: string): void {
  const yamlFile = join(labDir, 'lab.yaml');
  if (existsSync(yamlFile)) {
    const doc = parseDocument(readFileSync(yamlFile, 'utf8'));
    const domains = doc.get('domains');
    if (isMap(domains)) for (const d of domains.items) if (isMap(d.value) && d.value.has('host_nat')) d.value.delete('host_nat');
    const machines = doc.get('machines');
    if (isMap(machines)) for (const m of machines.items) if (isMap(m.value) && m.value.has('bridged')) m.value.delete('bridged');
    writeFileSync(yamlFile, doc.toString());
  }
  const conf = join(labDir, 'lab.conf');
  if (existsSync(conf)) {
    const lines = readFileSync(conf, 'utf8').split('\n');
    writeFileSync(conf, lines.filter((l) => !/^\s*["']?[^\s[\]=]+["']?\s*\[\s*bridged\s*\]\s*=/.test(l)).join('\n'));
  }
}

/** Refuses a lab that would reach the host (a host-NAT domain or a bridged machine): the check before an exam lab starts. */
export async function refuseHostNat(labDir: string): Promise<void> {
  const { model } = await loadLab(labDir);
  if (!model) return;
  const nat = model.domains.filter((d) => d.hostNat).map((d) => d.name);
  const bridged = model.machines.filter((m) => m.bridged).map((m) => m.name);
  if (nat.length || bridged.length) {
    throw new UserError(`this exam has no internet, but the lab reaches the host through ${[...nat.map((d) => `domain ${d} (host_nat)`), ...bridged.map((m) => `${m} (bridged)`)].join(', ')}`, 2, 'ask your instructor: the exam lab must not be changed');
  }
}
