// A running guest's network state, as data: links (up/down, MAC, MTU), addresses, routes of every
// table, policy rules, net.* sysctls, iptables/ip6tables or nft rules, and the FRR/Quagga running
// config. Read through the exec agent in one round trip (CAPTURE_SCRIPT prints sections, parseNetState
// reads them); re-applied after a restore by a script computed here from the saved state and the state
// the guest booted into (planNetRestore), so only what differs is touched.
//
// Works with busybox's `ip` (the tiny image) and iproute2's (debian). Busybox does not print a route's
// protocol, so a route the kernel made for an address (`10.0.1.0/24 dev eth0 scope link src 10.0.1.1`,
// IPv6 prefix routes of metric 256) is recognised by its shape. Routes installed by routing daemons
// (proto zebra, ospf, bgp…) are not re-added: the daemons' running config is restored and they put
// their routes back themselves.

export interface NetLink {
  name: string;
  mac: string;
  mtu: number;
  up: boolean;
}

export interface NetAddress {
  dev: string;
  family: 4 | 6;
  /** `10.0.1.1/24`. */
  cidr: string;
  scope?: string;
  brd?: string;
  /** A label other than the device's name (`eth0:1`). */
  label?: string;
  flags: string[];
}

export interface NetRoute {
  family: 4 | 6;
  /** The route as `ip route` printed it, on one line, with state-only words removed. */
  spec: string;
  table: string;
  proto?: string;
  /** Made by the kernel (for an address, or the local table): never added or removed by a restore. */
  kernel: boolean;
  /** What identifies it for `ip route del`: type, prefix, table, via, dev, metric. */
  key: string;
}

export interface NetState {
  version: 1;
  links: NetLink[];
  addresses: NetAddress[];
  routes: NetRoute[];
  /** `ip rule` lines other than the three default ones, per family. */
  rules: { family: 4 | 6; spec: string }[];
  /** `net/ipv4/ip_forward` → `1` (paths under /proc/sys, slashes kept: interface names may hold dots). */
  sysctls: Record<string, string>;
  /** iptables-save / ip6tables-save output (comments and counters dropped), or `nft list ruleset`. */
  firewall: { iptables?: string; ip6tables?: string; nft?: string };
  /** `vtysh -c 'show running-config'`, when a routing daemon answers. */
  frr?: string;
}

const MARK = '@@vnl';

/**
 * Runs in the guest's /bin/sh: one exec per machine. `sync` first (snapshot save); built-ins where a
 * fork would cost (forks are slow in UML): `read` for /sys files, one `grep -r` for every sysctl.
 */
export const CAPTURE_SCRIPT = `sync
exec 2>/dev/null
echo '${MARK} link'
for d in /sys/class/net/*; do n=\${d##*/}; read a < "$d/address"; read m < "$d/mtu"; read f < "$d/flags"; echo "$n $a $m $f"; done
echo '${MARK} addr'; ip -o addr show
echo '${MARK} route4'; ip -4 route show table all
echo '${MARK} route6'; ip -6 route show table all
echo '${MARK} rule4'; ip -4 rule show
echo '${MARK} rule6'; ip -6 rule show
echo '${MARK} sysctl'; grep -r . /proc/sys/net
if command -v iptables-save >/dev/null; then echo '${MARK} iptables'; iptables-save; fi
if command -v ip6tables-save >/dev/null; then echo '${MARK} ip6tables'; ip6tables-save; fi
if ! command -v iptables-save >/dev/null && command -v nft >/dev/null; then echo '${MARK} nft'; nft list ruleset; fi
for s in /var/run/frr/*.vty /run/frr/*.vty /var/run/quagga/*.vty; do if [ -S "$s" ] && command -v vtysh >/dev/null; then echo '${MARK} frr'; vtysh -c 'show running-config'; break; fi; done
echo '${MARK} end'
`;

/** Sysctls never compared nor written: read-only, counters, secrets, or one-shot triggers. */
const SYSCTL_SKIP = /(^|\/)(stable_secret|nf_conntrack_count|nf_conntrack_buckets|netdev_rss_key|mc_forwarding|tcp_available_[a-z_]+|flush|hash_[a-z_]+|max_size|gc_[a-z_]+)$|^net\/(core\/(bpf_jit_[a-z_]+|rps_[a-z_]+))/;

