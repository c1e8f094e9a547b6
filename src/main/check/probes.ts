// One probe per check kind: the shell command that observes the guest, and the judgement of its
// output against the check, with a reason a student understands (expected vs got). Commands and
// judgements are pure, so they are tested against real captured outputs without booting anything.
import type { Check, CheckKind } from '../../shared/checks.ts';
import type { ExecResult } from '../../shared/runtime-api.ts';
import { compileLabRegex, type LabRegex, RegexProblem } from '../lab/regex.ts';
import { canonicalAddress, canonicalPrefix, isIpv6Text } from './ip.ts';
import {
  describeRoute,
  HTTP_BODY_MARKER,
  HTTP_HEADERS_MARKER,
  parseDns,
  parseHttp,
  parseInterfaces,
  parseListening,
  parsePing,
  parseRoutes,
} from './parsers.ts';
import { jsonOrFallback, shellQuote, withTool } from './shell.ts';

export interface Verdict {
  passed: boolean;
  /** For a failure: expected vs got. */
  reason?: string;
  /** Retrying cannot help (a tool is missing, the regex is invalid): stop at once. */
  final?: boolean;
}

export interface ProbeContext {
  /** Lab machine names → an address the lab gives them, so `reach: {to: pc2}` works without /etc/hosts. */
  hosts: Record<string, string>;
}

type CheckOf<K extends CheckKind> = Extract<Check, { kind: K }>;

interface Probe<K extends CheckKind> {
  /** The machine the probe runs on. */
  machine(check: CheckOf<K>): string;
  command(check: CheckOf<K>, context: ProbeContext): string;
  judge(check: CheckOf<K>, result: ExecResult, context: ProbeContext): Verdict;
  /** How long one attempt may take at most before the exec channel kills it. */
  attemptTimeoutMs?(check: CheckOf<K>): number;
}

const FILE_READ_LIMIT = 1 << 20;
const HTTP_BODY_LIMIT = 1 << 16;
const HTTP_TIMEOUT_SEC = 10;

/** The first lines of some output, on one line, for a message. */
export function excerpt(text: string, max = 200): string {
  const flat = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' | ');
  if (!flat) return '(nothing)';
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function list(items: string[], empty = 'none'): string {
  return items.length ? items.join(', ') : empty;
}

/** A shell answering 127 means the tool is not in the guest's image: say so instead of retrying. */
function missingTool(result: ExecResult, machine: string, tool: string): Verdict | undefined {
  if (result.exitCode !== 127) return undefined;
  return { passed: false, final: true, reason: `${tool} is not installed on ${machine} (${excerpt(result.stderr)}); this check needs an image that has it` };
}

/**
 * A check's pattern comes from a lab file: it runs on the linear-time engine (src/main/lab/regex.ts),
 * never on RegExp, whose backtracking can take minutes on one line (and in a classroom worker, every
 * other student's calls with it).
 */
function compileRegex(pattern: string): LabRegex | Verdict {
  try {
    return compileLabRegex(pattern, { multiline: true });
  } catch (err) {
    const what = err instanceof RegexProblem && err.unsupported ? 'cannot be used' : 'is invalid';
    return { passed: false, final: true, reason: `the check's regular expression ${JSON.stringify(pattern)} ${what}: ${(err as Error).message}` };
  }
}

/** Checks `text` against optional contains / matches expectations; `what` names the text in the reason. */
function textExpectations(text: string, what: string, contains: string | undefined, matches: string | undefined): Verdict {
  if (contains !== undefined && !text.includes(contains)) {
    return { passed: false, reason: `${what} does not contain ${JSON.stringify(contains)} (got: ${excerpt(text)})` };
  }
  if (matches !== undefined) {
    const regex = compileRegex(matches);
    if ('passed' in regex) return regex;
    if (!regex.test(text)) return { passed: false, reason: `${what} does not match /${matches}/ (got: ${excerpt(text)})` };
  }
  return { passed: true };
}

