// Small C programs vnetlab runs on the host (kernels/host/): the sandbox every lab process starts
// through (vnetlab-confine), the mconsole client that a sandboxed guest can answer (vnetlab-mconsole),
// host NAT's guard (vnetlab-nat-guard) and the starter of a lab's daemons (vnetlab-spawner).
// Built once per source change with the host's C compiler, statically, next to the images, like the AMX fix.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnvironmentError } from '../errors.ts';
import { hostPaths } from '../paths.ts';
import { requireTool } from './kernel.ts';

export type HostHelper = 'vnetlab-confine' | 'vnetlab-mconsole' | 'vnetlab-nat-guard' | 'vnetlab-spawner';

const WHAT: Record<HostHelper, string> = {
  'vnetlab-confine': 'the sandbox helper for guests',
  'vnetlab-mconsole': 'the management console client for guests',
  'vnetlab-nat-guard': "host NAT's guard against reaching the host itself",
  'vnetlab-spawner': "the starter of a lab's network daemons",
};
/** Preloaded libraries (built -shared); the others are static programs. */
const LIBRARIES = new Set<HostHelper>(['vnetlab-nat-guard']);
const built = new Set<string>();
const abiOf = new Map<string, number>();

/** Path of the built helper, compiling it first when this source has not been built yet. */
export function hostHelper(name: HostHelper, env: NodeJS.ProcessEnv = process.env): string {
  const source = fileURLToPath(new URL(`../../../kernels/host/${name}.c`, import.meta.url));
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 12);
  const dir = join(hostPaths(env).imageDir, 'host');
  const library = LIBRARIES.has(name);
  const helper = join(dir, `${name}-${hash}${library ? '.so' : ''}`);
  if (built.has(helper) || existsSync(helper)) {
    built.add(helper);
    return helper;
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const cc = requireTool('cc', env);
  const partial = `${helper}.${process.pid}.tmp`;
  try {
    // Static programs: the sandbox helper must not depend on the libraries it is about to fence off.
    const flags = library ? ['-shared', '-fPIC', '-O2', '-o', partial, source, '-ldl'] : ['-static', '-O2', '-o', partial, source];
    execFileSync(cc, flags, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const first = String((err as { stderr?: Buffer }).stderr ?? err).trim().split('\n')[0];
    throw new EnvironmentError(`${WHAT[name]} (kernels/host/${name}.c) failed to compile: ${first}`, 'install a C compiler and the static C library: sudo apt-get install gcc libc6-dev');
  }
  chmodSync(partial, 0o755);
  renameSync(partial, helper);
  built.add(helper);
  return helper;
}

/** The sandbox helper (kernels/host/vnetlab-confine.c). */
export function confineHelper(env: NodeJS.ProcessEnv = process.env): string {
  return hostHelper('vnetlab-confine', env);
}

/**
 * The Landlock ABI of the running host kernel (0: none), as the helper sees it.
 * VNETLAB_LANDLOCK_ABI replaces the answer, so the refusal on old kernels can be tested on a new one;
 * it can only make vnetlab stricter (refuse), never weaker, since the helper itself still asks the kernel.
 */
export function landlockAbi(env: NodeJS.ProcessEnv = process.env): number {
  if (env.VNETLAB_LANDLOCK_ABI !== undefined && /^\d+$/.test(env.VNETLAB_LANDLOCK_ABI)) return Number(env.VNETLAB_LANDLOCK_ABI);
  const helper = confineHelper(env);
  const known = abiOf.get(helper);
  if (known !== undefined) return known;
  const abi = Number(execFileSync(helper, ['--abi'], { encoding: 'utf8', timeout: 5_000 }).trim()) || 0;
  abiOf.set(helper, abi);
  return abi;
}