/** Protocols of routes that daemons own: their config is restored, not their routes. */
const DAEMON_PROTOS = new Set(['zebra', 'bird', 'ospf', 'rip', 'bgp', 'isis', 'eigrp', 'babel', 'openr', 'sharp', 'pbr', 'openfabric', 'srte', 'ra', 'dhcp', 'redirect', 'gated', 'mrouted', 'xorp', 'ntk', 'dnrouted', 'keepalived', 'bgpd', 'ospfd', 'ripd', 'isisd', ...Array.from({ length: 11 }, (_, i) => String(186 + i))]);

export function parseNetState(output: string): NetState {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of output.split('\n')) {
    if (line.startsWith(`${MARK} `)) {
      const name = line.slice(MARK.length + 1).trim();
      current = [];
      sections.set(name, current);
      continue;
    }
    current?.push(line);
  }
  if (!sections.has('end')) throw new Error('the guest did not print its whole network state');
  const lines = (name: string) => (sections.get(name) ?? []).filter((l) => l.trim() !== '');
  const links: NetLink[] = lines('link').flatMap((l) => {
    const [name, mac, mtu, flags] = l.trim().split(/\s+/);
    if (!name || !mac || !mtu || !flags || name === '*') return [];
    return [{ name, mac: mac.toLowerCase(), mtu: Number(mtu), up: (Number(flags) & 1) === 1 }];
  });
  const addresses = lines('addr').flatMap(parseAddressLine);
  const routes = [...joinContinuations(lines('route4')).flatMap((l) => parseRouteLine(l, 4, addresses)), ...joinContinuations(lines('route6')).flatMap((l) => parseRouteLine(l, 6, addresses))];
  const rules = [...lines('rule4').map((l) => ({ family: 4 as const, spec: l })), ...lines('rule6').map((l) => ({ family: 6 as const, spec: l }))]
    .map((r) => ({ ...r, spec: r.spec.replace(/^\d+:\s*/, (p) => `priority ${p.replace(/[:\s]/g, '')} `).replace(/\s+/g, ' ').trim() }))
    .filter((r) => !/^priority (0|32766|32767) from all lookup (local|main|default)$/.test(r.spec));
  const sysctls: Record<string, string> = {};
  for (const l of lines('sysctl')) {
    const m = /^\/proc\/sys\/(net\/[^:]+):(.*)$/.exec(l);
    if (!m || SYSCTL_SKIP.test(m[1]!)) continue;
    // grep prints a file of several lines once per line: keep them all, in order.
    sysctls[m[1]!] = m[1]! in sysctls ? `${sysctls[m[1]!]}\n${m[2]}` : m[2]!;
  }
  const firewall: NetState['firewall'] = {};
  if (sections.has('iptables')) firewall.iptables = normalizeIptables(lines('iptables'));
  if (sections.has('ip6tables')) firewall.ip6tables = normalizeIptables(lines('ip6tables'));
  if (sections.has('nft')) firewall.nft = lines('nft').join('\n');
  const frr = sections.has('frr') ? normalizeFrr(sections.get('frr')!) : undefined;
  return { version: 1, links, addresses, routes, rules, sysctls, firewall, ...(frr ? { frr } : {}) };
}

function joinContinuations(lines: string[]): string[] {
  const out: string[] = [];
  for (const l of lines) {
    if (/^\s/.test(l) && out.length) out[out.length - 1] += ` ${l.trim()}`;
    else out.push(l);
  }
  return out;
}

