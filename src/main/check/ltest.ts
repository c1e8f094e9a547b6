// Netkit's `ltest`: boot a lab that ships `_test/`, run each machine's `_test/<machine>.test` inside
// that machine (the script text travels over the exec channel; it never runs on the host), and compare
// what it printed with `_test/signature/<machine>.user`. Netkit also compared a built-in dump taken
// before the user tests ran (`<machine>.default`: interfaces, routing table, listening ports,
// processes); the routing table and the listening ports are compared here, normalised as
// docs/grading.md explains.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Plan } from '../../shared/plan.ts';
import { UserError } from '../errors.ts';
import { planLab } from '../runtime/prepare.ts';
import { writeFileAtomic } from '../lab/atomic.ts';
import { deriveMac } from '../compiler/names.ts';
import { canonicalAddress } from './ip.ts';
import { describeRoute, parseInterfaces, parseListening, parseRoutes, type RouteEntry } from './parsers.ts';
import { openGradedLab, type OpenOptions } from './session.ts';

export interface LtestOptions extends Omit<OpenOptions, 'ephemeral'> {
  /** Write signatures from this run instead of comparing with them. */
  makeSignature?: boolean;
  /** How long one machine's test script may run. */
  scriptTimeoutMs?: number;
}

export interface SectionResult {
  /** Absent when the lab has no signature for it. */
  expected?: string[];
  actual: string[];
  /** Unified-style lines (` `, `-` expected, `+` got); empty when they match. */
  diff: string[];
}

export interface MachineLtest {
  machine: string;
  user?: SectionResult;
  routes?: SectionResult;
  ports?: SectionResult;
  /** The test script was still running when its time was up (its output so far is compared). */
  timedOut?: boolean;
  passed: boolean;
}

export interface LtestReport {
  lab: string;
  machines: MachineLtest[];
  passed: boolean;
  /** With makeSignature: the files written, relative to the lab. */
  written: string[];
}

const DEFAULT_SCRIPT_TIMEOUT_MS = 300_000;
/** Netkit's test scripts end with `halt`; here the lab is stopped by the grader, not by the script. */
const SCRIPT_PRELUDE = 'halt() { :; }; poweroff() { :; }; reboot() { :; }\n';
const DUMP_COMMAND = [
  "echo '#routes'; ip route show 2>/dev/null || route -n",
  "echo '#tcp'; ss -ltn 2>/dev/null || netstat -ltn",
  "echo '#udp'; ss -lun 2>/dev/null || netstat -lun",
  "echo '#addr'; ip addr show",
].join('\n');
/** Netkit's filesystem always ran portmap (rpcbind) on port 111; vnetlab's images do not. */
const PORTMAP_PORT = 111;

export async function runLtest(labPath: string, options: LtestOptions = {}): Promise<LtestReport> {
  const env = options.env ?? process.env;
  const { model } = await planLab(labPath, { env });
  const testDir = join(model.root, model.testFolder ?? '_test');
  if (!existsSync(testDir) || !statSync(testDir).isDirectory()) {
    throw new UserError(`the lab ${model.meta.name} has no _test folder`, 2, 'ltest needs _test/<machine>.test scripts (Netkit layout); write them first, then run with --make-signature');
  }
  const signatureDir = join(testDir, 'signature');
  if (!options.makeSignature && !existsSync(signatureDir)) {
    throw new UserError(`${relative(model.root, signatureDir)} does not exist`, 2, 'record the signatures of a known-good lab first: vnetlab check --ltest --make-signature');
  }
  const scripts = new Map<string, string>();
  for (const machine of model.machines) {
    const script = join(testDir, `${machine.name}.test`);
    if (existsSync(script)) scripts.set(machine.name, readFileSync(script, 'utf8').replace(/\r\n/g, '\n'));
  }

  const lab = await openGradedLab(labPath, { ...options, useRunning: options.useRunning ?? false });
  const outputs = new Map<string, { user?: string; timedOut?: boolean; dump: string }>();
  try {
    // The built-in dump first, then the user tests: the order of the Netkit that recorded the corpus's
    // signatures (netkit-lab_rip's .default has no RIP routes, no zebra/ripd and no running test
    // script, while its .user shows `service quagga start` and the RIP routes it brought).
    await Promise.all(
      model.machines.map(async (machine) => {
        const dump = await lab.executor.exec(machine.name, DUMP_COMMAND, { timeoutMs: 30_000, guestShell: true });
        outputs.set(machine.name, { dump: dump.stdout });
      }),
    );
    // Every machine runs its script at the same time, as in Netkit: the scripts ping each other.
    await Promise.all(
      model.machines.map(async (machine) => {
        const script = scripts.get(machine.name);
        if (script === undefined) return;
        const user = await lab.executor.exec(machine.name, SCRIPT_PRELUDE + script, { timeoutMs: options.scriptTimeoutMs ?? DEFAULT_SCRIPT_TIMEOUT_MS, guestShell: true });
        Object.assign(outputs.get(machine.name)!, { user: user.stdout, timedOut: user.timedOut });
      }),
    );
  } finally {
    await lab.close();
  }

  const dumps = new Map([...outputs].map(([name, o]) => [name, splitDump(o.dump)]));
  const macToNetkit = netkitMacs(lab.plan, [...dumps.values()].map((d) => d.addr));
  const report: LtestReport = { lab: model.meta.name, machines: [], passed: true, written: [] };
  for (const machine of model.machines) {
    const output = outputs.get(machine.name)!;
    const dump = dumps.get(machine.name)!;
    const routes = parseRoutes(dump.routes);
    const ports = portLines(dump.tcp, 'tcp').concat(portLines(dump.udp, 'udp'));
    if (options.makeSignature) {
      if (output.user !== undefined) {
        // Recorded with Netkit's MACs (see netkitMacs), so the signature reads the same under Netkit.
        await writeFileAtomic(join(signatureDir, `${machine.name}.user`), withNetkitMacs(output.user, macToNetkit));
        report.written.push(relative(model.root, join(signatureDir, `${machine.name}.user`)));
      }
      await writeFileAtomic(join(signatureDir, `${machine.name}.default`), formatDefaultSignature(routes, dump.tcp, dump.udp));
      report.written.push(relative(model.root, join(signatureDir, `${machine.name}.default`)));
      continue;
    }
    const result: MachineLtest = { machine: machine.name, passed: true, ...(output.timedOut ? { timedOut: true } : {}) };
    const userFile = join(signatureDir, `${machine.name}.user`);
    if (output.user !== undefined) {
      const expected = existsSync(userFile) ? normaliseUser(readFileSync(userFile, 'utf8'), macToNetkit) : undefined;
      result.user = section(expected, normaliseUser(output.user, macToNetkit));
    }
    const defaultFile = join(signatureDir, `${machine.name}.default`);
    if (existsSync(defaultFile)) {
      const signature = parseDefaultSignature(readFileSync(defaultFile, 'utf8'));
      result.routes = section(routeLines(parseRoutes(signature.routes)), routeLines(routes));
      result.ports = section(portLines(signature.ports, undefined), ports);
    }
    result.passed = [result.user, result.routes, result.ports].every((s) => !s || s.diff.length === 0);
    report.passed &&= result.passed;
    report.machines.push(result);
  }
  return report;
}

