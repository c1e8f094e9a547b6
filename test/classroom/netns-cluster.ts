// A classroom cluster on one machine, as faithful to Kubernetes as it can be without one (issue 22,
// section 2): the front door and each worker run as "pods" — each in network, UTS, mount and PID
// namespaces of its own, with its own hostname (vnetlab-worker-N, so the worker takes its index from
// it as in a StatefulSet), its own volume bind-mounted at the same path (one data dir per worker) and
// its own emptyDir for TMPDIR — joined only by TCP over veth links on a bridge (the pod network).
// Every pod runs the same command and config as deploy/k8s does, with all capabilities dropped.
//
// The namespaces live in one user namespace (`unshare --user --map-root-user`): the pods' root has
// capabilities over their namespaces only, and drops them all before it runs vnetlab. As a normal
// user that namespace would map only that user (so / and /tmp would belong to nobody inside it, which
// the worker refuses): the cluster needs root, and the test says so when skipped. The test process
// stays on the host's network: it reaches the front door through a Unix socket relayed into the front
// door's pod (an ingress), re-exposed here on 127.0.0.1 so the students' clients use plain HTTP.
//
// A pod's network and hostname are held by its sandbox (as by a pod's pause container); its container
// runs in mount and PID namespaces of its own, started detached: it is its own process group, and its
// init is PID 1 of its PID namespace, so `kill -9` of that group ends everything the container started
// (supervisors, guests, switches), as when the kubelet's container dies; started again, it comes back
// in the same sandbox, with the same address, as a restarted container does. Nothing is looked up by
// name.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostPaths } from '../../src/main/paths.ts';
import { REPO } from './helpers.ts';

const VNETLAB = join(REPO, 'bin', 'vnetlab.mjs');
const NET = '10.77.0';
const WORKER_PORT = 7070;
const FRONT_PORT = 8080;