function parseAddressLine(line: string): NetAddress[] {
  // `2: eth0    inet 10.0.1.1/24 brd 10.0.1.255 scope global eth0\       valid_lft forever …`
  const head = line.split('\\')[0]!;
  const m = /^\d+:\s+(\S+)\s+(inet6?)\s+(\S+)(.*)$/.exec(head.trim());
  if (!m) return [];
  const dev = m[1]!.replace(/@.*$/, '');
  const words = m[4]!.trim().split(/\s+/).filter(Boolean);
  const address: NetAddress = { dev, family: m[2] === 'inet6' ? 6 : 4, cidr: m[3]!.includes('/') ? m[3]! : `${m[3]}/${m[2] === 'inet6' ? 128 : 32}`, flags: [] };
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === 'brd') address.brd = words[++i];
    else if (w === 'scope') address.scope = words[++i];
    else if (w === 'peer') i++;
    else if (w === 'metric') i++;
    else if (i === words.length - 1 && w !== dev && /^[\w.:-]+$/.test(w) && !['secondary', 'dynamic', 'noprefixroute', 'tentative', 'deprecated', 'dadfailed', 'permanent', 'temporary', 'mngtmpaddr', 'nodad', 'optimistic', 'home', 'autojoin'].includes(w)) address.label = w;
    else if (w !== dev) address.flags.push(w);
  }
  return [address];
}

/** Words that describe a route's current state, not what was configured. */
const STATE_WORDS = new Set(['linkdown', 'dead', 'offload', 'trap', 'rt_offload', 'rt_trap', 'rt_offload_failed', 'onlink_dead', 'cache', 'notify', 'pervasive']);

function parseRouteLine(line: string, family: 4 | 6, addresses: NetAddress[]): NetRoute[] {
  const words = line.trim().split(/\s+/);
  if (!words.length || !words[0]) return [];
  const types = ['unicast', 'local', 'broadcast', 'multicast', 'anycast', 'unreachable', 'blackhole', 'prohibit', 'throw', 'nat'];
  let type = 'unicast';
  let i = 0;
  if (types.includes(words[0]!)) type = words[i++]!;
  const prefix = words[i++];
  if (!prefix) return [];
  const kept: string[] = type === 'unicast' ? [prefix] : [type, prefix];
  const fields: Record<string, string> = {};
  for (; i < words.length; i++) {
    const w = words[i]!;
    if (STATE_WORDS.has(w)) continue;
    if (w === 'expires') {
      i++;
      continue;
    }
    if (['via', 'dev', 'table', 'proto', 'scope', 'src', 'metric', 'mtu', 'advmss', 'realm', 'pref', 'weight', 'nexthop', 'hoplimit', 'initcwnd', 'initrwnd', 'from', 'tos', 'nhid'].includes(w) && i + 1 < words.length) {
      const value = w === 'via' && (words[i + 1] === 'inet' || words[i + 1] === 'inet6') ? `${words[++i]} ${words[i + 1]}` : words[i + 1]!;
      if (w === 'nexthop') {
        kept.push(w);
        continue;
      }
      fields[w] ??= value.split(' ').pop()!;
      kept.push(w, value);
      i++;
      continue;
    }
    kept.push(w);
  }
  const table = fields.table ?? 'main';
  const proto = fields.proto;
  const onLinkOf = (dev: string) => addresses.filter((a) => a.dev === dev && a.family === family);
  let kernel = table === 'local' || proto === 'kernel' || type === 'local' || type === 'broadcast' || (type === 'multicast' && family === 6);
  if (!kernel && proto === undefined && fields.dev && !fields.via) {
    // busybox hides the protocol: a kernel route is the network of an address of that device, as the kernel adds it.
    const own = onLinkOf(fields.dev).some((a) => networkOf(a.cidr) === networkOf(prefix === 'default' ? (family === 4 ? '0.0.0.0/0' : '::/0') : prefix));
    if (family === 4 && own && fields.src && fields.scope === 'link') kernel = true;
    if (family === 6 && (own || prefix === 'fe80::/64') && (fields.metric === '256' || fields.metric === undefined)) kernel = true;
  }
  const key = [family === 6 ? '-6' : '-4', type === 'unicast' ? '' : type, prefix, `table ${table}`, fields.via ? `via ${fields.via}` : '', fields.dev ? `dev ${fields.dev}` : '', fields.metric && !(family === 6 && fields.metric === '1024') ? `metric ${fields.metric}` : '']
    .filter(Boolean)
    .join(' ');
  return [{ family, spec: kept.join(' '), table, ...(proto ? { proto } : {}), kernel, key }];
}

