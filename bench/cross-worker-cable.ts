// The cross-worker cable, prototyped (issue 22, section 3; docs/scale-out.md): one collision domain
// split over two workers. Each "worker" is a network namespace of its own (inside one unprivileged
// user namespace, joined by a veth pair over a bridge, as pods on a pod network); each runs a one-machine
// lab with `vnetlab start` (guests confined as always), and the two labs' switches are joined by two
// `vde_plug` processes speaking vdeplug4's udp:// plug to each other across the veth. Then pca pings
// pcb and pushes bytes to it through the cable. Same run, same guests' image, three cables:
//
//   1. same switch        — both guests on one vde_switch (the usual lab cable);
//   2. two switches, here — the two labs in one namespace, switches joined by a local vde_plug (stream);
//   3. two workers (UDP)  — the labs in two namespaces, switches joined by udp:// plugs over veth.
//
//   npx tsx bench/cross-worker-cable.ts [--pings 200] [--mbytes 16]
//
// Printed: ping RTT (p50/p95/min, busybox ping at 20 ms intervals) and TCP throughput (busybox nc,
// `dd` from /dev/zero, timed in the sending guest by its /proc/uptime; median of 3) for each. Cleanup: every lab stopped and cleaned with its own
// runtime dir, the plugs and namespaces killed by pid, /proc scanned for the bench's folder (exit 1 if
// something is left).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hostPaths } from '../src/main/paths.ts';

const REPO = resolve(import.meta.dirname, '..');
const VNETLAB = join(REPO, 'bin', 'vnetlab.mjs');
function flag(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
}
const PINGS = flag('pings', 200);
const MBYTES = flag('mbytes', 16);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const log = (line: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}`);

function pidsMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(needle)) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

const root = mkdtempSync(join(tmpdir(), 'vxc-'));
const images = join(root, 'images');
const started: ChildProcess[] = [];

/** A lab of one tiny guest on domain lan, or two (the same-switch cable). */
function lab(name: string, machines: [string, string][]): string {
  const dir = join(root, 'labs', name);
  mkdirSync(dir, { recursive: true });
  const yaml = ['lab:', `  name: ${name}`, 'machines:', ...machines.flatMap(([m, ip]) => [`  ${m}:`, '    kind: host', '    image: tiny', '    memory: 64', '    interfaces:', `      - {domain: lan, ipv4: ${ip}}`])].join('\n');
  writeFileSync(join(dir, 'lab.yaml'), `${yaml}\n`);
  return dir;
}

interface Ns {
  name: string;
  /** A process in the namespace (its init), to enter it. */
  pid: number;
  env: NodeJS.ProcessEnv;
}

let holder: ChildProcess | undefined;
function inHolder(script: string): string {
  const r = spawnSync('nsenter', ['--target', String(holder!.pid), '--user', '--net', 'sh', '-c', script], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`${script}: ${r.stderr}`);
  return r.stdout;
}

async function worker(name: string, ip: string): Promise<Ns> {
  const child = spawn('nsenter', ['--target', String(holder!.pid), '--user', '--', 'unshare', '--net', '--fork', '--kill-child', 'sleep', 'infinity'], { detached: true, stdio: 'ignore' });
  started.push(child);
  let init = 0;
  for (let i = 0; i < 200 && !init; i++) {
    init = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/)[0]) || 0;
    if (!init) await sleep(25);
  }
  inHolder(`ip link add v-${name} type veth peer name eth0 netns ${init} && ip link set v-${name} master br0 && ip link set v-${name} up`);
  const ns: Ns = { name, pid: init, env: { PATH: process.env.PATH, HOME: join(root, name, 'home'), VNETLAB_RUNTIME_DIR: join(root, name, 'run'), VNETLAB_STATE_DIR: join(root, name, 'state'), VNETLAB_IMAGE_DIR: images } };
  for (const d of ['home', 'run', 'state']) mkdirSync(join(root, name, d), { recursive: true, mode: 0o700 });
  run(ns, ['sh', '-c', `ip link set lo up && ip addr add ${ip}/24 dev eth0 && ip link set eth0 up`]);
  return ns;
}

/** A command in the namespace, as its (mapped) root. */
function run(ns: Ns, argv: string[], timeoutMs = 180_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('nsenter', ['--target', String(ns.pid), '--user', '--net', '--', ...argv], { env: ns.env, encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
const vnetlab = (ns: Ns, ...args: string[]) => run(ns, [process.execPath, VNETLAB, ...args]);

function must(what: string, r: { status: number | null; stdout: string; stderr: string }): string {
  if (r.status !== 0) throw new Error(`${what}: exit ${r.status}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Switch control folder of a lab's domain lan (as its own namespace's runtime dir names it). */
