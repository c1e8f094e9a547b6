// Each semantic check of validateLab fires, at the line of the thing it is about.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../src/shared/diagnostics.ts';
import { loadLab, parseLabYaml, validateLab } from '../../src/main/lab/index.ts';
import { byCode, cleanupTempLabs, tempLab } from './helpers.ts';

afterAll(cleanupTempLabs);

/** Parses and validates a lab.yaml text; fails the test if parsing alone already found errors. */
function check(text: string): Diagnostic[] {
  const { model, diagnostics } = parseLabYaml(text, 'lab.yaml', '/labs/demo');
  expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return validateLab(model!);
}

function only(list: Diagnostic[], code: string): Diagnostic {
  const found = byCode(list, code);
  expect(found, `${code} in ${JSON.stringify(list, null, 1)}`).toHaveLength(1);
  return found[0]!;
}

describe('validateLab', () => {
  it('invalid machine names', () => {
    const d = only(check('machines:\n  pc1: {interfaces: [A]}\n  Web.Server: {interfaces: [A]}\n'), 'invalid-name');
    expect(d).toMatchObject({ severity: 'error', line: 3, column: 3, target: 'machine:Web.Server' });
    expect(d.hint).toContain('web-server');
  });

  it('duplicate machines (a model built by the editor)', () => {
    const { model } = parseLabYaml('machines:\n  pc1: {interfaces: [A]}\n  pc2: {interfaces: [A]}\n', 'lab.yaml', '/x');
    model!.machines[1]!.name = 'pc1';
    expect(only(validateLab(model!), 'duplicate-machine')).toMatchObject({ line: 3 });
  });

  it('dangling and single-ended collision domains are warnings', () => {
    const list = check('machines:\n  pc1: {interfaces: [A, B]}\n  pc2: {interfaces: [A]}\ndomains:\n  A: {}\n  B: {}\n  C: {kind: switch}\n  D: {host_nat: true}\n');
    expect(only(list, 'dangling-domain')).toMatchObject({ severity: 'warning', line: 7, target: 'domain:C' });
    expect(only(list, 'single-ended-domain')).toMatchObject({ severity: 'warning', line: 6, target: 'domain:B' });
  });

  it('interface numbering gaps name the missing interfaces', () => {
    const d = only(check('machines:\n  r1:\n    interfaces:\n      eth0: A\n      eth2: B\n  r2: {interfaces: [A, B]}\n'), 'interface-gap');
    expect(d).toMatchObject({ severity: 'error', line: 5 });
    expect(d.message).toContain('has eth2 but no eth1');
  });

  it('an interface number beyond eth63 is refused without listing every gap', () => {
    const d = only(check('machines:\n  r1:\n    interfaces:\n      eth0: A\n      eth999: B\n  r2: {interfaces: [A, B]}\n'), 'too-many-interfaces');
    expect(d).toMatchObject({ line: 5, message: "machine 'r1' has eth999; vnetlab allows eth0 to eth63" });
  });

  it('invalid, duplicate and conflicting addresses', () => {
    const list = check(
      [
        'machines:',
        '  pc1: {interfaces: [{domain: A, ipv4: 10.0.0.1/24}]}',
        '  pc2: {interfaces: [{domain: A, ipv4: 10.0.0.1/24}]}',
        '  pc3: {interfaces: [{domain: A, ipv4: 10.0.0.3/16}]}',
        '  pc4: {interfaces: [{domain: A, ipv4: 10.0.0.0/24}]}',
        '  pc5: {interfaces: [{domain: A, ipv4: 10.0.0.255/24}]}',
        '  pc6: {interfaces: [{domain: A, ipv4: 10.0.0.300/24}]}',
        '  pc7: {interfaces: [{domain: A, ipv6: "2001:db8::1/64"}, {domain: B, ipv6: "2001:db8::1/64"}, {domain: B, ipv6: "fe80::zz/64"}]}',
        '',
      ].join('\n'),
    );
    expect(byCode(list, 'duplicate-address').map((d) => [d.line, d.severity])).toEqual([[3, 'warning'], [8, 'warning']]);
    expect(only(list, 'mask-mismatch')).toMatchObject({ line: 4, severity: 'warning', target: 'domain:A' });
    expect(only(list, 'network-address')).toMatchObject({ line: 5 });
    expect(only(list, 'broadcast-address')).toMatchObject({ line: 6 });
    expect(byCode(list, 'invalid-address').map((d) => [d.line, d.severity])).toEqual([[7, 'error'], [8, 'error']]);
  });

  it('memory out of range (a model from the editor or a Netkit lab with 8 GiB)', () => {
    const { model } = parseLabYaml('machines:\n  pc1: {interfaces: [A]}\n  pc2: {interfaces: [A]}\n', 'lab.yaml', '/x');
    model!.machines[1]!.memoryMiB = 8192;
    expect(only(validateLab(model!), 'memory-out-of-range')).toMatchObject({ line: 3, severity: 'error' });
  });

  it('dependency cycles are named', () => {
    const d = only(check('machines:\n  a: {interfaces: [X], depends_on: [b]}\n  b: {interfaces: [X], depends_on: [c]}\n  c: {interfaces: [X], depends_on: [a]}\n  d: {interfaces: [X], depends_on: [a]}\n'), 'dependency-cycle');
    expect(d.message).toContain('a → b → c → a');
    expect(d.line).toBe(2);
  });

  it('unknown machines in depends_on (at the entry) and checks', () => {
    const { diagnostics } = parseLabYaml('machines:\n  pc1:\n    interfaces: [A]\n    depends_on:\n      - pc2\n      - pc3\n  pc2: {interfaces: [A]}\n', 'lab.yaml', '/x');
    expect(only(diagnostics, 'unknown-machine')).toMatchObject({ line: 6, column: 9 });
    const list = check('machines:\n  pc1: {interfaces: [A]}\n  pc2: {interfaces: [A]}\nchecks:\n  - {id: x, kind: reach, from: pc9, to: pc2}\n  - {id: y, kind: reach, from: pc1, to: nowhere}\n');
    const unknown = byCode(list, 'unknown-machine');
    expect(unknown.map((d) => d.line)).toEqual([5]);
    expect(unknown[0]!.message).toContain("'pc9'");
    expect(only(list, 'unknown-target')).toMatchObject({ line: 6, severity: 'warning' });
  });

  it('a file path that leaves the lab folder is refused', () => {
    const list = check('machines:\n  pc1:\n    interfaces: [A]\n    files:\n      - {path: /etc/passwd, source: ../../etc/passwd}\n      - {path: /x, source: /etc/shadow}\n      - {path: /y, source: ok/../../../z}\n      - {path: /ok, source: a/../b}\n  pc2: {interfaces: [A]}\n');
    expect(byCode(list, 'path-escapes-lab').map((d) => d.line)).toEqual([5, 6, 7]);
  });

  it('limits: machines, interfaces, inline file size', () => {
    const { model } = parseLabYaml('machines:\n  pc1: {interfaces: [A]}\n', 'lab.yaml', '/x');
    const pc1 = model!.machines[0]!;
    pc1.interfaces = Array.from({ length: 65 }, (_, index) => ({ index, domain: 'A', ipv4: [], ipv6: [], source: pc1.source }));
    pc1.files = [{ kind: 'inline', guestPath: '/big', content: 'x'.repeat(64 * 1024 * 1024 + 1), source: pc1.source }];
    model!.machines = Array.from({ length: 1001 }, (_, n) => ({ ...pc1, name: `pc${n}` }));
    const list = validateLab(model!);
    expect(byCode(list, 'too-many-machines')).toHaveLength(1);
    expect(byCode(list, 'too-many-interfaces')).toHaveLength(1001);
    expect(byCode(list, 'file-too-large')).toHaveLength(1001);
  });

  it('duplicate check ids and invalid regular expressions', () => {
    const list = check('machines:\n  pc1: {interfaces: [A]}\n  pc2: {interfaces: [A]}\nchecks:\n  - {id: a, kind: frr, on: pc1, command: show ip route, matches: "[unclosed"}\n  - {id: a, kind: reach, from: pc1, to: 10.0.0.2}\n');
    expect(only(list, 'invalid-regex')).toMatchObject({ line: 5 });
    expect(only(list, 'duplicate-check')).toMatchObject({ line: 6 });
  });
});

