// Issue 24, what `vnetlab validate` says before anything boots (the guests' side is in
// test/runtime/netkit-files.test.ts and test/images/debian-services.test.ts): a Netkit lab's shared/
// copied onto / of every machine (Kathará keeps /shared), files that cannot be placed, Kathará's lab.ext,
// a BIND tree with its own root, pages that startup scripts write into /var/www, and `validate -l`.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/main/compiler/index.ts';
import { loadLab } from '../../src/main/lab/index.ts';
import { placementProblem } from '../../src/main/lab/placement.ts';
import { labFileOf, parseUnplaced } from '../../src/main/guest/unplaced.ts';
import { FIXED_OPTIONS } from '../compiler/model.ts';
import { fixtureLab } from '../support/fixtures.ts';
import { isolatedHost, runCli } from '../support/host.ts';
import { byCode, cleanupTempLabs, errorsOf, tempLab } from './helpers.ts';

afterAll(cleanupTempLabs);

describe('Netkit shared/ onto / of every machine', () => {
  it('a Netkit folder copies shared/ onto /: the plan tells every guest, validate lists the files and who overrides them', async () => {
    const lab = fixtureLab('netkit-shared-files');
    const { model, diagnostics } = await loadLab(lab);
    expect(model!.format).toBe('netkit');
    expect(model!.sharedFolder).toBe('shared');
    const [listing] = byCode(diagnostics, 'shared-onto-root');
    expect(listing).toMatchObject({ severity: 'info', file: 'shared' });
    expect(listing!.message).toContain('shared/etc/hosts → /etc/hosts (not on r1, whose own folder has one)');
    expect(listing!.message).toContain('shared/shared-note.txt → /shared-note.txt');
    // The guest copies it from the lab-fs (where the lab folder already is), before the machine's own root/.
    const plan = compile(model!, { ...FIXED_OPTIONS, labId: 'shared-0000' });
    for (const name of ['pc1', 'pc2', 'r1']) {
      expect(plan.labFs.entries).toContainEqual({ dest: `/machines/${name}/shared-onto-root`, content: '/lab/shared\n', mode: 0o644 });
    }
  });

  it('Kathará keeps its behaviour (shared/ only mounted at /shared), and so does a lab.yaml', async () => {
    const { model, diagnostics } = await loadLab(fixtureLab('kathara-dns'));
    expect(model!.format).toBe('kathara');
    expect(model!.sharedFolder).toBe('shared');
    expect(byCode(diagnostics, 'shared-onto-root')).toEqual([]);
    const plan = compile(model!, { ...FIXED_OPTIONS, labId: 'kathara-0000' });
    expect(plan.labFs.entries.filter((e) => e.dest.endsWith('/shared-onto-root'))).toEqual([]);
    const yaml = tempLab({ 'lab.yaml': 'machines:\n  pc1: {interfaces: [A]}\n  pc2: {interfaces: [A]}\nshared: {folder: shared}\n', 'shared/motd': 'hello\n' });
    const fromYaml = (await loadLab(yaml)).model!;
    expect(compile(fromYaml, { ...FIXED_OPTIONS, labId: 'yaml-0000' }).labFs.entries.filter((e) => e.dest.endsWith('/shared-onto-root'))).toEqual([]);
  });

  it('vnetlab convert says when shared/ changes place (a Netkit folder to lab.yaml)', async () => {
    const { env, root } = isolatedHost('vc');
    const out = join(tempLab(), 'lab.yaml');
    const run = await runCli(['convert', fixtureLab('netkit-shared-files'), '-o', out], { env, cwd: root });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('note: Netkit copied shared/ onto / of every machine; the converted lab only has it at /shared');
  });
});

