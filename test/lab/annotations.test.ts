// Canvas notes and rectangles (issue 23): lab.yaml `annotations:` are read, written back the same, never
// part of the plan, and a malformed one is reported where it is.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/main/compiler/index.ts';
import { checkClientModel, loadLab, saveLabYaml, writeNetkitLab } from '../../src/main/lab/index.ts';
import { FIXED_OPTIONS } from '../compiler/model.ts';
import { cleanupTempLabs, errorsOf, tempLab } from './helpers.ts';

afterAll(cleanupTempLabs);

const LAB = `lab: {name: notes}
machines:
  pc1: {image: tiny, interfaces: [{domain: lan, ipv4: 10.0.0.1/24}]}
domains:
  lan: {kind: switch}
layout:
  pc1: {x: 100, y: 100}
annotations:
  - {type: rect, x: 40, y: 30, width: 300, height: 180, text: Area 0, color: "#cfe3f7"}
  - {type: note, x: 60, y: 240, text: "ping pc2 from here\\nthen look at ip neigh"}
`;

describe('annotations', () => {
  it('are read, written back the same, and leave the plan as it is', async () => {
    const dir = tempLab({ 'lab.yaml': LAB });
    const loaded = await loadLab(dir);
    expect(errorsOf(loaded.diagnostics)).toEqual([]);
    expect(loaded.model!.annotations).toEqual([
      { type: 'rect', x: 40, y: 30, width: 300, height: 180, text: 'Area 0', color: '#cfe3f7' },
      { type: 'note', x: 60, y: 240, text: 'ping pc2 from here\nthen look at ip neigh' },
    ]);
    const copy = tempLab();
    await saveLabYaml(join(copy, 'lab.yaml'), { ...loaded.model!, root: copy });
    const again = await loadLab(copy);
    expect(again.model!.annotations).toEqual(loaded.model!.annotations);
    // A Netkit/Kathará folder keeps them in its vnetlab.yaml beside the layout.
    const netkit = join(tempLab(), 'lab');
    await writeNetkitLab(loaded.model!, netkit);
    expect((await loadLab(netkit)).model!.annotations).toEqual(loaded.model!.annotations);
    const without = { ...loaded.model!, annotations: undefined };
    expect(JSON.stringify(compile(loaded.model!, FIXED_OPTIONS))).toBe(JSON.stringify(compile(without, FIXED_OPTIONS)));
  });

  it('a malformed one is reported at its line; a model from the app with a bad one is refused', async () => {
    const dir = tempLab({ 'lab.yaml': LAB.replace('type: note', 'type: circle') });
    const loaded = await loadLab(dir);
    const problem = loaded.diagnostics.find((d) => /annotations/.test(d.message) || d.line === 10);
    expect(problem, JSON.stringify(loaded.diagnostics)).toBeDefined();
    expect(problem!.line).toBe(10);
    expect(problem!.severity).toBe('error');
    const model = (await loadLab(tempLab({ 'lab.yaml': LAB }))).model!;
    const bad = { ...model, annotations: [{ type: 'note', x: 'left', y: 0, text: 'x' }] } as unknown as typeof model;
    expect(checkClientModel(bad).map((d) => d.message).join()).toMatch(/annotations/);
  });
});
