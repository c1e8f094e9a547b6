// The lab-fs image kept in the lab's state folder (buildLabFs `cacheDir`): a start of an unchanged lab
// takes the kept image instead of building it again; any edit to the lab folder builds anew, and the
// guest sees the edit. Real mkfs.ext4 images, read back with debugfs.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/main/compiler/index.ts';
import { buildLabFs } from '../../src/main/guest/labfs.ts';
import type { Plan } from '../../src/shared/plan.ts';
import { FIXED_OPTIONS, at, domain, lab, machine } from '../compiler/model.ts';

function debugfs(image: string, request: string): string {
  return execFileSync('debugfs', ['-R', request, image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('the kept lab-fs image', () => {
  let work: string;
  let labRoot: string;
  let cacheDir: string;
  let plan: Plan;
  const kept = () => readdirSync(join(cacheDir, 'labfs'));
  const build = () => buildLabFs(plan.labFs, { labRoot, cacheDir });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vnetlab-labfs-cache-'));
    labRoot = join(work, 'lab');
    cacheDir = join(work, 'state');
    mkdirSync(join(labRoot, 'pc1', 'etc'), { recursive: true });
    writeFileSync(join(labRoot, 'lab.conf'), 'pc1[0]=A\n');
    writeFileSync(join(labRoot, 'pc1', 'etc', 'motd'), 'first\n');
    const model = lab({
      root: labRoot,
      machines: [machine('pc1', ['A'], { files: [{ kind: 'dir', guestPath: '/', labPath: 'pc1', source: at(0, 'pc1') }] })],
      domains: [domain('A')],
    });
    plan = compile(model, { ...FIXED_OPTIONS, runDir: join(work, 'run') });
    await build();
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('is kept after a build, named by what it was built from', () => {
    expect(kept()).toEqual([expect.stringMatching(/^labfs-[0-9a-f]{24}\.ext4$/)]);
    expect(debugfs(plan.labFs.image, 'cat /machines/pc1/root/etc/motd')).toBe('first\n');
  });

  it('says when the image is in place, before the build tidies up and keeps it: guests boot from then on', async () => {
    writeFileSync(join(labRoot, 'pc1', 'etc', 'motd'), 'ready early\n');
    for (const how of ['built', 'taken from the kept copy']) {
      const seen: { motd: string; keptYet: string[] }[] = [];
      const building = buildLabFs(plan.labFs, {
        labRoot,
        cacheDir,
        onImageReady: () => seen.push({ motd: debugfs(plan.labFs.image, 'cat /machines/pc1/root/etc/motd'), keptYet: kept() }),
      });
      await building;
      expect(seen, how).toHaveLength(1);
      expect(seen[0]!.motd, how).toBe('ready early\n');
      if (how === 'built') expect(seen[0]!.keptYet.some((f) => kept().includes(f)), 'the new image is kept only after it was said to be ready').toBe(false);
    }
  });

  it('is what the next start of the unchanged lab gets, without a build', async () => {
    const before = kept()[0]!;
    await build();
    expect(kept()).toEqual([before]);
    // The same file (a hard link: guests open the lab-fs read-only), not an image built again.
    expect(statSync(plan.labFs.image).ino).toBe(statSync(join(cacheDir, 'labfs', before)).ino);
    // Again, over the link the last start made: nothing but the image is left in its folder.
    await build();
    await build();
    expect(readdirSync(join(work, 'run')).filter((f) => f.includes('labfs'))).toEqual(['labfs.ext4']);
    expect(statSync(plan.labFs.image).nlink).toBe(2);
  });

  it('is built anew after an edit of a file, even one of the same size, and the guest sees the edit', async () => {
    const before = kept()[0]!;
    const motd = join(labRoot, 'pc1', 'etc', 'motd');
    writeFileSync(motd, 'again\n');
    utimesSync(motd, new Date(), new Date(Date.now() + 5_000));
    await build();
    expect(kept()).toHaveLength(1);
    expect(kept()[0]).not.toBe(before);
    expect(debugfs(plan.labFs.image, 'cat /machines/pc1/root/etc/motd')).toBe('again\n');
  });

  it('is built anew when a file is added, or a link changes where it points', async () => {
    const before = kept()[0]!;
    writeFileSync(join(labRoot, 'pc1', 'etc', 'issue'), 'new file\n');
    await build();
    const afterAdd = kept()[0]!;
    expect(afterAdd).not.toBe(before);
    expect(debugfs(plan.labFs.image, 'cat /machines/pc1/root/etc/issue')).toBe('new file\n');
    symlinkSync('motd', join(labRoot, 'pc1', 'etc', 'link'));
    await build();
    const withLink = kept()[0]!;
    expect(withLink).not.toBe(afterAdd);
    rmSync(join(labRoot, 'pc1', 'etc', 'link'));
    symlinkSync('issue', join(labRoot, 'pc1', 'etc', 'link'));
    await build();
    expect(kept()[0]).not.toBe(withLink);
    expect(debugfs(plan.labFs.image, 'cat /machines/pc1/root/etc/link')).toBe('new file\n');
  });

  it("leaves out vnetlab's own folders when the lab folder holds them (its disks are no lab files)", async () => {
    const stateRoot = join(labRoot, 'my-state');
    mkdirSync(join(stateRoot, 'labs', 'x', 'disks'), { recursive: true });
    writeFileSync(join(stateRoot, 'labs', 'x', 'disks', 'pc1.cow'), 'a guest disk');
    await buildLabFs(plan.labFs, { labRoot, cacheDir, env: { ...process.env, VNETLAB_STATE_DIR: stateRoot } });
    const listed = debugfs(plan.labFs.image, 'ls -p /lab');
    expect(listed).toContain('/lab.conf/');
    expect(listed).not.toContain('my-state');
    rmSync(stateRoot, { recursive: true });
  });

  it('is not taken when a kept file was damaged away: the start builds instead of failing', async () => {
    rmSync(join(cacheDir, 'labfs'), { recursive: true });
    writeFileSync(join(cacheDir, 'labfs'), 'not a folder');
    await build();
    expect(debugfs(plan.labFs.image, 'cat /machines/pc1/root/etc/motd')).toBe('again\n');
    expect(readFileSync(join(cacheDir, 'labfs'), 'utf8')).toBe('not a folder');
  });
});

// The run dir on a tmpfs (the default runtime root without XDG_RUNTIME_DIR), the state dir on a disk:
// no hard link between them, so the image is copied each way, leaving its holes out.
const tmpfs = (() => {
  try {
    return statSync('/dev/shm').isDirectory() ? '/dev/shm' : undefined;
  } catch {
    return undefined;
  }
})();
const oneFileSystem = !!tmpfs && statSync(tmpfs).dev === statSync(tmpdir()).dev;
const skipWhy = !tmpfs ? ' (skipped: this host has no /dev/shm)' : oneFileSystem ? ' (skipped: /dev/shm and the temp folder are one file system here)' : '';
describe.skipIf(!!skipWhy)(`the kept lab-fs image across two file systems${skipWhy}`, () => {
  it('is copied sparse both ways, byte for byte the same image', async () => {
    const work = mkdtempSync(join(tmpdir(), 'vnetlab-labfs-xdev-'));
    const runDir = mkdtempSync(join(tmpfs!, 'vnetlab-labfs-xdev-'));
    try {
      const labRoot = join(work, 'lab');
      mkdirSync(join(labRoot, 'pc1', 'etc'), { recursive: true });
      writeFileSync(join(labRoot, 'pc1', 'etc', 'motd'), 'across\n');
      // A file of data in the middle of the image's holes: a run of non-zero blocks to carry over.
      writeFileSync(join(labRoot, 'pc1', 'etc', 'big'), Buffer.alloc(300_000, 7));
      const model = lab({ root: labRoot, machines: [machine('pc1', [], { files: [{ kind: 'dir', guestPath: '/', labPath: 'pc1', source: at(0, 'pc1') }] })] });
      const plan = compile(model, { ...FIXED_OPTIONS, runDir });
      const cacheDir = join(work, 'state');
      await buildLabFs(plan.labFs, { labRoot, cacheDir }); // built on the tmpfs, kept on the disk
      const built = readFileSync(plan.labFs.image);
      const keptFile = join(cacheDir, 'labfs', readdirSync(join(cacheDir, 'labfs'))[0]!);
      expect(readFileSync(keptFile).equals(built)).toBe(true);
      rmSync(plan.labFs.image);
      await buildLabFs(plan.labFs, { labRoot, cacheDir }); // taken from the disk to the tmpfs
      expect(readFileSync(plan.labFs.image).equals(built)).toBe(true);
      for (const file of [keptFile, plan.labFs.image]) {
        const st = statSync(file);
        expect(st.blocks * 512, file).toBeLessThan(st.size / 2); // holes stay holes
      }
      expect(debugfs(plan.labFs.image, 'cat /machines/pc1/root/etc/motd')).toBe('across\n');
    } finally {
      rmSync(work, { recursive: true, force: true });
      rmSync(runDir, { recursive: true, force: true });
    }
  });
});
