// `vnetlab validate` and `vnetlab convert` as a user runs them: exit codes, output format, files written.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixtureLab } from '../support/fixtures.ts';
import { cleanupTempLabs, REPO, tempLab } from './helpers.ts';

afterAll(cleanupTempLabs);

const home = tempLab();

function vnetlab(args: string[], cwd = REPO) {
  const result = spawnSync(process.execPath, [join(REPO, 'bin/vnetlab.mjs'), ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, HOME: home, VNETLAB_RUNTIME_DIR: join(home, 'run'), VNETLAB_STATE_DIR: join(home, 'state') },
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('vnetlab validate', () => {
  it('exits 0 on a valid lab and says what it found', () => {
    const r = vnetlab(['validate', 'labs/static-routing']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('labs/static-routing: ok (4 machines, 3 collision domains, 6 checks)');
  });

  it('exits 0 on a Kathará lab with warnings, printed as file:line:col', () => {
    const r = vnetlab(['validate', fixtureLab('kathara-options')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/kathara-options\/lab\.conf:20:9: warning: sniffer asks for image 'example\.org\/tools\/sniffer'/);
    expect(r.stdout).toMatch(/kathara-options\/lab\.conf:19:9: warning: sniffer\[port\] is ignored/);
    expect(r.stdout).toContain('kathara-options: ok (4 machines, 1 collision domains, 0 checks, 2 warnings)');
  });

  it('exits 2 on errors, with positions and hints, and no stack trace', () => {
    const dir = tempLab({ 'lab.yaml': 'machines:\n  pc1:\n    interfaces: [{domain: A, ipv4: 10.0.0.1/33}]\n    memroy: 64\n  pc2: {interfaces: [A]}\n' });
    const r = vnetlab(['validate', dir]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(`${dir}/lab.yaml:4:5: error: unknown key 'memroy' in 'machines.pc1' (did you mean 'memory'?)`);
    expect(r.stdout).toContain(`${dir}/lab.yaml:3:18: error: pc1 eth0: '10.0.0.1/33' is not an IPv4 address in CIDR form`);
    expect(r.stdout).toContain('2 errors');
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
  });

  it('--json prints the diagnostics as data', () => {
    const dir = tempLab({ 'lab.conf': 'pc1[0]=A\npc1[0]=B\npc2[0]=A\n' });
    const r = vnetlab(['validate', dir, '--json']);
    expect(r.code).toBe(2);
    const report = JSON.parse(r.stdout);
    expect(report.valid).toBe(false);
    expect(report.diagnostics[0]).toMatchObject({ severity: 'error', code: 'duplicate-interface', file: 'lab.conf', line: 2 });
  });

  it('--checks validates a private checks file against the lab', () => {
    const dir = tempLab({ 'checks.yaml': 'checks:\n  - {id: a, kind: reach, from: pc9, to: 10.0.1.10}\n' });
    const r = vnetlab(['validate', 'labs/static-routing', '--checks', join(dir, 'checks.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(`${dir}/checks.yaml:2:5: error: check 'a' runs on 'pc9'`);
  });

  it('exits 2 for a missing lab and for an unknown flag', () => {
    expect(vnetlab(['validate', '/nonexistent/lab']).code).toBe(2);
    const r = vnetlab(['validate', '--jsn']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown option --jsn');
  });
});

describe('vnetlab convert', () => {
  it('Netkit folder → lab.yaml elsewhere (machine folders, lab.dep and _test come along) → back to a Netkit folder', () => {
    const out = tempLab();
    const yaml = join(out, 'arp', 'lab.yaml');
    const toYaml = vnetlab(['convert', fixtureLab('netkit-arp'), '-o', yaml]);
    expect(toYaml.code).toBe(0);
    const text = readFileSync(yaml, 'utf8');
    expect(text).toMatch(/^# yaml-language-server: \$schema=/);
    expect(text).toMatch(/pc2:[\s\S]*depends_on: \[ ?r2, r1 ?\]/);
    expect(readFileSync(join(out, 'arp/pc1/etc/motd'), 'utf8')).toContain('came from the machine folder pc1/');
    expect(existsSync(join(out, 'arp/_test/signature/pc1.user'))).toBe(true);
    expect(vnetlab(['validate', join(out, 'arp')]).code).toBe(0);

    const toNetkit = vnetlab(['convert', yaml, '--to', 'netkit', '-o', join(out, 'netkit')]);
    expect(toNetkit.code).toBe(0);
    expect(readFileSync(join(out, 'netkit/lab.conf'), 'utf8')).toContain('r2[1]="B"');
    expect(readFileSync(join(out, 'netkit/lab.dep'), 'utf8')).toMatch(/^pc2: r2 r1$/m);
    expect(existsSync(join(out, 'netkit/_test/signature/pc1.user'))).toBe(true);
    // Refuses to overwrite without --force.
    const again = vnetlab(['convert', yaml, '--to', 'netkit', '-o', join(out, 'netkit')]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('use --force');
  });

  it('a Netkit lab with Quagga configs in its machine folders converts with them', () => {
    const out = tempLab();
    const yaml = join(out, 'rip', 'lab.yaml');
    expect(vnetlab(['convert', fixtureLab('netkit-rip'), '-o', yaml]).code).toBe(0);
    expect(readFileSync(join(out, 'rip/r1/etc/quagga/ripd.conf'), 'utf8')).toContain('router rip');
    expect(vnetlab(['validate', join(out, 'rip')]).code).toBe(0);
  });

  it('refuses a lab with errors and writes nothing', () => {
    const dir = tempLab({ 'lab.yaml': 'machines:\n  pc1: {depends_on: [pc1]}\n' });
    const r = vnetlab(['convert', dir, '--to', 'netkit', '-o', join(dir, 'out')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('in a cycle: pc1 → pc1');
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });

  it('needs -o', () => {
    const r = vnetlab(['convert', 'labs/two-hosts']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('give -o OUT');
  });
});
