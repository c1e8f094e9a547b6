// Cable impairment values as users write them (`--loss 30`, `--delay 200:20`, `--rate 10mbit`, lab.yaml
// `link:`), checked with one set of ranges so the CLI, the app and lab files say the same thing.
import type { CableImpairments, Impairment } from './plan.ts';
import type { CableChange } from './runtime-api.ts';

export class ImpairmentError extends Error {}

const MAX_DELAY_MS = 60_000;
const MAX_RATE_BPS = 10_000_000_000;
const RATE_UNITS: Record<string, number> = {
  '': 1, bit: 1, bps: 1, kbit: 1e3, kbps: 1e3, k: 1e3, mbit: 1e6, mbps: 1e6, m: 1e6, gbit: 1e9, gbps: 1e9, g: 1e9,
};

export function parsePercent(value: unknown, what: string): number {
  const n = typeof value === 'number' ? value : Number(String(value).replace(/%$/, ''));
  if (!Number.isFinite(n) || n < 0 || n > 100) throw new ImpairmentError(`${what} must be a percentage from 0 to 100, not '${String(value)}'`);
  return n;
}

/** `200` or `200:20` (delay and its jitter, ms). */
export function parseDelay(value: unknown, what = '--delay'): { delayMs: number; jitterMs?: number } {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:ms)?\s*(?::\s*(\d+(?:\.\d+)?)\s*(?:ms)?)?\s*$/.exec(String(value));
  const delayMs = m ? Number(m[1]) : NaN;
  const jitterMs = m?.[2] !== undefined ? Number(m[2]) : undefined;
  if (!m || delayMs > MAX_DELAY_MS) throw new ImpairmentError(`${what} must be milliseconds from 0 to ${MAX_DELAY_MS}, optionally with a jitter as MS:JITTER (e.g. 200:20), not '${String(value)}'`);
  if (jitterMs !== undefined && jitterMs > delayMs) throw new ImpairmentError(`${what}: the jitter (${jitterMs} ms) cannot be larger than the delay (${delayMs} ms)`);
  return jitterMs ? { delayMs, jitterMs } : { delayMs };
}

/** `10mbit`, `512kbit`, `1gbit`, `100000` (bits per second). */
export function parseRate(value: unknown, what = '--rate'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(String(value));
  const unit = m ? RATE_UNITS[m[2]!.toLowerCase()] : undefined;
  const bps = m && unit ? Number(m[1]) * unit : NaN;
  if (!Number.isFinite(bps) || bps < 8 || bps > MAX_RATE_BPS) {
    throw new ImpairmentError(`${what} must be a rate from 8 bit/s to 10gbit, like 10mbit, 512kbit or 64000 (bits per second), not '${String(value)}'`);
  }
  return Math.round(bps);
}

/**
 * A lab.yaml `link:`: impairments for both directions (`{ loss: 10, delay: "100:10" }`), and/or per
 * direction under `out:` (from the machine) and `in:` (towards it), which win over the shared ones.
 */
export function linkFromYaml(raw: Record<string, unknown>, where: string): CableImpairments {
  const { in: inbound, out: outbound, ...both } = raw;
  const shared = impairmentFromYaml(both, where);
  const side = (v: unknown, dir: string): Impairment => {
    if (v === undefined) return {};
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ImpairmentError(`${where}.${dir} must be a mapping like { loss: 10, delay: 50 }`);
    return impairmentFromYaml(v as Record<string, unknown>, `${where}.${dir}`);
  };
  const result: CableImpairments = {};
  const o = { ...shared, ...side(outbound, 'out') };
  const i = { ...shared, ...side(inbound, 'in') };
  if (Object.keys(o).length) result.out = o;
  if (Object.keys(i).length) result.in = i;
  return result;
}

/** The lab.yaml form of a cable's impairments (shared values when both directions agree). */
export function linkToYaml(link: CableImpairments): Record<string, unknown> {
  const yaml = (i: Impairment | undefined): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    if (!i) return out;
    if (i.lossPct) out.loss = i.lossPct;
    if (i.delayMs) out.delay = i.jitterMs ? `${i.delayMs}:${i.jitterMs}` : i.delayMs;
    if (i.dupPct) out.dup = i.dupPct;
    if (i.rateBps) out.rate = i.rateBps;
    if (i.corruptPct) out.corrupt = i.corruptPct;
    return out;
  };
  if (JSON.stringify(link.in ?? {}) === JSON.stringify(link.out ?? {})) return yaml(link.out);
  return { ...(link.out ? { out: yaml(link.out) } : {}), ...(link.in ? { in: yaml(link.in) } : {}) };
}

