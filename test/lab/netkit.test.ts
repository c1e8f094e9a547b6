// Netkit and Kathará folders read unchanged: both lab.conf dialects, lab.dep, startup files, machine
// folders, shared/ and _test/, and the warnings about things that silently break old labs — on the
// hand-written labs of test/fixtures/, then on every lab of the external corpus when it is there.
import { symlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadLab } from '../../src/main/lab/index.ts';
import { corpusLabs, describeWithCorpus, itEachCorpusLab } from '../support/corpus.ts';
import { fixtureLab, fixtureLabs } from '../support/fixtures.ts';
import { byCode, cleanupTempLabs, errorsOf, tempLab } from './helpers.ts';

afterAll(cleanupTempLabs);

describe('Netkit and Kathará folders (test/fixtures)', () => {
  it.each(fixtureLabs().map((dir) => [basename(dir), dir]))('%s loads with no error', async (_name, dir) => {
    const { model, diagnostics } = await loadLab(dir);
    expect(errorsOf(diagnostics)).toEqual([]);
    expect(model!.machines.length).toBeGreaterThan(0);
    expect(model!.meta.description).toBeTruthy();
    for (const m of model!.machines) expect(['debian', 'tiny']).toContain(m.image);
  });

  it('Kathará: MAC suffixes, image aliases, ipv6=false, bridged, num_terms, LAB_* metadata, an unknown image and a Docker option warned', async () => {
    const { model, diagnostics } = await loadLab(fixtureLab('kathara-options'));
    expect(model!.format).toBe('kathara');
    const pc1 = model!.machines.find((m) => m.name === 'pc1')!;
    expect(pc1).toMatchObject({ image: 'debian', imageAlias: 'kathara/base', ipv6: false, kind: 'host', source: { file: 'lab.conf', line: 7, column: 1 } });
    expect(pc1.interfaces.map((i) => [i.index, i.domain, i.mac])).toEqual([[0, 'A', '02:00:00:00:00:01']]);
    // ipv6=false: IPv4 forwarding only, as Kathará's devices.
    expect(pc1.sysctls).toEqual({ 'net.ipv4.ip_forward': '1' });
    const sniffer = model!.machines.find((m) => m.name === 'sniffer')!;
    expect(sniffer).toMatchObject({ bridged: true, consoles: 0, imageAlias: 'example.org/tools/sniffer', interfaces: [] });
    expect(byCode(diagnostics, 'unknown-image')).toEqual([expect.objectContaining({ severity: 'warning', file: 'lab.conf', line: 20, column: 9 })]);
    expect(byCode(diagnostics, 'option-ignored')).toEqual([expect.objectContaining({ severity: 'warning', file: 'lab.conf', line: 19, message: expect.stringContaining('sniffer[port] is ignored') })]);
    expect(model!.meta).toMatchObject({ description: 'Kathará options the reader understands, keeps or warns about', version: '1.2', email: 'teachers@example.org', web: 'https://example.org/labs/', authors: ['A. Teacher', 'B. Assistant'] });
  });

  it('routers are guessed from a routing image even with one interface', async () => {
    const { model } = await loadLab(fixtureLab('kathara-options'));
    expect(model!.machines.find((m) => m.name === 'r1')).toMatchObject({ kind: 'router', imageAlias: 'kathara/frr', interfaces: [expect.objectContaining({ mac: '02:00:00:00:00:a1' })] });
  });

  it('Kathará: a "/MAC" on some interfaces only; startup files that set MACs themselves are kept as written', async () => {
    const { model } = await loadLab(fixtureLab('kathara-static-routing'));
    const byName = Object.fromEntries(model!.machines.map((m) => [m.name, m]));
    expect(byName.r1!.interfaces.map((i) => i.mac)).toEqual(['02:00:00:0a:00:01', '02:00:00:0b:00:01']);
    expect(byName.r2!.interfaces.map((i) => i.mac)).toEqual([undefined, undefined]);
    expect(byName.r2!.startup!.text).toBe('ip link set dev eth0 address 02:00:00:0C:00:01\nip address add 10.3.0.1/24 dev eth0\nip address add 10.2.0.2/30 dev eth1\n# for the student: ip route add 10.1.0.0/24 via 10.2.0.1 dev eth1\n');
    expect(model!.machines.map((m) => [m.name, m.kind])).toEqual([['r1', 'router'], ['r2', 'router'], ['pc1', 'host'], ['pc2', 'host']]);
  });

  it('Netkit: machines=, machine folders copied onto /, startup scripts as written, a host with a folder, lab.dep', async () => {
    const { model } = await loadLab(fixtureLab('netkit-rip'));
    expect(model!.format).toBe('netkit');
    expect(model!.machines.map((m) => [m.name, m.kind, m.dependsOn])).toEqual([['r1', 'router', []], ['r2', 'router', []], ['h1', 'host', ['r1']], ['h2', 'host', ['r2']]]);
    const r1 = model!.machines.find((m) => m.name === 'r1')!;
    expect(r1.files).toEqual([{ kind: 'dir', guestPath: '/', labPath: 'r1', source: { file: 'r1', line: 0, column: 0 } }]);
    expect(r1.startup!.text).toContain('/sbin/ifconfig eth0 10.10.1.1 netmask 255.255.255.0 broadcast 10.10.1.255 up\n');
    expect(r1.startup!.text).toContain('/etc/init.d/quagga start\n');
    expect(r1.sysctls).toEqual({ 'net.ipv4.ip_forward': '1', 'net.ipv6.conf.all.forwarding': '1' });
    // h1 has one interface and a folder with no routing configuration: a host.
    expect(model!.machines.find((m) => m.name === 'h1')!.files).toEqual([expect.objectContaining({ kind: 'dir', guestPath: '/', labPath: 'h1' })]);
  });

  it('Netkit: _test as the test folder, lab.dep with a continuation line, the 32 MB Netkit labs ask for raised to 64', async () => {
    const { model, diagnostics } = await loadLab(fixtureLab('netkit-arp'));
    expect(model!.format).toBe('netkit');
    expect(model!.testFolder).toBe('_test');
    expect(model!.machines.map((m) => [m.name, m.dependsOn, m.memoryMiB])).toEqual([['pc1', ['r1'], 64], ['r1', [], 128], ['r2', [], 128], ['pc2', ['r2', 'r1'], 64]]);
    expect(byCode(diagnostics, 'memory-raised').map((d) => [d.file, d.line, d.severity])).toEqual([['lab.conf', 7, 'warning'], ['lab.conf', 16, 'warning']]);
    expect(model!.machines.find((m) => m.name === 'pc2')!.startup!.text).toContain('hw ether 02:00:00:02:00:10 up');
  });

  it('shared/ becomes the shared folder; BIND options removed in 9.18 are warned at their line', async () => {
    const { model, diagnostics } = await loadLab(fixtureLab('kathara-dns'));
    expect(model!.sharedFolder).toBe('shared');
    expect(model!.sharedStartup!.text).toBe('cp /shared/motd /etc/motd\n');
    const bind = byCode(diagnostics, 'legacy-bind-option');
    expect(bind.map((d) => `${d.file}:${d.line}`)).toEqual(['dns1/etc/bind/named.conf.options:3', 'dns1/etc/bind/named.conf.options:4']);
    expect(bind.find((d) => d.message.includes('dnssec-enable'))!.message).toContain('vnetlab comments that line out');
    expect(model!.machines.map((m) => [m.name, m.imageAlias, m.ipv6, m.memoryMiB])).toEqual([['dns1', 'kathara/bind:9.11', false, 64], ['pc1', 'kathara/base', false, 64]]);
  });
});

