// Writers: Netkit/Kathará lab → lab.yaml → Netkit folder → load gives the same model (modulo source
// positions), for the labs of test/fixtures/ and, when it is there, every lab of the corpus; and a
// shipped lab.yaml survives the trip through a Netkit folder.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadLab, parseLabYaml, relocateLab, saveLabYaml, writeLabYaml, writeNetkitLab } from '../../src/main/lab/index.ts';
import { compile } from '../../src/main/compiler/index.ts';
import type { LabModel } from '../../src/shared/lab-model.ts';
import { FIXED_OPTIONS } from '../compiler/model.ts';
import { describeWithCorpus, itEachCorpusLab } from '../support/corpus.ts';
import { fixtureLab, fixtureLabs } from '../support/fixtures.ts';
import { cleanupTempLabs, comparable, errorsOf, REPO, SHIPPED_LABS, tempLab } from './helpers.ts';

afterAll(cleanupTempLabs);

/** lab.conf lab → lab.yaml → Netkit folder: the same model each time; machine folders, shared/ and _test/ come along. */
async function roundTrip(dir: string): Promise<void> {
  const original = (await loadLab(dir)).model!;
  const yamlDir = tempLab();
  await saveLabYaml(join(yamlDir, 'lab.yaml'), await relocateLab(original, yamlDir));
  const fromYaml = await loadLab(yamlDir);
  expect(errorsOf(fromYaml.diagnostics)).toEqual([]);
  expect(comparable(fromYaml.model)).toEqual(comparable(original));

  const netkitDir = join(tempLab(), 'lab');
  await writeNetkitLab(fromYaml.model!, netkitDir);
  const back = await loadLab(netkitDir);
  expect(errorsOf(back.diagnostics)).toEqual([]);
  expect(comparable(back.model)).toEqual(comparable(original));
  // Machine folders came along byte for byte, and so did the shared and test folders.
  for (const m of original.machines) {
    for (const f of m.files) if (f.kind === 'dir') expect(statSync(join(netkitDir, f.labPath)).isDirectory()).toBe(true);
  }
  for (const folder of [original.sharedFolder, original.testFolder]) {
    if (folder && existsSync(join(dir, folder))) expect(statSync(join(netkitDir, folder)).isDirectory(), folder).toBe(true);
  }
}

