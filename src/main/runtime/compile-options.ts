// How a lab is compiled on this host: its folders and the kernel its guests boot. Light on purpose (no
// lab reader, no compiler): the supervisor's bundle and the pool's kinds (pool/pool-client.ts) use it too.
import type { LabModel } from '../../shared/lab-model.ts';
import type { CompileOptions } from '../../shared/plan.ts';
import { loopsPerJiffy } from '../images/delay-loop.ts';
import { DEFAULT_KERNEL, findKernel } from '../images/kernel.ts';
import { hostPaths, labIdFor, labRunDir, labStateDir } from '../paths.ts';

/**
 * The one way a lab is compiled for this host: its id, run and state dirs from the host's folders, and
 * the kernel `start` boots, which also decides the NIC syntax (UML ≥ 6.16 has only the vector driver's
 * VDE transport). Without a kernel this throws (exit 3), unless `kernel: 'optional'` (`vnetlab compile`,
 * which needs none: the plan then names $VNETLAB_KERNEL or the default path, with the legacy syntax).
 */
export function compileOptionsFor(lab: Pick<LabModel, 'root' | 'meta'>, env: NodeJS.ProcessEnv = process.env, options: { kernel?: 'required' | 'optional' } = {}): CompileOptions {
  const paths = hostPaths(env);
  const labId = labIdFor(lab.root, lab.meta.name);
  return { labId, runDir: labRunDir(paths, labId), stateDir: labStateDir(paths, labId), imageDir: paths.imageDir, ...bootKernel(env, options.kernel ?? 'required') };
}

/** The kernel guests boot (argv[0]), its NIC syntax and delay-loop figure: the rule of compileOptionsFor, for the pool's kinds too. */
export function bootKernel(env: NodeJS.ProcessEnv, need: 'required' | 'optional' = 'required'): Pick<CompileOptions, 'kernel' | 'nicSyntax' | 'loopsPerJiffy'> {
  try {
    const kernel = findKernel({ env });
    return { kernel: kernel.path, nicSyntax: kernel.nicSyntax, loopsPerJiffy: loopsPerJiffy(kernel, env) };
  } catch (err) {
    if (need === 'required') throw err;
    return { kernel: env.VNETLAB_KERNEL || DEFAULT_KERNEL };
  }
}