describeWithCorpus('the corpus', () => {
  it('has the 13 labs SOURCES.md lists', () => {
    expect(corpusLabs()).toHaveLength(13);
  });

  itEachCorpusLab('%s loads with no error', async (dir) => {
    const { model, diagnostics } = await loadLab(dir);
    expect(errorsOf(diagnostics)).toEqual([]);
    expect(model!.machines.length).toBeGreaterThan(0);
    expect(model!.meta.description).toBeTruthy();
    for (const m of model!.machines) expect(['debian', 'tiny']).toContain(m.image);
  });
});

describe('lab.conf oddities', () => {
  it('lenient Netkit syntax: spaces, quotes, comments, machines=, name clean-up, low memory', async () => {
    const dir = tempLab({
      'lab.conf': ['# a comment', 'LAB_DESCRIPTION=\'single quoted\'', 'machines="PC1 r1"', 'PC1[0] = "A"   # trailing comment', 'PC1[mem]=32', "r1[0]=A", 'r1[1]=B', 'r1[mem]=256', 'r1[con0]=xterm', ''].join('\r\n'),
      'PC1.startup': 'ifconfig eth0 10.0.0.1 up\r\n',
      'PC1/etc/hosts': '127.0.0.1 localhost\n',
    });
    const { model, diagnostics } = await loadLab(dir);
    expect(errorsOf(diagnostics)).toEqual([]);
    expect(model!.format).toBe('netkit');
    expect(model!.meta.description).toBe('single quoted');
    const pc1 = model!.machines[0]!;
    expect(pc1).toMatchObject({ name: 'pc1', memoryMiB: 64, interfaces: [{ index: 0, domain: 'A' }] });
    expect(pc1.startup!.text).toBe('ifconfig eth0 10.0.0.1 up\r\n');
    expect(pc1.files[0]).toMatchObject({ kind: 'dir', guestPath: '/', labPath: 'PC1' });
    expect(byCode(diagnostics, 'name-cleaned')[0]).toMatchObject({ line: 3, severity: 'warning' });
    expect(byCode(diagnostics, 'memory-raised')[0]).toMatchObject({ line: 5, severity: 'warning' });
    expect(model!.machines[1]!.memoryMiB).toBe(256);
  });

  it('Kathará options: mem with units, cpus, sysctl, env, exec; unknown options suggest the right one', async () => {
    const dir = tempLab({
      'lab.conf': ['r1[0]="A/02:00:00:00:00:01"', 'r1[1]="B"', 'r1[mem]="512m"', 'r1[cpus]=0.5', 'r1[sysctl]="net.ipv4.ip_forward=0"', 'r1[env]="MODE=lab"', 'r1[exec]="echo started"', 'r1[imgae]="kathara/frr"', 'pc1[0]=A', 'pc2[0]=B', ''].join('\n'),
    });
    const { model, diagnostics } = await loadLab(dir);
    expect(model!.format).toBe('kathara');
    expect(model!.machines[0]).toMatchObject({ memoryMiB: 512, cpus: 0.5, sysctls: { 'net.ipv4.ip_forward': '0' }, env: { MODE: 'lab' }, exec: 'echo started' });
    // cpus is kept for writing lab.conf back, but said to be ignored (a UML guest has one CPU), at its line.
    expect(byCode(diagnostics, 'option-ignored').filter((d) => d.message.includes('cpus'))).toEqual([
      expect.objectContaining({ severity: 'warning', file: 'lab.conf', line: 4, column: 4, message: expect.stringContaining('r1[cpus] is ignored') }),
    ]);
    const unknown = byCode(diagnostics, 'unknown-option')[0]!;
    expect(unknown).toMatchObject({ line: 8, column: 4 });
    expect(unknown.message).toContain("did you mean 'image'?");
  });

  it('syntax errors and bad values point at their line', async () => {
    const dir = tempLab({ 'lab.conf': ['pc1[0]=A', 'this is not lab.conf', 'pc1[mem]=lots', 'pc1[1]=', 'pc2[0]=A', ''].join('\n') });
    const { diagnostics } = await loadLab(dir);
    expect(byCode(diagnostics, 'lab-conf-syntax')[0]).toMatchObject({ line: 2, column: 1 });
    expect(byCode(diagnostics, 'invalid-option')[0]).toMatchObject({ line: 3 });
    expect(byCode(diagnostics, 'missing-domain')[0]).toMatchObject({ line: 4 });
  });

  it('lab.dep: dependencies, continuation lines, unknown machines and cycles', async () => {
    const dir = tempLab({
      'lab.conf': 'a[0]=X\nb[0]=X\nc[0]=X\n',
      'lab.dep': '# boot order\nb: a \\\n  c\nc: b\na: ghost\n',
    });
    const { model, diagnostics } = await loadLab(dir);
    expect(model!.machines.map((m) => [m.name, m.dependsOn])).toEqual([['a', []], ['b', ['a', 'c']], ['c', ['b']]]);
    expect(byCode(diagnostics, 'unknown-machine')[0]).toMatchObject({ file: 'lab.dep', line: 5, column: 4 });
    expect(byCode(diagnostics, 'dependency-cycle')[0]!.message).toMatch(/b → c → b|c → b → c/);
  });

  it('stray startup files and folders, pages outside /var/www/html', async () => {
    const dir = tempLab({
      'lab.conf': 'web[0]=A\nimage[0]=A\nweb[image]=kathara/base\n',
      'ghost.startup': 'echo never\n',
      'web/var/www/index.html': '<h1>hi</h1>\n',
      'notes/readme.txt': 'x',
    });
    const { diagnostics } = await loadLab(dir);
    expect(byCode(diagnostics, 'stray-script')[0]).toMatchObject({ file: 'ghost.startup' });
    expect(byCode(diagnostics, 'stray-folder')[0]).toMatchObject({ file: 'notes' });
    const web = byCode(diagnostics, 'legacy-web-root')[0]!;
    expect(web).toMatchObject({ severity: 'warning', file: 'web/var/www/index.html' });
    expect(web.hint).toContain('var/www/html');
  });

  it('FRR: per-daemon files next to frr.conf, eBGP without policy; Quagga BGP configs run on FRR', async () => {
    const bgp = '!\nrouter bgp 65001\n neighbor 10.0.0.2 remote-as 65002\n network 10.1.0.0/16\n';
    const dir = tempLab({
      'lab.conf': 'r1[0]=A\nr2[0]=A\nr3[0]=A\n',
      'r1/etc/frr/frr.conf': bgp,
      'r1/etc/frr/ospfd.conf': 'router ospf\n',
      'r2/etc/frr/frr.conf': `${bgp} no bgp ebgp-requires-policy\n`,
      'r3/etc/quagga/bgpd.conf': bgp,
    });
    const { diagnostics } = await loadLab(dir);
    expect(byCode(diagnostics, 'frr-ignored-config')[0]).toMatchObject({ severity: 'warning', target: 'machine:r1', file: 'r1/etc/frr/ospfd.conf' });
    // Only r1 lacks the policy switch; r2 turned it off.
    expect(byCode(diagnostics, 'frr-ebgp-policy').map((d) => [d.file, d.line])).toEqual([['r1/etc/frr/frr.conf', 2]]);
    expect(byCode(diagnostics, 'quagga-bgp-on-frr')[0]).toMatchObject({ severity: 'info', file: 'r3/etc/quagga/bgpd.conf', line: 2 });
  });

  it('a startup file that links out of the lab folder is refused, not read', async () => {
    const dir = tempLab({ 'lab.conf': 'pc1[0]=A\npc2[0]=A\n' });
    symlinkSync('/etc/hostname', join(dir, 'pc1.startup'));
    const { model, diagnostics } = await loadLab(dir);
    expect(byCode(diagnostics, 'path-escapes-lab')[0]).toMatchObject({ severity: 'error', file: 'pc1.startup' });
    expect(model!.machines[0]!.startup).toBeUndefined();
  });

  it('a folder with no lab file is an error, not an exception', async () => {
    const { model, diagnostics } = await loadLab(tempLab({ 'readme.txt': 'x' }));
    expect(model).toBeUndefined();
    expect(diagnostics[0]).toMatchObject({ severity: 'error', code: 'lab-not-found' });
  });
});
