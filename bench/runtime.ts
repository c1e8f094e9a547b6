// Runtime figures, each against a baseline measured in the same run:
//  - start-to-all-ready of a lab of N tiny guests through `vnetlab start`'s path (prepare + supervisor
//    + waves + readiness), cold (fresh disks, no kept lab-fs image), vs N bare `linux.uml` boots to a
//    shell prompt launched at once; and the same as the command, a process of its own;
//  - host memory per idle guest (PSS of each guest's process group);
//  - console keystroke round trip through the supervisor (client → socket → pty → guest echo → back),
//    vs the same round trip on a bare UML pty.
// Run: npx tsx bench/runtime.ts [SIZES…] [--runs N]   (default: sizes 1 10, 3 rounds each (1 above 10 guests);
// add 50 and 100 for the big labs). Figures are medians of the rounds. The headline ratio is against bare
// boots of the same image and memory (issue 12: ≤ 1.3 for 10 and 50 guests).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as pty from 'node-pty';
import { spawn } from 'node:child_process';
import { hostPaths } from '../src/main/paths.ts';
import type { SupervisorClient } from '../src/main/runtime/client.ts';
import { launchLab } from '../src/main/runtime/launch.ts';
import { cleanAll } from '../src/main/runtime/clean.ts';
import { prepareLab } from '../src/main/runtime/prepare.ts';
import { RealLauncher } from '../src/main/runtime/real-launcher.ts';
import { Network } from '../src/main/runtime/network/network.ts';
import { ProcessBook } from '../src/main/runtime/process-book.ts';
import { groupHasMembers } from '../src/main/runtime/records.ts';
import { findKernel } from '../src/main/images/kernel.ts';
import { loopsPerJiffy } from '../src/main/images/delay-loop.ts';
import { GUEST_BOOT_ARGS } from '../src/main/compiler/index.ts';
import { runBench } from './harness.ts';

const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
/** Rounds per size, alternating the three measurements so load from other work on the host hits all alike. */
const RUNS = runsAt >= 0 ? Number(args.splice(runsAt, 2)[1]) : 3;
const sizes = args.map(Number).filter((n) => n > 0);
const SIZES = sizes.length ? sizes : [1, 10];
const KEYSTROKES = 40;
const VNETLAB = join(import.meta.dirname, '..', 'bin', 'vnetlab.mjs');

const base = mkdtempSync(join(tmpdir(), 'vbench-'));
const imageDir = hostPaths(process.env).imageDir;
// The labs' run dirs where vnetlab puts them for this user by default (the host's tmpfs without
// XDG_RUNTIME_DIR or TMPDIR), in a folder of the bench's own, removed at the end.
const runtimeDir = mkdtempSync(join(dirname(hostPaths(process.env).runtimeRoot), 'vbench-r-'));
process.env.HOME = join(base, 'home');
process.env.VNETLAB_RUNTIME_DIR = runtimeDir;
process.env.VNETLAB_STATE_DIR = join(base, 'state');
process.env.VNETLAB_IMAGE_DIR = imageDir;
const kernel = findKernel().path;
const tinyImage = join(imageDir, 'tiny.ext4');

interface BareGuest {
  term: pty.IPty;
  output: () => string;
  dir: string;
  exited: Promise<void>;
}

