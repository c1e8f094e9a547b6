// Real UML: six submissions of a Netkit-style static routing lab graded in one batch through
// `vnetlab check --submissions`, two at a time. Two are broken (a symlink; a lab.conf with a typo):
// they score 0 with their reason and the batch goes on. The CSV and JUnit files are parsed back.
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckReport } from '../../src/shared/checks.ts';
import { findSubmissions } from '../../src/main/check/batch.ts';
import { hostPaths } from '../../src/main/paths.ts';
import { parseCsv, runCli, testHost, xmlElements, type TestHost } from './helpers.ts';

let host: TestHost;
let lab: string;

const INTERFACES: Record<string, string> = {
  pc1: 'ifconfig eth0 10.0.1.10 netmask 255.255.255.0 up\n',
  r1: 'ifconfig eth0 10.0.1.1 netmask 255.255.255.0 up\nifconfig eth1 10.0.12.1 netmask 255.255.255.252 up\n',
  r2: 'ifconfig eth0 10.0.2.1 netmask 255.255.255.0 up\nifconfig eth1 10.0.12.2 netmask 255.255.255.252 up\n',
  pc2: 'ifconfig eth0 10.0.2.10 netmask 255.255.255.0 up\n',
};
const SOLUTION: Record<string, string> = {
  pc1: 'route add default gw 10.0.1.1\n',
  r1: 'route add -net 10.0.2.0 netmask 255.255.255.0 gw 10.0.12.2\n',
  r2: 'route add -net 10.0.1.0 netmask 255.255.255.0 gw 10.0.12.1\n',
  pc2: 'route add default gw 10.0.2.1\n',
};

function writeSubmission(name: string, routes: Record<string, string>, lineEnd = '\n'): string {
  const dir = join(host.root, 'submissions', name);
  mkdirSync(dir, { recursive: true });
  for (const machine of Object.keys(INTERFACES)) {
    writeFileSync(join(dir, `${machine}.startup`), (INTERFACES[machine]! + (routes[machine] ?? '')).replace(/\n/g, lineEnd));
  }
  return dir;
}

beforeAll(() => {
  host = testHost('batch');
  lab = join(host.root, 'static-nk');
  mkdirSync(lab);
  writeFileSync(
    join(lab, 'lab.conf'),
    'LAB_DESCRIPTION="static routing, Netkit style"\n' +
      ['pc1[0]=lan1', 'r1[0]=lan1', 'r1[1]=transit', 'r2[0]=lan2', 'r2[1]=transit', 'pc2[0]=lan2'].join('\n') +
      '\n' +
      Object.keys(INTERFACES).map((m) => `${m}[mem]=64`).join('\n') +
      '\n',
  );
  // The lab as handed out: addresses only, no routes.
  for (const [machine, text] of Object.entries(INTERFACES)) writeFileSync(join(lab, `${machine}.startup`), text);
  writeFileSync(
    join(host.root, 'checks.yaml'),
    `checks:
  - {id: pc1-reaches-pc2, kind: reach, from: pc1, to: 10.0.2.10, points: 2, timeout: 4}
  - {id: pc2-reaches-pc1, kind: reach, from: pc2, to: 10.0.1.10, points: 2, timeout: 4}
  - {id: pc1-default-route, kind: route, on: pc1, prefix: default, via: 10.0.1.1, timeout: 4}
  - {id: pc2-default-route, kind: route, on: pc2, prefix: default, via: 10.0.2.1, timeout: 4}
  - {id: r1-route-to-lan2, kind: route, on: r1, prefix: 10.0.2.0/24, via: 10.0.12.2, timeout: 4, hint: "r1 needs a route to lan2"}
  - {id: r2-route-to-lan1, kind: route, on: r2, prefix: 10.0.1.0/24, via: 10.0.12.1, timeout: 4, hidden: true}
`,
  );
  writeSubmission('alice', SOLUTION);
  writeSubmission('bob', { ...SOLUTION, r1: '' });
  writeSubmission('carol', { ...SOLUTION, pc2: 'route add default gw 10.0.2.99\n' });
  // Written on Windows, with a machine folder laid over pc1's root.
  const dave = writeSubmission('dave', SOLUTION, '\r\n');
  mkdirSync(join(dave, 'pc1', 'etc'), { recursive: true });
  writeFileSync(join(dave, 'pc1', 'etc', 'motd'), 'dave was here\n');
  const eve = writeSubmission("Eve O'Brien", SOLUTION);
  symlinkSync('/etc/passwd', join(eve, 'notes.txt'));
  // Its own lab.conf, with a typo: the copy cannot even be read.
  const frank = writeSubmission('frank', SOLUTION);
  writeFileSync(join(frank, 'lab.conf'), readFileSync(join(lab, 'lab.conf'), 'utf8') + 'pc1[mem]=lots\n');
  mkdirSync(join(host.root, 'tmp'));
});

