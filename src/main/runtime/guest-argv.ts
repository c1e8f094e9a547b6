// A guest's kernel command line, rendered from its plan's structure (GuestPlan.boot, src/shared/plan.ts):
// the only place the runtime writes one, and nothing ever reads one back. Pure. The contract itself is
// in docs/ARCHITECTURE.md ("Kernel command line"); the NIC syntax in src/main/compiler/nic.ts.
//
//   cold boot    kernel umid= uml_dir= mem= ubd0= ubd1r= <NICs> [vnl_vec=] <shared…> vnl_name=
//   pooled boot  kernel umid= uml_dir= ubd0= mem= <shared…> vnl_pool=1     (the pool's own placement)
//   handover     mconsole `config ubd1r=…`, `config <NIC>` …, then the agent gets `vnl_name=… [vnl_vec=…]`
import type { GuestPlan } from '../../shared/plan.ts';
import { nicArg, nicArgs, nicRenameArg } from '../compiler/nic.ts';

/** Where a guest's files are: its mconsole folder (`<umlDir>/<umid>`) and its disk over its image. */
export interface GuestPlacement {
  umid: string;
  umlDir: string;
  cow: string;
  imagePath: string;
}

/** The argv of a guest booted cold. `backingImage`: the image its disk was made from, when not the plan's (an image rebuilt since). */
export function guestArgv(plan: GuestPlan, options: { backingImage?: string } = {}): string[] {
  const [kernel, memory, ...shared] = sharedArgs(plan);
  const [umid, umlDir, disk] = placementArgs({ umid: plan.umid, umlDir: plan.boot.umlDir, cow: plan.cow, imagePath: options.backingImage ?? plan.imagePath });
  return [kernel!, umid!, umlDir!, memory!, disk!, `ubd1r=${plan.labFsImage}`, ...nicArgs(plan.boot.nicSyntax, plan.interfaces), ...shared, `vnl_name=${plan.boot.name}`];
}

/**
 * argv[0] and every argument a pooled guest must have booted with to stand in for this one: the pool's
 * kinds are keyed on these (pool/pool-files.ts poolKey), and a pool target carries them.
 */
export function sharedArgs(plan: Pick<GuestPlan, 'memoryMiB'> & { boot: Pick<GuestPlan['boot'], 'kernel' | 'shared'> }): string[] {
  return [plan.boot.kernel, `mem=${plan.memoryMiB}M`, ...plan.boot.shared];
}

/** The argv of a pooled guest: the shared arguments with the pool's own placement, waiting for its identity. */
export function pooledGuestArgv(shared: readonly string[], place: GuestPlacement): string[] {
  const [kernel, ...rest] = shared;
  return [kernel!, ...placementArgs(place), ...rest, 'vnl_pool=1'];
}

/** What is hot-plugged into a pooled guest that becomes this machine (mconsole `config` arguments): its lab-fs, then its NICs. */
export function hotplugArgs(plan: GuestPlan, labFsImage = plan.labFsImage): string[] {
  return [`ubd1r=${labFsImage}`, ...plan.interfaces.map((i) => nicArg(plan.boot.nicSyntax, i.name, i.ctlDir, i.mac))];
}

/** Who a pooled guest becomes: what its agent takes in place of its kernel arguments (`N …`). */
export function identityArgs(plan: GuestPlan): string[] {
  const rename = nicRenameArg(plan.boot.nicSyntax, plan.interfaces.map((i) => i.name));
  return [`vnl_name=${plan.boot.name}`, ...(rename ? [rename] : [])];
}

function placementArgs(place: GuestPlacement): string[] {
  return [`umid=${place.umid}`, `uml_dir=${place.umlDir}`, `ubd0=${place.cow},${place.imagePath}`];
}
