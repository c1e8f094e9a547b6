// The classroom as a cluster under load (issue 22, section 2): the front door and W workers as pods
// (network, UTS, mount and PID namespaces of their own, joined only by TCP over veth links:
// test/classroom/netns-cluster.ts), N students spread over the workers by the admission rule, each
// starting two-hosts on `tiny` at once and typing K keystrokes in pc1's console (each timed until its
// echo). Printed: start and keystroke latency (p50/p95), the front door's CPU and memory, each
// worker pod's CPU and memory (every process of its PID namespace), and from those the "Sizing"
// figures of docs/classroom.md: students per worker core and per GiB. Same-run comparison: first,
// bench/classroom.ts (the single-host bench, 20 students by default) runs alone and its summary is
// printed beside ours; then one student alone on the cluster (the baseline).
//
//   npx tsx bench/cluster.ts [--students 60] [--workers 3] [--keys 20] [--single 20 | --single 0]
//
// It loads the machine (2N guests). Cleanup: every lab stopped, every pod's process group killed
// (its PID namespace with it), and /proc scanned for anything naming the bench's folder (exit 1 if so).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LabStatus } from '../src/shared/runtime-api.ts';
import { Browser, type Rpc } from '../test/classroom/helpers.ts';
import { clusterUnavailable, startCluster, type Cluster } from '../test/classroom/netns-cluster.ts';

const REPO = resolve(import.meta.dirname, '..');
const PW = 'a long bench password';
function flag(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} needs a number`);
  return v;
}
const N = Math.max(1, Math.floor(flag('students', 60)));
const W = Math.max(1, Math.floor(flag('workers', 3)));
const KEYS = Math.max(1, Math.floor(flag('keys', 20)));
const SINGLE = Math.floor(flag('single', 20));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const msf = (ms: number) => `${ms.toFixed(1)} ms`;
const mb = (b: number) => `${(b / 1048576).toFixed(0)} MB`;
const t0 = Date.now();
const log = (line: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}`);
const TICK = 100; // USER_HZ

// ---- a pod's processes: CPU and memory ----------------------------------------------------------

/** Every process in the PID namespace of `init` (host pids). */
function podPids(init: number): number[] {
  let ns: string;
  try {
    ns = readlinkSync(`/proc/${init}/ns/pid`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readlinkSync(`/proc/${d}/ns/pid`) === ns) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** CPU seconds (user + system, this process only) of a pid. */
function cpuOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK;
  } catch {
    return 0;
  }
}

/** PSS of a set of processes; UML's CLONE_VM helpers share one address space: counted once. */
function pssOf(pids: number[]): number {
  const seen = new Set<string>();
  let bytes = 0;
  for (const pid of pids) {
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      if (seen.has(rollup)) continue;
      seen.add(rollup);
      bytes += Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0) * 1024;
    } catch {
      /* gone */
    }
  }
  return bytes;
}

