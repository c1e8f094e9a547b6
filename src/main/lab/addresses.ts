// IPv4/IPv6 addresses in CIDR form, as numbers, so the validator can spot the same address twice,
// host bits left at zero and interfaces of one domain that disagree on the subnet.
import { isIPv4, isIPv6 } from 'node:net';

export interface Cidr {
  family: 4 | 6;
  /** The address as written, without the prefix. */
  address: string;
  value: bigint;
  prefix: number;
}

export function parseCidr(text: string, family: 4 | 6): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  const bits = family === 4 ? 32 : 128;
  if (prefix > bits) return undefined;
  if (family === 4) {
    if (!isIPv4(address)) return undefined;
    const value = address.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
    return { family, address, value, prefix };
  }
  if (!isIPv6(address) || address.includes('%')) return undefined;
  return { family, address, value: ipv6ToBigInt(address), prefix };
}

function ipv6ToBigInt(address: string): bigint {
  let text = address;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = v4[1]!.split('.').map(Number);
    text = text.slice(0, -v4[1]!.length) + `${((n[0]! << 8) | n[1]!).toString(16)}:${((n[2]! << 8) | n[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array(tail !== undefined ? missing : 0).fill('0'), ...tailGroups];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}

function bitsOf(c: Cidr): number {
  return c.family === 4 ? 32 : 128;
}

export function networkOf(c: Cidr): bigint {
  const hostBits = BigInt(bitsOf(c) - c.prefix);
  return (c.value >> hostBits) << hostBits;
}

/** The address is the subnet's network address (all host bits zero), on a subnet where that matters. */
export function isNetworkAddress(c: Cidr): boolean {
  const hostBits = bitsOf(c) - c.prefix;
  return c.family === 4 && hostBits >= 2 && c.value === networkOf(c);
}

/** The address is the IPv4 broadcast address of its subnet. */
export function isBroadcastAddress(c: Cidr): boolean {
  const hostBits = bitsOf(c) - c.prefix;
  if (c.family !== 4 || hostBits < 2) return false;
  return c.value === (networkOf(c) | ((1n << BigInt(hostBits)) - 1n));
}

export function formatNetwork(c: Cidr): string {
  const n = networkOf(c);
  if (c.family === 4) return `${[24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join('.')}/${c.prefix}`;
  const groups = Array.from({ length: 8 }, (_, i) => ((n >> BigInt(112 - 16 * i)) & 0xffffn).toString(16));
  return `${groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::')}/${c.prefix}`;
}
