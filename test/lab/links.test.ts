// Cable impairments declared in lab files (lab.yaml `link:`, and the vnetlab.yaml side file of a
// Netkit folder): read with their ranges checked at file:line, and kept through save and convert.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadLab, saveLabYaml, writeNetkitLab } from '../../src/main/lab/index.ts';
import { compile } from '../../src/main/compiler/index.ts';

const LAB = `lab:
  name: lossy
machines:
  pc1:
    image: tiny
    interfaces:
      - {domain: lan, ipv4: 10.0.0.1/24, link: {loss: 10, out: {delay: "100:10"}}}
  pc2:
    image: tiny
    interfaces:
      - {domain: lan, ipv4: 10.0.0.2/24, link: {rate: 1mbit}}
domains:
  lan: {kind: hub}
`;

function labDir(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'links-'));
  writeFileSync(join(dir, 'lab.yaml'), text);
  return dir;
}

const links = (model: Awaited<ReturnType<typeof loadLab>>['model']) => model!.machines.map((m) => [m.name, m.interfaces.map((i) => i.link)]);

describe('cable impairments in lab files', () => {
  it('reads lab.yaml link: shared values for both directions, out/in overriding them', async () => {
    const { model, diagnostics } = await loadLab(labDir(LAB));
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(links(model)).toEqual([
      ['pc1', [{ in: { lossPct: 10 }, out: { lossPct: 10, delayMs: 100, jitterMs: 10 } }]],
      ['pc2', [{ in: { rateBps: 1_000_000 }, out: { rateBps: 1_000_000 } }]],
    ]);
    // The plan carries them on the cables, where the runtime sets them when the wire starts.
    const plan = compile(model!, { runDir: '/r', stateDir: '/s', imageDir: '/i', kernel: '/usr/bin/linux.uml', labId: 'lossy-00000000' });
    expect(plan.cables.find((c) => c.id === 'pc1:eth0')!.impairments).toEqual({ in: { lossPct: 10 }, out: { delayMs: 100, jitterMs: 10, lossPct: 10 } });
  });

  it('refuses values out of range at their line, saying what is allowed', async () => {
    const { diagnostics } = await loadLab(labDir(LAB.replace('loss: 10', 'loss: 300')));
    const errors = diagnostics.filter((d) => d.severity === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ file: 'lab.yaml', line: 7 });
    expect(errors[0]!.message).toMatch(/machine pc1 eth0: link\.loss must be a percentage from 0 to 100, not '300'/);
    const delay = (await loadLab(labDir(LAB.replace('"100:10"', '"10:50"')))).diagnostics.find((d) => d.severity === 'error');
    expect(delay?.message).toMatch(/jitter \(50 ms\) cannot be larger than the delay \(10 ms\)/);
  });

  it('keeps them through save as lab.yaml and through a Netkit folder (in vnetlab.yaml)', async () => {
    const original = (await loadLab(labDir(LAB))).model!;
    const yamlDir = mkdtempSync(join(tmpdir(), 'links-y-'));
    await saveLabYaml(join(yamlDir, 'lab.yaml'), { ...original, root: yamlDir });
    expect(links((await loadLab(yamlDir)).model)).toEqual(links(original));
    const netkitDir = join(mkdtempSync(join(tmpdir(), 'links-n-')), 'lab');
    await writeNetkitLab(original, netkitDir);
    expect(readFileSync(join(netkitDir, 'vnetlab.yaml'), 'utf8')).toMatch(/^links:\n {2}pc1:eth0:/m);
    expect(links((await loadLab(netkitDir)).model)).toEqual(links(original));
  });
});
