// A host quirk the launcher works around: UML 6.1 cannot restore the FPU state of its processes on
// hosts whose XSAVE area is larger than 832 bytes (AVX-512, PKU, AMX): every guest panics at init
// with "ptrace set fp regs failed, errno = 14". uml-xstate-shim.c makes UML fall back to the plain
// FXSAVE path, and GLIBC_TUNABLES on the kernel command line (UML hands it to init's environment)
// keeps guest programs off the AVX registers that path does not preserve.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnvironmentError } from '../errors.ts';
import { hostPaths } from '../paths.ts';

const SHIM_SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'uml-xstate-shim.c');
/** Turn off glibc's AVX string/memory routines in the guest (their registers are not preserved). */
export const GUEST_GLIBC_TUNABLES = 'GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX512BW,-AVX512DQ,-AVX2,-AVX,-FMA,-XSAVE,-XSAVEC';

/** CPU features that make the host's XSAVE area larger than the 832 bytes UML 6.1 hands to ptrace. */
const LARGE_XSTATE_FLAGS = /\b(avx512f|pku|ospke|amx_tile|mpx)\b/;

export function hostNeedsXstateShim(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.VNETLAB_UML_XSTATE_SHIM === '0') return false;
  if (env.VNETLAB_UML_XSTATE_SHIM === '1') return true;
  try {
    const flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '';
    return LARGE_XSTATE_FLAGS.test(flags);
  } catch {
    return false;
  }
}

let shimPath: string | undefined;

/** The compiled shim (built once per source version into the cache's bin folder). */
export function xstateShim(env: NodeJS.ProcessEnv = process.env): string {
  if (shimPath && existsSync(shimPath)) return shimPath;
  const source = readFileSync(SHIM_SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 12);
  const binDir = join(dirname(hostPaths(env).imageDir), 'bin');
  const target = join(binDir, `vnetlab-uml-shim-${hash}`);
  if (!existsSync(target)) {
    mkdirSync(binDir, { recursive: true });
    const partial = `${target}.${process.pid}.partial`;
    try {
      execFileSync('cc', ['-O2', '-o', partial, SHIM_SOURCE], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      throw new EnvironmentError(
        `this CPU needs a small helper to run UML guests, and compiling it failed: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`,
        'install a C compiler: sudo apt-get install gcc libc6-dev',
      );
    }
    renameSync(partial, target);
  }
  shimPath = target;
  return target;
}

/** The guest's argv as it must be spawned on this host. */
export function hostGuestArgv(argv: string[], env: NodeJS.ProcessEnv = process.env): string[] {
  if (!hostNeedsXstateShim(env)) return argv;
  return [xstateShim(env), ...argv, GUEST_GLIBC_TUNABLES];
}
