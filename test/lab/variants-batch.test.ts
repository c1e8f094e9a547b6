// renderVariants (many seeds at once) writes the same folders, byte for byte and mode for mode, as one
// renderVariant per seed: for the shipped labs, and for a lab whose templates sit in a file entry, in
// a folder entry (beside a plain file that is copied), in an executable script and in two machines at
// once; for a student's copy and for the solution. Its errors are renderVariant's.
import { chmodSync, lstatSync, rmSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadLab } from '../../src/main/lab/index.ts';
import { renderVariant, renderVariants, type RenderOptions } from '../../src/main/lab/variants.ts';
import { isolatedHost, runCli } from '../support/host.ts';
import { cleanupTempLabs, tempLab } from './helpers.ts';

afterAll(cleanupTempLabs);

const REPO = join(import.meta.dirname, '..', '..');
const SEEDS = ['0', 'alice', '7', 'bob-2'];

/** Every entry under a folder: path → kind, mode and content (or link target). */
function tree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, path));
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[path] = `link ${readlinkSync(join(root, path))}`;
      else if (st.isDirectory()) {
        out[path] = `dir ${mode}`;
        walk(path);
      } else out[path] = `file ${mode}\n${readFileSync(join(root, path), 'utf8')}`;
    }
  };
  walk('');
  return out;
}

const LAB = `lab:
  name: batch
  description: LAN {{ lan }}, AS {{ asn }}
params:
  lan: {subnet: 10.0.0.0/8, prefix: 24}
  asn: {range: [64512, 65534]}
machines:
  r1:
    image: tiny
    interfaces: [{domain: lan, ipv4: "{{ lan | address: 1 }}"}]
    startup: echo {{ asn }}
    files:
      - {path: /etc/frr/frr.conf, source: common.conf}
      - {path: /etc/r1, source: r1}
      - {path: /usr/local/bin/hello, source: hello.sh}
  r2:
    image: tiny
    interfaces: [{domain: lan, ipv4: "{{ lan | address: 2 }}"}]
    files:
      - {path: /etc/frr/frr.conf, source: common.conf, mode: "0600"}
checks:
  - {id: r1-addr, kind: interface, on: r1, name: eth0, address: "{{ lan | address: 1 }}"}
  - {id: hidden-asn, kind: command, on: r1, run: "echo {{ asn }}", stdout_contains: "{{ asn }}", hidden: true}
solution:
  machines:
    r2: {startup: "ip route add default via {{ lan | host: 1 }}", files: [{path: /root/answer, source: solution/answer.txt}]}
`;

function fixtureLab(): string {
  const dir = tempLab({
    'lab.yaml': LAB,
    'common.conf': 'router bgp {{ asn }}\n network {{ lan }}\n',
    'r1/plain.txt': 'no template here\n',
    'r1/sub/net.conf': 'net {{ lan | network }}\n',
    'hello.sh': '#!/bin/sh\necho {{ lan | host: 1 }}\n',
    'solution/answer.txt': 'gateway {{ lan | host: 1 }}\n',
  });
  chmodSync(join(dir, 'hello.sh'), 0o755);
  return dir;
}

async function expectSameAsOneByOne(lab: string, options: RenderOptions): Promise<void> {
  const single = tempLab();
  const batch = tempLab();
  for (const seed of SEEDS) await renderVariant(lab, seed, join(single, seed), options);
  const results = await renderVariants(lab, SEEDS, (seed) => join(batch, seed), options);
  expect(results.map((r) => r.seed)).toEqual(SEEDS);
  for (const [i, seed] of SEEDS.entries()) {
    const expected = tree(join(single, seed));
    expect(Object.keys(expected)).toContain('lab.yaml');
    expect(tree(join(batch, seed))).toEqual(expected);
    const one = await renderVariant(lab, seed, join(tempLab(), 'again'), options);
    expect(results[i]!.values).toEqual(one.values);
    expect(results[i]!.diagnostics).toEqual(one.diagnostics);
    expect(results[i]!.model.root).toBe(join(batch, seed));
  }
  // Nothing else is left beside the folders (no staging folder).
  expect(readdirSync(batch).sort()).toEqual([...SEEDS].sort());
}

