// The real thing, end to end: a `vnetlab classroom worker` process running as an unprivileged user
// with no capabilities (setpriv: uid nobody, empty bounding set, no_new_privs) — what a worker pod
// gets in the cluster — and the front door in this process. A student logs in, starts two-hosts on
// real UML guests, types in pc1's console, presses Check my work; a second student cannot reach it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseClassroomConfig } from '../../src/main/classroom/config.ts';
import { waitForWorker } from '../../src/main/classroom/host.ts';
import { startClassroom, type ClassroomServer } from '../../src/main/classroom/server.ts';
import { hostPaths } from '../../src/main/paths.ts';
import type { LabStatus } from '../../src/shared/runtime-api.ts';
import { Browser, REPO, type Rpc } from './helpers.ts';

const NOBODY = 65534;
const images = hostPaths(process.env).imageDir;
const canRun = process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0 && readdirSync(images).includes('tiny.ext4');

function procStatus(pid: number): Record<string, string> {
  return Object.fromEntries(
    readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => [l.split(':')[0]!, l.slice(l.indexOf(':') + 1).trim()]),
  );
}

/** Pids of processes whose command line mentions `needle` (to prove nothing is left; never to kill). */
function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(needle)) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

function chownTree(path: string): void {
  chownSync(path, NOBODY, NOBODY);
  for (const e of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    if (e.isDirectory()) chownTree(p);
    else chownSync(p, NOBODY, NOBODY);
  }
}