/** `10.0.1.1/24` → `10.0.1.0/24` (IPv4 and IPv6), for comparing an address with a route's prefix. */
export function networkOf(cidr: string): string {
  const [addr, lenText] = cidr.split('/');
  if (!addr) return cidr;
  if (addr.includes(':')) {
    const bits = ipv6Bits(addr);
    const len = Number(lenText ?? 128);
    if (!bits) return cidr;
    const masked = bits.slice(0, len).padEnd(128, '0');
    const groups = Array.from({ length: 8 }, (_, g) => parseInt(masked.slice(g * 16, g * 16 + 16), 2).toString(16));
    return `${compressIpv6(groups)}/${len}`;
  }
  const parts = addr.split('.').map(Number);
  const len = Number(lenText ?? 32);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p))) return cidr;
  const n = ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  const net = (n & mask) >>> 0;
  return `${[net >>> 24, (net >>> 16) & 255, (net >>> 8) & 255, net & 255].join('.')}/${len}`;
}

function ipv6Bits(addr: string): string | undefined {
  const [head, tail] = addr.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined ? (tail ? tail.split(':') : []) : [];
  const groups = tail !== undefined ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  if (groups.length !== 8) return undefined;
  return groups.map((g) => parseInt(g || '0', 16).toString(2).padStart(16, '0')).join('');
}

function compressIpv6(groups: string[]): string {
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) (best = i), (bestLen = j - i);
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function normalizeIptables(lines: string[]): string {
  return lines
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/g, '[0:0]'))
    .join('\n');
}

/** The running config without vtysh's banner and version line, which change without a change of config. */
export function normalizeFrr(lines: string[]): string {
  const out = lines.filter((l) => !/^(Building configuration\.\.\.|Current configuration:|frr version .*|end)\s*$/.test(l));
  while (out.length && /^\s*(!\s*)?$/.test(out[0]!)) out.shift();
  while (out.length && /^\s*(!\s*)?$/.test(out[out.length - 1]!)) out.pop();
  return out.join('\n');
}

// ---- restore ----------------------------------------------------------------------------------

