// Netkit and Kathará folders read unchanged: every corpus lab, both lab.conf dialects, lab.dep,
// startup files, machine folders, and the warnings about things that silently break old labs.
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadLab } from '../../src/main/lab/index.ts';
import { byCode, cleanupTempLabs, corpusLabs, CORPUS, errorsOf, tempLab } from './helpers.ts';

afterAll(cleanupTempLabs);

describe('the corpus', () => {
  const labs = corpusLabs();
  it('has the 13 labs SOURCES.md lists', () => {
    expect(labs).toHaveLength(13);
  });

  it.each(labs)('%s loads with no error', async (dir) => {
    const { model, diagnostics } = await loadLab(dir);
    expect(errorsOf(diagnostics)).toEqual([]);
    expect(model!.machines.length).toBeGreaterThan(0);
    expect(model!.meta.description).toBeTruthy();
    for (const m of model!.machines) expect(['debian', 'tiny']).toContain(m.image);
  });

  it('Kathará: MAC suffixes, image aliases, ipv6=false, bridged, num_terms, an unknown image warned', async () => {
    const { model, diagnostics } = await loadLab(join(CORPUS, 'kathara-labs/basic-ipv4'));
    expect(model!.format).toBe('kathara');
    const r1 = model!.machines.find((m) => m.name === 'r1')!;
    expect(r1).toMatchObject({ image: 'debian', imageAlias: 'kathara/base', ipv6: false, kind: 'router', source: { file: 'lab.conf', line: 7, column: 1 } });
    expect(r1.interfaces.map((i) => [i.index, i.domain, i.mac])).toEqual([[0, 'A', '00:00:00:00:00:a1'], [1, 'B', '00:00:00:00:00:b1']]);
    const wireshark = model!.machines.find((m) => m.name === 'wireshark')!;
    expect(wireshark).toMatchObject({ bridged: true, consoles: 0, imageAlias: 'lscr.io/linuxserver/wireshark', interfaces: [] });
    expect(byCode(diagnostics, 'unknown-image')[0]).toMatchObject({ severity: 'warning', file: 'lab.conf', line: 31 });
    expect(byCode(diagnostics, 'option-ignored')[0]).toMatchObject({ severity: 'warning', line: 30 });
    expect(model!.meta).toMatchObject({ version: '1.0', email: 'contact@kathara.org', web: 'http://www.kathara.org/' });
    expect(model!.meta.authors[0]).toBe('L. Ariemma');
  });

  it('Netkit: machine folders copied onto /, _test as the test folder, startup scripts as written', async () => {
    const { model } = await loadLab(join(CORPUS, 'netkit-labs/netkit-lab_rip'));
    expect(model!.format).toBe('netkit');
    expect(model!.testFolder).toBe('_test');
    const r1 = model!.machines.find((m) => m.name === 'r1')!;
    expect(r1.files).toEqual([{ kind: 'dir', guestPath: '/', labPath: 'r1', source: { file: 'r1', line: 0, column: 0 } }]);
    expect(r1.startup!.text).toContain('/sbin/ifconfig eth0 100.1.0.13');
    // r5 has one interface and an (almost) empty folder: a host.
    expect(model!.machines.find((m) => m.name === 'r5')!.kind).toBe('host');
  });

  it('shared/ becomes the shared folder; BIND options removed in 9.18 are warned at their line', async () => {
    const { model, diagnostics } = await loadLab(join(CORPUS, 'kathara-labs/dns'));
    expect(model!.sharedFolder).toBe('shared');
    const bind = byCode(diagnostics, 'legacy-bind-option');
    expect(bind.map((d) => `${d.file}:${d.line}`)).toContain('localuni/etc/bind/named.conf.options:6');
    expect(bind.find((d) => d.message.includes('dnssec-enable'))!.message).toContain('vnetlab comments that line out');
  });

  it('routers are guessed from a routing image even with one interface', async () => {
    const { model } = await loadLab(join(CORPUS, 'kathara-labs/rip-frr'));
    expect(model!.machines.find((m) => m.name === 'r5')!.kind).toBe('router');
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