describe.skipIf(!canRun)('classroom on real guests, worker unprivileged', () => {
  let root: string;
  let worker: ChildProcess;
  let server: ClassroomServer;
  let ada: Browser;
  let eve: Browser;
  let rpc: Rpc | undefined;
  let lab = '';
  let workerLog = '';

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'vclr-'));
    chmodSync(root, 0o755);
    // The worker's own world, owned by nobody: data (its PVC), temp, images (read from the user's cache).
    for (const d of ['data', 't', 'home', 'images']) mkdirSync(join(root, d));
    for (const f of ['tiny.ext4', 'tiny.json']) spawnSync('cp', ['--sparse=always', join(images, f), join(root, 'images', f)]);
    cpSync(join(images, 'host'), join(root, 'images', 'host'), { recursive: true });
    const secretFile = join(root, 'data', 'worker.secret');
    writeFileSync(secretFile, `${'k'.repeat(40)}\n`, { mode: 0o600 });
    chownTree(root);
    const yaml = `name: Real class\ndata_dir: ${join(root, 'data')}\nlisten: {host: 127.0.0.1, port: 0}\nlabs: [{id: two-hosts, path: ${join(REPO, 'labs', 'two-hosts')}}]\nworkers: {local: 1}\nstart_timeout_sec: 120\n`;
    writeFileSync(join(root, 'classroom.yaml'), yaml);
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: join(root, 'home'), TMPDIR: join(root, 't'), VNETLAB_IMAGE_DIR: join(root, 'images') };
    delete env.XDG_RUNTIME_DIR;
    delete env.XDG_STATE_HOME;
    delete env.VNETLAB_STATE_DIR;
    delete env.VNETLAB_RUNTIME_DIR;
    const address = `unix:${join(root, 'data', 'w0.sock')}`;
    worker = spawn('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', process.execPath, join(REPO, 'bin', 'vnetlab.mjs'), 'classroom', 'worker', '--config', join(root, 'classroom.yaml'), '--index', '0', '--listen', address], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    worker.stdout!.on('data', (d) => (workerLog += d));
    worker.stderr!.on('data', (d) => (workerLog += d));
    const secret = 'k'.repeat(40);
    await waitForWorker(address, secret, 60_000).catch((err) => {
      throw new Error(`${err.message}\n${workerLog}`);
    });
    let config = parseClassroomConfig(yaml, join(root, 'classroom.yaml'));
    const probe = await startClassroom({ config, workers: [address], workerSecret: secret });
    const port = probe.port;
    await probe.close();
    config = { ...config, listen: { host: '127.0.0.1', port }, publicUrl: `http://127.0.0.1:${port}` };
    server = await startClassroom({ config, workers: [address], workerSecret: secret });
    for (const [name, email] of [['Ada', 'ada@uni.edu'], ['Eve', 'eve@uni.edu']] as const) {
      const { token } = server.accounts.invite(name, email, 'student');
      const b = new Browser(config.publicUrl);
      expect((await b.setPassword(`${config.publicUrl}/invite?token=${token}`, 'a good long password')).status).toBe(303);
      if (name === 'Ada') ada = b;
      else eve = b;
    }
  }, 120_000);

  afterAll(async () => {
    if (rpc && lab) await rpc.call('stopLab', lab).catch(() => undefined);
    rpc?.close();
    await server?.close();
    if (worker?.pid && worker.exitCode === null) {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
    }
    // Nothing of the lab is left running (the stop above ended its supervisor, switches and guests).
    const deadline = Date.now() + 20_000;
    while (processesMentioning(root).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const left = processesMentioning(root);
    rmSync(root, { recursive: true, force: true });
    if (left.length) throw new Error(`processes left behind: ${left.join(' ')}`);
  }, 60_000);

  it('runs as nobody with no capabilities, boots the student\'s own copy, and keeps the other student out', async () => {
    const st = procStatus(worker.pid!);
    expect(st.Uid!.split(/\s+/)[0]).toBe(String(NOBODY));
    expect(st.CapEff).toBe('0000000000000000');
    expect(st.CapBnd).toBe('0000000000000000');
    expect(st.NoNewPrivs).toBe('1');

    lab = decodeURIComponent(/lab=([^&]+)/.exec((await ada.fetch('/open/two-hosts')).headers.get('location')!)![1]!);
    expect(lab.startsWith(join(root, 'data', 'worker-0', 'students'))).toBe(true);
    rpc = await ada.rpc();
    const t0 = Date.now();
    const status = await rpc.call<LabStatus>('startLab', lab);
    const startMs = Date.now() - t0;
    expect(status.machines.map((m) => m.state)).toEqual(['ready', 'ready']);
    // The supervisor and the guests are the worker's user's too, without capabilities.
    const sup = procStatus(status.supervisorPid!);
    expect(sup.Uid!.split(/\s+/)[0]).toBe(String(NOBODY));
    expect(sup.CapEff).toBe('0000000000000000');
    const guest = procStatus(status.machines[0]!.pid!);
    expect(guest.Uid!.split(/\s+/)[0]).toBe(String(NOBODY));

    const att = await rpc.call<{ consoleId: string; replay: string }>('attachConsole', lab, 'pc1');
    await rpc.call('consoleInput', att.consoleId, '\recho hi-$((6*7))\r');
    await expect.poll(() => rpc!.pushes.filter((p) => p.kind === 'console-data').map((p) => (p as { data: string }).data).join(''), { timeout: 20_000 }).toContain('hi-42');

    const report = await rpc.call<{ score: number; maxScore: number }>('runChecks', lab);
    expect(report.maxScore).toBe(3);
    expect(report.score).toBe(3);

    // Eve, logged in, on the same worker: Ada's lab is out of reach.
    const e = await eve.rpc();
    await expect(e.call('attachConsole', lab, 'pc1')).rejects.toThrow(/outside the folders/);
    await expect(e.call('status', lab)).rejects.toThrow(/outside the folders/);
    await expect(e.call('stopLab', lab)).rejects.toThrow(/outside the folders/);
    e.close();

    await rpc.call('stopLab', lab);
    expect(await rpc.call('status', lab)).toBeNull();
    // The disks stay (student work), in Ada's own state folder.
    expect(readdirSync(join(root, 'data', 'worker-0', 'students'))).toHaveLength(2);
    console.log(`classroom real lab: two-hosts started in ${startMs} ms through front door + unprivileged worker`);
    lab = '';
  }, 240_000);

  it("a student's guest reaches neither another student's files nor the worker's data", async () => {
    const eveLab = decodeURIComponent(/lab=([^&]+)/.exec((await eve.fetch('/open/two-hosts')).headers.get('location')!)![1]!);
    const eveFile = join(eveLab, 'lab.yaml');
    const eveBefore = readFileSync(eveFile, 'utf8');
    lab = decodeURIComponent(/lab=([^&]+)/.exec((await ada.fetch('/open/two-hosts')).headers.get('location')!)![1]!);
    // A session of its own, which acknowledges what it reads (the console's flow control, as the app does).
    rpc?.close();
    rpc = await ada.rpc();
    await rpc.call('startLab', lab);
    const att = await rpc.call<{ consoleId: string }>('attachConsole', lab, 'pc1');
    const data = join(root, 'data');
    const targets = [`${data}/worker.secret`, `${data}/accounts.json`, eveFile];
    // As root in Ada's guest, typed at its console: every hostfs mount, every read, a write into Eve's lab.
    const probe = [
      'mkdir -p /m; ',
      `for o in "" "-o /" "-o ${data}" "-o ../.." "-o ${eveLab}"; do umount /m 2>/dev/null; if mount -t hostfs none /m $o 2>/dev/null; then echo "MOUNTED $o";`,
      ` for f in ${targets.map((f) => `/m${f}`).join(' ')} /m/worker.secret /m/lab.yaml; do cat $f 2>/dev/null | head -c 60 | sed "s|^|READ-$((2+1)) $f |"; done;`,
      ` echo pwned > /m${eveLab}/pwned 2>/dev/null && echo WROTE-$((1+1)); echo pwned > /m/pwned 2>/dev/null && echo WROTE-$((1+1)); fi; done; echo PROBE-$((40+2))`,
    ].join('');
    await rpc.call('consoleInput', att.consoleId, `\r${probe}\r`);
    let acked = 0;
    const text = () => {
      const all = rpc!.pushes.filter((p) => p.kind === 'console-data').map((p) => (p as { data: string }).data).join('');
      if (all.length > acked) void rpc!.call('consoleAck', att.consoleId, all.length - acked).catch(() => undefined);
      acked = all.length;
      return all;
    };
    await expect.poll(text, { timeout: 60_000 }).toContain('PROBE-42');
    // The markers are computed by the guest's shell, so the echo of what was typed never matches them.
    const output = text();
    expect(output).not.toContain('READ-3 ');
    expect(output).not.toContain('WROTE-2');
    expect(output).not.toContain('k'.repeat(40));
    expect(readFileSync(eveFile, 'utf8')).toBe(eveBefore);
    expect(existsSync(join(eveLab, 'pwned'))).toBe(false);
    await rpc.call('stopLab', lab);
    lab = '';
  }, 240_000);
});