function ctlOf(ns: Ns, labDir: string): string {
  const plan = JSON.parse(must('compile', vnetlab(ns, 'compile', labDir, '--json'))) as { switches: { domain: string; ctlDir: string }[] };
  return plan.switches.find((s) => s.domain === 'lan')!.ctlDir;
}

/** vde_plug joining two plugs, in a namespace; killed by pid at the end. */
async function plug(ns: Ns, a: string, b: string): Promise<ChildProcess> {
  const child = spawn('nsenter', ['--target', String(ns.pid), '--user', '--net', '--', 'vde_plug', a, b], { env: ns.env, stdio: ['ignore', 'ignore', 'pipe'] });
  started.push(child);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  await sleep(300);
  if (child.exitCode !== null) throw new Error(`vde_plug ${a} ${b}: ${err}`);
  return child;
}

interface Figures {
  cable: string;
  rtt: string;
  mbps: number;
}

async function measure(cable: string, nsA: Ns, labA: string, nsB: Ns, labB: string): Promise<Figures> {
  // Latency: busybox ping, 20 ms apart; every reply's time, for the median and p95.
  const ping = must(`${cable}: ping`, vnetlab(nsA, 'exec', '-l', labA, '--timeout', '120', 'pca', '--', `ping -c ${PINGS} -i 0.02 10.0.0.2`));
  const times = [...ping.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
  const loss = /(\d+)% packet loss/.exec(ping)?.[1];
  if (!times.length) throw new Error(`${cable}: ping said ${ping}`);
  const q = (p: number) => times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)]!;
  // Throughput, three times (the median counts).
  const rates: number[] = [];
  for (let i = 0; i < 3; i++) rates.push(await throughput(cable, nsA, labA, nsB, labB));
  const mbps = [...rates].sort((a, b) => a - b)[1]!;
  const f = { cable, rtt: `${q(50).toFixed(2)} / ${q(95).toFixed(2)} / ${times[0]!.toFixed(2)} ms${loss && loss !== '0' ? ` (${loss}% lost)` : ''}`, mbps };
  log(`${cable}: RTT p50/p95/min ${f.rtt}; throughput ${rates.map((r) => r.toFixed(0)).join(', ')} Mbit/s`);
  return f;
}

async function throughput(cable: string, nsA: Ns, labA: string, nsB: Ns, labB: string): Promise<number> {
  // Throughput: pcb listens with nc, pca sends MBYTES from /dev/zero; timed inside pca (its uptime).
  // busybox nc -l ends the connection when its stdin ends: it reads a FIFO it also holds open, and
  // the bytes received are counted (a sample that did not get them all is an error, not a figure).
  const listener = spawn('nsenter', ['--target', String(nsB.pid), '--user', '--net', '--', process.execPath, VNETLAB, 'exec', '-l', labB, '--timeout', '120', 'pcb', '--', 'rm -f /tmp/f; mkfifo /tmp/f; exec 3<>/tmp/f; nc -l -p 5001 <&3 | wc -c'], { env: nsB.env, stdio: ['ignore', 'pipe', 'ignore'] });
  started.push(listener);
  let received = '';
  listener.stdout!.on('data', (d) => (received += d));
  await sleep(1500);
  const send = must(`${cable}: nc`, vnetlab(nsA, 'exec', '-l', labA, '--timeout', '120', 'pca', '--', `a=$(cat /proc/uptime); dd if=/dev/zero bs=64k count=${MBYTES * 16} 2>/dev/null | nc 10.0.0.2 5001; b=$(cat /proc/uptime); echo "T $a $b"`));
  await new Promise((r) => (listener.exitCode !== null ? r(null) : listener.once('exit', r)));
  if (Number(received.trim()) !== MBYTES * 1048576) throw new Error(`${cable}: pcb received ${received.trim() || 'nothing'} bytes, not ${MBYTES * 1048576}`);
  const m = /T ([\d.]+) \S+ ([\d.]+)/.exec(send);
  if (!m) throw new Error(`${cable}: nc said ${send}`);
  const secs = Number(m[2]) - Number(m[1]);
  return (MBYTES * 8 * 1.048576) / secs;
}

