// A guest's kernel command line, split the way the warm pool (src/main/runtime/pool/) needs it:
// what every guest of the same image and size shares (a pooled guest boots with exactly that), where
// this guest lives (umid, its mconsole folder, its disk: the pool moves those files into place), what
// the pool hot-plugs into a running guest (lab-fs and NICs, with mconsole `config`), and who the guest
// is (`vnl_*`, sent to the waiting guest agent). Pure: the compiler's argv contract in one place.

export interface PoolArgs {
  /** argv[0] and every argument a pooled guest must have booted with to stand in for this one. */
  shared: string[];
  /** `ubd1r=…` and the NIC arguments, in order: each is also an mconsole `config` argument. */
  hotplug: string[];
  /** `vnl_name=… vnl_vec=…`: what the guest agent takes in place of its kernel arguments. */
  identity: string[];
}

/** Arguments that name this guest's own files: the pool boots with its own and renames them into place. */
const PLACEMENT = /^(umid|uml_dir|ubd0)=/;
/** The lab-fs disk and the NICs (both syntaxes, src/main/compiler/nic.ts). */
const HOTPLUG = /^(ubd1r?=|eth\d+=|vec\d+:)/;
const IDENTITY = /^vnl_(name|vec)=/;

export function splitPoolArgs(argv: readonly string[]): PoolArgs {
  const out: PoolArgs = { shared: [], hotplug: [], identity: [] };
  argv.forEach((arg, i) => {
    if (i > 0 && PLACEMENT.test(arg)) return;
    if (i > 0 && HOTPLUG.test(arg)) out.hotplug.push(arg);
    else if (i > 0 && IDENTITY.test(arg)) out.identity.push(arg);
    else out.shared.push(arg);
  });
  return out;
}

/** The argv of a pooled guest: the shared arguments with the pool's own placement, waiting for its identity. */
export function pooledGuestArgv(shared: readonly string[], place: { umid: string; umlDir: string; cow: string; imagePath: string }): string[] {
  const [kernel, ...rest] = shared;
  return [kernel!, `umid=${place.umid}`, `uml_dir=${place.umlDir}`, `ubd0=${place.cow},${place.imagePath}`, ...rest, 'vnl_pool=1'];
}