describe('files on disk (loadLab)', () => {
  it('a missing source, a folder source and a symlink that leads out', async () => {
    const dir = tempLab({
      'lab.yaml': 'machines:\n  pc1:\n    interfaces: [A]\n    files:\n      - {path: /etc/frr, source: configs/frr}\n      - {path: /etc/missing, source: nothing-here}\n      - {path: /etc/link, source: link-out}\n      - {path: /srv, source: tree}\n  pc2: {interfaces: [A]}\n',
      'configs/frr/frr.conf': 'router ospf\n',
      'tree/ok.txt': 'fine\n',
    });
    symlinkSync('/etc/hostname', join(dir, 'link-out'));
    symlinkSync('/etc', join(dir, 'tree/escape'));
    const { model, diagnostics } = await loadLab(dir);
    expect(model!.machines[0]!.files[0]).toMatchObject({ kind: 'dir', labPath: 'configs/frr' });
    expect(only(diagnostics, 'file-not-found')).toMatchObject({ line: 6, severity: 'error' });
    expect(byCode(diagnostics, 'path-escapes-lab').map((d) => [d.line, d.message.includes('tree/escape') || d.message.includes('link-out')])).toEqual([[7, true], [8, true]]);
  });

  it('a file placed in a guest larger than 64 MiB', async () => {
    const dir = tempLab({ 'lab.yaml': 'machines:\n  pc1:\n    interfaces: [A]\n    files:\n      - {path: /big, source: big.bin}\n  pc2: {interfaces: [A]}\n' });
    // A sparse 65 MiB file: costs no disk.
    const { truncateSync } = await import('node:fs');
    writeFileSync(join(dir, 'big.bin'), '');
    truncateSync(join(dir, 'big.bin'), 65 * 1024 * 1024);
    mkdirSync(join(dir, 'unused'));
    const { diagnostics } = await loadLab(dir);
    expect(only(diagnostics, 'file-too-large')).toMatchObject({ line: 5 });
  });

  it('a lab whose placed files add up to more than 512 MiB', async () => {
    const dir = tempLab({ 'lab.yaml': 'machines:\n  pc1:\n    interfaces: [A]\n    files:\n      - {path: /data, source: data}\n  pc2: {interfaces: [A]}\n' });
    const { truncateSync } = await import('node:fs');
    mkdirSync(join(dir, 'data'));
    // Nine sparse 60 MiB files: each under the per-file limit, 540 MiB together, no disk used.
    for (let n = 0; n < 9; n++) {
      writeFileSync(join(dir, 'data', `part${n}`), '');
      truncateSync(join(dir, 'data', `part${n}`), 60 * 1024 * 1024);
    }
    const { diagnostics } = await loadLab(dir);
    expect(byCode(diagnostics, 'file-too-large')).toEqual([]);
    expect(only(diagnostics, 'lab-too-large').message).toContain('540 MiB');
  });
});