describe('round trip', () => {
  it.each(fixtureLabs().map((dir) => [basename(dir), dir]))('fixture %s → lab.yaml → Netkit folder → same model', async (_name, dir) => {
    await roundTrip(dir);
  });

  it('keeps the files of machine folders, shared/ and _test/ byte for byte', async () => {
    for (const [lab, files] of [
      ['netkit-arp', ['pc1/etc/motd', '_test/pc1.test', '_test/signature/pc1.user', '_test/signature/r1.default']],
      ['kathara-dns', ['dns1/etc/bind/named.conf.options', 'shared/motd', 'pc1/etc/resolv.conf']],
      ['netkit-rip', ['r1/etc/quagga/ripd.conf', 'r2/etc/quagga/daemons', 'h1/etc/motd']],
    ] as const) {
      const dir = fixtureLab(lab);
      const yamlDir = tempLab();
      await saveLabYaml(join(yamlDir, 'lab.yaml'), await relocateLab((await loadLab(dir)).model!, yamlDir));
      const netkitDir = join(tempLab(), 'lab');
      await writeNetkitLab((await loadLab(yamlDir)).model!, netkitDir);
      for (const file of files) {
        expect(readFileSync(join(netkitDir, file), 'utf8'), `${lab}/${file}`).toBe(readFileSync(join(dir, file), 'utf8'));
      }
    }
  });

  it.each(SHIPPED_LABS)('%s → Netkit folder → addresses, checks, layout and domain kinds come back', async (dir) => {
    const original = (await loadLab(dir)).model!;
    const out = join(tempLab(), 'netkit');
    await writeNetkitLab(original, out);
    const back = (await loadLab(out)).model!;
    // Inline files come back as the machine folder and domains in lab.conf order: same lab, other form.
    const plain = (m: typeof original) => comparable({ ...m, machines: m.machines.map((x) => ({ ...x, files: undefined })), domains: [...m.domains].sort((a, b) => a.name.localeCompare(b.name)) });
    expect(plain(back)).toEqual(plain(original));
    // Inline files land in the machine folder, which Netkit copies onto /.
    for (const m of original.machines) {
      for (const f of m.files) {
        const written = readFileSync(join(out, m.name, f.guestPath), 'utf8');
        expect(written).toBe(f.kind === 'inline' ? f.content : readFileSync(join(dir, f.labPath), 'utf8'));
      }
    }
    // Kathará still reads the addresses: they are commands at the top of the startup file.
    for (const m of original.machines) {
      expect(readFileSync(join(out, `${m.name}.startup`), 'utf8')).toContain(`ip address add ${m.interfaces[0]!.ipv4[0]} dev eth0\n`);
    }
  });

  it('writeLabYaml keeps the $schema line and writes descriptions and scripts as block scalars', async () => {
    const model = (await loadLab(join(REPO, 'labs/static-routing'), { withSolution: true })).model!;
    const text = writeLabYaml(model);
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../../schemas/lab.schema.json');
    expect(text).toMatch(/^ {2}description: \|/m);
    expect(text).toMatch(/^ {4}startup: \|/m);
    expect(text).toContain('- { domain: lan1, ipv4: 10.0.1.10/24 }');
    const again = parseLabYaml(text, 'lab.yaml', model.root);
    expect(again.diagnostics).toEqual([]);
    expect(comparable(again.model)).toEqual(comparable(model));
  });

  it('saveLabYaml and writeNetkitLab leave no temp files behind', async () => {
    const model = (await loadLab(join(REPO, 'labs/two-hosts'))).model!;
    const dir = tempLab();
    await saveLabYaml(join(dir, 'lab.yaml'), model);
    await saveLabYaml(join(dir, 'lab.yaml'), model);
    await writeNetkitLab(model, join(dir, 'nk'));
    await writeNetkitLab(model, join(dir, 'nk'));
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(dir).sort()).toEqual(['lab.yaml', 'nk']);
    expect(readdirSync(join(dir, 'nk')).sort()).toEqual(['lab.conf', 'pc1.startup', 'pc2.startup', 'vnetlab.yaml']);
  });
});

describe('saving over an existing Netkit folder', () => {
  it('a machine deleted in the editor does not come back from its old folder', async () => {
    const dir = tempLab({ 'lab.conf': 'pc1[0]=A\npc2[0]=A\npc3[0]=A\n', 'pc3/etc/motd': 'old\n' });
    const model = (await loadLab(dir)).model!;
    expect(model.machines.map((m) => m.name)).toEqual(['pc1', 'pc2', 'pc3']);
    model.machines = model.machines.filter((m) => m.name !== 'pc3');
    await writeNetkitLab(model, dir);
    const back = await loadLab(dir);
    expect(back.model!.machines.map((m) => m.name)).toEqual(['pc1', 'pc2']);
    expect(readFileSync(join(dir, 'lab.conf'), 'utf8').split('\n')[0]).toBe('machines="pc1 pc2"');
  });
});

describe('what lab.conf cannot hold', () => {
  it('titles, Markdown descriptions, quotes, IPv6 addresses, hidden checks and host NAT come back from a Netkit folder', async () => {
    const dir = tempLab({
      'lab.yaml': [
        'lab:',
        '  title: "It\'s a \\"quoted\\" title"',
        '  description: |',
        '    # Heading',
        '',
        '    Second paragraph.',
        'machines:',
        '  pc1: {image: tiny, interfaces: [{domain: A, ipv4: 10.0.0.1/24, ipv6: "2001:db8::1/64"}, {domain: nat}], startup: "echo hi\\n"}',
        '  pc2: {image: tiny, interfaces: [{domain: A, ipv4: [10.0.0.2/24, 10.0.0.3/24]}]}',
        'domains:',
        '  A: {kind: switch}',
        '  nat: {host_nat: true}',
        'checks:',
        '  - {id: secret, kind: reach, from: pc1, to: 10.0.0.2, hidden: true, timeout: 30}',
        '',
      ].join('\n'),
    });
    const original = (await loadLab(dir)).model!;
    const out = join(tempLab(), 'netkit');
    await writeNetkitLab(original, out);
    expect(readFileSync(join(out, 'lab.conf'), 'utf8')).toContain('LAB_DESCRIPTION="Heading"');
    const back = await loadLab(out);
    expect(errorsOf(back.diagnostics)).toEqual([]);
    expect(comparable(back.model)).toEqual(comparable(original));
    expect(back.model!.machines[0]!.startup!.text).toBe('echo hi\n');
  });
});