/** Why the cluster cannot run here, or undefined when it can. */
export function clusterUnavailable(): string | undefined {
  // A user namespace made by a normal user maps only that user: / and /tmp then belong to "nobody"
  // inside it, and the worker refuses them as parents of its private folders (runtime/private-dir.ts).
  if (process.getuid?.() !== 0) return 'the pods need a user namespace that maps root (as root, as in CI): one made by a normal user maps only that user, and inside it / and /tmp belong to nobody, which the worker rightly refuses as parents of its private folders';
  for (const tool of ['unshare', 'nsenter', 'ip', 'setpriv']) if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed (util-linux, iproute2)`;
  const probe = spawnSync('unshare', ['--user', '--map-root-user', '--net', '--pid', '--fork', '--mount', '--mount-proc', 'sh', '-c', 'ip link add v0 type veth peer name v1 && ip link add b0 type bridge'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.status !== 0) return `this kernel does not let this user make network namespaces inside a user namespace (${(probe.stderr || '').trim() || `exit ${probe.status}`}); as root, or with kernel.unprivileged_userns_clone=1, it runs`;
  if (!readdirSync(hostPaths(process.env).imageDir).includes('tiny.ext4')) return 'no tiny image: run `vnetlab images build tiny` first';
  return undefined;
}

export interface Pod {
  name: string;
  ip: string;
  child: ChildProcess;
  /** Its process group (= the pid started here): `kill -9 -pgid` ends the whole pod. */
  pgid: number;
  /** Its init, PID 1 of its PID namespace (host view): the worker's or front door's node process. */
  init: number;
  output: string[];
  exited: Promise<void>;
}

export interface ClusterOptions {
  workers: number;
  /** Extra lines of classroom.yaml. */
  yaml?: string[];
  /** Accounts made before the front door starts: [name, email, role]. */
  accounts: [string, string, 'student' | 'instructor'][];
}

export interface Cluster {
  root: string;
  /** The front door as the test's clients reach it (http://127.0.0.1:PORT). */
  base: string;
  configFile: string;
  /** Invitation link per e-mail. */
  invites: Map<string, string>;
  pods: Map<string, Pod>;
  /** The real folder behind worker i's volume (its PVC). */
  workerVolume(i: number): string;
  /** The path of the volume inside every worker pod (the same for all of them). */
  volumeInPod: string;
  startWorker(i: number): Promise<Pod>;
  /** kill -9 of worker i's process group (its container: every process of its PID namespace); resolves once it is gone. */
  killWorker(i: number): Promise<number>;
  /** Takes worker i's link to the pod network down (true) or up again: its node unreachable, no FIN sent. */
  cutWorker(i: number, cut: boolean): void;
  /** Pids (host view) of every process whose command line mentions the cluster's folder. */
  leftovers(): number[];
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** A pod's sandbox (what the pause container holds): its hostname and its end of the pod network. */
const SANDBOX_NET = (name: string, ip: string) => `hostname ${name} && ip link set lo up && ip addr add ${ip}/24 dev eth0 && ip link set eth0 up && ip route add default via ${NET}.1`;

/** What the container runs before its command: its volumes, then no capabilities. */
const CONTAINER_INIT = `set -e
mount --bind "$POD_VOLUME" "$VOLUME_MOUNT"
mount --bind "$POD_RUN" "$RUN_MOUNT"
exec setpriv --inh-caps=-all --bounding-set=-all --no-new-privs "$@"`;

/** The front door's ingress: this Unix socket to the front door on the pod's loopback. */
const INGRESS = `const net = require('node:net');
const [sock, port] = process.argv.slice(1);
net.createServer((c) => { const u = net.connect(Number(port), '127.0.0.1'); u.setNoDelay(true); c.pipe(u).pipe(c); c.on('error', () => u.destroy()); u.on('error', () => c.destroy()); }).listen(sock);`;

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const root = mkdtempSync(join(tmpdir(), 'vccl-'));
  chmodSync(root, 0o700);
  const volumeMount = join(root, 'volume');
  const runMount = join(root, 'run');
  for (const d of [volumeMount, runMount, join(root, 'pods'), join(root, 'secret')]) mkdirSync(d, { mode: 0o700 });
  // The tiny image, a private copy: another test rebuilding the shared one would orphan these disks.
  const images = join(root, 'images');
  mkdirSync(images);
  const shared = hostPaths(process.env).imageDir;
  for (const f of ['tiny.ext4', 'tiny.json']) spawnSync('cp', ['--sparse=always', join(shared, f), join(images, f)]);
  if (existsSync(join(shared, 'host'))) cpSync(join(shared, 'host'), join(images, 'host'), { recursive: true });
  const lab = join(root, 'course', 'two-hosts');
  cpSync(join(REPO, 'labs', 'two-hosts'), lab, { recursive: true });

  const port = await freePort();
  const secretFile = join(root, 'secret', 'worker-secret');
  writeFileSync(secretFile, `${Buffer.from(Array.from({ length: 32 }, () => Math.floor(Math.random() * 256))).toString('base64url')}\n`, { mode: 0o600 });
  const configFile = join(root, 'classroom.yaml');
  const yaml = [
    'name: Cluster class',
    `public_url: http://127.0.0.1:${port}`,
    `listen: {host: 127.0.0.1, port: ${FRONT_PORT}}`,
    // The front door's own volume; each worker gets --data on its own volume (deploy/k8s/worker.yaml).
    `data_dir: ${join(volumeMount, 'classroom')}`,
    `worker_secret_file: ${secretFile}`,
    'labs:',
    `  - {id: two-hosts, path: ${lab}, title: Two hosts}`,
    ...((options.yaml ?? []).some((l) => l.startsWith('start_timeout_sec:')) ? [] : ['start_timeout_sec: 120']),
    'workers:',
    '  local: 0',
    '  urls:',
    ...Array.from({ length: options.workers }, (_, i) => `    - tcp://${NET}.${20 + i}:${WORKER_PORT}`),
    ...(options.yaml ?? []),
  ].join('\n');
  writeFileSync(configFile, `${yaml}\n`);

  // The pod network: a user namespace with a network namespace holding the bridge.
  const holder = spawn('unshare', ['--user', '--map-root-user', '--net', '--fork', '--kill-child', 'sleep', 'infinity'], { detached: true, stdio: 'ignore' });
  const H = holder.pid!;
  const inNet = (script: string) => {
    const r = spawnSync('nsenter', ['--target', String(H), '--user', '--net', 'sh', '-c', script], { encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0) throw new Error(`pod network: ${script}: ${r.stderr}`);
    return r.stdout;
  };
  for (let i = 0; ; i++) {
    try {
      inNet(`ip link set lo up && ip link add br0 type bridge && ip addr add ${NET}.1/24 dev br0 && ip link set br0 up`);
      break;
    } catch (err) {
      if (i > 40) throw err;
      await sleep(50);
    }
  }

  const pods = new Map<string, Pod>();
  const podDir = (name: string) => join(root, 'pods', name);
  const env = (name: string): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    HOME: join(runMount, 'home'),
    TMPDIR: runMount,
    VNETLAB_IMAGE_DIR: images,
    POD_NAME: name,
    POD_VOLUME: join(podDir(name), 'volume'),
    POD_RUN: join(podDir(name), 'run'),
    VOLUME_MOUNT: volumeMount,
    RUN_MOUNT: runMount,
  });

  /** The first child of a process (unshare --fork's), waited for. */
  async function childOf(pid: number, what: string): Promise<number> {
    for (let i = 0; i < 200; i++) {
      const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
      const child = Number(kids.split(/\s+/)[0]) || 0;
      if (child) return child;
      await sleep(25);
    }
    throw new Error(`${what} did not start`);
  }

  /**
   * A pod's network and hostname live in its sandbox, made once, like the pause container of a
   * Kubernetes pod: a container killed and restarted by the kubelet comes back in the same sandbox,
   * with the same address (and MAC), so its peers' neighbour caches stay right.
   */
  const sandboxes = new Map<string, { pid: number; child: ChildProcess }>();
  async function sandboxOf(name: string, ip: string): Promise<number> {
    const known = sandboxes.get(name);
    if (known) return known.pid;
    const child = spawn('nsenter', ['--target', String(H), '--user', '--', 'unshare', '--net', '--uts', '--fork', '--kill-child', 'sleep', 'infinity'], { detached: true, stdio: 'ignore' });
    const pid = await childOf(child.pid!, `the sandbox of ${name}`);
    sandboxes.set(name, { pid, child });
    const veth = `v-${name.replace(/^vnetlab-/, '')}`.slice(0, 15);
    inNet(`ip link add ${veth} type veth peer name eth0 netns ${pid} && ip link set ${veth} master br0 && ip link set ${veth} up`);
    const r = spawnSync('nsenter', ['--target', String(pid), '--user', '--net', '--uts', 'sh', '-c', SANDBOX_NET(name, ip)], { encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0) throw new Error(`the sandbox of ${name}: ${r.stderr}`);
    return pid;
  }

  async function startPod(name: string, ip: string, argv: string[], ready: RegExp, extra: string[] = []): Promise<Pod> {
    for (const d of ['volume', 'run']) mkdirSync(join(podDir(name), d), { recursive: true, mode: 0o700 });
    mkdirSync(join(podDir(name), 'run', 'home'), { recursive: true, mode: 0o700 });
    const sandbox = await sandboxOf(name, ip);
    const child = spawn('nsenter', ['--target', String(sandbox), '--user', '--net', '--uts', '--', 'unshare', '--mount', '--pid', '--fork', '--mount-proc', '--kill-child', 'sh', '-c', `${extra.join('\n')}\n${CONTAINER_INIT}`, 'pod-init', ...argv], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...env(name), POD_IP: ip },
    });
    const output: string[] = [];
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    let seen: () => void = () => {};
    const up = new Promise<void>((r) => (seen = r));
    const onData = (d: Buffer) => {
      for (const line of d.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        output.push(line);
        // What every pod says, for a failed run: VNETLAB_CLUSTER_LOG=/path/to/file.
        if (process.env.VNETLAB_CLUSTER_LOG) appendFileSync(process.env.VNETLAB_CLUSTER_LOG, `${new Date().toISOString()} [${name}] ${line}\n`);
      }
      if (ready.test(output.join('\n'))) seen();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    const pod: Pod = { name, ip, child, pgid: child.pid!, init: 0, output, exited };
    pods.set(name, pod);
    // Its init (PID 1 of its PID namespace) is the child of unshare.
    pod.init = await childOf(child.pid!, `pod ${name}`);
    const deadline = Date.now() + 60_000;
    await Promise.race([
      up,
      exited.then(() => {
        throw new Error(`pod ${name} exited: ${output.join('\n')}`);
      }),
      (async () => {
        while (Date.now() < deadline) await sleep(500);
        throw new Error(`pod ${name} not ready in 60 s: ${output.join('\n')}`);
      })(),
    ]);
    return pod;
  }

  const workerName = (i: number) => `vnetlab-worker-${i}`;
  const startWorker = (i: number) =>
    startPod(workerName(i), `${NET}.${20 + i}`, [process.execPath, VNETLAB, 'classroom', 'worker', '--config', configFile, '--listen', `tcp:0.0.0.0:${WORKER_PORT}`, '--data', join(volumeMount, 'worker')], /worker \d+ listening on/);

  const cleanup = async () => {
    for (const pod of pods.values()) {
      try {
        process.kill(-pod.pgid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await Promise.all([...pods.values()].map((p) => p.exited));
    for (const sb of sandboxes.values()) {
      try {
        process.kill(-sb.child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    try {
      process.kill(-H, 'SIGKILL');
    } catch {
      /* gone */
    }
  };

  let ingress: Server | undefined;
  try {
    // Accounts first: a running front door reads new CLI accounts only when it restarts.
    const invites = new Map<string, string>();
    const accountsRoot = join(podDir('vnetlab-frontdoor'), 'volume');
    mkdirSync(accountsRoot, { recursive: true, mode: 0o700 });
    // The CLI writes the front door's volume through its real path: the same config with data_dir there.
    const cliConfig = join(root, 'classroom-cli.yaml');
    writeFileSync(cliConfig, readFileSync(configFile, 'utf8').replace(`data_dir: ${join(volumeMount, 'classroom')}`, `data_dir: ${join(accountsRoot, 'classroom')}`));
    mkdirSync(join(accountsRoot, 'classroom'), { mode: 0o700 });
    // One roster import per role, in the order given (the order is the admission rule's: round robin).
    for (let i = 0; i < options.accounts.length; ) {
      const role = options.accounts[i]![2];
      let j = i;
      while (j < options.accounts.length && options.accounts[j]![2] === role) j++;
      const csv = join(root, `roster-${i}.csv`);
      writeFileSync(csv, options.accounts.slice(i, j).map(([name, email]) => `${name},${email}\n`).join(''));
      const r = spawnSync(process.execPath, [VNETLAB, 'classroom', 'roster', '--config', cliConfig, '--role', role, csv], { encoding: 'utf8' });
      for (const [, email, link] of r.stdout.matchAll(/<([^>]+)> \([a-z]+\): (http:\/\/\S+\/invite\?token=\S+)/g)) invites.set(email!, link!);
      for (const [, email] of options.accounts.slice(i, j)) if (!invites.has(email)) throw new Error(`roster: no invitation for ${email}: ${r.stdout}${r.stderr}`);
      i = j;
    }

    await Promise.all(Array.from({ length: options.workers }, (_, i) => startWorker(i)));
    const ingressSock = join(root, 'ingress.sock');
    await startPod('vnetlab-frontdoor', `${NET}.10`, [process.execPath, VNETLAB, 'classroom', 'serve', '--config', configFile], /vnetlab classroom "/, [`node -e "${INGRESS.replace(/"/g, '\\"')}" "${ingressSock}" ${FRONT_PORT} &`]);
    // Here: 127.0.0.1:port → the ingress socket → the front door on its pod's loopback.
    ingress = createServer((c) => {
      c.setNoDelay(true);
      const u = connect(ingressSock);
      c.pipe(u).pipe(c);
      c.on('error', () => u.destroy());
      u.on('error', () => c.destroy());
    });
    await new Promise<void>((r) => ingress!.listen(port, '127.0.0.1', () => r()));

    return {
      root,
      base: `http://127.0.0.1:${port}`,
      configFile,
      invites,
      pods,
      volumeInPod: volumeMount,
      workerVolume: (i) => join(podDir(workerName(i)), 'volume'),
      startWorker,
      killWorker: async (i) => {
        const pod = pods.get(workerName(i))!;
        process.kill(-pod.pgid, 'SIGKILL');
        await pod.exited;
        return pod.pgid;
      },
      cutWorker: (i, cut) => inNet(`ip link set v-worker-${i} ${cut ? 'down' : 'up'}`),
      leftovers: () => pidsMentioning(root),
      close: async () => {
        // Gracefully first: the front door, then each worker (its labs' guests end with its PID namespace).
        for (const pod of pods.values()) {
          if (pod.child.exitCode === null && pod.child.signalCode === null) {
            try {
              process.kill(-pod.pgid, 'SIGTERM');
            } catch {
              /* gone */
            }
          }
        }
        await Promise.race([Promise.all([...pods.values()].map((p) => p.exited)), sleep(15_000)]);
        await cleanup();
        ingress?.close();
        for (let i = 0; i < 100 && pidsMentioning(root).length; i++) await sleep(100);
        const left = pidsMentioning(root);
        rmSync(root, { recursive: true, force: true });
        if (left.length) throw new Error(`processes left behind: ${left.join(' ')}`);
      },
    };
  } catch (err) {
    await cleanup();
    ingress?.close();
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
}