export interface NetRestorePlan {
  /** A script for the guest's /bin/sh, or '' when nothing differs. */
  script: string;
  /** One line per change, for the log. */
  changes: string[];
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * What brings a guest from `current` (just booted) to `saved`: sysctls (globals first, since writing
 * `ip_forward` or `conf/all` resets every interface), MACs and MTUs, addresses, links up, routes,
 * rules, links down, firewall rules, then the routing daemons' config.
 */
export function planNetRestore(saved: NetState, current: NetState): NetRestorePlan {
  const lines: string[] = [];
  const changes: string[] = [];
  const currentLinks = new Map(current.links.map((l) => [l.name, l]));
  const links = saved.links.filter((l) => currentLinks.has(l.name));
  const devs = new Set(links.map((l) => l.name));

  // sysctls
  const rank = (k: string) => (/^net\/ipv4\/ip_forward$/.test(k) ? 0 : /\/conf\/all\//.test(k) ? 1 : /\/conf\/default\//.test(k) ? 2 : 3);
  const sysctlKeys = Object.keys(saved.sysctls)
    .filter((k) => k in current.sysctls && current.sysctls[k] !== saved.sysctls[k])
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  for (const k of sysctlKeys) {
    lines.push(`printf '%s\\n' ${q(saved.sysctls[k]!)} > ${q(`/proc/sys/${k}`)}`);
    changes.push(`sysctl ${k.replace(/\//g, '.')}=${saved.sysctls[k]}`);
  }

  // MACs, MTUs
  for (const l of links) {
    const c = currentLinks.get(l.name)!;
    if (c.mac !== l.mac && l.name !== 'lo') {
      lines.push(`ip link set dev ${q(l.name)} down`, `ip link set dev ${q(l.name)} address ${q(l.mac)}`);
      changes.push(`${l.name} MAC ${l.mac}`);
    }
    if (c.mtu !== l.mtu) {
      lines.push(`ip link set dev ${q(l.name)} mtu ${l.mtu}`);
      changes.push(`${l.name} MTU ${l.mtu}`);
    }
  }

  // addresses (IPv6 link-local ones are the kernel's)
  const managed = (a: NetAddress) => devs.has(a.dev) && !(a.family === 6 && (a.scope === 'link' || a.cidr.toLowerCase().startsWith('fe80:'))) && !a.flags.includes('dynamic');
  const addrKey = (a: NetAddress) => `${a.dev} ${a.cidr.toLowerCase()}`;
  const savedAddrs = saved.addresses.filter(managed);
  const currentAddrs = current.addresses.filter(managed);
  const savedKeys = new Set(savedAddrs.map(addrKey));
  const currentKeys = new Set(currentAddrs.map(addrKey));
  for (const a of currentAddrs.filter((a) => !savedKeys.has(addrKey(a)))) {
    lines.push(`ip addr del ${q(a.cidr)} dev ${q(a.dev)}`);
    changes.push(`${a.dev}: remove ${a.cidr}`);
  }
  for (const a of savedAddrs.filter((a) => !currentKeys.has(addrKey(a)))) {
    const extra = [a.brd ? `brd ${q(a.brd)}` : '', a.label ? `label ${q(a.label)}` : '', a.flags.includes('noprefixroute') ? 'noprefixroute' : ''].filter(Boolean).join(' ');
    lines.push(`ip addr add ${q(a.cidr)} ${extra ? `${extra} ` : ''}dev ${q(a.dev)}`);
    changes.push(`${a.dev}: add ${a.cidr}`);
  }

  // links up (routes through them need them up)
  for (const l of links.filter((l) => l.up && (!currentLinks.get(l.name)!.up || currentLinks.get(l.name)!.mac !== l.mac))) {
    lines.push(`ip link set dev ${q(l.name)} up`);
    if (!currentLinks.get(l.name)!.up) changes.push(`${l.name} up`);
  }

  // routes: only the user's (not the kernel's, not the daemons')
  const frrRunning = saved.frr !== undefined;
  const userRoute = (r: NetRoute) => !r.kernel && !(r.proto && DAEMON_PROTOS.has(r.proto)) && !(frrRunning && r.proto === 'static') && routeDevs(r).every((d) => devs.has(d));
  const savedRoutes = saved.routes.filter(userRoute);
  const currentRoutes = current.routes.filter(userRoute);
  const savedRouteKeys = new Set(savedRoutes.map((r) => r.key));
  const currentRouteKeys = new Set(currentRoutes.map((r) => r.key));
  for (const r of currentRoutes.filter((r) => !savedRouteKeys.has(r.key))) {
    lines.push(`ip ${r.family === 6 ? '-6 ' : ''}route del ${r.key.replace(/^-[46] /, '').split(' ').map(q).join(' ')}`);
    changes.push(`remove route ${r.spec}`);
  }
  for (const r of savedRoutes.filter((r) => !currentRouteKeys.has(r.key))) {
    lines.push(`ip ${r.family === 6 ? '-6 ' : ''}route add ${r.spec.split(' ').map(q).join(' ')}`);
    changes.push(`route ${r.family === 6 ? '-6 ' : ''}${r.spec}`);
  }

  // policy rules
  for (const family of [4, 6] as const) {
    const want = new Set(saved.rules.filter((r) => r.family === family).map((r) => r.spec));
    const have = new Set(current.rules.filter((r) => r.family === family).map((r) => r.spec));
    for (const spec of [...have].filter((s) => !want.has(s))) lines.push(`ip -${family} rule del ${spec.split(' ').map(q).join(' ')}`), changes.push(`remove rule ${spec}`);
    for (const spec of [...want].filter((s) => !have.has(s))) lines.push(`ip -${family} rule add ${spec.split(' ').map(q).join(' ')}`), changes.push(`rule ${spec}`);
  }

  // links down
  for (const l of links.filter((l) => !l.up && currentLinks.get(l.name)!.up)) {
    lines.push(`ip link set dev ${q(l.name)} down`);
    changes.push(`${l.name} down`);
  }

  // firewall
  const fw = (tool: string, text: string | undefined, now: string | undefined) => {
    if (text === undefined || text === now) return;
    lines.push(`${tool} <<'VNETLAB_RULES_END'\n${text}\nVNETLAB_RULES_END`);
    changes.push(`${tool.split(' ')[0]} rules`);
  };
  fw('iptables-restore', saved.firewall.iptables, current.firewall.iptables);
  fw('ip6tables-restore', saved.firewall.ip6tables, current.firewall.ip6tables);
  if (saved.firewall.nft !== undefined && saved.firewall.nft !== current.firewall.nft) {
    lines.push(`nft flush ruleset`);
    fw('nft -f -', saved.firewall.nft, undefined);
  }

  // routing daemons
  if (saved.frr !== undefined && current.frr !== undefined && saved.frr !== current.frr) {
    const text = `${frrNegations(saved.frr, current.frr).join('\n')}\n${saved.frr}\n`;
    lines.push(`f=/tmp/.vnetlab-frr.$$; cat > "$f" <<'VNETLAB_FRR_END'\n${text}VNETLAB_FRR_END\nvtysh -f "$f" >/dev/null; rm -f "$f"`);
    changes.push('routing daemons: running config');
  } else if (saved.frr !== undefined && current.frr === undefined) {
    changes.push('! the routing daemons do not run after the boot: their running config could not be applied');
  }
  return { script: lines.length ? `exec 2>&1\n${lines.join('\n')}\n` : '', changes };
}

function routeDevs(r: NetRoute): string[] {
  return [...r.spec.matchAll(/(?:^| )dev (\S+)/g)].map((m) => m[1]!);
}

interface ConfigNode {
  line: string;
  children: ConfigNode[];
}

function configTree(text: string): ConfigNode[] {
  const root: ConfigNode[] = [];
  const stack: { indent: number; node: ConfigNode }[] = [];
  for (const raw of text.split('\n')) {
    if (/^\s*(!.*)?$/.test(raw) || /^\s*(exit|exit-address-family|exit-vrf|end)\s*$/.test(raw)) {
      if (/^\S/.test(raw) || /^\s*!/.test(raw)) stack.length = /^\s+/.test(raw) ? stack.length : 0;
      continue;
    }
    const indent = raw.length - raw.trimStart().length;
    const node: ConfigNode = { line: raw.trim(), children: [] };
    while (stack.length && stack[stack.length - 1]!.indent >= indent) stack.pop();
    if (stack.length) stack[stack.length - 1]!.node.children.push(node);
    else root.push(node);
    stack.push({ indent, node });
  }
  return root;
}

/**
 * `no …` for what the running config has and the saved one lacks (vtysh -f only adds): a whole
 * `router ospf` that was not there is removed; inside a block both have, its extra lines are negated.
 * Interfaces are never removed (FRR refuses for a real one): their extra lines are.
 */
export function frrNegations(saved: string, current: string): string[] {
  const out: string[] = [];
  const negate = (line: string) => (line.startsWith('no ') ? line.slice(3) : `no ${line}`);
  const walk = (have: ConfigNode[], want: ConfigNode[], context: string[]) => {
    const wanted = new Map(want.map((n) => [n.line, n]));
    for (const node of have) {
      const match = wanted.get(node.line);
      if (match) {
        if (node.children.length) walk(node.children, match.children, [...context, node.line]);
        continue;
      }
      if (/^(hostname|frr defaults|log |service |password|enable password|line vty)/.test(node.line) && context.length === 0) continue;
      if (node.children.length && /^interface\s/.test(node.line)) {
        walk(node.children, [], [...context, node.line]);
        continue;
      }
      out.push(...context, negate(node.line), ...context.map(() => 'exit'));
    }
  };
  walk(configTree(current), configTree(saved), []);
  return out;
}

/** What still differs between two states, in words (empty when they match on what a restore sets). */
export function netDifferences(saved: NetState, now: NetState): string[] {
  const again = planNetRestore(saved, now);
  return again.changes;
}
