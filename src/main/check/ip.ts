// Address arithmetic for comparing what a check expects with what a guest reports: `10.0.2.0/24`,
// `10.0.2.7/24` (host bits set), `default`, `2001:DB8:0::/48` and `2001:db8::/48` must compare equal
// when they mean the same network.
import { isIP } from 'node:net';
import { ipv6Text } from '../lab/ipv6-text.ts';

/** Canonical text of an IP address (IPv6 compressed, lowercase), or undefined when it is not one. */
export function canonicalAddress(text: string): string | undefined {
  const bare = text.trim().replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 4) return bare.split('.').map((o) => String(Number(o))).join('.');
  if (family === 6) return ipv6Text(ipv6Groups(bare));
  return undefined;
}

/** Canonical `network/len` of a prefix; `default` becomes `0.0.0.0/0` (or `::/0` when `ipv6`), a bare address a host route. */
export function canonicalPrefix(text: string, ipv6 = false): string | undefined {
  const trimmed = text.trim();
  if (trimmed === 'default') return ipv6 ? '::/0' : '0.0.0.0/0';
  const [addressText, lengthText] = trimmed.split('/');
  const family = isIP(addressText ?? '');
  if (!family) return undefined;
  const bits = family === 4 ? 32 : 128;
  const length = lengthText === undefined ? bits : Number(lengthText);
  if (!Number.isInteger(length) || length < 0 || length > bits) return undefined;
  if (family === 4) {
    const value = ipv4ToNumber(addressText!);
    const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
    return `${numberToIpv4((value & mask) >>> 0)}/${length}`;
  }
  const groups = ipv6Groups(addressText!);
  const masked = groups.map((group, i) => {
    const keep = Math.max(0, Math.min(16, length - i * 16));
    return keep === 0 ? 0 : group & ((0xffff << (16 - keep)) & 0xffff);
  });
  return `${ipv6Text(masked)}/${length}`;
}

export function isIpv6Text(text: string): boolean {
  return text.includes(':');
}

/** Prefix length of a dotted netmask (`255.255.255.0` → 24), as printed by `route -n`. */
export function netmaskToLength(mask: string): number {
  const value = ipv4ToNumber(mask);
  let length = 0;
  for (let bit = 31; bit >= 0 && (value >>> bit) & 1; bit--) length++;
  return length;
}

function ipv4ToNumber(text: string): number {
  return text.split('.').reduce((acc, octet) => ((acc << 8) | Number(octet)) >>> 0, 0);
}

function numberToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join('.');
}

function ipv6Groups(text: string): number[] {
  // An embedded IPv4 tail (`::ffff:1.2.3.4`) is two groups written in dotted form.
  const withoutV4 = text.replace(/(\d+\.\d+\.\d+\.\d+)$/, (v4) => {
    const n = ipv4ToNumber(v4);
    return `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  });
  const parse = (part: string) => part.split(':').filter((g) => g !== '').map((g) => parseInt(g, 16));
  if (!withoutV4.includes('::')) return parse(withoutV4);
  const [head = '', tail = ''] = withoutV4.split('::');
  const left = parse(head);
  const right = parse(tail);
  return [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
}