describe('files that cannot be placed', () => {
  it('validate warns about a file in /proc (the fixture), naming the lab file and the guest path', async () => {
    const { diagnostics } = await loadLab(fixtureLab('netkit-shared-files'));
    expect(byCode(diagnostics, 'unplaceable-file')).toEqual([
      expect.objectContaining({ severity: 'warning', file: 'pc2/proc/vnetlab-note', message: 'pc2/proc/vnetlab-note cannot be placed at /proc/vnetlab-note on pc2: /proc is the kernel\'s process file system (proc): nothing can be written there' }),
    ]);
    // Files under bin/ and sbin/ are placed through the debian image's links into /usr: no warning.
    expect(diagnostics.filter((d) => d.file.startsWith('pc1/'))).toEqual([]);
  });

  it('judges guest paths as the images are laid out', () => {
    expect(placementProblem({ guestPath: '/bin/tool', isDir: false }, 'debian')).toBeUndefined();
    expect(placementProblem({ guestPath: '/lib/x.so', isDir: false }, 'debian')).toBeUndefined();
    expect(placementProblem({ guestPath: '/etc/hosts', isDir: true }, 'debian')).toMatchObject({ code: 'unplaceable-file', why: 'the debian image has a file there, not a folder' });
    expect(placementProblem({ guestPath: '/etc/init.d', isDir: false }, 'debian')).toMatchObject({ code: 'unplaceable-file', why: 'the debian image has a folder there, not a file' });
    expect(placementProblem({ guestPath: '/bin', isDir: false }, 'debian')).toMatchObject({ code: 'unplaceable-file' });
    expect(placementProblem({ guestPath: '/hostlab/x', isDir: false }, 'tiny')).toMatchObject({ code: 'unplaceable-file', why: '/hostlab is the lab folder, mounted read-only' });
    expect(placementProblem({ guestPath: '/var/run/x.pid', isDir: false }, 'debian')).toMatchObject({ code: 'volatile-file', why: 'which is in /run, a tmpfs mounted at every boot (/var/run/x.pid is /run/x.pid in the debian image)' });
    expect(placementProblem({ guestPath: '/tmp', isDir: true }, 'debian')).toBeUndefined();
  });

  it('lab.yaml files entries are judged too, at their own line', async () => {
    const dir = tempLab({ 'lab.yaml': 'machines:\n  pc1:\n    interfaces: [A]\n    files:\n      - {path: /sys/kernel/x, content: "1"}\n      - {path: /tmp/data.txt, content: "x"}\n  pc2: {interfaces: [A]}\n' });
    const { diagnostics } = await loadLab(dir);
    expect(byCode(diagnostics, 'unplaceable-file')).toEqual([expect.objectContaining({ file: 'lab.yaml', line: 5, message: expect.stringContaining('pc1: /sys/kernel/x cannot be placed at /sys/kernel/x on pc1') })]);
    expect(byCode(diagnostics, 'volatile-file')).toEqual([expect.objectContaining({ file: 'lab.yaml', line: 6, message: expect.stringContaining('gone after a restart') })]);
  });

  it('what a guest reports (/run/vnetlab/unplaced) is traced back to the lab file', async () => {
    const { model } = await loadLab(fixtureLab('netkit-shared-files'));
    const plan = compile(model!, { ...FIXED_OPTIONS, labId: 'shared-0000' });
    const pc2 = plan.guests.find((g) => g.name === 'pc2')!;
    const text = '/run/vnetlab/labfs/machines/pc2/root/proc/vnetlab-note\t/proc/vnetlab-note\tNo such file or directory\n/run/vnetlab/labfs/lab/shared/etc/hosts\t/etc/hosts\tRead-only file system\nnot a line\n';
    expect(parseUnplaced(plan, pc2, text)).toEqual([
      { machine: 'pc2', file: 'pc2/proc/vnetlab-note', guestPath: '/proc/vnetlab-note', why: 'No such file or directory' },
      { machine: 'pc2', file: 'shared/etc/hosts', guestPath: '/etc/hosts', why: 'Read-only file system' },
    ]);
    expect(labFileOf(plan, '/elsewhere/x')).toBe('/elsewhere/x');
  });
});