const reach: Probe<'reach'> = {
  machine: (c) => c.from,
  command(c, context) {
    const target = context.hosts[c.to] ?? c.to;
    const count = c.count ?? (c.expect === 'failure' ? 3 : 1);
    // -w bounds the whole run; -W 2 because busybox otherwise waits 10 s for a first reply whatever -w says.
    return `ping -c ${count} -W 2 -w ${count + 2} ${shellQuote(target)} 2>&1`;
  },
  attemptTimeoutMs: (c) => ((c.count ?? 3) + 10) * 1000,
  judge(c, result, context) {
    const missing = missingTool(result, c.from, 'ping');
    if (missing) return missing;
    const target = context.hosts[c.to] ? `${c.to} (${context.hosts[c.to]})` : c.to;
    const ping = parsePing(result.stdout + result.stderr);
    // iputils exits 1 when fewer than `count` replies came back before the deadline; one reply is enough here.
    const replied = ping.received !== undefined ? ping.received > 0 : result.exitCode === 0;
    const tally = ping.transmitted !== undefined ? `${ping.received ?? 0} of ${ping.transmitted} pings answered` : excerpt(ping.error ?? result.stdout + result.stderr);
    if (c.expect === 'success') {
      if (replied) return { passed: true };
      if (ping.error && /bad address|unknown host|not known|resol/i.test(ping.error)) {
        return { passed: false, reason: `${c.from} cannot resolve the name ${c.to} (${ping.error})` };
      }
      if (ping.error && /unreachable/i.test(ping.error)) return { passed: false, reason: `${c.from} has no route to ${target} (${ping.error})` };
      return { passed: false, reason: `${c.from} cannot reach ${target}: ${tally}` };
    }
    if (!replied) return { passed: true };
    return { passed: false, reason: `${c.from} can reach ${target} (${tally}), expected it not to` };
  },
};

const route: Probe<'route'> = {
  machine: (c) => c.on,
  command(c) {
    const family = isIpv6Text(c.prefix) ? '-6 ' : '';
    const fallback = family ? `ip -6 route show` : `ip route show 2>/dev/null || route -n`;
    return jsonOrFallback(`ip -j ${family}route show`, fallback);
  },
  judge(c, result) {
    const missing = missingTool(result, c.on, 'ip');
    if (missing) return missing;
    const ipv6 = isIpv6Text(c.prefix);
    const wanted = canonicalPrefix(c.prefix, ipv6);
    if (!wanted) return { passed: false, final: true, reason: `the check's prefix ${JSON.stringify(c.prefix)} is not an IP prefix` };
    const routes = parseRoutes(result.stdout, ipv6);
    const all = `routes: ${list(routes.map(describeRoute))}`;
    const samePrefix = routes.filter((r) => r.prefix === wanted);
    const via = c.via ? canonicalAddress(c.via) ?? c.via : undefined;
    const matching = samePrefix.filter((r) => (!via || r.via.includes(via)) && (!c.dev || r.devs.includes(c.dev)) && !r.type);
    const wantedText = `${c.prefix}${c.via ? ` via ${c.via}` : ''}${c.dev ? ` dev ${c.dev}` : ''}`;
    if (c.expect === 'present') {
      if (matching.length) return { passed: true };
      if (samePrefix.length) {
        return { passed: false, reason: `${c.on} routes ${c.prefix} as ${list(samePrefix.map(describeRoute))}, expected ${wantedText}` };
      }
      return { passed: false, reason: `${c.on} has no route to ${c.prefix} (${all})` };
    }
    if (!matching.length) return { passed: true };
    return { passed: false, reason: `${c.on} has a route ${list(matching.map(describeRoute))}, expected no route to ${wantedText}` };
  },
};

const iface: Probe<'interface'> = {
  machine: (c) => c.on,
  command: (c) => jsonOrFallback(`ip -j addr show dev ${shellQuote(c.name)}`, `ip addr show dev ${shellQuote(c.name)} 2>&1`),
  judge(c, result) {
    const missing = missingTool(result, c.on, 'ip');
    if (missing) return missing;
    const found = parseInterfaces(result.stdout).find((i) => i.name === c.name);
    if (!found) return { passed: false, reason: `${c.on} has no interface ${c.name} (${excerpt(result.stdout + result.stderr)})` };
    const problems: string[] = [];
    if (c.state && (c.state === 'up') !== found.up) {
      problems.push(`${c.name} is ${found.up ? 'up' : 'down'}, expected ${c.state}`);
    }
    if (c.mac && found.mac !== c.mac.toLowerCase()) problems.push(`MAC is ${found.mac ?? 'none'}, expected ${c.mac.toLowerCase()}`);
    if (c.address) {
      const [addressText, lengthText] = c.address.split('/');
      const address = canonicalAddress(addressText ?? '') ?? addressText;
      const has = found.addresses.some((a) => a.address === address && (lengthText === undefined || a.prefixLength === Number(lengthText)));
      if (!has) {
        const got = found.addresses.filter((a) => !a.address.startsWith('fe80:')).map((a) => `${a.address}/${a.prefixLength}`);
        problems.push(`${c.name} has no address ${c.address} (addresses: ${list(got)})`);
      }
    }
    return problems.length ? { passed: false, reason: `on ${c.on}: ${problems.join('; ')}` } : { passed: true };
  },
};

