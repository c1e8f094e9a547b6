// Issue 9, item 2: the runtime root `$TMPDIR/vnetlab-<uid>` is in a shared folder, so another user may
// create it first. A planted root (someone else's, writable by others, or a symlink) must be refused
// with exit 3 and a message naming it, and records in folders we did not create must never make
// `clean` signal anything. The "victim" is a `sleep` this test starts; the control case proves the
// same record, in folders of ours, does get it killed.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { processStartTime } from '../../src/main/runtime/records.ts';
import { isolatedHost, runCli } from '../support/host.ts';
import { TWO_HOSTS_YAML } from './helpers.ts';

const uid = process.getuid!();
const isRoot = uid === 0;
const OTHER_UID = 65534; // nobody
const LAB_ID = 'pair-0123abcd';

describe('a planted runtime root or run dir is refused', () => {
  const children: ChildProcess[] = [];
  let base: string;
  let lab: string;

  beforeAll(() => {
    base = isolatedHost('vsec').root;
    lab = join(base, 'lab');
    mkdirSync(lab);
    writeFileSync(join(lab, 'lab.yaml'), TWO_HOSTS_YAML);
  });
  afterEach(() => {
    // Only the processes this test started, by their pid.
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  const homes: string[] = [];
  afterAll(() => {
    for (const dir of [base, ...homes]) rmSync(dir, { recursive: true, force: true });
  });

  /** A `sleep` of ours, and the record an attacker would plant to have `clean` kill it. */
  function victim(): { pid: number; record: string } {
    const child = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
    children.push(child);
    const pid = child.pid!;
    const record = { kind: 'guest', name: 'pc1', pid, pgid: pid, argv: ['sleep', '60'], startTime: processStartTime(pid), sockets: [], recordedAt: new Date().toISOString() };
    return { pid, record: `${JSON.stringify(record)}\n` };
  }
  const alive = (pid: number) => processStartTime(pid) !== undefined;

  /** A host whose runtime root is `$TMPDIR/vnetlab-<uid>` in a sticky, world-writable TMPDIR of its own (like /tmp). */
  function tmpdirHost(name: string): { env: NodeJS.ProcessEnv; root: string } {
    const tmp = join(base, name);
    mkdirSync(tmp);
    chmodSync(tmp, 0o1777);
    const host = isolatedHost('vsec');
    homes.push(host.root);
    const env: NodeJS.ProcessEnv = { ...host.env, TMPDIR: tmp };
    delete env.VNETLAB_RUNTIME_DIR;
    return { env, root: join(tmp, `vnetlab-${uid}`) };
  }
  /** The same place named by VNETLAB_RUNTIME_DIR (for the checks below the root). */
  function explicitHost(name: string): { env: NodeJS.ProcessEnv; root: string } {
    const { env, root } = tmpdirHost(name);
    return { env: { ...env, VNETLAB_RUNTIME_DIR: root }, root };
  }

  /** Plant `<root>/<labId>/records/guest-pc1.json`. */
  function plant(root: string, record: string): string {
    const runDir = join(root, LAB_ID);
    mkdirSync(join(runDir, 'records'), { recursive: true, mode: 0o700 });
    writeFileSync(join(runDir, 'records', 'guest-pc1.json'), record, { mode: 0o600 });
    return runDir;
  }

  it('control: the same record in folders of ours makes clean --all kill the process', async () => {
    const { env, root } = explicitHost('ctl');
    const v = victim();
    mkdirSync(root, { mode: 0o700 });
    plant(root, v.record);
    const r = await runCli(['clean', '--all'], { env, cwd: base });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`killed guest pc1 (pid ${v.pid})`);
    await new Promise((res) => setTimeout(res, 200));
    expect(alive(v.pid)).toBe(false);
  });

  it.skipIf(!isRoot)('a root owned by another user: clean --all and start refuse (exit 3), nothing is signalled [needs root to chown]', async () => {
    const { env, root } = tmpdirHost('other');
    const v = victim();
    mkdirSync(root);
    const runDir = plant(root, v.record);
    for (const p of [root, runDir, join(runDir, 'records'), join(runDir, 'records', 'guest-pc1.json')]) chownSync(p, OTHER_UID, OTHER_UID);
    chmodSync(root, 0o777);

    const clean = await runCli(['clean', '--all'], { env, cwd: base });
    expect(clean.code).toBe(3);
    expect(clean.stderr).toContain(`refusing to use ${root}: it belongs to uid ${OTHER_UID}, not to you (uid ${uid})`);
    expect(clean.stderr).toMatch(/hint: .*remove it/);
    expect(clean.stderr).not.toMatch(/at .*\.ts:\d+/);
    expect(alive(v.pid)).toBe(true);

    const start = await runCli(['start', lab], { env, cwd: base });
    expect(start.code).toBe(3);
    expect(start.stderr).toContain(`refusing to use ${root}`);
    expect(readdirSync(root)).toEqual([LAB_ID]); // nothing of ours was written into it
  });

  it('a root of ours that others can write to is refused (exit 3); the process lives', async () => {
    const { env, root } = tmpdirHost('loose');
    const v = victim();
    mkdirSync(root);
    chmodSync(root, 0o777);
    plant(root, v.record);
    const r = await runCli(['clean', '--all'], { env, cwd: base });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`refusing to use ${root}: its mode 0777 lets other users write to it`);
    expect(r.stderr).toContain(`chmod 700 ${root}`);
    expect(alive(v.pid)).toBe(true);
    expect((await runCli(['list'], { env, cwd: base })).code).toBe(3);
  });

  it('a root that is a symlink is refused (exit 3)', async () => {
    const { env, root } = tmpdirHost('link');
    const v = victim();
    const elsewhere = join(base, 'elsewhere');
    mkdirSync(elsewhere, { mode: 0o700 });
    plant(elsewhere, v.record);
    symlinkSync(elsewhere, root);
    const r = await runCli(['clean', '--all'], { env, cwd: base });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`refusing to use ${root}: it is a symbolic link`);
    expect(alive(v.pid)).toBe(true);
    const start = await runCli(['start', lab], { env, cwd: base });
    expect(start.code).toBe(3);
    expect(start.stderr).toContain(`refusing to use ${root}: it is a symbolic link`);
  });

  it('a run dir that others can write to is never acted on', async () => {
    const { env, root } = explicitHost('fresh');
    const v = victim();
    mkdirSync(root, { mode: 0o700 });
    const runDir = plant(root, v.record);
    chmodSync(runDir, 0o777);
    const r = await runCli(['clean', LAB_ID], { env, cwd: base });
    expect(r.code).not.toBe(0);
    expect(alive(v.pid)).toBe(true);
    const all = await runCli(['clean', '--all'], { env, cwd: base });
    expect(all.stdout).not.toContain('killed');
    expect(alive(v.pid)).toBe(true);
    expect(existsSync(runDir)).toBe(true);
  });

  it.skipIf(!isRoot)('records and run dirs owned by another user are never acted on [needs root to chown]', async () => {
    const { env, root } = explicitHost('foreign');
    const v1 = victim();
    const v2 = victim();
    mkdirSync(root, { mode: 0o700 });
    // A run dir of someone else's inside our root.
    const theirs = plant(root, v1.record);
    chownSync(theirs, OTHER_UID, OTHER_UID);
    // A run dir of ours holding a record file of someone else's.
    const ours = join(root, 'other-89abcdef');
    mkdirSync(join(ours, 'records'), { recursive: true, mode: 0o700 });
    writeFileSync(join(ours, 'records', 'guest-pc1.json'), v2.record, { mode: 0o600 });
    chownSync(join(ours, 'records', 'guest-pc1.json'), OTHER_UID, OTHER_UID);
    const r = await runCli(['clean', '--all'], { env, cwd: base });
    expect(r.stdout).not.toContain('killed');
    await new Promise((res) => setTimeout(res, 200));
    expect(alive(v1.pid)).toBe(true);
    expect(alive(v2.pid)).toBe(true);
  });

  it('the runtime root and run dir are created 0700; reading never creates them', async () => {
    const { env, root } = tmpdirHost('create');
    await runCli(['clean', '--all'], { env, cwd: base });
    expect(existsSync(root)).toBe(false); // reading never creates it
    const { ensureRunDir } = await import('../../src/main/runtime/run-dir.ts');
    const { hostPaths } = await import('../../src/main/paths.ts');
    ensureRunDir(join(root, LAB_ID), hostPaths(env));
    expect(statSync(root).mode & 0o7777).toBe(0o700);
    expect(statSync(join(root, LAB_ID)).mode & 0o7777).toBe(0o700);
  });
});
