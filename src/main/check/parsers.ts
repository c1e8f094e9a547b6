// Parsers for what guest tools print. Each one accepts every dialect a guest may have: iproute2's
// `ip -j` JSON, iproute2 and busybox text, net-tools/busybox `route -n` and `netstat`, `ss`, iputils and
// busybox `ping`, `dig +short` and busybox/BIND `nslookup`, curl and busybox `wget -S`.
// Fixtures in test/check/fixtures/ are real outputs of those tools.
import { canonicalAddress, canonicalPrefix, netmaskToLength } from './ip.ts';

// ---------------------------------------------------------------------------------------------- routes

export interface RouteEntry {
  /** Canonical `network/len` (`0.0.0.0/0` for default). */
  prefix: string;
  /** Gateways (several for a multipath route); empty for a directly connected route. */
  via: string[];
  devs: string[];
  /** `unreachable`, `blackhole`, `prohibit`… when the route is not a unicast route. */
  type?: string;
}

const ROUTE_TYPES = new Set(['unicast', 'unreachable', 'blackhole', 'prohibit', 'local', 'broadcast', 'throw', 'nat', 'anycast', 'multicast']);

export function parseRoutes(output: string, ipv6 = false): RouteEntry[] {
  const text = output.trim();
  if (text.startsWith('[')) return parseRoutesJson(text, ipv6);
  if (/^Kernel IP(v6)? routing table/m.test(text) || /^Destination\s+Gateway/m.test(text)) return parseRouteDashN(text);
  return parseRoutesText(text, ipv6);
}

interface JsonRoute {
  dst?: string;
  type?: string;
  gateway?: string;
  via?: { host?: string };
  dev?: string;
  nexthops?: { gateway?: string; via?: { host?: string }; dev?: string }[];
}

function parseRoutesJson(text: string, ipv6: boolean): RouteEntry[] {
  const routes = JSON.parse(text) as JsonRoute[];
  return routes.flatMap((r) => {
    const prefix = canonicalPrefix(r.dst ?? '', ipv6);
    if (!prefix) return [];
    const hops = r.nexthops?.length ? r.nexthops : [r];
    const via = hops.map((h) => h.gateway ?? h.via?.host).filter((g): g is string => !!g).map((g) => canonicalAddress(g) ?? g);
    const devs = hops.map((h) => h.dev).filter((d): d is string => !!d);
    return [{ prefix, via, devs, ...(r.type && r.type !== 'unicast' ? { type: r.type } : {}) }];
  });
}

/** `ip route show` text, iproute2 or busybox; `nexthop` lines (indented) belong to the route above. */
function parseRoutesText(text: string, ipv6: boolean): RouteEntry[] {
  const routes: RouteEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const tokens = line.trim().split(/\s+/);
    const last = routes[routes.length - 1];
    if (/^\s/.test(line) && tokens[0] === 'nexthop' && last) {
      const hop = keyValues(tokens.slice(1));
      if (hop.via) last.via.push(canonicalAddress(hop.via) ?? hop.via);
      if (hop.dev && !last.devs.includes(hop.dev)) last.devs.push(hop.dev);
      continue;
    }
    let type: string | undefined;
    if (ROUTE_TYPES.has(tokens[0]!)) type = tokens.shift();
    const prefix = canonicalPrefix(tokens[0] ?? '', ipv6);
    if (!prefix) continue;
    const fields = keyValues(tokens.slice(1));
    routes.push({
      prefix,
      via: fields.via ? [canonicalAddress(fields.via) ?? fields.via] : [],
      devs: fields.dev ? [fields.dev] : [],
      ...(type && type !== 'unicast' ? { type } : {}),
    });
  }
  return routes;
}

function keyValues(tokens: string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < tokens.length; i++) {
    const key = tokens[i]!;
    if (key === 'via' || key === 'dev' || key === 'src' || key === 'proto') {
      // `via inet6 fe80::1` names the family first.
      const value = tokens[i + 1] === 'inet' || tokens[i + 1] === 'inet6' ? tokens[++i + 1] : tokens[i + 1];
      if (value !== undefined) fields[key] = value;
      i++;
    }
  }
  return fields;
}

/** net-tools / busybox `route -n`: Destination Gateway Genmask Flags Metric Ref Use Iface. */
function parseRouteDashN(text: string): RouteEntry[] {
  return text.split('\n').flatMap((line) => {
    const [dst, gateway, mask, flags, , , , dev] = line.trim().split(/\s+/);
    if (!dst || !gateway || !mask || !flags || !canonicalAddress(dst) || !canonicalAddress(mask)) return [];
    const prefix = canonicalPrefix(`${dst}/${netmaskToLength(mask)}`);
    if (!prefix) return [];
    const hasGateway = flags.includes('G') && gateway !== '0.0.0.0';
    return [{ prefix, via: hasGateway ? [gateway] : [], devs: dev ? [dev] : [], ...(flags.includes('!') ? { type: 'unreachable' } : {}) }];
  });
}

