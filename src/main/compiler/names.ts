// Names the compiler derives from lab names: MAC addresses, umids, and the file names used in
// socket paths. All of them are pure functions of names (never random), so a lab compiles to the
// same plan on every run and every host.
import { createHash } from 'node:crypto';
import { EnvironmentError } from '../errors.ts';

/** Longest Unix socket path: sun_path is 108 bytes including the terminating NUL. */
export const MAX_SOCKET_PATH = 107;

/** umids longer than this are shortened (docs/ARCHITECTURE.md, guest contract). */
export const MAX_UMID = 40;

/**
 * libvdeplug creates each port's data socket inside the switch's control directory as
 * `<ctlDir>/.<pid %05d>-<count %05d>`; pids reach 7 digits on Linux, so leave room for the longest.
 */
export const VDE_PORT_SOCKET_SUFFIX = '/.0000000-00000';

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** `02:` + 5 bytes of sha256(`<lab>/<machine>/eth<N>`): locally administered (bit 1) and unicast (bit 0 clear). */
export function deriveMac(labName: string, machine: string, index: number): string {
  const hex = sha256Hex(`${labName}/${machine}/eth${index}`).slice(0, 10);
  return ['02', ...hex.match(/../g)!].join(':');
}

/**
 * A lab name as a single path component that is safe in argv, on the UML command line (no spaces,
 * no commas, no `=`) and in a file name; names that are not get a stable hashed stand-in.
 */
export function pathComponent(name: string, prefix: string, allowed = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/): string {
  return allowed.test(name) ? name : `${prefix}-${sha256Hex(name).slice(0, 10)}`;
}

/**
 * Switch files sit side by side as `<domain>`, `<domain>.mgmt` (and the runtime's `<domain>.log`…),
 * so a domain's own name may not hold a dot: `lan.mgmt` would clash with the management socket of `lan`.
 */
const DOMAIN_COMPONENT = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Bytes, not characters: sun_path counts bytes. */
export function byteLength(path: string): number {
  return Buffer.byteLength(path, 'utf8');
}

/**
 * The umid of a guest: `<labId>-<machine>` when that is short enough, both as an umid and inside the
 * mconsole socket path `<umlDir>/<umid>/mconsole`; otherwise a shorter readable prefix plus a hash.
 */
export function deriveUmid(labId: string, machine: string, umlDir: string): string {
  const fits = (umid: string) => umid.length <= MAX_UMID && byteLength(mconsolePath(umlDir, umid)) <= MAX_SOCKET_PATH;
  const full = `${labId}-${pathComponent(machine, 'm')}`;
  if (fits(full)) return full;
  const hash = sha256Hex(`${labId}/${machine}`).slice(0, 8);
  const readable = pathComponent(machine, 'm');
  for (let keep = Math.min(readable.length, MAX_UMID - hash.length - 1); keep > 0; keep--) {
    const candidate = `${readable.slice(0, keep)}-${hash}`;
    if (fits(candidate)) return candidate;
  }
  if (fits(hash)) return hash;
  throw socketDirTooLong(mconsolePath(umlDir, hash));
}

export function mconsolePath(umlDir: string, umid: string): string {
  return `${umlDir}/${umid}/mconsole`;
}

/**
 * The switch folder name of a collision domain: its own name when every socket of the switch fits in
 * sun_path, else a hash of it. Throws when even the hash does not fit: the run dir itself is too long.
 */
export function switchComponent(switchDir: string, domain: string): string {
  const fits = (component: string) =>
    byteLength(`${switchDir}/${component}${VDE_PORT_SOCKET_SUFFIX}`) <= MAX_SOCKET_PATH &&
    byteLength(`${switchDir}/${component}.mgmt`) <= MAX_SOCKET_PATH;
  const named = pathComponent(domain, 'd', DOMAIN_COMPONENT);
  if (fits(named)) return named;
  const hashed = `d-${sha256Hex(domain).slice(0, 8)}`;
  if (fits(hashed)) return hashed;
  throw socketDirTooLong(`${switchDir}/${hashed}${VDE_PORT_SOCKET_SUFFIX}`);
}

function socketDirTooLong(example: string): EnvironmentError {
  return new EnvironmentError(
    `the lab's run directory is too long for Unix sockets: ${example} is ${byteLength(example)} bytes, the limit is ${MAX_SOCKET_PATH}`,
    'set VNETLAB_RUNTIME_DIR to a short folder, e.g. /tmp/vnl',
  );
}

/**
 * Kathará's `ipv6=false`: the ipv6 module's own parameter, so every interface (lo included) comes up
 * with IPv6 disabled and never gets a link-local address. The guest init applies it too.
 */
export const IPV6_OFF_ARG = 'ipv6.disable_ipv6=1';

/**
 * The MAC a machine's startup script gives eth<N> (`ip link set [dev] ethN address M`,
 * `ifconfig ethN … hw ether M`), the last one when several do. UML's NIC refuses a MAC change while
 * it is up (EBUSY), and Kathará's interfaces are up before the startup runs, so the compiler puts that
 * MAC on the kernel command line instead: the NIC has it from the first frame, and the script's own
 * command finds it already set (the guest's ip/ifconfig shims accept that). Multicast MACs, which the
 * kernel would refuse, are ignored.
 */
export function startupMac(script: string | undefined, index: number): string | undefined {
  if (!script) return undefined;
  const dev = `eth${index}`;
  const mac = '([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})';
  const ipLink = new RegExp(`^\\s*(?:\\S*/)?ip\\s+(?:-\\S+\\s+)*l(?:i|in|ink)?\\s+s(?:e|et)?\\s+(?:.*\\s)?(?:dev\\s+)?${dev}\\s+(?:.*\\s)?addr(?:ess)?\\s+${mac}(?:\\s|;|$)`);
  const ifconfig = new RegExp(`^\\s*(?:\\S*/)?ifconfig\\s+${dev}\\s+(?:.*\\s)?hw\\s+ether\\s+${mac}(?:\\s|;|$)`);
  let found: string | undefined;
  for (const line of script.replace(/\r/g, '').split('\n')) {
    const code = line.replace(/\s#.*$/, '');
    const m = ipLink.exec(code) ?? ifconfig.exec(code);
    if (m && (parseInt(m[1]!.slice(0, 2), 16) & 1) === 0) found = m[1]!.toLowerCase();
  }
  return found;
}