afterAll(async () => {
  await host?.cleanup();
});

describe('batch grading', () => {
  it('finds one folder per student in a parent folder, and a single submission as itself', () => {
    const all = findSubmissions([join(host.root, 'submissions')], host.root, ['pc1', 'pc2', 'r1', 'r2']);
    expect(all.map((s) => s.student)).toEqual(['Eve_O_Brien', 'alice', 'bob', 'carol', 'dave', 'frank']);
    // dave's folder holds `pc1/`, a machine folder: it is a submission, not a folder of them.
    expect(findSubmissions([join(host.root, 'submissions', 'dave')], host.root, ['pc1']).map((s) => s.student)).toEqual(['dave']);
    expect(findSubmissions([join(host.root, 'submissions', '?a*')], host.root, []).map((s) => s.student)).toEqual(['carol', 'dave']);
  });

  it('grades six submissions, two broken, and writes reports and a CSV that parse back', async () => {
    const out = join(host.root, 'grades');
    const env = { ...host.env, TMPDIR: join(host.root, 'tmp') };
    const run = await runCli(['check', lab, '--checks', join(host.root, 'checks.yaml'), '--submissions', join(host.root, 'submissions'), '--out', out, '--jobs', '2', '--image', 'tiny'], env);
    expect(run.stderr).not.toMatch(/internal error/);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/\[6\/6 done\]/);

    const rows = parseCsv(readFileSync(join(out, 'summary.csv'), 'utf8'));
    expect(rows[0]).toEqual(['student', 'score', 'max', 'failed', 'error']);
    const byStudent = Object.fromEntries(rows.slice(1).map(([student, score, max, failed, error]) => [student, { score, max, failed, error }]));
    expect(byStudent).toEqual({
      alice: { score: '8', max: '8', failed: '', error: '' },
      bob: { score: '3', max: '8', failed: 'pc1-reaches-pc2 pc2-reaches-pc1 r1-route-to-lan2', error: '' },
      carol: { score: '3', max: '8', failed: 'pc1-reaches-pc2 pc2-reaches-pc1 pc2-default-route', error: '' },
      dave: { score: '8', max: '8', failed: '', error: '' },
      Eve_O_Brien: {
        score: '0',
        max: '8',
        failed: 'pc1-reaches-pc2 pc2-reaches-pc1 pc1-default-route pc2-default-route r1-route-to-lan2 r2-route-to-lan1',
        error: 'the submission contains a symbolic link (notes.txt); submissions may hold only plain files and folders',
      },
      frank: {
        score: '0',
        max: '8',
        failed: 'pc1-reaches-pc2 pc2-reaches-pc1 pc1-default-route pc2-default-route r1-route-to-lan2 r2-route-to-lan1',
        error: "the lab has 1 error:\nlab.conf:12:5: error: pc1[mem]: 'lots' is not an amount of memory\n  hint: write it in MiB, e.g. 128 or 128m",
      },
    });

    const bobXml = readFileSync(join(out, 'bob.junit.xml'), 'utf8');
    expect(xmlElements(bobXml, 'testsuite')[0]).toMatchObject({ name: 'static-nk/bob', tests: '6', failures: '3' });
    expect(xmlElements(bobXml, 'failure').map((f) => f.message)).toContain('r1 has no route to 10.0.2.0/24 (routes: 10.0.1.0/24 dev eth0, 10.0.12.0/30 dev eth1)');
    const carol = JSON.parse(readFileSync(join(out, 'carol.json'), 'utf8')) as CheckReport;
    expect(carol.results.find((r) => r.id === 'pc2-default-route')!.reason).toBe('pc2 routes default as default via 10.0.2.99 dev eth0, expected default via 10.0.2.1');
    expect(readFileSync(join(out, 'Eve_O_Brien.txt'), 'utf8')).toMatch(/^Not graded: the submission contains a symbolic link/m);
    expect(readdirSync(out).sort()).toHaveLength(6 * 3 + 1);

    // Every copy was stopped and removed: no run dir, no guest disks, no temp folder left.
    expect(readdirSync(hostPaths(host.env).runtimeRoot)).toEqual([]);
    expect(readdirSync(join(hostPaths(host.env).stateRoot, 'labs'))).toEqual([]);
    // (tsx keeps its compile cache in TMPDIR too.)
    expect(readdirSync(join(host.root, 'tmp')).filter((name) => name.startsWith('vnetlab-grade-'))).toEqual([]);
  });
});