/** A bare UML boot of the tiny image straight into a shell on its console (no vnetlab init, no network). */
function bootBare(dir: string, index: number, extraArgs: string[] = []): BareGuest {
  mkdirSync(join(dir, 'uml'), { recursive: true });
  const argv = [
    kernel,
    `umid=bare-${process.pid}-${index}`,
    `uml_dir=${join(dir, 'uml')}`,
    'mem=64M',
    `ubd0=${join(dir, `bare-${index}.cow`)},${tinyImage}`,
    'con0=fd:0,fd:1',
    'con=null',
    'root=/dev/ubda',
    'rw',
    'init=/bin/sh',
    ...extraArgs,
  ];
  const term = pty.spawn(argv[0]!, argv.slice(1), { name: 'xterm', cols: 80, rows: 24, cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  let out = '';
  term.onData((d) => (out += d));
  const exited = new Promise<void>((resolve) => term.onExit(() => resolve()));
  return { term, output: () => out, dir, exited };
}

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function killBare(g: BareGuest): void {
  try {
    process.kill(-g.term.pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** The boot-time skips vnetlab's guests get (src/main/compiler/index.ts GUEST_BOOT_ARGS). */
/** …and the delay-loop figure measured once per host (src/main/images/delay-loop.ts), when there is one. */
const lpj = loopsPerJiffy(findKernel());
const BOOT_SKIPS = [...GUEST_BOOT_ARGS.filter((a) => a.startsWith('initcall_blacklist=') || a.startsWith('pty.')), ...(lpj ? [`lpj=${lpj}`] : [])];

/** /proc/stat counts in USER_HZ ticks, 100 a second on Linux. */
const TICKS_PER_SECOND = 100;

/** The host's busy CPU time so far (all cores, in clock ticks), from /proc/stat. */
function hostBusyTicks(): number {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = fields.map(Number);
  return user! + nice! + system! + irq! + softirq! + steal!;
}

/**
 * Waits until the host is as idle as a running lab leaves it: under half a core busy, and no busier than
 * the second before for two seconds in a row (idle guests still tick: hundreds of them use some CPU).
 * 3 min at most; returns how long it took.
 */
async function untilHostIdle(): Promise<number> {
  const t0 = performance.now();
  const halfACore = 50; // clock ticks (USER_HZ 100) in one second
  const busy: number[] = [];
  let before = hostBusyTicks();
  while (performance.now() - t0 < 180_000) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = hostBusyTicks();
    busy.push(now - before);
    before = now;
    const [a, b, c] = busy.slice(-3);
    if (c !== undefined && c < halfACore && c <= Math.max(b! * 1.2, 5) && b! <= Math.max(a! * 1.2, 5)) break;
  }
  return performance.now() - t0;
}

async function bareBoots(n: number, extraArgs: string[] = [], cpu?: number[]): Promise<number> {
  const dir = join(base, `bare-${n}`);
  const busy0 = hostBusyTicks();
  const t0 = performance.now();
  const guests = Array.from({ length: n }, (_, i) => bootBare(dir, i, extraArgs));
  try {
    await Promise.all(guests.map((g) => until(() => /# /.test(g.output()), 180_000)));
    cpu?.push((hostBusyTicks() - busy0) / TICKS_PER_SECOND);
    return performance.now() - t0;
  } catch (err) {
    const waiting = guests.filter((g) => !/# /.test(g.output()));
    // The lines that say why (a disk that did not open, a root that did not mount), then the console's end.
    const why = (waiting[0]?.output() ?? '').split('\n').filter((l) => /ubd|VFS|error|fail|panic|cannot|unable/i.test(l)).slice(0, 12);
    throw new Error(`${waiting.length} of ${n} bare boots reached no prompt in 180 s; the first one's console says:\n  ${why.join('\n  ')}\n…and ends: ${JSON.stringify(waiting[0]?.output().slice(-300))}`, { cause: err });
  } finally {
    // The next round boots the same umids: these must be gone first (a fixed 300 ms was not enough under load).
    guests.forEach(killBare);
    await Promise.all(guests.map((g) => g.exited));
    await settled(guests.map((g) => g.term.pid));
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Until every process of these groups is gone: a killed UML's ~40 host processes go after it, and at 500
 * guests that teardown took seconds of the host's CPU from whatever the bench measured next.
 */
async function settled(pgids: number[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (pgids.some(groupHasMembers) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

/** The same guests as the lab, spawned all at once by the launcher alone (no supervisor, no waves, no bound). */
async function launcherBoots(n: number): Promise<number> {
  const lab = join(base, `direct-${n}`);
  mkdirSync(lab, { recursive: true });
  writeFileSync(join(lab, 'lab.yaml'), labYaml(n));
  const { plan } = await prepareLab(lab);
  const launcher = new RealLauncher();
  const t0 = performance.now();
  // The network as the supervisor runs it (switches, and a port + wire per cable), without records.
  const network = new Network(plan, launcher, new ProcessBook(), () => {});
  await network.up();
  const guests = await Promise.all(plan.guests.map((g) => launcher.spawnGuest(g, { cols: 80, rows: 24 }, () => {})));
  try {
    await Promise.all(guests.map((g) => g.agent.waitReady(180_000)));
    return performance.now() - t0;
  } finally {
    for (const g of guests) {
      g.kill('SIGKILL');
      await g.exited;
    }
    await settled(guests.map((g) => g.pgid));
    await network.down();
    await cleanAll(hostPaths(process.env));
  }
}

/** N tiny guests, 10 per collision domain (a hub each), as in issue 22's big lab. */
function labYaml(n: number): string {
  const machines = Array.from({ length: n }, (_, i) => `  h${i}:\n    image: tiny\n    memory: 64\n    interfaces:\n      - {domain: d${Math.floor(i / 10)}, ipv4: 10.1.${Math.floor(i / 10)}.${(i % 10) + 1}/24}\n`).join('');
  const domains = Array.from({ length: Math.ceil(n / 10) }, (_, d) => `  d${d}: {kind: hub}\n`).join('');
  return `lab:\n  name: bench${n}\nmachines:\n${machines}domains:\n${domains}`;
}

/** `vnetlab start` of a lab of N as a user runs it (its own process), fresh disks; stopped afterwards (not timed). */
async function commandStart(n: number, cpu?: number[]): Promise<number> {
  const lab = join(base, `command-${n}`);
  mkdirSync(lab, { recursive: true });
  writeFileSync(join(lab, 'lab.yaml'), labYaml(n));
  await cliMs(['wipe', lab, '--yes']).catch(() => 0); // nothing to wipe before the first start
  const busy0 = hostBusyTicks();
  const ms = await cliMs(['start', lab]);
  cpu?.push((hostBusyTicks() - busy0) / TICKS_PER_SECOND);
  await cliMs(['stop', lab]);
  return ms;
}

/** Wall time of one `vnetlab …` command (a process of its own, as a user runs it). */
function cliMs(args: string[]): Promise<number> {
  const t0 = performance.now();
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [VNETLAB, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.once('exit', (code) => (code === 0 ? ok(performance.now() - t0) : fail(new Error(`vnetlab ${args.join(' ')} exited with ${code}: ${err}`))));
  });
}

/** What `vnetlab start` does (launchLab): plan, prepare the host while the supervisor starts, boot, wait. */
async function labStart(n: number): Promise<{ ms: number; sup: SupervisorClient }> {
  const lab = join(base, `lab-${n}`);
  mkdirSync(lab, { recursive: true });
  writeFileSync(join(lab, 'lab.yaml'), labYaml(n));
  // Cold, as the command's: fresh disks and no kept lab-fs image (the last round's are wiped).
  await cliMs(['wipe', lab, '--yes']).catch(() => 0);
  const t0 = performance.now();
  const { client, result } = await launchLab(lab, { timeoutMs: 300_000 });
  const ms = performance.now() - t0;
  if (!result.ok) throw new Error(`lab of ${n} failed: ${result.failed.map((f) => f.machine).join(', ')}`);
  return { ms, sup: client };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median time from writing one character to seeing it echoed, over KEYSTROKES keys. */
async function keystrokeRoundTrip(write: (s: string) => void, output: () => string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < KEYSTROKES; i++) {
    const key = String.fromCharCode(97 + (i % 26));
    const before = output().length;
    const t0 = performance.now();
    write(key);
    await until(() => output().slice(before).includes(key), 5_000);
    times.push(performance.now() - t0);
  }
  write('\x15'); // Ctrl-U: clear the line we typed
  return median(times);
}

const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  console.log(`vnetlab runtime bench: kernel ${kernel}, image ${tinyImage}, sizes ${SIZES.join(', ')}`);
  for (const n of SIZES) {
    const rounds = n > 10 && runsAt < 0 ? 1 : RUNS;
    const bare: number[] = [];
    const bareSkipping: number[] = [];
    // The whole host's busy CPU (core-seconds) while the bare boots with the skips ran, and the command.
    const bareCpu: number[] = [];
    const commandCpu: number[] = [];
    const direct: number[] = [];
    const started: number[] = [];
    const command: number[] = [];
    let sup: SupervisorClient | undefined;
    for (let round = 0; round < rounds; round++) {
      if (sup) {
        // The previous round's lab must not load the host during this round's baselines.
        await sup.shutdown('crash');
        await sup.waitClosed();
      }
      // Each from an idle host: what the phase before tore down (a killed UML's ~40 host processes and
      // its memory) went on loading the host for a while, and the command, timed right after the
      // launcher's boots, came out ~0.09 s slower at 10 guests (0.82 s against 0.73 s in one run).
      await untilHostIdle();
      bare.push(await bareBoots(n));
      await untilHostIdle();
      bareSkipping.push(await bareBoots(n, BOOT_SKIPS, bareCpu));
      await untilHostIdle();
      direct.push(await launcherBoots(n));
      await untilHostIdle();
      command.push(await commandStart(n, commandCpu));
      await untilHostIdle();
      const run = await labStart(n);
      started.push(run.ms);
      sup = run.sup;
    }
    const [ms, d, b] = [median(started), median(direct), median(bare)];
    console.log(`start ${String(n).padStart(3)} guests: ${fmt(ms)} (files → all ready, as vnetlab start; median of ${rounds})`);
    console.log(`  vs bare linux.uml boots to a shell, same image and memory (no init, no network): ${fmt(b)}  ratio ${(ms / b).toFixed(2)} (target ≤ 1.3)`);
    const bs = median(bareSkipping);
    console.log(`  vs the same bare boots with vnetlab's boot skips (${BOOT_SKIPS.join(' ')}): ${fmt(bs)}  ratio ${(ms / bs).toFixed(2)} (what vnetlab itself adds)`);
    console.log(`  vs the same guests spawned at once to ready, no supervisor: ${fmt(d)}  ratio ${(ms / d).toFixed(2)}`);
    const c = median(command);
    console.log(`  the command as a user runs it (\`vnetlab start\`, a new process, fresh disks, until it returns): ${fmt(c)}  ratio ${(c / bs).toFixed(2)} against the bare boots with the same skips`);
    // Both are CPU-bound on a small host: the CPU they used, over its cores, is the least wall time they could take.
    const cores = availableParallelism();
    const [bc, cc] = [median(bareCpu), median(commandCpu)];
    console.log(`  the host's CPU meanwhile: the command ${cc.toFixed(2)} core-s (${Math.round((cc / (c / 1000) / cores) * 100)} % of ${cores} cores; at best ${fmt((cc / cores) * 1000)}), the bare boots ${bc.toFixed(2)} core-s (${Math.round((bc / (bs / 1000) / cores) * 100)} %; at best ${fmt((bc / cores) * 1000)})`);
    if (!sup) continue;
    // Let the guests settle to idle (at 500 the IPv6 wave after the start runs for seconds: memory read
    // during it is no idle guest's), then past the supervisor's next background refresh of it (5 s).
    const idleAfter = await untilHostIdle();
    if (idleAfter > 1_000) console.log(`  (the host was busy for ${fmt(idleAfter)} after the start: the guests' IPv6 and the supervisor's first memory samples)`);
    await new Promise((r) => setTimeout(r, 6000));
    const status = await sup.status();
    const perGuest = status.machines.reduce((sum, m) => sum + (m.rssBytes ?? 0), 0) / status.machines.length;
    console.log(`  memory per idle guest: ${(perGuest / 1024 / 1024).toFixed(1)} MB (PSS of the guest's host processes)`);
    if (n === SIZES[0]) {
      let viaSupervisor = '';
      const consoleView = await sup.attachConsole('h0', { onData: (d) => (viaSupervisor += d) });
      consoleView.write('\r');
      await new Promise((r) => setTimeout(r, 500));
      const rttSupervisor = await keystrokeRoundTrip((s) => consoleView.write(s), () => viaSupervisor);
      consoleView.detach();
      const bareGuest = bootBare(join(base, 'rtt'), 0);
      await until(() => /# /.test(bareGuest.output()), 60_000);
      const rttBare = await keystrokeRoundTrip((s) => bareGuest.term.write(s), bareGuest.output);
      killBare(bareGuest);
      console.log(`  console keystroke round trip: ${rttSupervisor.toFixed(1)} ms through the supervisor, ${rttBare.toFixed(1)} ms on a bare pty (target ≤ 30 ms)`);
    }
    // status from the CLI, as a user runs it (3 of each, median), then a graceful stop of every guest.
    const lab = join(base, `lab-${n}`);
    const text = median([await cliMs(['status', lab]), await cliMs(['status', lab]), await cliMs(['status', lab])]);
    const json = median([await cliMs(['status', lab, '--json']), await cliMs(['status', lab, '--json']), await cliMs(['status', lab, '--json'])]);
    console.log(`  vnetlab status: ${fmt(text)}, status --json: ${fmt(json)} (median of 3; target ≤ 1 s)`);
    sup.close();
    const stopMs = await cliMs(['stop', lab]);
    console.log(`  vnetlab stop (graceful: each guest's shutdown, disks synced): ${fmt(stopMs)}`);
  }
}

runBench(main, process.env, base, [runtimeDir]);