/** One route as `ip route` would print it, for messages: `default via 10.0.1.1 dev eth0`. */
export function describeRoute(route: RouteEntry): string {
  const prefix = route.prefix === '0.0.0.0/0' || route.prefix === '::/0' ? 'default' : route.prefix;
  return [route.type, prefix, ...route.via.map((v) => `via ${v}`), ...[...new Set(route.devs)].map((d) => `dev ${d}`)].filter(Boolean).join(' ');
}

// ------------------------------------------------------------------------------------------ interfaces

export interface InterfaceInfo {
  name: string;
  flags: string[];
  /** Administratively up (the `UP` flag). */
  up: boolean;
  /** Kernel operational state when the tool prints it (`UP`, `DOWN`, `UNKNOWN`, `LOWERLAYERDOWN`). */
  operstate?: string;
  mac?: string;
  addresses: { address: string; prefixLength: number; family: 'inet' | 'inet6' }[];
}

export function parseInterfaces(output: string): InterfaceInfo[] {
  const text = output.trim();
  if (text.startsWith('[')) return parseInterfacesJson(text);
  const interfaces: InterfaceInfo[] = [];
  for (const line of text.split('\n')) {
    const header = /^\d+:\s+([^:@\s]+)(?:@\S+)?:\s+<([^>]*)>(.*)$/.exec(line);
    if (header) {
      const flags = header[2]!.split(',').filter(Boolean);
      const state = /\bstate\s+(\S+)/.exec(header[3]!);
      interfaces.push({ name: header[1]!, flags, up: flags.includes('UP'), ...(state ? { operstate: state[1] } : {}), addresses: [] });
      continue;
    }
    const current = interfaces[interfaces.length - 1];
    if (!current) continue;
    const link = /^\s+link\/\S+\s+([0-9a-fA-F:]{17})/.exec(line);
    if (link) current.mac = link[1]!.toLowerCase();
    const inet = /^\s+(inet6?)\s+([^\s/]+)\/(\d+)/.exec(line);
    if (inet) {
      current.addresses.push({ family: inet[1] as 'inet' | 'inet6', address: canonicalAddress(inet[2]!) ?? inet[2]!, prefixLength: Number(inet[3]) });
    }
  }
  return interfaces;
}