describe('Kathará lab.ext', () => {
  it('each line is a warning that host interfaces are not bridged, with what vnetlab offers instead; no host_nat hint from the one-machine warning', async () => {
    const { model, diagnostics } = await loadLab(fixtureLab('kathara-lab-ext'));
    expect(model!.format).toBe('kathara');
    const warnings = byCode(diagnostics, 'host-interface-not-bridged');
    expect(warnings).toEqual([
      expect.objectContaining({ severity: 'warning', file: 'lab.ext', line: 2, column: 1, message: expect.stringContaining("lab.ext bridges collision domain 'EXT' to the host interface enp3s0; vnetlab does not bridge host interfaces") }),
      expect.objectContaining({ severity: 'warning', file: 'lab.ext', line: 3, message: expect.stringMatching(/'LAN2' to the host interface enp3s0 \(VLAN 100\).*no machine of lab\.conf is attached to it/) }),
    ]);
    expect(warnings[0]!.hint).toMatch(/host NAT.*vnetlab capture.*vnetlab connect/);
    // EXT has one machine on purpose: the generic warning (which suggests host_nat) is left out.
    expect(byCode(diagnostics, 'single-ended-domain')).toEqual([]);
  });

  it('a line lab.ext cannot read is an error at its line; lab.ext alone makes a folder Kathará', async () => {
    const dir = tempLab({ 'lab.conf': 'pc1[0]=A\npc2[0]=A\n', 'lab.ext': 'A enp3s0\n\nthis is not right at all\n', 'shared/motd': 'x\n' });
    const { model, diagnostics } = await loadLab(dir);
    expect(model!.format).toBe('kathara');
    expect(compile(model!, { ...FIXED_OPTIONS, labId: 'ext-0000' }).labFs.entries.filter((e) => e.dest.endsWith('/shared-onto-root'))).toEqual([]);
    expect(errorsOf(diagnostics)).toEqual([expect.objectContaining({ code: 'lab-ext-syntax', file: 'lab.ext', line: 3, column: 1 })]);
  });
});

describe('BIND with its own root, pages in /var/www from startup scripts', () => {
  it('named.conf declaring the lab\'s own root (master, or hints that are not the real root) is an info: validation is turned off at start', async () => {
    const { diagnostics } = await loadLab(fixtureLab('netkit-dns-root'));
    expect(byCode(diagnostics, 'bind-private-root').map((d) => [d.file, d.line])).toEqual([
      ['dnslab/etc/bind/named.conf', 6],
      ['resolver/etc/bind/named.conf', 4],
      ['rootns/etc/bind/named.conf', 9],
    ]);
    expect(byCode(diagnostics, 'bind-private-root')[2]!.message).toContain('(zone "." type master): when bind9 starts on rootns, vnetlab turns DNSSEC validation off (dnssec-validation no;)');
    // Debian's own hints are the real root: nothing to say.
    const real = tempLab({ 'lab.conf': 'dns[0]=A\npc[0]=A\n', 'dns/etc/bind/named.conf': 'zone "." {\n  type hint;\n  file "/usr/share/dns/root.hints";\n};\n' });
    expect(byCode((await loadLab(real)).diagnostics, 'bind-private-root')).toEqual([]);
  });

  it('a startup script that writes a page into /var/www gets the same warning as a machine folder', async () => {
    const dir = tempLab({
      'lab.conf': 'web[0]=A\npc[0]=A\n',
      'web.startup': 'ifconfig eth0 10.0.0.1 up\n# echo x > /var/www/old.html (a comment)\necho "<h1>hello</h1>" > /var/www/index.html\n/etc/init.d/apache2 start\n',
      'pc.startup': 'cp /hostlab/page.html /var/www/\necho ok > /var/www/html/index.html\n',
    });
    const found = byCode((await loadLab(dir)).diagnostics, 'legacy-web-root');
    expect(found).toEqual([
      expect.objectContaining({ severity: 'warning', file: 'pc.startup', line: 1, message: expect.stringContaining('pc.startup copies files into /var/www on pc') }),
      expect.objectContaining({ severity: 'warning', file: 'web.startup', line: 3, column: 25, message: expect.stringContaining('web.startup writes the web page /var/www/index.html on web, but apache2 in the debian image serves /var/www/html') }),
    ]);
  });
});

describe('vnetlab validate -l', () => {
  const { env, root } = isolatedHost('vl');
  it('takes the lab as -l LAB, like start, exec, status and stop; refuses it given twice', async () => {
    const run = await runCli(['validate', '-l', fixtureLab('kathara-lab-ext')], { env, cwd: root });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/kathara-lab-ext\/lab\.ext:2:1: warning: lab\.ext bridges collision domain 'EXT'/);
    expect(run.stdout).toContain('kathara-lab-ext: ok (2 machines, 2 collision domains, 0 checks, 2 warnings)');
    const shared = await runCli(['validate', '--lab', fixtureLab('netkit-shared-files')], { env, cwd: root });
    expect(shared.stdout).toMatch(/netkit-shared-files\/pc2\/proc\/vnetlab-note: warning: pc2\/proc\/vnetlab-note cannot be placed at \/proc\/vnetlab-note on pc2/);
    const both = await runCli(['validate', '-l', fixtureLab('kathara-lab-ext'), fixtureLab('netkit-arp')], { env, cwd: root });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give the lab once');
  });
});
