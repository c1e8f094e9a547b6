// The runtime commands' answers to bad input and a missing environment, without booting anything:
// clear messages, the right exit codes (2 bad input, 3 environment, 1 not running), and `clean --all`
// never touching folders that are not lab run dirs.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labIdFor } from '../../src/main/paths.ts';
import { testEnv, TWO_HOSTS_YAML, type TestEnv } from './helpers.ts';

describe('runtime commands on bad input', () => {
  let t: TestEnv;
  let lab: string;
  beforeAll(() => {
    t = testEnv();
    lab = t.lab('good', { 'lab.yaml': TWO_HOSTS_YAML });
  });
  afterAll(async () => {
    await t?.dispose();
  });

  it('start refuses an invalid lab with file:line diagnostics (exit 2)', async () => {
    const bad = t.lab('bad', { 'lab.yaml': 'lab:\n  name: bad\nmachines:\n  pc1:\n    image: tiny\n    interfaces:\n      - {domain: lan, ipv4: 10.0.0.300/24}\n' });
    const r = await t.cli(['start', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/lab\.yaml:\d+:\d+: error: /);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace
  });

  it('start without a kernel says how to fix it (exit 3)', async () => {
    const saved = t.env.VNETLAB_KERNEL;
    t.env.VNETLAB_KERNEL = '/nonexistent/linux.uml';
    try {
      const r = await t.cli(['start', lab]);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/UML kernel \/nonexistent\/linux\.uml .*does not exist/);
      expect(r.stderr).toMatch(/hint:/);
    } finally {
      if (saved === undefined) delete t.env.VNETLAB_KERNEL;
      else t.env.VNETLAB_KERNEL = saved;
    }
  });

  it('commands on a lab that is not running say so', async () => {
    const exec = await t.cli(['exec', '-l', lab, 'pc1', '--', 'true']);
    expect(exec.code).toBe(1);
    expect(exec.stderr).toMatch(/is not running/);
    expect((await t.cli(['status', lab])).stdout).toMatch(/not running/);
    expect((await t.cli(['stop', lab])).stdout).toMatch(/nothing to stop/);
    expect((await t.cli(['list'])).stdout).toBe('no lab is running\n');
  });

  it('usage errors name what is missing (exit 2)', async () => {
    expect((await t.cli(['exec', '-l', lab, 'pc1'])).stderr).toMatch(/no command given for pc1/);
    expect((await t.cli(['connect', '-l', lab])).code).toBe(2);
    expect((await t.cli(['start', lab, '--timeout', 'soon'])).stderr).toMatch(/--timeout must be a positive number/);
    const wipe = await t.cli(['wipe', '-l', lab, 'nosuch', '--yes']);
    expect(wipe.code).toBe(2);
    expect(wipe.stderr).toMatch(/no machine named nosuch.*\n.*machines: pc1, pc2/);
  });

  it('wipe asks for confirmation, and refuses without a terminal unless --yes', async () => {
    // No disk yet: nothing to ask about.
    expect((await t.cli(['wipe', '-l', lab])).stdout).toBe('no disk to wipe\n');
    const disks = join(t.env.VNETLAB_STATE_DIR!, 'labs', labIdFor(lab, 'pair'), 'disks');
    mkdirSync(disks, { recursive: true });
    writeFileSync(join(disks, 'pc1.cow'), 'a disk');
    const asked = await t.cli(['wipe', '-l', lab]);
    expect(asked.code).toBe(2);
    expect(asked.stderr).toMatch(/wipe needs confirmation\n  hint: run it in a terminal, or add --yes/);
    expect(existsSync(join(disks, 'pc1.cow'))).toBe(true);
    const wiped = await t.cli(['wipe', '-l', lab, '--yes']);
    expect(wiped.stdout).toBe('wiped: pc1\n');
    expect(existsSync(join(disks, 'pc1.cow'))).toBe(false);
  });

  it('a path that is not a lab is refused as a lab (exit 2), not taken for a machine name', async () => {
    writeFileSync(join(t.base, 'notes.txt'), 'not a lab');
    mkdirSync(join(t.base, 'empty'), { recursive: true });
    const missing = await t.cli(['status', '/nonexistent']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`vnetlab status: /nonexistent: no such file or folder (/nonexistent)\n  hint: give the folder of a lab (with lab.yaml or lab.conf), or run the command inside it\n`);
    expect((await t.cli(['status', '-l', '/nonexistent'])).code).toBe(2);
    const file = await t.cli(['status', 'notes.txt']);
    expect(file.code).toBe(2);
    expect(file.stderr).toContain(`${join(t.base, 'notes.txt')} is a file, not a lab`);
    const start = await t.cli(['start', './nosuch']);
    expect(start.code).toBe(2);
    expect(start.stderr).toMatch(/\.\/nosuch: no such file or folder/);
    expect(start.stderr).not.toMatch(/no lab here/);
    const dir = await t.cli(['connect', 'empty/', 'pc1']);
    expect(dir.code).toBe(2);
    expect(dir.stderr).toContain(`${join(t.base, 'empty')} is not a lab: it has neither lab.yaml nor lab.conf`);
    const name = await t.cli(['status', 'nosuch']);
    expect(name.code).toBe(2);
    expect(name.stderr).toMatch(/nosuch is neither a lab folder nor the id of a running lab/);
  });

  it("a machine's folder of a Netkit lab is still a machine name", async () => {
    const netkit = t.lab('nk', { 'lab.conf': 'pc1[0]=A\npc2[0]=A\n', 'pc1/etc/hostname': 'pc1\n' });
    const r = await t.cli(['exec', 'pc1', '--', 'true'], { cwd: netkit });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the lab in .*nk is not running/);
  });

  it('clean --all only touches lab run dirs', async () => {
    const root = t.env.VNETLAB_RUNTIME_DIR!;
    mkdirSync(join(root, 'dbus'), { recursive: true });
    mkdirSync(join(root, 'notes-12345678'), { recursive: true });
    writeFileSync(join(root, 'notes-12345678', 'keep.txt'), 'not a lab');
    const r = await t.cli(['clean', '--all']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('nothing to clean\n');
    expect(existsSync(join(root, 'dbus'))).toBe(true);
    expect(existsSync(join(root, 'notes-12345678', 'keep.txt'))).toBe(true);
  });
});

describe('runtime commands on a running lab', () => {
  let t: TestEnv;
  let lab: string;
  beforeAll(async () => {
    t = testEnv();
    lab = t.lab('run', { 'lab.yaml': TWO_HOSTS_YAML });
    const r = await t.cli(['start', lab, 'pc1', '--image', 'tiny']);
    if (r.code !== 0) throw new Error(`start failed: ${r.stderr}`);
  }, 120_000);
  afterAll(async () => {
    await t?.dispose();
  });

  it('connect to a stopped machine refuses (exit 1) and says how to start it', async () => {
    const away = await t.cli(['connect', '-l', lab, 'pc2']);
    expect(away.code).toBe(1);
    expect(away.stderr).toBe(`vnetlab connect: pc2 is stopped; start it: vnetlab start ${lab} pc2\n`);
    const here = await t.cli(['connect', 'pc2'], { cwd: lab });
    expect(here.code).toBe(1);
    expect(here.stderr).toBe('vnetlab connect: pc2 is stopped; start it: vnetlab start pc2\n');
    const unknown = await t.cli(['connect', 'pc9'], { cwd: lab });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no machine named pc9/);
  });
});
