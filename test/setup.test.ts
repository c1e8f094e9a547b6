// bin/setup.mjs on a machine that lacks Debian packages, as a normal user (the root path installs them with
// apt-get, which a test must not do): ONE `sudo apt-get install -y …` line naming every package the mode
// needs — for `npm test` every package any test needs, mmdebstrap and uidmap, tshark and chromium among
// them — then exit 3, before any image is built or any test runs. The packages are hidden from it by a PATH
// holding only some of their commands; as root, the script runs as `nobody`.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '..');
const root = process.getuid?.() === 0;
const setpriv = spawnSync('sh', ['-c', 'command -v setpriv'], { encoding: 'utf8' }).stdout.trim();
const asNobody = [setpriv, '--reuid=65534', '--regid=65534', '--clear-groups'];
// As root: setpriv, and a node that nobody may run and a repository nobody may read.
const canDrop = !root || (setpriv !== '' && spawnSync(setpriv, [...asNobody.slice(1), process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(join(REPO, 'bin/setup.mjs'))})`]).status === 0);
const bin = mkdtempSync(join(tmpdir(), 'vnl-setup-'));
chmodSync(bin, 0o755);
afterAll(() => rmSync(bin, { recursive: true, force: true }));

/** Runs `node bin/setup.mjs <mode>` as a normal user with PATH = a folder holding only `commands` (and sh). */
function setup(mode: 'test' | 'start', commands: string[]) {
  const path = mkdtempSync(join(bin, `${mode}-`));
  chmodSync(path, 0o755);
  for (const command of ['sh', ...commands]) {
    const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).stdout.trim();
    if (found) symlinkSync(found, join(path, command));
  }
  const asUser = root ? asNobody : [];
  const argv = [...asUser, process.execPath, join(REPO, 'bin/setup.mjs'), mode];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { PATH: path, HOME: bin }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * The packages setup checks, in its order: by a command the test can hide (`cmd`), or by what it cannot
 * hide — a file, or a command setup also looks for in /sbin and /usr/sbin — present or not on this host.
 */
const sbin = (command: string) => spawnSync('sh', ['-c', `PATH=/usr/sbin:/sbin command -v ${command}`]).status === 0;
const PACKAGES: { pkg: string; cmd?: string; onHost?: boolean; testOnly?: boolean }[] = [
  { pkg: 'user-mode-linux', cmd: 'linux.uml' },
  { pkg: 'vde2', cmd: 'vde_switch' },
  { pkg: 'uml-utilities', cmd: 'uml_mconsole' },
  { pkg: 'busybox-static', onHost: existsSync('/bin/busybox') },
  { pkg: 'e2fsprogs', onHost: sbin('mkfs.ext4') },
  { pkg: 'debootstrap', onHost: sbin('debootstrap') },
  { pkg: 'gcc', cmd: 'cc' },
  { pkg: 'libc6-dev', onHost: existsSync('/usr/lib/x86_64-linux-gnu/libc.a') },
  { pkg: 'chromium', cmd: 'chromium', testOnly: true },
  { pkg: 'tshark', cmd: 'tshark', testOnly: true },
  { pkg: 'mmdebstrap', cmd: 'mmdebstrap', testOnly: true },
  { pkg: 'uidmap', cmd: 'newuidmap', testOnly: true },
];
/** The one install line setup must print for `mode` when PATH holds only `commands`. */
function expectedLine(mode: 'test' | 'start', commands: string[]): string {
  const missing = PACKAGES.filter((p) => (mode === 'test' || !p.testOnly) && (p.cmd ? !commands.includes(p.cmd) : !p.onHost));
  return `sudo apt-get install -y ${missing.map((p) => p.pkg).join(' ')}`;
}
const installLines = (stderr: string) => stderr.split('\n').filter((l) => /apt-get install/.test(l));

describe.skipIf(!canDrop)(`bin/setup.mjs without some packages${canDrop ? '' : " (skipped: as root it needs setpriv, and a node and a checkout that 'nobody' can read, to run it as a normal user)"}`, () => {
  it('npm test: one sudo apt-get install line with every missing package any test needs, exit 3, nothing run', () => {
    const present = ['linux.uml', 'vde_switch', 'uml_mconsole', 'cc'];
    const r = setup('test', present);
    expect(r.code, r.stderr).toBe(3);
    expect(installLines(r.stderr)).toEqual([expectedLine('test', present)]);
    expect(expectedLine('test', present)).toMatch(/ chromium tshark mmdebstrap uidmap$/);
    expect(r.stderr).toMatch(/missing Debian packages: .*mmdebstrap \(building the 'debian' guest image without root\), uidmap \(/);
    expect(r.stderr).toContain("then run 'npm test' again");
    // That is all it says and does: no image built, no test run, nothing about tests being skipped.
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(3);
    expect(r.stdout).toBe('');
  });

  it('npm test: with the kernel and VDE missing too, still one line, with all of them', () => {
    const r = setup('test', []);
    expect(r.code).toBe(3);
    expect(installLines(r.stderr)).toEqual([expectedLine('test', [])]);
    expect(expectedLine('test', [])).toMatch(/^sudo apt-get install -y user-mode-linux vde2 uml-utilities .*gcc .*chromium tshark mmdebstrap uidmap$/);
  });

  it('npm start asks only for what the app needs (no chromium, tshark, mmdebstrap, uidmap)', () => {
    const present = ['vde_switch', 'uml_mconsole', 'cc'];
    const r = setup('start', present);
    expect(r.code).toBe(3);
    expect(installLines(r.stderr)).toEqual([expectedLine('start', present)]);
    expect(expectedLine('start', present)).not.toMatch(/chromium|tshark|mmdebstrap|uidmap/);
    expect(r.stderr).toContain("then run 'npm start' again");
  });
});
