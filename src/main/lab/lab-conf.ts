// lab.conf, as Netkit and Kathará write it: `machine[N]=domain` (with Kathará's MAC and option
// syntax), `machine[option]=value`, LAB_* metadata, machines=. The dialect is told from the options
// used; each line that does not parse is a diagnostic with file:line:col, never silently dropped.
import type { Diagnostic } from '../../shared/diagnostics.ts';
import type { Interface, LabFormat, SourceRef } from '../../shared/lab-model.ts';
import { error, info, warning } from './diag.ts';
import { MAX_INTERFACES, MAX_MACHINES } from './limits.ts';
export type Dialect = Exclude<LabFormat, 'vnetlab'>;

export interface MachineDraft {
  written: string;
  name: string;
  source: SourceRef;
  interfaces: Interface[];
  options: Array<{ key: string; value: string; at: SourceRef }>;
}

/** Options each dialect understands; anything else is reported. */
export const KATHARA_OPTIONS = new Set(['image', 'mem', 'cpus', 'bridged', 'ipv6', 'exec', 'sysctl', 'env', 'num_terms', 'port', 'shell', 'entrypoint', 'privileged', 'ulimit', 'hostname']);

export const NETKIT_OPTIONS = new Set(['mem', 'M', 'con0', 'con1', 'kernel', 'filesystem', 'append', 'model-fs', 'modules', 'hostlab']);

export interface LabConf {
  dialect: Dialect;
  meta: Record<string, string>;
  machines: Map<string, MachineDraft>;
  machineList: boolean;
}

export function parseLabConf(text: string, diagnostics: Diagnostic[]): LabConf {
  const conf: LabConf = { dialect: 'netkit', meta: {}, machines: new Map(), machineList: false };
  // A runaway lab.conf (a generator gone wrong: 600,000 machines in 10 MB) is refused at the first
  // machine or interface past the limit, before it costs seconds and gigabytes.
  let stopped = false;
  const tooMany = (code: string, message: string, at: SourceRef) => {
    diagnostics.push(error(code, message, at, { hint: 'the rest of lab.conf is not read; check the script or the edit that produced it' }));
    stopped = true;
  };
  const draftFor = (written: string, at: SourceRef): MachineDraft | undefined => {
    let draft = conf.machines.get(written);
    if (!draft && conf.machines.size >= MAX_MACHINES) {
      tooMany('too-many-machines', `lab.conf declares more than ${MAX_MACHINES} machines ('${written.slice(0, 40)}' is one too many); vnetlab allows at most ${MAX_MACHINES}`, at);
      return undefined;
    }
    if (!draft) {
      const name = cleanMachineName(written);
      if (name !== written) {
        diagnostics.push(warning('name-cleaned', `machine name '${written}' is not a valid vnetlab name; it is used as '${name}'`, at, { target: `machine:${name}`, hint: 'rename it in lab.conf (and its files) to lowercase letters, digits, - and _' }));
      }
      draft = { written, name, source: at, interfaces: [], options: [] };
      conf.machines.set(written, draft);
    }
    return draft;
  };
  const readLine = (rawLine: string, n: number): void => {
    const line = rawLine.replace(/\r$/, '');
    const lineNo = n + 1;
    if (/^\s*(#.*)?$/.test(line)) return;
    const at = (column: number): SourceRef => ({ file: 'lab.conf', line: lineNo, column });
    let m = /^(\s*)(LAB_[A-Za-z_]+)\s*=\s*(.*)$/.exec(line);
    if (m) {
      const key = m[2]!.toUpperCase();
      const value = unquote(m[3]!, at(line.indexOf('=') + 2), diagnostics);
      if (!['LAB_NAME', 'LAB_DESCRIPTION', 'LAB_VERSION', 'LAB_AUTHOR', 'LAB_EMAIL', 'LAB_WEB'].includes(key)) {
        diagnostics.push(info('unknown-lab-option', `${m[2]} is not a lab.conf setting vnetlab knows; it is ignored`, at(m[1]!.length + 1)));
      } else conf.meta[key] = value;
      return;
    }
    m = /^(\s*)machines\s*=\s*(.*)$/.exec(line);
    if (m) {
      conf.machineList = true;
      for (const written of unquote(m[2]!, at(line.indexOf('=') + 2), diagnostics).split(/\s+/).filter(Boolean)) if (!draftFor(written, at(m[1]!.length + 1))) return;
      return;
    }
    m = /^(\s*)([^\s[\]=]+)\s*\[\s*([^\]]*?)\s*\]\s*=\s*(.*)$/.exec(line);
    if (!m) {
      diagnostics.push(error('lab-conf-syntax', `cannot read this line of lab.conf: '${line.trim().slice(0, 60)}'`, at(1), { hint: 'lines look like pc1[0]=A (interface), pc1[mem]=128 (option) or LAB_DESCRIPTION="…"' }));
      return;
    }
    const [, indent, written, key, rawValue] = m as unknown as [string, string, string, string, string];
    const valueColumn = line.indexOf('=', indent.length + written.length) + 2;
    const value = unquote(rawValue, at(valueColumn), diagnostics);
    const draft = draftFor(written, at(indent.length + 1));
    if (!draft) return;
    if (/^\d+$/.test(key)) {
      if (draft.interfaces.length >= MAX_INTERFACES) {
        return void tooMany('too-many-interfaces', `${written} has more than ${MAX_INTERFACES} interfaces in lab.conf; vnetlab allows eth0 to eth${MAX_INTERFACES - 1}`, at(indent.length + 1));
      }
      const slash = value.indexOf('/');
      const domain = (slash >= 0 ? value.slice(0, slash) : value).trim();
      if (!domain) {
        diagnostics.push(error('missing-domain', `${written}[${key}] names no collision domain`, at(valueColumn), { target: `machine:${draft.name}`, hint: `write ${written}[${key}]=A to attach eth${Number(key)} to domain A` }));
        return;
      }
      const iface: Interface = { index: Number(key), domain, ipv4: [], ipv6: [], source: at(valueColumn) };
      if (slash >= 0) {
        conf.dialect = 'kathara';
        iface.mac = value.slice(slash + 1).trim().toLowerCase();
      }
      draft.interfaces.push(iface);
      return;
    }
    if (KATHARA_OPTIONS.has(key) && !NETKIT_OPTIONS.has(key)) conf.dialect = 'kathara';
    draft.options.push({ key, value, at: at(line.indexOf('[') + 2) });
  };
  const lines = text.split('\n');
  for (let n = 0; n < lines.length && !stopped; n++) readLine(lines[n]!, n);
  return conf;
}

/** Strips Netkit/Kathará quoting: "…", '…', or a bare word with an optional trailing # comment. */
function unquote(raw: string, at: SourceRef, diagnostics: Diagnostic[]): string {
  const text = raw.trim();
  const quote = text[0];
  if (quote === '"' || quote === "'") {
    const end = text.indexOf(quote, 1);
    if (end < 0) {
      diagnostics.push(warning('unterminated-quote', `the value ${text.slice(0, 40)} has no closing ${quote}; read up to the end of the line`, at));
      return text.slice(1);
    }
    const rest = text.slice(end + 1).trim();
    if (rest && !rest.startsWith('#')) diagnostics.push(warning('trailing-text', `text after the closing quote is ignored: '${rest.slice(0, 40)}'`, at));
    return text.slice(1, end);
  }
  return text.replace(/\s+#.*$/, '').trim();
}

export function cleanMachineName(written: string): string {
  const cleaned = written.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[-_]+/, '').slice(0, 63);
  return cleaned || 'machine';
}
