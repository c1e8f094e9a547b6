// Boot bench: spawn→ready of a tiny and a debian guest against a bare UML boot measured in the same
// run, host memory per idle guest, image build times.
//
//   npx tsx bench/boot.ts [--runs N] [--build-debian]
//
// Bare boot = spawn until the first userspace output (init=/bin/echo on the tiny image): what any
// guest pays before vnetlab-init starts. Ready = spawn until the exec agent's `R` line. Targets: tiny
// ready within 1.5 s of a bare boot; ≤ 40 MB of host memory per idle guest.
// The debian image is used from the image cache when it is built (`vnetlab image build debian`);
// --build-debian also times a fresh debian build (minutes; the package cache makes it faster).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node-pty';
import { buildImage, imageStatus } from '../src/main/images/build.ts';
import { findKernel } from '../src/main/images/kernel.ts';
import { bootGuest } from '../test/images/guest-helper.ts';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 3;
const buildDebian = args.includes('--build-debian');
const work = mkdtempSync(join(tmpdir(), 'vnl-bench-boot-'));
const cacheEnv = { ...process.env };
const tempEnv = { ...process.env, HOME: work, VNETLAB_IMAGE_DIR: join(work, 'images') };
const kernel = findKernel({ env: cacheEnv });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => `${Math.round(x)} ms`;

/** Spawn → first userspace output, with the same kernel, memory and console setup as a guest. */
async function bareBoot(image: string): Promise<number> {
  const dir = mkdtempSync(join(work, 'bare-'));
  const started = performance.now();
  const pty = spawn(kernel.path, [`umid=bench-bare-${process.pid}`, `uml_dir=${dir}`, 'mem=64M', `ubd0=${join(dir, 'disk.cow')},${image}`, 'con0=fd:0,fd:1', 'con=null', 'root=/dev/ubda', 'rw', 'init=/bin/echo', '--', 'VNL-BARE-USERSPACE'], { cols: 100, rows: 30, cwd: dir });
  let output = '';
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`bare boot: no userspace output in 60 s:\n${output.slice(-500)}`)), 60_000);
      pty.onData((d) => {
        output += d;
        if (output.includes('VNL-BARE-USERSPACE\r\n') || /\nVNL-BARE-USERSPACE/.test(output)) {
          clearTimeout(timer);
          resolve(performance.now() - started);
        }
      });
    });
  } finally {
    try {
      process.kill(-pty.pid, 'SIGKILL');
    } catch { /* gone */ }
  }
}

interface GuestFigures {
  readyMs: number;
  rssMiB: number;
  pssMiB: number;
  processes: number;
}

async function guestBoot(image: string, memMiB: number, measureMemory: boolean): Promise<GuestFigures> {
  const started = performance.now();
  const guest = bootGuest({ image, name: 'bench', memMiB });
  try {
    await guest.client.waitReady(120_000);
    const readyMs = performance.now() - started;
    if (!measureMemory) return { readyMs, rssMiB: 0, pssMiB: 0, processes: 0 };
    await new Promise((r) => setTimeout(r, 5_000)); // idle: boot-time page cache settles
    return { readyMs, ...groupMemory(guest.pid) };
  } finally {
    await guest.stop();
  }
}

/**
 * Memory of one guest's process group. RSS counts the guest RAM file shared by UML's processes once per
 * process; PSS splits shared pages between them, so the sum of PSS is what the guest really costs.
 * UML's helper threads are processes sharing the kernel's address space (clone CLONE_VM): each reports
 * the whole space, so address spaces are counted once (same maps and same figures = same mm).
 */
function groupMemory(pgid: number): { rssMiB: number; pssMiB: number; processes: number } {
  let rss = 0;
  let pss = 0;
  let processes = 0;
  const seen = new Set<string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== pgid) continue; // field 5: process group
      const rollup = readFileSync(`/proc/${entry}/smaps_rollup`, 'utf8');
      const addressSpace = `${readFileSync(`/proc/${entry}/maps`, 'utf8')}\n${rollup.slice(rollup.indexOf('\n'))}`;
      if (seen.has(addressSpace)) continue;
      seen.add(addressSpace);
      rss += Number(/^Rss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
      pss += Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
      processes++;
    } catch { /* exited meanwhile */ }
  }
  return { rssMiB: rss / 1024, pssMiB: pss / 1024, processes };
}

try {
  console.log(`kernel ${kernel.binary} ${kernel.version}${kernel.path !== kernel.binary ? ' (through the AMX fix wrapper)' : ''}; ${runs} runs each, medians`);

  let t = performance.now();
  const tiny = await buildImage('tiny', { env: tempEnv, force: true });
  const tinyBuild = (performance.now() - t) / 1000;
  console.log(`image build tiny:   ${tinyBuild.toFixed(1)} s (fresh, ${Math.round(tiny.record!.diskBytes / 2 ** 20)} MiB on disk)`);

  let debianImage: string | undefined;
  if (buildDebian) {
    t = performance.now();
    const built = await buildImage('debian', { env: tempEnv, force: true, progress: () => {} });
    console.log(`image build debian: ${((performance.now() - t) / 1000).toFixed(1)} s (fresh build, package cache of ${join(tempEnv.VNETLAB_IMAGE_DIR, 'build-cache')} empty at start)`);
    debianImage = built.path;
  } else {
    const status = imageStatus('debian', { env: cacheEnv });
    if (!status.staleReason) {
      debianImage = status.path;
      console.log(`image build debian: ${status.record!.buildSeconds} s (recorded when ${status.path} was built; --build-debian to time one now)`);
    } else {
      console.log(`image build debian: not measured: ${status.staleReason} (run: vnetlab image build debian)`);
    }
  }

  const bare: number[] = [];
  const tinyReady: number[] = [];
  const debianReady: number[] = [];
  for (let i = 0; i < runs; i++) {
    bare.push(await bareBoot(tiny.path));
    tinyReady.push((await guestBoot(tiny.path, 64, false)).readyMs);
    if (debianImage) debianReady.push((await guestBoot(debianImage, 128, false)).readyMs);
  }
  const bareMs = median(bare);
  console.log(`bare boot to userspace: ${ms(bareMs)}  (runs: ${bare.map(ms).join(', ')})`);
  const tinyMs = median(tinyReady);
  console.log(`tiny   spawn→ready:     ${ms(tinyMs)}  = bare + ${ms(tinyMs - bareMs)} (×${(tinyMs / bareMs).toFixed(2)}; target: bare + ≤ 1500 ms)  (runs: ${tinyReady.map(ms).join(', ')})`);
  if (debianImage) {
    const debMs = median(debianReady);
    console.log(`debian spawn→ready:     ${ms(debMs)}  = bare + ${ms(debMs - bareMs)} (×${(debMs / bareMs).toFixed(2)})  (runs: ${debianReady.map(ms).join(', ')})`);
  }

  const tinyMem = await guestBoot(tiny.path, 64, true);
  console.log(`idle tiny guest (mem=64M):    PSS ${tinyMem.pssMiB.toFixed(1)} MiB, RSS ${tinyMem.rssMiB.toFixed(1)} MiB over ${tinyMem.processes} address spaces (target ≤ 40 MB)`);
  if (debianImage) {
    const debMem = await guestBoot(debianImage, 128, true);
    console.log(`idle debian guest (mem=128M): PSS ${debMem.pssMiB.toFixed(1)} MiB, RSS ${debMem.rssMiB.toFixed(1)} MiB over ${debMem.processes} address spaces`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