// Issue 9, item 11: Kathará/Netkit machines forward IP by default. The plan must say so whatever the
// lab was saved as: the behaviour (the sysctl file the guest init applies), not only the text.
describe('forwarding survives saving and converting', () => {
  const sysctlOf = (model: LabModel, machine: string) => {
    const entry = compile(model, FIXED_OPTIONS).labFs.entries.find((e) => e.dest === `/machines/${machine}/sysctl`);
    return entry && 'content' in entry ? entry.content : undefined;
  };
  const netkitLab = () => tempLab({ 'lab.conf': 'pc1[0]=A\nr1[0]=A\nr1[1]=B\npc2[0]=B\n', 'r1.startup': 'ip address add 10.0.1.1/24 dev eth0\n' });

  it('a Netkit router still forwards after save as lab.yaml and reload', async () => {
    const original = (await loadLab(netkitLab())).model!;
    expect(sysctlOf(original, 'r1')).toContain('net.ipv4.ip_forward=1\n');
    const out = tempLab();
    await saveLabYaml(join(out, 'lab.yaml'), { ...(await relocateLab(original, out)), format: 'vnetlab', sourceFile: 'lab.yaml' });
    const reloaded = await loadLab(out);
    expect(reloaded.model!.format).toBe('vnetlab');
    expect(errorsOf(reloaded.diagnostics)).toEqual([]);
    expect(sysctlOf(reloaded.model!, 'r1')).toBe('net.ipv4.ip_forward=1\nnet.ipv6.conf.all.forwarding=1\n');
  });

  it('a Kathará router with ipv6=false forwards IPv4 only, and its own sysctl wins', async () => {
    const dir = tempLab({ 'lab.conf': 'r1[0]="A/02:00:00:00:00:01"\nr1[1]=B\nr1[ipv6]="false"\nr2[0]=A\nr2[1]=B\nr2[sysctl]="net.ipv4.ip_forward=0"\n' });
    const model = (await loadLab(dir)).model!;
    expect(model.machines.find((m) => m.name === 'r1')!.sysctls).toEqual({ 'net.ipv4.ip_forward': '1' });
    expect(sysctlOf(model, 'r2')).toBe('net.ipv4.ip_forward=0\nnet.ipv6.conf.all.forwarding=1\n');
  });

  it('`vnetlab convert` to lab.yaml keeps the router forwarding', async () => {
    const out = join(tempLab(), 'converted', 'lab.yaml');
    const { runCli } = await import('../support/host.ts');
    const run = await runCli(['convert', netkitLab(), '-o', out], { env: process.env, cwd: REPO });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(sysctlOf((await loadLab(out)).model!, 'r1')).toContain('net.ipv4.ip_forward=1\n');
  });

  it('a lab.yaml host that does not forward still does not after a trip through a Netkit folder', async () => {
    const dir = tempLab({ 'lab.yaml': 'machines:\n  pc1: {image: tiny, interfaces: [A]}\n  r1: {image: tiny, interfaces: [A], sysctls: {net.ipv4.ip_forward: 1}}\n' });
    const out = join(tempLab(), 'netkit');
    await writeNetkitLab((await loadLab(dir)).model!, out);
    const back = (await loadLab(out)).model!;
    expect(sysctlOf(back, 'pc1')).toBe('');
    expect(sysctlOf(back, 'r1')).toBe('net.ipv4.ip_forward=1\n');
    // A Kathará lab written back as a Netkit folder does not gain a sysctl line per machine.
    const kathara = (await loadLab(netkitLab())).model!;
    const again = join(tempLab(), 'again');
    await writeNetkitLab(kathara, again);
    expect(readFileSync(join(again, 'lab.conf'), 'utf8')).not.toContain('sysctl');
    expect(comparable((await loadLab(again)).model)).toEqual(comparable(kathara));
  });
});

describeWithCorpus('round trip of the corpus', () => {
  itEachCorpusLab('%s → lab.yaml → Netkit folder → same model', roundTrip);
});