async function main(): Promise<number> {
  const shared = hostPaths(process.env).imageDir;
  if (!existsSync(join(shared, 'tiny.ext4'))) {
    console.log('no tiny image: run `vnetlab image build tiny` first');
    return 2;
  }
  mkdirSync(images);
  for (const f of ['tiny.ext4', 'tiny.json']) spawnSync('cp', ['--sparse=always', join(shared, f), join(images, f)]);
  if (existsSync(join(shared, 'host'))) cpSync(join(shared, 'host'), join(images, 'host'), { recursive: true });
  const results: Figures[] = [];
  let failed = false;
  const labs: [Ns, string][] = [];
  try {
    holder = spawn('unshare', ['--user', '--map-root-user', '--net', '--fork', '--kill-child', 'sleep', 'infinity'], { detached: true, stdio: 'ignore' });
    started.push(holder);
    await sleep(200);
    inHolder('ip link set lo up && ip link add br0 type bridge && ip link set br0 up');
    const A = await worker('wa', '10.78.0.2');
    const B = await worker('wb', '10.78.0.3');
    log(`two workers: namespaces of pids ${A.pid} and ${B.pid}, joined by veth over a bridge (10.78.0.2 ↔ 10.78.0.3)`);

    // 1. Same switch.
    const both = lab('same-switch', [
      ['pca', '10.0.0.1/24'],
      ['pcb', '10.0.0.2/24'],
    ]);
    must('start same-switch', vnetlab(A, 'start', both));
    labs.push([A, both]);
    results.push(await measure('same switch', A, both, A, both));
    must('stop', vnetlab(A, 'stop', both));

    // 2. Two switches on one worker, joined by a local vde_plug.
    const la = lab('side-a', [['pca', '10.0.0.1/24']]);
    const lb = lab('side-b', [['pcb', '10.0.0.2/24']]);
    must('start side-a', vnetlab(A, 'start', la));
    labs.push([A, la]);
    must('start side-b (same worker)', vnetlab(A, 'start', lb));
    labs.push([A, lb]);
    const local = await plug(A, ctlOf(A, la), ctlOf(A, lb));
    results.push(await measure('two switches, one worker (vde_plug)', A, la, A, lb));
    local.kill('SIGTERM');
    must('stop', vnetlab(A, 'stop', lb));

    // 3. The same two switches on two workers, joined by udp:// plugs across the veth.
    must('start side-b (worker B)', vnetlab(B, 'start', lb));
    labs.push([B, lb]);
    await plug(A, ctlOf(A, la), 'udp://5000->10.78.0.3:5000');
    await plug(B, ctlOf(B, lb), 'udp://5000->10.78.0.2:5000');
    results.push(await measure('two workers, vdeplug4 udp://', A, la, B, lb));

    console.log('\n== cross-worker cable ==');
    console.log(`| cable | ping RTT p50 / p95 / min (${PINGS} pings, 20 ms apart) | TCP throughput (${MBYTES} MiB with nc, median of 3) |`);
    console.log('| --- | --- | --- |');
    for (const r of results) console.log(`| ${r.cable} | ${r.rtt} | ${r.mbps.toFixed(0)} Mbit/s (${(r.mbps / results[0]!.mbps).toFixed(2)}×) |`);
  } catch (err) {
    failed = true;
    console.error(`bench failed: ${(err as Error).message}`);
  } finally {
    for (const [ns, dir] of labs) {
      vnetlab(ns, 'stop', dir);
      vnetlab(ns, 'clean', '--all');
    }
    for (const c of started.reverse()) {
      try {
        if (c.pid) process.kill(-c.pid, 'SIGKILL');
      } catch {
        try {
          c.kill('SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    for (let i = 0; i < 100 && pidsMentioning(root).length; i++) await sleep(100);
    const left = pidsMentioning(root);
    if (left.length) {
      failed = true;
      console.log(`LEFT BEHIND: ${left.join(' ')} mention ${root}`);
    } else {
      console.log(`cleanup: no process mentions ${root}`);
      rmSync(root, { recursive: true, force: true });
    }
  }
  return failed ? 1 : 0;
}

process.exitCode = await main();
