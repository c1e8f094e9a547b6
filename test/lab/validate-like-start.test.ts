// validate must say what start will say, and bad input must be refused quickly and plainly
// (issue 9, item 10, the lab-reading parts).
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/main/compiler/index.ts';
import { buildLabFs } from '../../src/main/guest/labfs.ts';
import { loadLab } from '../../src/main/lab/index.ts';
import { MAX_MACHINES } from '../../src/main/lab/limits.ts';
import { FIXED_OPTIONS } from '../compiler/model.ts';
import { byCode, cleanupTempLabs, errorsOf, tempLab } from './helpers.ts';

afterAll(cleanupTempLabs);

describe('validate says what start says', () => {
  it('a Kathará `shared` linked out of the lab is an error at the link, and start refuses it too', async () => {
    const outside = tempLab({ 'secret.txt': 'not for guests\n' });
    const dir = tempLab({ 'lab.conf': 'pc1[0]=A\npc2[0]=A\npc1[image]="kathara/base"\n' });
    symlinkSync(outside, join(dir, 'shared'));
    const { model, diagnostics } = await loadLab(dir);
    expect(errorsOf(diagnostics)).toEqual([
      expect.objectContaining({ code: 'path-escapes-lab', file: 'shared', message: expect.stringMatching(/'shared' is a symlink that leads out of the lab folder .*start refuses it/) }),
    ]);
    expect(model!.sharedFolder).toBe('shared');
    // The same lab, started: the lab-fs builder refuses it before building anything.
    const runDir = tempLab();
    const plan = compile(model!, { ...FIXED_OPTIONS, runDir, stateDir: runDir });
    await expect(buildLabFs(plan.labFs, { labRoot: dir })).rejects.toThrow(/shared resolves to .*outside the lab folder/);
  });

  it('a link out of the lab is reported once: for the machine whose files hold it, else at the link', async () => {
    const outside = tempLab({ 'passwd': 'x\n' });
    const dir = tempLab({ 'lab.conf': 'pc1[0]=A\npc2[0]=A\n', 'pc1/etc/motd': 'hi\n' });
    symlinkSync(join(outside, 'passwd'), join(dir, 'pc1', 'etc', 'passwd'));
    const netkit = byCode((await loadLab(dir)).diagnostics, 'path-escapes-lab');
    expect(netkit).toEqual([expect.objectContaining({ file: 'pc1', message: expect.stringContaining("machine 'pc1': 'pc1/etc/passwd' is a symlink") })]);
    // In a lab.yaml lab, a link in a folder no machine uses still goes into every guest at /lab.
    const yaml = tempLab({ 'lab.yaml': 'machines:\n  pc1: {interfaces: [A]}\n  pc2: {interfaces: [A]}\n', 'notes/readme': 'hi\n' });
    symlinkSync(outside, join(yaml, 'notes', 'more'));
    expect(byCode((await loadLab(yaml)).diagnostics, 'path-escapes-lab')).toEqual([expect.objectContaining({ file: 'notes/more', line: 0 })]);
  });

  it('links inside the lab, and dangling ones, are fine', async () => {
    const dir = tempLab({ 'lab.conf': 'pc1[0]=A\npc2[0]=A\n', 'common/motd': 'hi\n' });
    mkdirSync(join(dir, 'pc1'));
    symlinkSync('../common/motd', join(dir, 'pc1', 'motd'));
    symlinkSync('/nonexistent/nowhere', join(dir, 'pc1', 'dangling'));
    expect(errorsOf((await loadLab(dir)).diagnostics)).toEqual([]);
  });
});

describe('bad input is refused quickly and plainly', () => {
  it('a 10 MB lab.conf is refused at the machine limit, without reading the rest', async () => {
    const lines: string[] = [];
    for (let n = 0, size = 0; size < 10 * 1024 * 1024; n++) {
      const line = `pc${n}[0]=A${n % 500}`;
      lines.push(line);
      size += line.length + 1;
    }
    const dir = tempLab({ 'lab.conf': `${lines.join('\n')}\n` });
    const started = Date.now();
    const { model, diagnostics } = await loadLab(dir);
    console.log(`10 MB lab.conf (${lines.length} machines) refused in ${Date.now() - started} ms`);
    expect(byCode(diagnostics, 'too-many-machines')).toEqual([
      expect.objectContaining({ severity: 'error', file: 'lab.conf', line: MAX_MACHINES + 1, message: expect.stringContaining(`more than ${MAX_MACHINES} machines ('pc${MAX_MACHINES}' is one too many)`) }),
    ]);
    // Counting stopped at the limit.
    expect(model!.machines.length).toBe(MAX_MACHINES);
  });

  it('so is a machine with thousands of interfaces', async () => {
    const dir = tempLab({ 'lab.conf': `${Array.from({ length: 100_000 }, (_, n) => `pc1[${n}]=D${n}`).join('\n')}\npc2[0]=D0\n` });
    const { model, diagnostics } = await loadLab(dir);
    expect(byCode(diagnostics, 'too-many-interfaces')[0]).toMatchObject({ severity: 'error', line: 65 });
    expect(model!.machines[0]!.interfaces.length).toBe(64);
  });

  it('a Netkit folder with more subfolders than machines allowed', async () => {
    const dir = tempLab({ 'lab.conf': 'LAB_DESCRIPTION="every subfolder is a machine"\n' });
    for (let n = 0; n <= MAX_MACHINES; n++) mkdirSync(join(dir, `m${String(n).padStart(4, '0')}`));
    const { model, diagnostics } = await loadLab(dir);
    expect(byCode(diagnostics, 'too-many-machines')).toEqual([expect.objectContaining({ severity: 'error', file: `m${MAX_MACHINES}` })]);
    expect(model!.machines.length).toBe(MAX_MACHINES);
  });

  const root = process.getuid?.() === 0;
  it.skipIf(root)(`an unreadable folder says it cannot be read${root ? ' (skipped: root reads every folder)' : ''}`, async () => {
    const dir = tempLab({ 'lab.conf': 'pc1[0]=A\npc2[0]=A\n' });
    chmodSync(dir, 0);
    try {
      const { model, diagnostics } = await loadLab(dir);
      expect(model).toBeUndefined();
      expect(diagnostics).toEqual([expect.objectContaining({ code: 'file-unreadable', message: expect.stringContaining('cannot read the folder') })]);
    } finally {
      chmodSync(dir, 0o700);
    }
  });
});
