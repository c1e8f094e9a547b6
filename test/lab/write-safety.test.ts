// The writers check every path they build against the destination folder after resolving symlinks,
// and the source of every copied file against the lab folder, whatever model they are given
// (issue 9, item 1): defence in depth behind checkClientModel.
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LabModel, Machine } from '../../src/shared/lab-model.ts';
import { checkClientModel, refuseUnsafeModel, relocateLab, saveLabYaml, writeNetkitLab } from '../../src/main/lab/index.ts';
import { cleanupTempLabs, tempLab } from './helpers.ts';

afterAll(cleanupTempLabs);

const at = { file: 'lab.yaml', line: 1, column: 1 };

function machine(name: string, extra: Partial<Machine> = {}): Machine {
  return { name, kind: 'host', image: 'tiny', memoryMiB: 64, interfaces: [], files: [], dependsOn: [], sysctls: {}, env: {}, ipv6: true, bridged: false, consoles: 1, source: at, ...extra };
}

function lab(root: string, machines: Machine[]): LabModel {
  return { format: 'netkit', root, sourceFile: 'lab.conf', meta: { name: 'lab', authors: [] }, machines, domains: [], checks: [], layout: {} };
}

describe('writers stay inside the destination folder', () => {
  it('writeNetkitLab refuses a machine name that climbs out, and writes nothing there', async () => {
    const base = tempLab();
    const out = join(base, 'a', 'b', 'lab');
    mkdirSync(out, { recursive: true });
    const model = lab(tempLab(), [machine('../../escaped', { startup: { text: 'echo hi\n', source: at }, files: [{ kind: 'inline', guestPath: '/x.sh', content: 'x', mode: 0o755, source: at }] })]);
    await expect(writeNetkitLab(model, out)).rejects.toThrow(/refusing to write file '\.\.\/\.\.\/escaped\.startup'.*goes up out of the lab folder/);
    expect(existsSync(join(base, 'a', 'escaped.startup'))).toBe(false);
    expect(existsSync(join(base, 'a', 'escaped'))).toBe(false);
  });

  it('writeNetkitLab refuses to write through a symlink already in the destination folder', async () => {
    const outside = tempLab();
    const out = tempLab({ 'lab.conf': 'pc1[0]=A\n' });
    symlinkSync(outside, join(out, 'pc1'));
    const model = lab(tempLab(), [machine('pc1', { files: [{ kind: 'inline', guestPath: '/etc/motd', content: 'planted\n', source: at }] })]);
    await expect(writeNetkitLab(model, out)).rejects.toThrow(/pc1 is a symlink that leads out of the folder/);
    expect(readdirSync(outside)).toEqual([]);
  });

  it('relocateLab and writeNetkitLab refuse a lab file reached through a symlink to outside', async () => {
    const outside = tempLab({ 'secret.txt': 'the secret\n', 'dir/secret.txt': 'the secret\n' });
    const src = tempLab({ 'data/ok.txt': 'fine\n' });
    symlinkSync(outside, join(src, 'link'));
    const viaLink = lab(src, [machine('pc1', { files: [{ kind: 'file', guestPath: '/root/s', labPath: 'link/secret.txt', source: at }] })]);
    const dest = tempLab();
    await expect(relocateLab(viaLink, dest)).rejects.toThrow(/'link\/secret\.txt': it is a symlink that leads out of the lab folder/);
    await expect(writeNetkitLab(viaLink, join(dest, 'netkit'))).rejects.toThrow(/symlink that leads out/);
    expect(existsSync(join(dest, 'link'))).toBe(false);
    expect(existsSync(join(dest, 'netkit'))).toBe(false);
    // A folder is refused when a link inside it leads out (it would be copied as a link to the secret).
    symlinkSync(join(outside, 'dir'), join(src, 'data', 'more'));
    const folder = lab(src, [machine('pc1', { files: [{ kind: 'dir', guestPath: '/root', labPath: 'data', source: at }] })]);
    await expect(relocateLab(folder, dest)).rejects.toThrow(/'data\/more'/);
    expect(existsSync(join(dest, 'data'))).toBe(false);
  });

  it('a lab file inside the lab is still copied', async () => {
    const src = tempLab({ 'data/ok.txt': 'fine\n' });
    const model = lab(src, [machine('pc1', { files: [{ kind: 'dir', guestPath: '/root', labPath: 'data', source: at }] })]);
    const dest = tempLab();
    const moved = await relocateLab(model, dest);
    await saveLabYaml(join(dest, 'lab.yaml'), { ...moved, format: 'vnetlab', sourceFile: 'lab.yaml' });
    expect(existsSync(join(dest, 'data', 'ok.txt'))).toBe(true);
    await writeNetkitLab(model, join(dest, 'netkit'));
    expect(existsSync(join(dest, 'netkit', 'pc1', 'root', 'ok.txt'))).toBe(true);
  });
});

describe('checkClientModel: models from clients get the readers\' name and path rules', () => {
  it('reports names and paths as a lab file on disk would', () => {
    const model = lab('/nowhere', [
      machine('../../outside/pwn'),
      machine('pc1', { interfaces: [{ index: 0, domain: 'A\npc9[exec]=x', ipv4: [], ipv6: [], source: at }], files: [{ kind: 'file', guestPath: '../etc', labPath: '../../etc/passwd', source: at }] }),
    ]);
    const codes = checkClientModel(model).filter((d) => d.severity === 'error').map((d) => d.code);
    expect(codes).toEqual(expect.arrayContaining(['invalid-name', 'invalid-domain-name', 'invalid-guest-path', 'path-escapes-lab']));
    expect(() => refuseUnsafeModel(model)).toThrow(/cannot be saved/);
  });

  it('reports an interface on a domain the model does not list (models from clients are not re-derived)', () => {
    const model = lab('/nowhere', [machine('pc1', { interfaces: [{ index: 0, domain: 'A', ipv4: [], ipv6: [], source: at }] }), machine('pc2', { interfaces: [{ index: 0, domain: 'A', ipv4: [], ipv6: [], source: at }] })]);
    expect(checkClientModel(model).filter((d) => d.code === 'unknown-domain')).toEqual([expect.objectContaining({ severity: 'error', target: 'machine:pc1/eth0' })]);
    model.domains = [{ name: 'A', kind: 'hub', hostNat: false, source: at }];
    expect(checkClientModel(model).filter((d) => d.severity === 'error')).toEqual([]);
  });

  it('reports a malformed model instead of crashing the validators', () => {
    const model = lab('/nowhere', [{ name: 'pc1', files: [{ kind: 'file', guestPath: '/x' }] } as unknown as Machine]);
    expect(checkClientModel(model).map((d) => d.code)).toEqual(['malformed-model']);
  });
});