const command: Probe<'command'> = {
  machine: (c) => c.on,
  command: (c) => c.run,
  judge(c, result) {
    const nothingElse = c.stdoutContains === undefined && c.stdoutMatches === undefined;
    const expectedExit = c.exitCode ?? (nothingElse ? 0 : undefined);
    if (expectedExit !== undefined && result.exitCode !== expectedExit) {
      const why = result.timedOut ? 'it timed out' : `exit code ${result.exitCode}`;
      return { passed: false, reason: `\`${c.run}\` on ${c.on}: ${why}, expected exit code ${expectedExit} (output: ${excerpt(result.stdout + result.stderr)})` };
    }
    return textExpectations(result.stdout, `the output of \`${c.run}\` on ${c.on}`, c.stdoutContains, c.stdoutMatches);
  },
};

const file: Probe<'file'> = {
  machine: (c) => c.on,
  command: (c) => `if [ -e ${shellQuote(c.path)} ]; then echo VNL_EXISTS; head -c ${FILE_READ_LIMIT} ${shellQuote(c.path)}; else echo VNL_MISSING; fi`,
  judge(c, result) {
    const [marker, ...rest] = result.stdout.split('\n');
    const exists = marker === 'VNL_EXISTS';
    if (marker !== 'VNL_EXISTS' && marker !== 'VNL_MISSING') return { passed: false, reason: `could not read ${c.path} on ${c.on} (${excerpt(result.stderr)})` };
    const wantExists = c.exists ?? true;
    if (exists !== wantExists) return { passed: false, reason: `${c.path} ${exists ? 'exists' : 'does not exist'} on ${c.on}, expected it ${wantExists ? 'to exist' : 'not to'}` };
    if (!exists) return { passed: true };
    return textExpectations(rest.join('\n'), `${c.path} on ${c.on}`, c.contains, c.matches);
  },
};

const listening: Probe<'listening'> = {
  machine: (c) => c.on,
  command(c) {
    const flag = c.protocol === 'tcp' ? '-ltn' : '-lun';
    return withTool('ss', `ss ${flag}`, `netstat ${flag}`);
  },
  judge(c, result) {
    const missing = missingTool(result, c.on, 'ss or netstat');
    if (missing) return missing;
    const sockets = parseListening(result.stdout);
    if (sockets.some((s) => s.port === c.port)) return { passed: true };
    const ports = [...new Set(sockets.map((s) => s.port))].sort((a, b) => a - b).map(String);
    return { passed: false, reason: `nothing listens on ${c.protocol.toUpperCase()} port ${c.port} on ${c.on} (listening: ${list(ports)})` };
  },
};

const dns: Probe<'dns'> = {
  machine: (c) => c.on,
  command(c) {
    const reverse = c.type === 'PTR' && canonicalAddress(c.name);
    const digQuery = reverse ? `-x ${shellQuote(c.name)}` : `-t ${c.type} ${shellQuote(c.name)}`;
    const dig = `dig +short +time=2 +tries=2 ${digQuery}${c.server ? ` @${shellQuote(c.server)}` : ''} 2>&1`;
    const nslookup = `nslookup -type=${c.type} ${shellQuote(c.name)}${c.server ? ` ${shellQuote(c.server)}` : ''} 2>&1`;
    return withTool('dig', dig, nslookup);
  },
  judge(c, result) {
    const missing = missingTool(result, c.on, 'dig or nslookup');
    if (missing) return missing;
    const answer = parseDns(result.stdout);
    const normalise = (t: string) => canonicalAddress(t.trim()) ?? t.trim().toLowerCase().replace(/\.$/, '');
    // An MX answer is `10 mail.example.org`; a check may name only the host.
    const matches = (expected: string) => answer.answers.some((a) => a === normalise(expected) || a.split(' ').pop() === normalise(expected));
    const absent = c.expect.filter((e) => !matches(e));
    if (absent.length === 0 && (c.expect.length > 0 || answer.answers.length > 0)) return { passed: true };
    const query = `${c.type} ${c.name}${c.server ? ` (asking ${c.server})` : ''}`;
    const got = answer.answers.length ? list(answer.answers) : answer.error ?? 'no answer';
    return { passed: false, reason: `${c.on} resolves ${query} to ${got}; expected ${list(c.expect, 'an answer')}` };
  },
};