interface JsonInterface {
  ifname: string;
  flags?: string[];
  operstate?: string;
  address?: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

function parseInterfacesJson(text: string): InterfaceInfo[] {
  return (JSON.parse(text) as JsonInterface[]).map((i) => ({
    name: i.ifname,
    flags: i.flags ?? [],
    up: (i.flags ?? []).includes('UP'),
    ...(i.operstate ? { operstate: i.operstate } : {}),
    ...(i.address ? { mac: i.address.toLowerCase() } : {}),
    addresses: (i.addr_info ?? [])
      .filter((a) => a.family === 'inet' || a.family === 'inet6')
      .map((a) => ({ family: a.family as 'inet' | 'inet6', address: canonicalAddress(a.local) ?? a.local, prefixLength: a.prefixlen })),
  }));
}

// ------------------------------------------------------------------------------------ listening ports

export interface ListeningSocket {
  address: string;
  port: number;
}

/** `ss -ltn`/`ss -lun` (with or without header) and `netstat -ltn`/`-lun` (net-tools or busybox). */
export function parseListening(output: string): ListeningSocket[] {
  const sockets: ListeningSocket[] = [];
  for (const line of output.split('\n')) {
    const tokens = line.trim().split(/\s+/);
    // Both tools print the local address as the 4th column: `LISTEN 0 9 10.0.1.2:80 …`, `tcp 0 0 10.0.1.2:80 …`.
    if (!/^(LISTEN|UNCONN|tcp6?|udp6?)$/.test(tokens[0] ?? '')) continue;
    const local = /^(.*):(\d+)$/.exec(tokens[3] ?? '');
    if (!local) continue;
    sockets.push({ address: local[1]!.replace(/^\[|\]$/g, '').replace(/%.*$/, ''), port: Number(local[2]) });
  }
  return sockets;
}

// ------------------------------------------------------------------------------------------------ ping

export interface PingSummary {
  transmitted?: number;
  received?: number;
  /** The tool's own complaint, e.g. `bad address 'x'`, `Network is unreachable`. */
  error?: string;
}

export function parsePing(output: string): PingSummary {
  const stats = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(output);
  const complaint = output
    .split('\n')
    .map((l) => l.trim())
    .find((l) => /^ping6?:/.test(l) || /unknown host|bad address|unreachable|Name or service not known|Temporary failure/i.test(l));
  return {
    ...(stats ? { transmitted: Number(stats[1]), received: Number(stats[2]) } : {}),
    ...(complaint ? { error: complaint.replace(/^ping6?:\s*/, '') } : {}),
  };
}

// ------------------------------------------------------------------------------------------------- dns

export interface DnsAnswer {
  /** Answers as printed (lowercase, no trailing dot): addresses, names, `10 mx.example.org` for MX. */
  answers: string[];
  /** A resolver error in words: `NXDOMAIN`, `no servers could be reached`. */
  error?: string;
}

/** Output of the dns probe: `#dig` then `dig +short` lines, or `#fallback` then `nslookup` output. */
export function parseDns(output: string): DnsAnswer {
  const [marker = '', ...rest] = output.replace(/\r/g, '').split('\n');
  return marker.trim() === '#dig' ? parseDigShort(rest) : parseNslookup(rest);
}

function normaliseName(text: string): string {
  const trimmed = text.trim().replace(/\s+/g, ' ').toLowerCase();
  return canonicalAddress(trimmed) ?? trimmed.replace(/\.$/, '');
}

function parseDigShort(lines: string[]): DnsAnswer {
  const error = lines.find((l) => l.startsWith(';;'));
  const answers = lines.filter((l) => l.trim() && !l.startsWith(';')).map(normaliseName);
  return { answers, ...(error && answers.length === 0 ? { error: error.replace(/^;;\s*/, '') } : {}) };
}

function parseNslookup(lines: string[]): DnsAnswer {
  // The first block names the server that answered (`Server:` / `Address: 10.0.0.1#53`): skip it.
  const firstBlank = lines.findIndex((l, i) => i > 0 && !l.trim());
  const answerLines = lines.slice(firstBlank >= 0 ? firstBlank : 0);
  const answers: string[] = [];
  for (const line of answerLines) {
    const address = /^Address(?:\s+\d+)?:\s*(\S+)/.exec(line);
    const named = /(?:mail exchanger|canonical name|nameserver|name)\s*=\s*(.+)$/.exec(line);
    if (address) answers.push(normaliseName(address[1]!.replace(/#\d+$/, '')));
    else if (named) answers.push(normaliseName(named[1]!));
  }
  const error = lines.map((l) => l.trim()).find((l) => /^\*\*|can't find|NXDOMAIN|timed out|no servers/i.test(l));
  return { answers, ...(error && answers.length === 0 ? { error: error.replace(/^\*+\s*/, '') } : {}) };
}

// ------------------------------------------------------------------------------------------------ http

export interface HttpResponse {
  /** Final status code; undefined when no response arrived. */
  status?: number;
  body: string;
  /** The client's complaint when there was no response: `Connection refused`, … */
  error?: string;
}

export const HTTP_HEADERS_MARKER = 'VNL_HEADERS';
export const HTTP_BODY_MARKER = 'VNL_BODY';

/** Output of the http probe: `VNL_STATUS <code>` (curl), the client's stderr after `VNL_HEADERS` (wget -S headers), the body after `VNL_BODY`. */
export function parseHttp(output: string): HttpResponse {
  const headersAt = output.indexOf(`${HTTP_HEADERS_MARKER}\n`);
  const bodyAt = output.indexOf(`${HTTP_BODY_MARKER}\n`);
  const head = output.slice(0, headersAt >= 0 ? headersAt : output.length);
  const headers = headersAt >= 0 ? output.slice(headersAt + HTTP_HEADERS_MARKER.length + 1, bodyAt >= 0 ? bodyAt : output.length) : '';
  const body = bodyAt >= 0 ? output.slice(bodyAt + HTTP_BODY_MARKER.length + 1) : '';
  const curlStatus = /VNL_STATUS (\d{3})/.exec(head);
  // wget -S prints every response of a redirect chain; the last status line is the final one.
  const wgetStatuses = [...headers.matchAll(/^\s*HTTP\/[\d.]+\s+(\d{3})/gm)];
  const status = curlStatus && curlStatus[1] !== '000' ? Number(curlStatus[1]) : wgetStatuses.length ? Number(wgetStatuses[wgetStatuses.length - 1]![1]) : undefined;
  const complaint = headers
    .split('\n')
    .map((l) => l.trim())
    .find((l) => /^(curl|wget):/.test(l) && !/server returned error/.test(l));
  return { ...(status !== undefined ? { status } : {}), body, ...(status === undefined && complaint ? { error: complaint } : {}) };
}