/** One direction of a lab.yaml `link:` (`{ loss: 10, delay: "100:10", dup: 1, rate: 10mbit, corrupt: 0.5 }`). */
export function impairmentFromYaml(raw: Record<string, unknown>, where: string): Impairment {
  const out: Impairment = {};
  for (const [key, value] of Object.entries(raw)) {
    if (key === 'loss') out.lossPct = parsePercent(value, `${where}.loss`);
    else if (key === 'dup') out.dupPct = parsePercent(value, `${where}.dup`);
    else if (key === 'corrupt') out.corruptPct = parsePercent(value, `${where}.corrupt`);
    else if (key === 'delay') Object.assign(out, parseDelay(value, `${where}.delay`));
    else if (key === 'rate') out.rateBps = parseRate(value, `${where}.rate`);
    else throw new ImpairmentError(`${where}: unknown impairment '${key}' (known: loss, delay, dup, rate, corrupt)`);
  }
  return out;
}

/** "loss 30% · delay 200±20 ms · 10 Mbit/s": how a cable's impairments read in tables and on the canvas. */
export function describeImpairment(i: Impairment | undefined): string {
  if (!i) return '';
  const parts: string[] = [];
  if (i.lossPct) parts.push(`loss ${i.lossPct}%`);
  if (i.delayMs) parts.push(`delay ${i.delayMs}${i.jitterMs ? `±${i.jitterMs}` : ''} ms`);
  if (i.dupPct) parts.push(`dup ${i.dupPct}%`);
  if (i.rateBps) parts.push(formatRate(i.rateBps));
  if (i.corruptPct) parts.push(`corrupt ${i.corruptPct}%`);
  return parts.join(', ');
}

function formatRate(bps: number): string {
  if (bps >= 1e9) return `${+(bps / 1e9).toFixed(2)} Gbit/s`;
  if (bps >= 1e6) return `${+(bps / 1e6).toFixed(2)} Mbit/s`;
  if (bps >= 1e3) return `${+(bps / 1e3).toFixed(2)} kbit/s`;
  return `${bps} bit/s`;
}

/** A cable change that arrived over the API: untrusted, so every field is checked like a lab file's. */
export function checkCableChange(raw: unknown): CableChange {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ImpairmentError('a cable change must be an object');
  const r = raw as Record<string, unknown>;
  const known = new Set(['plugged', 'domain', 'impair', 'reset']);
  for (const key of Object.keys(r)) if (!known.has(key)) throw new ImpairmentError(`unknown cable change '${key}'`);
  const change: CableChange = {};
  if (r.plugged !== undefined) {
    if (typeof r.plugged !== 'boolean') throw new ImpairmentError('plugged must be true or false');
    change.plugged = r.plugged;
  }
  if (r.domain !== undefined) {
    if (typeof r.domain !== 'string' || !r.domain) throw new ImpairmentError('domain must be a collision domain name');
    change.domain = r.domain;
  }
  if (r.reset !== undefined) change.reset = r.reset === true;
  if (r.impair !== undefined) {
    const imp = r.impair as Record<string, unknown>;
    if (typeof imp !== 'object' || imp === null) throw new ImpairmentError('impair must be { direction, values }');
    if (imp.direction !== 'in' && imp.direction !== 'out' && imp.direction !== 'both') throw new ImpairmentError('impair.direction must be in, out or both');
    const v = (imp.values ?? {}) as Record<string, unknown>;
    if (typeof v !== 'object' || v === null) throw new ImpairmentError('impair.values must be an object');
    const values: Impairment = {};
    for (const [key, value] of Object.entries(v)) {
      if (key === 'lossPct' || key === 'dupPct' || key === 'corruptPct') values[key] = parsePercent(value, key.replace('Pct', ''));
      else if (key === 'delayMs' || key === 'jitterMs') {
        if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_DELAY_MS) throw new ImpairmentError(`${key} must be milliseconds from 0 to ${MAX_DELAY_MS}`);
        values[key] = value;
      } else if (key === 'rateBps') values.rateBps = value === 0 ? 0 : parseRate(value, 'rate');
      else throw new ImpairmentError(`unknown impairment '${key}'`);
    }
    if ((values.jitterMs ?? 0) > (values.delayMs ?? Infinity)) throw new ImpairmentError('the jitter cannot be larger than the delay');
    change.impair = { direction: imp.direction, values };
  }
  return change;
}