function section(expected: string[] | undefined, actual: string[]): SectionResult {
  if (!expected) return { actual, diff: [] };
  return { expected, actual, diff: lineDiff(expected, actual) };
}

// -------------------------------------------------------------------------------------- normalising

/**
 * What differs between Netkit's 2.6 guests and these 6.1 guests without being the student's doing:
 * column padding, trailing blanks, MAC addresses the kernel chose (see netkitMacs), and the `ping: `
 * that newer iputils put before its errors (Netkit's: `connect: Network is unreachable`; bookworm's:
 * `ping: connect: Network is unreachable`), dropped on both sides.
 */
export function normaliseUser(text: string, macToNetkit: Map<string, string>): string[] {
  const lines = withNetkitMacs(text.replace(/\r\n/g, '\n'), macToNetkit)
    .split('\n')
    .map((line) => line.replace(/\s+/g, ' ').trim().replace(/^ping: /, ''));
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Every MAC in lowercase, and those vnetlab chose replaced by the ones Netkit would have chosen. */
export function withNetkitMacs(text: string, macToNetkit: Map<string, string>): string {
  return text.replace(/\b[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}\b/g, (mac) => macToNetkit.get(mac.toLowerCase()) ?? mac.toLowerCase());
}

/**
 * Netkit's UML gave an interface without a fixed MAC the address `fe:fd:` + its IPv4 address; vnetlab
 * derives one from the lab and machine names. Where a guest still has vnetlab's MAC, it is read as the
 * MAC Netkit would have given, so signatures recorded under Netkit keep matching.
 */
export function netkitMacs(plan: Plan, addrDumps: string[]): Map<string, string> {
  // Only the MACs vnetlab derived: a MAC the lab set (lab.conf, or its startup script) stays as it is.
  const planned = new Set(
    plan.guests.flatMap((g) => g.interfaces.filter((i) => i.mac.toLowerCase() === deriveMac(plan.lab.name, g.name, Number(i.name.slice(3)))).map((i) => i.mac.toLowerCase())),
  );
  const map = new Map<string, string>();
  for (const dump of addrDumps) {
    for (const iface of parseInterfaces(dump)) {
      const ipv4 = iface.addresses.find((a) => a.family === 'inet');
      if (!iface.mac || !planned.has(iface.mac) || !ipv4) continue;
      map.set(iface.mac, `fe:fd:${ipv4.address.split('.').map((o) => Number(o).toString(16).padStart(2, '0')).join(':')}`);
    }
  }
  return map;
}

function splitDump(dump: string): { routes: string; tcp: string; udp: string; addr: string } {
  const parts: Record<string, string[]> = { routes: [], tcp: [], udp: [], addr: [] };
  let current: string[] | undefined;
  for (const line of dump.split('\n')) {
    const marker = /^#(routes|tcp|udp|addr)$/.exec(line);
    if (marker) current = parts[marker[1]!];
    else current?.push(line);
  }
  return { routes: parts.routes!.join('\n'), tcp: parts.tcp!.join('\n'), udp: parts.udp!.join('\n'), addr: parts.addr!.join('\n') };
}

function routeLines(routes: RouteEntry[]): string[] {
  return routes.map(describeRoute).sort();
}

/** `tcp *:80`: protocol and local address; any-address forms (0.0.0.0, ::, *) are one; portmap is left out. */
function portLines(text: string, protocol: 'tcp' | 'udp' | undefined): string[] {
  const lines = new Set<string>();
  for (const line of text.split('\n')) {
    const proto = protocol ?? /^(tcp|udp)/.exec(line.trim())?.[1];
    if (!proto) continue;
    for (const socket of parseListening(line)) {
      if (socket.port === PORTMAP_PORT) continue;
      const any = ['0.0.0.0', '*', '::', ''].includes(socket.address);
      lines.add(`${proto} ${any ? '*' : canonicalAddress(socket.address) ?? socket.address}:${socket.port}`);
    }
  }
  return [...lines].sort();
}

function parseDefaultSignature(text: string): { routes: string; ports: string } {
  const sections: Record<string, string[]> = {};
  let current: string[] | undefined;
  for (const line of text.replace(/\r\n/g, '\n').split('\n')) {
    const header = /^\[(.+)\]$/.exec(line.trim());
    if (header) sections[header[1]!] = current = [];
    else current?.push(line);
  }
  // Netkit's routing table is `route -n` without its two header lines: give the parser its header back.
  const routes = ['Destination Gateway Genmask Flags Metric Ref Use Iface', ...(sections['ROUTING TABLE'] ?? [])].join('\n');
  return { routes, ports: (sections['LISTENING PORTS'] ?? []).join('\n') };
}

/** A `.default` signature in Netkit's layout; the sections vnetlab does not compare are left empty. */
function formatDefaultSignature(routes: RouteEntry[], tcp: string, udp: string): string {
  const table = routes
    .filter((r) => !r.prefix.includes(':'))
    .map((r) => {
      const [network, length] = r.prefix.split('/');
      const mask = Number(length) === 0 ? 0 : (0xffffffff << (32 - Number(length))) >>> 0;
      const maskText = [24, 16, 8, 0].map((s) => (mask >>> s) & 0xff).join('.');
      const gateway = r.via[0] ?? '0.0.0.0';
      const flags = `U${r.via.length ? 'G' : ''}${length === '32' ? 'H' : ''}`;
      return `${network!.padEnd(16)}${gateway.padEnd(16)}${maskText.padEnd(16)}${flags.padEnd(6)}0      0        0 ${r.devs[0] ?? ''}`;
    })
    .sort();
  const ports = [...tcp.split('\n'), ...udp.split('\n')].filter((l) => /^(tcp|udp)/.test(l.trim())).sort();
  return ['[NETWORK INTERFACES]', '', '[ROUTING TABLE]', ...table, '', '[LISTENING PORTS]', ...ports, '[PROCESSES]', ''].join('\n');
}

// --------------------------------------------------------------------------------------------- diff

/** A line diff (longest common subsequence) with two lines of context around each change. */
export function lineDiff(expected: string[], actual: string[], context = 2): string[] {
  const n = expected.length;
  const m = actual.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i]![j] = expected[i] === actual[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const ops: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && expected[i] === actual[j]) {
      ops.push(`  ${expected[i++]}`);
      j++;
    } else if (i < n && (j === m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) ops.push(`- ${expected[i++]}`);
    else ops.push(`+ ${actual[j++]}`);
  }
  if (!ops.some((o) => !o.startsWith(' '))) return [];
  const keep = ops.map((o, k) => ops.slice(Math.max(0, k - context), k + context + 1).some((near) => !near.startsWith(' ')));
  const out: string[] = [];
  ops.forEach((o, k) => {
    if (keep[k]) out.push(o);
    else if (k === 0 || keep[k - 1]) out.push('  …');
  });
  return out;
}

export function formatLtestReport(report: LtestReport): string {
  if (report.written.length) return `Wrote ${report.written.length} signature file(s):\n${report.written.map((f) => `  ${f}`).join('\n')}\n`;
  const lines: string[] = [];
  for (const m of report.machines) {
    lines.push(`${m.passed ? '✔' : '✘'} ${m.machine}${m.timedOut ? ' (its test script did not finish in time; compared what it printed)' : ''}`);
    const parts: [string, SectionResult | undefined][] = [
      ['user test output', m.user],
      ['routing table', m.routes],
      ['listening ports', m.ports],
    ];
    for (const [name, s] of parts) {
      if (!s) continue;
      if (!s.expected) lines.push(`    ${name}: no signature to compare with`);
      else if (s.diff.length) lines.push(`    ${name} differs (- signature, + this run):`, ...s.diff.map((d) => `      ${d}`));
    }
  }
  const failed = report.machines.filter((m) => !m.passed).length;
  lines.push(report.passed ? `All ${report.machines.length} machines match their signatures.` : `${failed} of ${report.machines.length} machines differ from their signatures.`);
  return `${lines.join('\n')}\n`;
}
