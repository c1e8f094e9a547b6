// The guest NIC argument, in the syntax the UML kernel understands (pure: no Node, no host access).
//
//   legacy  `eth<N>=vde,<port>,<mac>`    UML's old network transports (CONFIG_UML_NET_VDE, libvdeplug):
//                                       Debian bookworm's 6.1. Linux 6.16 removed them.
//   vector  `vec<N>:transport=vde,vnl=vde://<port>,mac=<mac>`
//                                       the vector driver's VDE transport (Linux ≥ 6.12; it runs
//                                       vdeplug4's `vde_plug`): Debian trixie's 6.12 (built without the old
//                                       VDE transport) and sid's 7.x. The guest calls these NICs vec<N>:
//                                       the compiler adds `vnl_vec=<N>,<N>…` and the guest init renames
//                                       vec<N> to eth<N> before anything uses them, so labs keep eth0….
// Which one a kernel takes is found from its binary (src/main/images/kernel.ts, kernelNicSyntax).

export type NicSyntax = 'legacy' | 'vector';

/** The kernel command-line argument (or mconsole `config` argument) that gives a guest the NIC `ethN` on `port`. */
export function nicArg(syntax: NicSyntax, name: string, port: string, mac: string): string {
  if (syntax === 'legacy') return `${name}=vde,${port},${mac}`;
  return `vec${nicIndex(name)}:transport=vde,vnl=vde://${port},mac=${mac}`;
}

/** Every NIC argument of a guest, then the rename list the vector syntax needs (the compiler's one call). */
export function nicArgs(syntax: NicSyntax | undefined, interfaces: { name: string; ctlDir: string; mac: string }[]): string[] {
  const s = syntax ?? 'legacy';
  const rename = nicRenameArg(s, interfaces.map((i) => i.name));
  return [...interfaces.map((i) => nicArg(s, i.name, i.ctlDir, i.mac)), ...(rename ? [rename] : [])];
}

/**
 * The kernel argument listing the NICs the guest init must rename from vecN to ethN (`vnl_vec=0,1`);
 * undefined for legacy kernels or guests without NICs. The kernel hands unknown `key=value` arguments
 * to init as environment variables, so the init reads `$vnl_vec` without /proc.
 */
export function nicRenameArg(syntax: NicSyntax, names: string[]): string | undefined {
  if (syntax === 'legacy' || names.length === 0) return undefined;
  return `vnl_vec=${names.map(nicIndex).join(',')}`;
}

/**
 * What a running guest must run after a vector NIC was hot-plugged (mconsole `config vecN:…`), before
 * the NIC is configured: give it its lab name. Empty for legacy kernels (the NIC is already ethN).
 */
export function nicRenameCommand(syntax: NicSyntax, name: string): string {
  if (syntax === 'legacy') return '';
  return `ip link set dev vec${nicIndex(name)} name ${name}`;
}

function nicIndex(name: string): number {
  const m = /^eth(\d+)$/.exec(name);
  if (!m) throw new Error(`NIC '${name}' is not called ethN`);
  return Number(m[1]);
}