const http: Probe<'http'> = {
  machine: (c) => c.on,
  command(c) {
    const url = shellQuote(c.url);
    // busybox 1.35 wget crashes with -T, so its timeout comes from `timeout` instead.
    const curl = `curl -sS -L -m ${HTTP_TIMEOUT_SEC} -o "$b" -w 'VNL_STATUS %{http_code}\\n' ${url} 2>"$h"`;
    const wget = `timeout ${HTTP_TIMEOUT_SEC} wget -S -q -O "$b" ${url} 2>"$h"`;
    return [
      'b=$(mktemp) h=$(mktemp)',
      withTool('curl', curl, wget),
      `echo ${HTTP_HEADERS_MARKER}; cat "$h"; echo ${HTTP_BODY_MARKER}; head -c ${HTTP_BODY_LIMIT} "$b"; rm -f "$b" "$h"`,
    ].join('\n');
  },
  attemptTimeoutMs: () => (HTTP_TIMEOUT_SEC + 5) * 1000,
  judge(c, result) {
    const response = parseHttp(result.stdout);
    if (response.status === undefined) {
      return { passed: false, reason: `${c.on} got no HTTP response from ${c.url} (${response.error ?? excerpt(result.stdout + result.stderr)})` };
    }
    const wantStatus = c.status ?? (c.bodyContains === undefined ? 200 : undefined);
    if (wantStatus !== undefined && response.status !== wantStatus) {
      return { passed: false, reason: `${c.url} answered ${c.on} with status ${response.status}, expected ${wantStatus}` };
    }
    return textExpectations(response.body, `the page ${c.url} (as seen from ${c.on})`, c.bodyContains, undefined);
  },
};

const frr: Probe<'frr'> = {
  machine: (c) => c.on,
  command: (c) => `vtysh -c ${shellQuote(c.command)}`,
  judge(c, result) {
    const missing = missingTool(result, c.on, 'vtysh (FRR)');
    if (missing) return missing;
    if (result.exitCode !== 0 && !result.stdout.trim()) {
      // vtysh says which daemon the command needs when it is not running: no retry can change that.
      const down = /^(\w+) is not running/m.exec(result.stderr);
      if (down) return { passed: false, final: true, reason: `${down[1]} is not running on ${c.on}, so "${c.command}" has no answer` };
      return { passed: false, reason: `vtysh -c "${c.command}" failed on ${c.on}: ${excerpt(result.stderr || `exit code ${result.exitCode}`)} (is FRR running?)` };
    }
    return textExpectations(result.stdout, `"${c.command}" on ${c.on}`, c.contains, c.matches);
  },
};

/** Kinds that run a command in a guest; `capture` watches a cable from the host instead (./capture.ts). */
export type GuestCheckKind = Exclude<CheckKind, 'capture'>;

/** Probes by check kind: adding a kind means adding one entry here (and to the schema). */
export const PROBES: { [K in GuestCheckKind]: Probe<K> } = {
  reach,
  route,
  interface: iface,
  command,
  file,
  listening,
  dns,
  http,
  frr,
};

/** The probe of a check that runs in a guest (not a `capture` check, which ./capture.ts runs). */
export function probeFor<K extends GuestCheckKind>(check: CheckOf<K> | Check): Probe<K> {
  const kind = (check as Check).kind;
  if (kind === 'capture') throw new Error('a capture check has no probe in a guest');
  return (PROBES as Record<string, unknown>)[kind] as Probe<K>;
}

/** The machine a check runs on (a capture check: its trigger's machine, else the machine of its cable). */
export function checkMachine(check: Check): string {
  if (check.kind === 'capture') return check.trigger?.on ?? check.cable.split(':')[0]!;
  return probeFor(check).machine(check as never);
}

/** Daemons that change routes by themselves (FRR, Quagga, BIRD): while none runs, a lab's routes stay as they are. */
export const ROUTING_DAEMONS = ['ospfd', 'ospf6d', 'ripd', 'ripngd', 'bgpd', 'isisd', 'eigrpd', 'babeld', 'fabricd', 'bird', 'bird6'];

/** One command per machine: the names of its processes (no tool needed but cat). */
export const PROCESS_NAMES_COMMAND = 'cat /proc/[0-9]*/comm 2>/dev/null';

/** The routing daemons among a machine's process names. */
export function routingDaemonsIn(processNames: string): string[] {
  const names = new Set(processNames.split('\n').map((n) => n.trim()));
  return ROUTING_DAEMONS.filter((d) => names.has(d));
}

/** Kinds whose outcome depends on routes, which only routing daemons change once the lab is up. */
export const ROUTE_DEPENDENT_KINDS: readonly CheckKind[] = ['reach', 'route', 'frr'];
