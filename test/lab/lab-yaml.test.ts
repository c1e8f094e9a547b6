// lab.yaml: schema errors and YAML errors with exact positions, friendly shapes, the shipped labs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadChecksFile, loadLab, parseLabYaml, parseChecksYaml } from '../../src/main/lab/index.ts';
import { byCode, cleanupTempLabs, errorsOf, REPO, SHIPPED_LABS, tempLab } from './helpers.ts';

afterAll(cleanupTempLabs);

const parse = (text: string) => parseLabYaml(text, 'lab.yaml', '/labs/demo');

describe('shipped labs', () => {
  it.each(SHIPPED_LABS)('%s loads with no error and no warning', async (dir) => {
    const { model, diagnostics } = await loadLab(dir);
    expect(diagnostics).toEqual([]);
    expect(model!.format).toBe('vnetlab');
    expect(model!.checks.length).toBeGreaterThan(0);
    expect(model!.meta.description).toMatch(/## What to do/);
    // Every machine and domain has a canvas position.
    for (const name of [...model!.machines.map((m) => m.name), ...model!.domains.map((d) => d.name)]) expect(model!.layout[name]).toBeDefined();
  });

  it('static-routing: addresses from interfaces, the solution apart from the startup scripts, checks with defaults', async () => {
    const { model, hasSolution } = await loadLab(join(REPO, 'labs/static-routing'));
    const r1 = model!.machines.find((m) => m.name === 'r1')!;
    expect(r1.interfaces.map((i) => [i.index, i.domain, i.ipv4])).toEqual([[0, 'lan1', ['10.0.1.1/24']], [1, 'transit', ['10.0.12.1/30']]]);
    // The student starts with no route (issue 23, 1.1); the solution is applied only on request.
    expect(model!.machines.map((m) => m.startup)).toEqual([undefined, undefined, undefined, undefined]);
    expect(hasSolution).toBe(true);
    const solved = (await loadLab(join(REPO, 'labs/static-routing'), { withSolution: true })).model!;
    expect(solved.machines.find((m) => m.name === 'r1')!.startup!.text).toContain('ip route add 10.0.2.0/24 via 10.0.12.2');
    expect(r1.image).toBe('tiny');
    const check = model!.checks.find((c) => c.id === 'r1-route-to-lan2')!;
    expect(check).toMatchObject({ kind: 'route', on: 'r1', prefix: '10.0.2.0/24', via: '10.0.12.2', expect: 'present', timeoutSec: 10, hidden: false, points: 1 });
    expect(check.source.line).toBe(readFileSync(join(REPO, 'labs/static-routing/lab.yaml'), 'utf8').split('\n').indexOf('  - id: r1-route-to-lan2') + 1);
    expect(model!.domains.find((d) => d.name === 'lan1')!.kind).toBe('switch');
  });

  it('ospf: FRR configs from files (a lab file and inline content), debian routers', async () => {
    const { model } = await loadLab(join(REPO, 'labs/ospf'));
    const r2 = model!.machines.find((m) => m.name === 'r2')!;
    expect(r2.image).toBe('debian');
    expect(r2.files.map((f) => [f.kind, f.guestPath])).toEqual([['file', '/etc/frr/daemons'], ['file', '/etc/frr/vtysh.conf'], ['inline', '/etc/frr/frr.conf']]);
    // The student starts without OSPF; the solution (applied on request) turns ospfd on and configures it.
    expect(r2.files[2]!.kind === 'inline' && r2.files[2]!.content).not.toContain('router ospf');
    const solved = (await loadLab(join(REPO, 'labs/ospf'), { withSolution: true })).model!.machines.find((m) => m.name === 'r2')!;
    expect(solved.files.slice(3).map((f) => [f.kind, f.guestPath, f.kind === 'file' ? f.labPath : ''])).toEqual([['file', '/etc/frr/daemons', 'solution/frr/daemons'], ['inline', '/etc/frr/frr.conf', '']]);
    const frrConf = solved.files[4]!;
    expect(frrConf.kind === 'inline' && frrConf.content).toContain('router ospf');
  });
});

describe('positions and messages', () => {
  it('an unknown key is an error at the key, with did-you-mean', () => {
    const { diagnostics, model } = parse('machines:\n  pc1:\n    imgae: tiny\n    interfaces: [A]\n');
    const [d] = byCode(diagnostics, 'unknown-key');
    expect(d).toMatchObject({ severity: 'error', file: 'lab.yaml', line: 3, column: 5, target: 'machine:pc1' });
    expect(d!.message).toContain("did you mean 'image'?");
    // The rest of the lab is still usable.
    expect(model!.machines[0]!.interfaces[0]!.domain).toBe('A');
  });

  it('unknown keys in a check name the allowed keys of that kind', () => {
    const { diagnostics } = parse('machines: {pc1: {interfaces: [A]}}\nchecks:\n  - id: c1\n    kind: reach\n    from: pc1\n    too: 10.0.0.1\n');
    const unknown = byCode(diagnostics, 'unknown-key')[0]!;
    expect(unknown).toMatchObject({ line: 6, column: 5 });
    expect(unknown.message).toContain("did you mean 'to'?");
    expect(byCode(diagnostics, 'missing-key')[0]).toMatchObject({ line: 3, message: "'checks.0' needs 'to'" });
  });

  it('a misspelt enum value suggests the right one', () => {
    const { diagnostics } = parse('machines:\n  pc1:\n    kind: ruoter\n');
    expect(byCode(diagnostics, 'invalid-value')[0]).toMatchObject({ line: 3, column: 11 });
    expect(byCode(diagnostics, 'invalid-value')[0]!.message).toContain("did you mean 'router'?");
  });

  it('a YAML syntax error gives its position and no model', () => {
    const { diagnostics, model } = parse('machines:\n  pc1:\n    interfaces: [A\n');
    expect(model).toBeUndefined();
    expect(errorsOf(diagnostics)[0]).toMatchObject({ code: 'yaml-syntax', file: 'lab.yaml' });
    expect(errorsOf(diagnostics)[0]!.line).toBeGreaterThanOrEqual(3);
  });

  it('a machine defined twice is a duplicate-key error at the second one', () => {
    const { diagnostics } = parse('machines:\n  pc1: {}\n  pc1: {}\n');
    expect(errorsOf(diagnostics)[0]).toMatchObject({ code: 'duplicate-key', line: 3, column: 3 });
  });

  it('a wrong type says what was expected', () => {
    const { diagnostics } = parse('machines:\n  pc1:\n    memory: lots\n');
    expect(byCode(diagnostics, 'invalid-type')[0]).toMatchObject({ line: 3, column: 13, message: "'machines.pc1.memory' must be a whole number, not a string (\"lots\")" });
  });

  it('a file entry with both content and source is refused', () => {
    const { diagnostics } = parse('machines:\n  pc1:\n    files:\n      - {path: /etc/x, content: a, source: b}\n');
    expect(byCode(diagnostics, 'file-entry')[0]).toMatchObject({ line: 4, column: 9 });
  });
});

describe('friendly shapes', () => {
  it('interfaces as a list of domain names, as objects, or as an ethN map', () => {
    const list = parse('machines:\n  pc1:\n    interfaces: [A, {domain: B, ipv4: [10.0.0.1/24, 10.0.1.1/24], ipv6: 2001:db8::1/64, mac: 02:AA:00:00:00:01}]\n').model!;
    expect(list.machines[0]!.interfaces.map((i) => [i.index, i.domain, i.ipv4, i.ipv6, i.mac])).toEqual([
      [0, 'A', [], [], undefined],
      [1, 'B', ['10.0.0.1/24', '10.0.1.1/24'], ['2001:db8::1/64'], '02:aa:00:00:00:01'],
    ]);
    const map = parse('machines:\n  pc1:\n    interfaces:\n      eth1: B\n      eth0: {domain: A}\n').model!;
    expect(map.machines[0]!.interfaces.map((i) => [i.index, i.domain, i.source.line])).toEqual([[0, 'A', 5], [1, 'B', 4]]);
  });

  it('with a domains: section, an interface naming an unlisted domain is unknown-domain at its line; the model stays complete', () => {
    const { model, diagnostics } = parse('machines:\n  pc1: {interfaces: [lan1]}\n  pc2: {interfaces: [lan_1]}\ndomains:\n  lan1: {kind: switch}\n');
    expect(byCode(diagnostics, 'unknown-domain')).toEqual([
      expect.objectContaining({ severity: 'error', line: 3, target: 'machine:pc2/eth0', message: expect.stringContaining("'lan_1', which is not listed under domains: (did you mean 'lan1'?)") }),
    ]);
    expect(model!.domains.map((d) => [d.name, d.kind])).toEqual([['lan1', 'switch'], ['lan_1', 'hub']]);
    // Without the section, every domain is a hub named by its interfaces, as in Netkit.
    expect(byCode(parse('machines:\n  pc1: {interfaces: [lan1]}\n  pc2: {interfaces: [lan_1]}\n').diagnostics, 'unknown-domain')).toEqual([]);
  });

  it('cpus is kept but said to be ignored, at its line', () => {
    const { model, diagnostics } = parse('machines:\n  pc1:\n    cpus: 2\n    interfaces: [A]\n');
    expect(model!.machines[0]!.cpus).toBe(2);
    expect(byCode(diagnostics, 'option-ignored')).toEqual([expect.objectContaining({ severity: 'warning', line: 3, message: expect.stringContaining('cpus is ignored') })]);
  });

  it('defaults: debian, 128 MiB, hub domains created from interfaces, kind guessed', () => {
    const model = parse('machines:\n  r1: {interfaces: [A, B]}\n  pc1: {interfaces: [A]}\n').model!;
    expect(model.machines.map((m) => [m.name, m.kind, m.image, m.memoryMiB, m.ipv6, m.consoles])).toEqual([
      ['r1', 'router', 'debian', 128, true, 1],
      ['pc1', 'host', 'debian', 128, true, 1],
    ]);
    expect(model.domains.map((d) => [d.name, d.kind, d.hostNat])).toEqual([['A', 'hub', false], ['B', 'hub', false]]);
    expect(model.meta.name).toBe('demo');
  });

  it('file modes: "0755", 0o755 and the unquoted 0755 all mean rwxr-xr-x', () => {
    const model = parse('machines:\n  pc1:\n    files:\n      - {path: /a, content: x, mode: "0755"}\n      - {path: /b, content: x, mode: 0o755}\n      - {path: /c, content: x, mode: 0755}\n').model!;
    expect(model.machines[0]!.files.map((f) => (f.kind === 'dir' ? undefined : f.mode))).toEqual([0o755, 0o755, 0o755]);
  });

  it('version: 1.0 stays "1.0"', () => {
    expect(parse('lab: {version: 1.0}\nmachines: {}\n').model!.meta.version).toBe('1.0');
    expect(parse('lab:\n  version: 2.10\n').model!.meta.version).toBe('2.10');
  });

  it('a Kathará image name in lab.yaml maps to debian and keeps the alias', () => {
    const model = parse('machines:\n  r1: {image: kathara/frr}\n').model!;
    expect(model.machines[0]).toMatchObject({ image: 'debian', imageAlias: 'kathara/frr' });
  });
});

describe('checks file kept apart', () => {
  it('loads a private checks file with its own positions', async () => {
    const dir = tempLab({ 'checks.yaml': 'checks:\n  - id: hidden-route\n    kind: route\n    on: r1\n    prefix: 10.0.2.0/24\n    hidden: true\n    timeout: 30\n' });
    const { checks, diagnostics } = await loadChecksFile(join(dir, 'checks.yaml'));
    expect(diagnostics).toEqual([]);
    expect(checks[0]).toMatchObject({ id: 'hidden-route', hidden: true, timeoutSec: 30, description: 'r1 has a route to 10.0.2.0/24', source: { file: join(dir, 'checks.yaml'), line: 2, column: 5 } });
  });

  it('reports a bad checks file without throwing', async () => {
    expect((await loadChecksFile('/nonexistent/checks.yaml')).diagnostics[0]).toMatchObject({ code: 'file-unreadable' });
    const { diagnostics } = parseChecksYaml('checks:\n  - id: a\n    kind: command\n    on: pc1\n    run: "true"\n    stdout_matches: "("\n  - id: a\n    kind: dns\n    on: pc1\n    name: x\n    expect: 1.2.3.4\n', 'c.yaml');
    expect(byCode(diagnostics, 'invalid-regex')[0]).toMatchObject({ line: 2 });
    expect(byCode(diagnostics, 'duplicate-check')[0]).toMatchObject({ line: 7 });
  });
});