describe('renderVariants', () => {
  it('writes what renderVariant writes, per seed: templated file and folder entries, modes, copied files', async () => {
    const lab = fixtureLab();
    // The fixture exercises what it claims: rendered seeds differ, the folder's plain file is copied, the script stays executable.
    const single = tempLab();
    await renderVariants(lab, ['a', 'b'], (s) => join(single, s));
    expect(readFileSync(join(single, 'a', 'common.conf'), 'utf8')).not.toBe(readFileSync(join(single, 'b', 'common.conf'), 'utf8'));
    expect(readFileSync(join(single, 'a', 'r1/plain.txt'), 'utf8')).toBe('no template here\n');
    expect(readFileSync(join(single, 'a', 'r1/sub/net.conf'), 'utf8')).toMatch(/^net 10\.\d+\.\d+\.0\n$/);
    expect(lstatSync(join(single, 'a', 'hello.sh')).mode & 0o777).toBe(0o755);
    await expectSameAsOneByOne(lab, {});
    await expectSameAsOneByOne(lab, { forStudent: true });
    await expectSameAsOneByOne(lab, { withSolution: true });
  });

  it('writes what renderVariant writes when every lab file is rendered (nothing copied into the staging folder)', async () => {
    const lab = tempLab({
      'lab.yaml': 'lab: {name: only-rendered}\nparams: {lan: {subnet: 10.0.0.0/8, prefix: 24}}\nmachines:\n  r1:\n    image: tiny\n    files:\n      - {path: /etc/a.conf, source: conf/a.conf}\n      - {path: /etc/b.conf, source: conf/deep/b.conf, mode: "0600"}\n  r2:\n    image: tiny\n    files: [{path: /etc/a.conf, source: conf/a.conf}]\n',
      'conf/a.conf': 'lan {{ lan }}\n',
      'conf/deep/b.conf': 'gw {{ lan | host: 1 }}\n',
    });
    await expectSameAsOneByOne(lab, {});
    const out = tempLab();
    await renderVariants(lab, ['x'], (s) => join(out, s));
    expect(readFileSync(join(out, 'x', 'conf/deep/b.conf'), 'utf8')).toMatch(/^gw 10\.\d+\.\d+\.1\n$/);
  });

  it('writes what renderVariant writes for a Netkit folder with params in vnetlab.yaml', async () => {
    const lab = tempLab({
      'lab.conf': 'r1[0]=lan\npc1[0]=lan\n',
      'vnetlab.yaml': 'params:\n  lan: {subnet: 10.0.0.0/8, prefix: 24}\n',
      'r1.startup': 'ip addr add {{ lan | address: 1 }} dev eth0\n',
      'pc1.startup': 'ip addr add {{ lan | address: 10 }} dev eth0\nip route add default via {{ lan | host: 1 }}\n',
      'r1/etc/motd': 'router of {{ lan }}\n',
      'r1/etc/plain': 'plain\n',
    });
    await expectSameAsOneByOne(lab, {});
    const out = tempLab();
    await renderVariants(lab, ['n'], (s) => join(out, s));
    expect(readFileSync(join(out, 'n', 'r1/etc/motd'), 'utf8')).toMatch(/^router of 10\.\d+\.\d+\.0\/24\n$/);
  });

  it('writes what renderVariant writes for every shipped lab', async () => {
    const labs = readdirSync(join(REPO, 'labs'));
    expect(labs.length).toBeGreaterThan(2);
    for (const name of labs) {
      const lab = join(REPO, 'labs', name);
      await expectSameAsOneByOne(lab, { forStudent: true });
      if ((await loadLab(lab)).hasSolution) await expectSameAsOneByOne(lab, { withSolution: true });
    }
  });

  it('refuses a non-empty folder and two seeds into one folder; a lab error names file:line:col', async () => {
    const lab = fixtureLab();
    const out = tempLab();
    writeFileSync(join(out, 'keep'), 'x');
    await expect(renderVariants(lab, ['1'], () => out)).rejects.toThrow(/already exists and is not empty/);
    expect(readdirSync(out)).toEqual(['keep']);
    await expect(renderVariants(lab, ['1', '2'], () => join(out, 'same'))).rejects.toThrow(/seeds 1 and 2 would both be written into/);
    const broken = tempLab({ 'lab.yaml': 'lab: {name: x}\nparams: {a: {range: [1, 3]}}\nmachines:\n  pc1: {image: tiny, startup: "echo {{ b }}"}\n' });
    await expect(renderVariants(broken, ['0'], (s) => join(out, s))).rejects.toThrow(/lab\.yaml:4:\d+: error: unknown parameter 'b'/);
  });

  it('vnetlab variant with several --seed writes DIR/SEED for each, as the one-seed command does', async () => {
    const host = isolatedHost('vnl-vb');
    try {
      const lab = join(REPO, 'labs', 'static-routing-variant');
      const many = await runCli(['variant', lab, '--seed', 'alice', '--seed', 'bob', '-o', 'handout', '--for-student'], { env: host.env, cwd: host.root });
      expect(many.stderr).toBe('');
      expect(many.code).toBe(0);
      expect(many.stdout).toMatch(/^wrote handout\/alice \(seed alice: \d+ machines, \d+ checks\)\nwrote handout\/bob \(seed bob: /);
      for (const seed of ['alice', 'bob']) {
        const one = await runCli(['variant', lab, '--seed', seed, '-o', join('one', seed), '--for-student'], { env: host.env, cwd: host.root });
        expect(one.code).toBe(0);
        expect(tree(join(host.root, 'handout', seed))).toEqual(tree(join(host.root, 'one', seed)));
      }
      const shown = await runCli(['variant', lab, '--seed', 'alice', '--seed', 'bob', '--show', '--json'], { env: host.env, cwd: host.root });
      const list = JSON.parse(shown.stdout) as { seed: string; params: Record<string, string> }[];
      expect(list.map((v) => v.seed)).toEqual(['alice', 'bob']);
      expect(list[0]!.params).not.toEqual(list[1]!.params);
      const bad = await runCli(['variant', lab, '--seed', 'a/b', '--seed', 'c', '-o', 'x'], { env: host.env, cwd: host.root });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("'a/b' cannot be a folder name");
      const twice = await runCli(['variant', lab, '--seed', 'c', '--seed', 'c', '-o', 'x'], { env: host.env, cwd: host.root });
      expect(twice.code).toBe(2);
      expect(twice.stderr).toContain('--seed c is given twice');
    } finally {
      rmSync(host.root, { recursive: true, force: true });
    }
  });
});
