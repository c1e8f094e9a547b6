// UML calibrates its delay loop at every boot ("Calibrating delay loop... 7105.74 BogoMIPS (lpj=35528704)"):
// about 90 ms of a CPU spinning per guest, half of a bare boot, and in a parallel start every guest spins
// at once. The figure depends only on the kernel binary and the host's CPU, so it is measured once, by a
// boot that stops at once (no disk: the kernel panics looking for its root, before any user process),
// cached per kernel and CPU model beside the images, and given to every guest as `lpj=`.
// VNETLAB_UML_LPJ=0 turns this off (the kernel calibrates as usual); a number forces that figure.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostPaths } from '../paths.ts';
import type { KernelInfo } from './kernel.ts';

const known = new Map<string, number | undefined>();

/** The kernel's loops per jiffy on this host, or undefined when it cannot be measured (guests then calibrate). */
export function loopsPerJiffy(kernel: Pick<KernelInfo, 'path' | 'binary'>, env: NodeJS.ProcessEnv = process.env): number | undefined {
  const forced = env.VNETLAB_UML_LPJ;
  if (forced === '0') return undefined;
  if (forced && /^\d+$/.test(forced)) return Number(forced);
  try {
    const key = cacheKey(kernel);
    if (known.has(key)) return known.get(key);
    const file = join(hostPaths(env).imageDir, 'host', `lpj-${key}.txt`);
    let lpj = readCached(file);
    if (lpj === undefined) {
      lpj = measure(kernel.path);
      if (lpj !== undefined) writeCached(file, lpj);
    }
    known.set(key, lpj);
    return lpj;
  } catch {
    return undefined; // only a speed-up: a start never fails for want of it (a full /tmp, say)
  }
}

/** Parses the kernel's own line; undefined when it did not print one. */
export function lpjFromBootLog(log: string): number | undefined {
  const found = /Calibrating delay loop.*\(lpj=(\d+)\)/.exec(log)?.[1];
  return found && Number(found) > 0 ? Number(found) : undefined;
}

function cacheKey(kernel: Pick<KernelInfo, 'binary'>): string {
  const st = statSync(kernel.binary);
  let cpu = '';
  try {
    cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '';
  } catch {
    // no /proc/cpuinfo: the binary alone keys it
  }
  return createHash('sha256').update(`${kernel.binary}\0${st.size}\0${st.mtimeMs}\0${cpu}`).digest('hex').slice(0, 12);
}

function readCached(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function writeCached(file: string, lpj: number): void {
  try {
    mkdirSync(join(file, '..'), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${lpj}\n`);
    renameSync(tmp, file);
  } catch {
    // a read-only image folder: measured again next time
  }
}

/**
 * Boots the kernel with no disk in a private folder (mconsole socket and memory file there), reads the
 * figure from its console, and lets it panic. `timeout` ends the boot's whole process group should it hang.
 */
function measure(kernelPath: string): number | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'vnetlab-lpj-')); // 0700, ours
  try {
    const args = ['-s', 'KILL', '20', kernelPath, `umid=lpj-${process.pid}`, `uml_dir=${dir}`, 'mem=32M', 'con=null', 'con0=null,fd:1', 'ssl=null', 'hostfs=/nonexistent/vnetlab-no-hostfs', 'initcall_blacklist=raid6_select_algo', 'pty.legacy_count=0'];
    let out = '';
    try {
      out = execFileSync('timeout', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TMPDIR: dir }, timeout: 30_000 });
    } catch (err) {
      out = String((err as { stdout?: string }).stdout ?? ''); // the panic ends it with a non-zero status
    }
    return lpjFromBootLog(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