/** CPU of a whole pod, including what its exited children used (cutime/cstime of its init). */
function podCpu(init: number): number {
  let total = 0;
  for (const pid of podPids(init)) total += cpuOf(pid);
  try {
    const stat = readFileSync(`/proc/${init}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    total += (Number(f[13]) + Number(f[14])) / TICK;
  } catch {
    /* gone */
  }
  return total;
}

// ---- a student over the app's protocol ------------------------------------------------------------

interface Result {
  name: string;
  worker: number;
  startMs?: number;
  rttMs: number[];
  error?: string;
  rpc?: Rpc;
  lab?: string;
}

class Console {
  text = '';
  private waiters: (() => void)[] = [];
  constructor(
    readonly rpc: Rpc,
    readonly id: string,
  ) {
    rpc.ws.on('message', (raw) => {
      const f = JSON.parse(String(raw));
      if (f.push?.kind === 'console-data' && f.push.consoleId === id) {
        this.text += f.push.data;
        void rpc.call('consoleAck', id, f.push.data.length).catch(() => {});
        for (const w of this.waiters.splice(0)) w();
      }
    });
  }
  async until(test: (added: string) => boolean, from: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!test(this.text.slice(from))) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return true;
  }
  async prompt(): Promise<void> {
    const from = this.text.length;
    await this.rpc.call('consoleInput', this.id, '\r');
    await this.until((s) => /[#$] $/.test(s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')), from, 60_000);
  }
  async type(line: string, rtts: number[]): Promise<void> {
    for (const ch of line) {
      const from = this.text.length;
      const t = performance.now();
      await this.rpc.call('consoleInput', this.id, ch);
      if (await this.until((s) => s.includes(ch), from, 10_000)) rtts.push(performance.now() - t);
    }
    const from = this.text.length;
    await this.rpc.call('consoleInput', this.id, '\r');
    await this.until((s) => /[#$] $/.test(s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')), from, 20_000);
  }
}

async function student(b: Browser, r: Result, onStarted: () => void): Promise<void> {
  const loc = (await b.fetch('/open/two-hosts')).headers.get('location') ?? '';
  const lab = decodeURIComponent(/lab=([^&]+)/.exec(loc)?.[1] ?? '');
  if (!lab) throw new Error(`/open/two-hosts: ${loc}`);
  const rpc = await b.rpc();
  r.rpc = rpc;
  r.lab = lab;
  await rpc.call('openLab', lab);
  await rpc.call('subscribe', lab);
  const t = performance.now();
  const st = await rpc.call<LabStatus>('startLab', lab);
  r.startMs = performance.now() - t;
  onStarted();
  if (!st.machines.every((m) => m.state === 'ready')) throw new Error(`machines not ready: ${st.machines.map((m) => m.state)}`);
  const att = await rpc.call<{ consoleId: string; replay: string }>('attachConsole', lab, 'pc1');
  const con = new Console(rpc, att.consoleId);
  con.text = att.replay;
  await con.prompt();
  const cmd = 'echo typed';
  await con.type(`${cmd} #${'x'.repeat(Math.max(0, KEYS - cmd.length - 2))}`, r.rttMs);
}

// ---- the single-host bench, alone, first --------------------------------------------------------------

async function singleHost(): Promise<string[]> {
  if (!SINGLE) return [];
  log(`single-host bench first: npx tsx bench/classroom.ts --students ${SINGLE} --browsers 0`);
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'bench', 'classroom.ts'), '--students', String(SINGLE), '--browsers', '0'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  const summary = out.slice(out.indexOf('== classroom bench =='));
  if (code !== 0) log(`single-host bench exited ${code}:\n${out.split('\n').slice(-15).join('\n')}`);
  return summary.split('\n').filter((l) => l.trim());
}

// ---- main -------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const why = clusterUnavailable();
  if (why) {
    console.log(`cluster bench cannot run here: ${why}`);
    return 2;
  }
  const single = await singleHost();

  console.log(`cluster bench: ${N} students over ${W} workers (pods in their own namespaces), two-hosts on tiny each, ${KEYS} keystrokes each`);
  const accounts: [string, string, 'student' | 'instructor'][] = Array.from({ length: N }, (_, i) => [`student${i}`, `student${i}@bench.test`, 'student']);
  // The baseline student is the last one on worker 0 (N % W = 0 in the default); then the instructor.
  accounts.push(['baseline', 'baseline@bench.test', 'student'], ['teacher', 'teacher@bench.test', 'instructor']);
  let cluster: Cluster | undefined;
  const results: Result[] = [];
  let failed = false;
  process.once('SIGINT', () => void cluster?.close().finally(() => process.exit(130)));
  try {
    const tc = Date.now();
    cluster = await startCluster({
      workers: W,
      accounts,
      yaml: ['quota: {machines: 2, memory_mb: 256}', `capacity: {machines: ${2 * (N + 1)}, memory_mb: ${128 * (N + 1)}}`, 'idle_stop_minutes: 0', 'start_timeout_sec: 900'],
    });
    const fd = cluster.pods.get('vnetlab-frontdoor')!;
    const workers = Array.from({ length: W }, (_, i) => cluster!.pods.get(`vnetlab-worker-${i}`)!);
    log(`cluster up in ${sec(Date.now() - tc)}: front door pid ${fd.init}, workers ${workers.map((w) => w.init).join(', ')}`);

    const browsers = new Map<string, Browser>();
    await Promise.all(
      accounts.map(async ([, email]) => {
        const b = new Browser(cluster!.base);
        const res = await b.setPassword(cluster!.invites.get(email)!, PW);
        if (res.status !== 303) throw new Error(`${email}: invitation ${res.status}`);
        browsers.set(email, b);
      }),
    );
    log(`${accounts.length} accounts set their passwords`);
    const idle = { fd: pssOf([fd.init]), workers: workers.map((w) => pssOf(podPids(w.init))) };

    // Baseline: one student alone on the cluster.
    const baseline: Result = { name: 'baseline', worker: N % W, rttMs: [] };
    await student(browsers.get('baseline@bench.test')!, baseline, () => {});
    await baseline.rpc!.call('stopLab', baseline.lab);
    baseline.rpc!.close();
    log(`baseline: start ${sec(baseline.startMs!)}, keystroke p50 ${msf(pct(baseline.rttMs, 50))}`);

    // The class, all at once; CPU from here to the last start, then while everyone types.
    const cpu0 = { fd: cpuOf(fd.init), workers: workers.map((w) => podCpu(w.init)) };
    let fdPeak = 0;
    const sampler = setInterval(() => (fdPeak = Math.max(fdPeak, pssOf([fd.init]))), 2000);
    let up = 0;
    let allUp!: () => void;
    const allStarted = new Promise<void>((r) => (allUp = r));
    const onStarted = () => {
      if (++up === N) allUp();
    };
    const tLoad = Date.now();
    const runs = Array.from({ length: N }, async (_, i) => {
      const r: Result = { name: `student${i}`, worker: i % W, rttMs: [] };
      results.push(r);
      try {
        await student(browsers.get(`student${i}@bench.test`)!, r, onStarted);
      } catch (err) {
        r.error = (err as Error).message.split('\n')[0];
        if (r.startMs === undefined) onStarted();
      }
    });
    await allStarted;
    const bootMs = Date.now() - tLoad;
    const cpuBoot = { fd: cpuOf(fd.init) - cpu0.fd, workers: workers.map((w, i) => podCpu(w.init) - cpu0.workers[i]!) };
    const upMem = { fd: pssOf([fd.init]), workers: workers.map((w) => pssOf(podPids(w.init))) };
    await Promise.all(runs);
    const loadMs = Date.now() - tLoad;
    log(`class: all ${N} started in ${sec(bootMs)}, typing done at ${sec(loadMs)}; errors: ${results.filter((r) => r.error).map((r) => `${r.name}: ${r.error}`).join('; ') || 'none'}`);
    // Steady state: every lab up, nobody typing, the app's 5-s status polls running (as an open page does).
    const polls = setInterval(() => {
      for (const r of results) if (r.rpc && r.lab) void r.rpc.call('status', r.lab).catch(() => {});
    }, 5000);
    const s0 = { fd: cpuOf(fd.init), workers: workers.map((w) => podCpu(w.init)), at: Date.now() };
    await sleep(20_000);
    const steadySec = (Date.now() - s0.at) / 1000;
    const steady = { fd: (cpuOf(fd.init) - s0.fd) / steadySec, workers: workers.map((w, i) => (podCpu(w.init) - s0.workers[i]!) / steadySec) };
    clearInterval(polls);
    clearInterval(sampler);
    const dash = (await (await browsers.get('teacher@bench.test')!.fetch('/api/class')).json()) as { students: { worker: number; running: unknown[] }[]; workers: { up: boolean }[] };
    const perWorker = workers.map((_, i) => dash.students.filter((s) => s.worker === i && s.running.length).length);

    // ---- figures ----
    const ok = results.filter((r) => !r.error);
    const starts = ok.map((r) => r.startMs!);
    const rtts = ok.flatMap((r) => r.rttMs);
    console.log('\n== cluster bench ==');
    console.log(`students: ${N} over ${W} workers (${perWorker.join(' / ')} running per worker on the dashboard), ${ok.length} completed; workers up: ${dash.workers.map((w) => (w.up ? 'yes' : 'no')).join(', ')}`);
    console.log(`start two-hosts, alone (baseline):  ${sec(baseline.startMs!)}`);
    console.log(`start two-hosts, ${N} at once:       p50 ${sec(pct(starts, 50))}  p95 ${sec(pct(starts, 95))}  max ${sec(Math.max(...starts))}  (p50 ${(pct(starts, 50) / baseline.startMs!).toFixed(2)}× baseline)`);
    console.log(`keystroke round trip, alone:        p50 ${msf(pct(baseline.rttMs, 50))}  p95 ${msf(pct(baseline.rttMs, 95))}  (${baseline.rttMs.length} keys)`);
    console.log(`keystroke round trip, class:        p50 ${msf(pct(rtts, 50))}  p95 ${msf(pct(rtts, 95))}  (${rtts.length} keys)`);
    console.log(`front door CPU: ${cpuBoot.fd.toFixed(2)} s during the ${sec(bootMs)} of starts (${((100 * cpuBoot.fd) / (bootMs / 1000)).toFixed(1)} % of a core); steady (${N} labs up, 5-s status polls): ${(100 * steady.fd).toFixed(1)} % of a core`);
    console.log(`front door memory (PSS): ${mb(idle.fd)} idle, ${mb(upMem.fd)} with all labs up, peak ${mb(Math.max(fdPeak, upMem.fd))}`);
    workers.forEach((_, i) =>
      console.log(`worker ${i} pod (every process of it): ${perWorker[i]} students; memory ${mb(idle.workers[i]!)} idle → ${mb(upMem.workers[i]!)} up; CPU ${cpuBoot.workers[i]!.toFixed(1)} s for the starts, ${(100 * steady.workers[i]!).toFixed(1)} % of a core steady`),
    );
    const students = perWorker.reduce((a, b) => a + b, 0) || ok.length;
    const memPer = upMem.workers.reduce((a, b, i) => a + b - idle.workers[i]!, 0) / students;
    const bootCpuPer = cpuBoot.workers.reduce((a, b) => a + b, 0) / students;
    const steadyPer = steady.workers.reduce((a, b) => a + b, 0) / students;
    console.log('\n== sizing (per worker) ==');
    console.log(`memory per student (two tiny guests, switch, supervisor): ${mb(memPer)} → ${(1024 * 1048576 / memPer).toFixed(1)} students per GiB (plus ${mb(idle.workers.reduce((a, b) => a + b, 0) / W)} per idle worker)`);
    console.log(`CPU per student start: ${bootCpuPer.toFixed(2)} core-seconds → one core starts ${(60 / bootCpuPer).toFixed(0)} students a minute`);
    console.log(`CPU per running student, steady: ${(100 * steadyPer).toFixed(2)} % of a core → ${(1 / steadyPer).toFixed(0)} students per core`);
    if (single.length) {
      console.log('\n== single-host bench, same run (bench/classroom.ts) ==');
      for (const l of single) console.log(l);
    }
    for (const r of results.filter((x) => x.error)) console.log(`  ${r.name} (worker ${r.worker}): ${r.error}`);
    failed = ok.length !== N;
  } catch (err) {
    failed = true;
    console.error(`bench failed: ${(err as Error).stack}`);
    for (const pod of cluster?.pods.values() ?? []) console.error(`--- ${pod.name} ---\n${pod.output.slice(-15).join('\n')}`);
  } finally {
    await Promise.all(results.map((r) => (r.rpc && r.lab ? r.rpc.call('stopLab', r.lab).catch(() => undefined) : undefined)));
    for (const r of results) r.rpc?.close();
    try {
      await cluster?.close();
      log('cleanup: no process left');
    } catch (err) {
      failed = true;
      log(`LEFT BEHIND: ${(err as Error).message}`);
    }
  }
  return failed ? 1 : 0;
}

process.exitCode = await main();
