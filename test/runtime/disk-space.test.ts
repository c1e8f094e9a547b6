// Issue 9, item 8: a full disk. A start refuses (exit 3) when the state dir or the run dir is nearly
// full, naming the folder; ENOSPC while writing run files is a clear exit-3 message that leaves no
// `*.tmp` behind; `clean` removes such leftovers; `status` warns when the state dir fills up.
// The full filesystems are real 1 MiB tmpfs mounts when this runs as root; otherwise the floors are
// raised above the real free space (VNETLAB_MIN_FREE_*_MB), which goes through the same statfs check.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostPaths } from '../../src/main/paths.ts';
import { cleanAll } from '../../src/main/runtime/clean.ts';
import { writeRecord } from '../../src/main/runtime/records.ts';
import { isolatedHost as newHost, runCli, type IsolatedHost } from '../support/host.ts';
import { testEnv, TWO_HOSTS_YAML, type TestEnv } from './helpers.ts';

/** Mount a tmpfs of `size` on `dir`; false when this host does not let us. */
function mountTmpfs(dir: string, size: string): boolean {
  mkdirSync(dir, { recursive: true });
  return spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'ignore' }).status === 0;
}

/** Fill a filesystem until it is full (the write that fails is expected). */
function fill(dir: string): void {
  try {
    writeFileSync(join(dir, 'filler'), Buffer.alloc(4 * 1024 * 1024));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
}

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String);
}

describe('a full disk', () => {
  let t: TestEnv;
  let lab: string;
  const mounts: string[] = [];
  const hosts: IsolatedHost[] = [];
  const runtimeDirs = new Set<string>();
  const isolatedHost = (prefix: string) => {
    const h = newHost(prefix);
    hosts.push(h);
    return h;
  };
  let canMount = false;

  beforeAll(() => {
    t = testEnv();
    lab = t.lab('lab', { 'lab.yaml': TWO_HOSTS_YAML });
    const probe = join(t.base, 'probe');
    canMount = mountTmpfs(probe, '1m');
    if (canMount) mounts.push(probe);
  });
  afterAll(async () => {
    // Whatever a start that should have been refused started (by its records), then the folders.
    for (const dir of runtimeDirs) await cleanAll(hostPaths({ VNETLAB_RUNTIME_DIR: dir })).catch(() => {});
    for (const h of hosts) spawnSync('rm', ['-rf', h.root]);
    // A failed start's lab-fs build may still be finishing on a mount for a moment (EBUSY): retry.
    for (const m of mounts) {
      for (let i = 0; i < 50 && spawnSync('umount', [m], { stdio: 'ignore' }).status !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    }
    await t?.dispose();
  });

  /** A folder on a full 1 MiB filesystem when possible. */
  function smallDisk(name: string): string {
    const dir = join(t.base, name);
    if (canMount && mountTmpfs(dir, '1m')) mounts.push(dir);
    else mkdirSync(dir, { recursive: true });
    return dir;
  }

  it('start refuses when the state dir is nearly full: exit 3, the folder, free and needed space; no supervisor', async () => {
    const host = isolatedHost('vdsk');
    const state = smallDisk('state-small');
    const env: NodeJS.ProcessEnv = { ...host.env, VNETLAB_STATE_DIR: state };
    if (!canMount) env.VNETLAB_MIN_FREE_STATE_MB = String(1024 * 1024 * 1024); // 1 PiB: more than any disk here
    const r = await runIn(env, ['start', lab]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`not enough disk space: the state dir \\(guest disks\\) ${state}/labs/pair-[0-9a-f]{8} has only [\\d.]+ MiB free; a lab needs at least \\d+ MiB there`));
    expect(r.stderr).toMatch(/hint: free some space .*VNETLAB_STATE_DIR/);
    expect(existsSync(join(env.VNETLAB_RUNTIME_DIR!))).toBe(true);
    // Refused before the supervisor was spawned: no records, no plan.
    expect(allFiles(env.VNETLAB_RUNTIME_DIR!).filter((f) => f.includes('records') || f.endsWith('plan.json'))).toEqual([]);
  });

  it('start refuses when the run dir is nearly full (exit 3, names it)', async () => {
    const host = isolatedHost('vdsk');
    const run = smallDisk('run-small');
    const env: NodeJS.ProcessEnv = { ...host.env, VNETLAB_RUNTIME_DIR: join(run, 'r') };
    if (!canMount) env.VNETLAB_MIN_FREE_RUN_MB = String(1024 * 1024 * 1024);
    const r = await runIn(env, ['start', lab]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`the run dir \\(sockets, logs, lab-fs image\\) ${run}/r/pair-[0-9a-f]{8} has only`));
  });

  it.skipIf(process.getuid!() !== 0)('ENOSPC writing run files: exit 3 naming the folder, no *.tmp left; clean removes a stale one [needs root to mount a tmpfs]', async () => {
    if (!canMount) return expect.fail('root could not mount a tmpfs');
    const host = isolatedHost('vdsk');
    const run = smallDisk('run-full');
    const env = { ...host.env, VNETLAB_RUNTIME_DIR: join(run, 'r'), VNETLAB_MIN_FREE_RUN_MB: '0' };
    mkdirSync(env.VNETLAB_RUNTIME_DIR, { mode: 0o700 });
    fill(run);
    const r = await runIn(env, ['start', lab]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`the disk holding ${run}/r/pair-[0-9a-f]{8} is full \\([\\d.]+ MiB free\\)`));
    expect(r.stderr).not.toMatch(/internal error|at .*\.ts:\d+/);
    expect(allFiles(env.VNETLAB_RUNTIME_DIR).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    // A record write on the full disk: the same message, no tmp file.
    const runDir = join(env.VNETLAB_RUNTIME_DIR, readdirSync(env.VNETLAB_RUNTIME_DIR)[0]!);
    expect(() => writeRecord(runDir, { kind: 'guest', name: 'pc1', pid: process.pid, pgid: 0, argv: ['x'.repeat(64 * 1024)], sockets: [] })).toThrow(/is full/);
    expect(allFiles(runDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    // What an older version left behind: a run dir holding only `plan.json.<pid>.tmp`.
    spawnSync('rm', ['-f', join(run, 'filler')]);
    writeFileSync(join(runDir, 'plan.json.4242.tmp'), '{"trunc');
    const clean = await runIn(env, ['clean', '--all']);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toContain(`removed ${runDir}`);
    expect(existsSync(runDir)).toBe(false);
  });

  it('status warns while the state dir of a running lab is nearly full', async () => {
    const started = await t.cli(['start', lab, 'pc1', '--image', 'tiny']);
    expect(started.code, started.stderr).toBe(0);
    const ok = await t.cli(['status', lab]);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toBe('');
    // The same statfs, with a floor above what this disk has free.
    const full = await runIn({ ...t.env, VNETLAB_MIN_FREE_STATE_MB: String(1024 * 1024 * 1024) }, ['status', lab]);
    expect(full.code).toBe(0);
    expect(full.stdout).toMatch(/pc1\s+ready/);
    expect(full.stderr).toMatch(new RegExp(`^warning: the state dir \\(guest disks\\) ${t.env.VNETLAB_STATE_DIR}/labs/pair-[0-9a-f]{8} has only [\\d.]+ MiB free; .*may fail or lose data`, 'm'));
    expect((await t.cli(['stop', lab])).code).toBe(0);
  }, 120_000);

  function runIn(env: NodeJS.ProcessEnv, args: string[]) {
    runtimeDirs.add(env.VNETLAB_RUNTIME_DIR!);
    return runCli(args, { env, cwd: t.base });
  }
});
