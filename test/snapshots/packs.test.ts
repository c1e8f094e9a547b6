// Hand-in packs through the real CLI (bin/vnetlab.mjs), real guests (tiny):
// - a static-routing lab solved at the consoles (routes typed live, in no file) packs, and
//   `check FILE.vnlpack` scores 100 %; a pack of the unsolved lab scores what the unsolved lab scores;
//   `check LAB --submissions DIR/*.vnlpack` grades both with the teacher's checks;
// - a 10-machine tiny lab packs to a few MB, and unpacks into a lab that boots from the packed state;
// - bad packs are refused with a clear message, and nothing is written outside DIR: truncated,
//   bit-flipped, path escape (`..`, absolute), a symlink, a disk bigger than declared, extra data.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labIdFor } from '../../src/main/paths.ts';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, parseCsv, runCli, testHost, type TestHost } from '../check/helpers.ts';

let host: TestHost;

beforeAll(() => {
  host = testHost('pk');
});
afterAll(async () => {
  await host?.cleanup();
});

const cli = async (...args: string[]) => {
  const r = await runCli(args, host.env);
  expect(r.stderr).not.toMatch(/internal error|\n\s+at .*\.ts:\d+/);
  return r;
};

const SOLUTION: Record<string, string> = {
  pc1: 'ip route add default via 10.0.1.1',
  pc2: 'ip route add default via 10.0.2.1',
  r1: 'ip route add 10.0.2.0/24 via 10.0.12.2',
  r2: 'ip route add 10.0.1.0/24 via 10.0.12.1',
};

describe('packs of real labs', () => {
  it('check on a pack of a student-solved static-routing lab scores 100 %, and on a pack of an unsolved one what the unsolved lab scores', async () => {
    const solved = join(host.root, 'alice', 'static-routing');
    const unsolved = join(host.root, 'bob', 'static-routing');
    for (const dir of [solved, unsolved]) cpSync(join(REPO, 'labs/static-routing'), dir, { recursive: true });
    const tempsBefore = new Set(readdirSync(tmpdir()));

    // What the unsolved lab scores, graded as a folder.
    const plain = await cli('check', unsolved, '--include-hidden', '--json');
    const plainReport = JSON.parse(plain.stdout) as { score: number; maxScore: number };
    expect(plainReport.score).toBeLessThan(plainReport.maxScore);

    // Alice solves it at the machines (live routes only: her lab folder is unchanged), and hands it in.
    expect((await cli('start', solved)).code).toBe(0);
    for (const [machine, command] of Object.entries(SOLUTION)) expect((await cli('exec', '-l', solved, machine, '--', command)).code).toBe(0);
    const handin = join(host.root, 'handin');
    mkdirSync(handin);
    const packed = await cli('pack', '-l', solved, '-o', join(handin, 'alice.vnlpack'));
    expect(packed.code).toBe(0);
    expect(packed.stdout).toMatch(/wrote .*alice\.vnlpack: .*, 4 disks, 4 network states/);
    expect(statSync(join(handin, 'alice.vnlpack')).size).toBeLessThan(4e6);
    expect((await cli('stop', solved)).code).toBe(0);
    // Bob starts it and hands it in as it is.
    expect((await cli('start', unsolved)).code).toBe(0);
    expect((await cli('pack', '-l', unsolved, '-o', join(handin, 'bob.vnlpack'))).code).toBe(0);
    expect((await cli('stop', unsolved)).code).toBe(0);

    const alice = await cli('check', join(handin, 'alice.vnlpack'), '--include-hidden', '--json');
    expect(alice.code).toBe(0);
    const aliceReport = JSON.parse(alice.stdout) as { score: number; maxScore: number; results: { id: string; passed: boolean; reason?: string }[] };
    expect(aliceReport.results.filter((r) => !r.passed)).toEqual([]);
    expect(aliceReport.score).toBe(aliceReport.maxScore);

    const bob = await cli('check', join(handin, 'bob.vnlpack'), '--include-hidden', '--json');
    expect(bob.code).toBe(1);
    expect((JSON.parse(bob.stdout) as { score: number }).score).toBe(plainReport.score);

    // A batch of packs, graded with the teacher's checks.
    const out = join(host.root, 'grades');
    const batch = await cli('check', join(REPO, 'labs/static-routing'), '--submissions', join(handin, '*.vnlpack'), '--out', out);
    expect(batch.code).toBe(1);
    const rows = parseCsv(readFileSync(join(out, 'summary.csv'), 'utf8'));
    expect(rows.slice(1).map((r) => [r[0], r[1], r[2]])).toEqual([
      ['alice', String(aliceReport.maxScore), String(aliceReport.maxScore)],
      ['bob', String(plainReport.score), String(plainReport.maxScore)],
    ]);
    // Grading left no lab of its own behind (the only run dirs are the students' labs), and no temp folder.
    expect(readdirSync(join(host.root, 'r')).filter((d) => d !== 'pool').sort()).toEqual([labIdFor(solved), labIdFor(unsolved)].sort());
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith('vnetlab-pack-') && !tempsBefore.has(n))).toEqual([]);
  }, 600_000);

  it('a 10-machine tiny lab packs to a few MB and unpacks into a lab whose first start boots from the packed state', async () => {
    const lab = join(host.root, 'ten');
    mkdirSync(lab);
    const machines = Array.from({ length: 10 }, (_, i) => `  h${i}:\n    image: tiny\n    memory: 64\n    interfaces:\n      - {domain: lan, ipv4: 10.1.0.${i + 1}/24}\n`).join('');
    writeFileSync(join(lab, 'lab.yaml'), `lab:\n  name: ten\nmachines:\n${machines}domains:\n  lan: {kind: switch}\n`);
    expect((await cli('start', lab)).code).toBe(0);
    expect((await cli('exec', '-l', lab, 'h3', '--', 'echo kept > /root/proof && ip addr add 10.3.3.3/32 dev eth0')).code).toBe(0);
    const file = join(host.root, 'ten.vnlpack');
    expect((await cli('pack', '-l', lab, '-o', file)).code).toBe(0);
    expect((await cli('stop', lab)).code).toBe(0);
    const size = statSync(file).size;
    expect(size).toBeLessThan(5 * 1024 * 1024);

    const copy = join(host.root, 'ten-unpacked');
    const unpacked = await cli('unpack', file, '-o', copy);
    expect(unpacked.code).toBe(0);
    expect(unpacked.stdout).toContain('machines h0, h1, h2, h3, h4, h5, h6, h7, h8, h9');
    expect((await cli('start', copy, 'h3')).code).toBe(0);
    expect((await cli('exec', '-l', copy, 'h3', '--', 'cat /root/proof')).stdout).toBe('kept\n');
    expect((await cli('exec', '-l', copy, 'h3', '--', 'ip -4 -o addr show dev eth0')).stdout).toContain('10.3.3.3/32');
    expect((await cli('stop', copy)).code).toBe(0);
  }, 300_000);
});

// ---- hostile and damaged packs ------------------------------------------------------------------

/** Writes a pack by the documented format (runtime/snapshots/pack.ts), with a valid checksum: what a hostile author can do. */
function craftPack(file: string, header: Record<string, unknown>, payload: Buffer): void {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(json.length);
  const body = Buffer.concat([Buffer.from('VNLPACK1'), len, json, gzipSync(payload)]);
  writeFileSync(file, Buffer.concat([body, createHash('sha256').update(body).digest(), Buffer.from('VNLPEND1')]));
}

const baseHeader = (entries: unknown[], machines: unknown[] = []) => ({
  format: 'vnetlab-pack',
  formatVersion: 1,
  id: '0123456789abcdef',
  createdAt: '2026-01-01T00:00:00.000Z',
  lab: { name: 'x', folder: 'x', hash: '0' },
  state: { name: 's', note: '', createdAt: '2026-01-01T00:00:00.000Z' },
  kernel: { version: '6.1.176' },
  images: {},
  entries,
  machines,
});

describe('bad packs are refused, and nothing is written outside DIR', () => {
  let good: string;
  let area: string;

  beforeAll(async () => {
    // A real pack of a lab that never started (no disks: no guest needed).
    const lab = join(host.root, 'quiet');
    cpSync(join(REPO, 'labs/two-hosts'), lab, { recursive: true });
    good = join(host.root, 'quiet.vnlpack');
    const r = await runCli(['pack', '-l', lab, '-o', good], host.env);
    expect(r.code).toBe(0);
    area = join(host.root, 'area');
    mkdirSync(area);
  });

  /** Unpacks into <area>/<name>; the area must hold nothing new afterwards (DIR removed, nothing beside it). */
  async function refused(file: string, name: string): Promise<string> {
    const before = readdirSync(area).sort();
    const r = await cli('unpack', file, '-o', join(area, name));
    expect(r.code).toBe(2);
    expect(readdirSync(area).sort()).toEqual(before);
    expect(existsSync(join(area, 'evil.txt'))).toBe(false);
    expect(existsSync(join(host.root, 'evil.txt'))).toBe(false);
    return r.stderr;
  }

  it('the good pack unpacks', async () => {
    const r = await cli('unpack', good, '-o', join(area, 'ok'));
    expect(r.code).toBe(0);
    expect(existsSync(join(area, 'ok', 'lab.yaml'))).toBe(true);
    const again = await cli('unpack', good, '-o', join(area, 'ok'));
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('is not empty');
  });

  it('truncated', async () => {
    const file = join(host.root, 'truncated.vnlpack');
    const bytes = readFileSync(good);
    writeFileSync(file, bytes.subarray(0, bytes.length - 100));
    expect(await refused(file, 'a')).toMatch(/truncated\.vnlpack is truncated: it ends after \d+ bytes without the end marker a whole pack has\n.*the copy or download was cut short/);
  });

  it('bit-flipped', async () => {
    const file = join(host.root, 'flipped.vnlpack');
    const bytes = Buffer.from(readFileSync(good));
    bytes[Math.floor(bytes.length / 2)]! ^= 0x10;
    writeFileSync(file, bytes);
    expect(await refused(file, 'b')).toContain('flipped.vnlpack is damaged: its checksum does not match its contents');
  });

  it('a path that climbs out with .., and an absolute path', async () => {
    const file = join(host.root, 'escape.vnlpack');
    craftPack(file, baseHeader([{ type: 'file', path: '../evil.txt', size: 4, mode: 0o644 }]), Buffer.from('evil'));
    expect(await refused(file, 'c')).toContain("has a path that climbs out with '..' (../evil.txt): it would be written outside the folder");
    craftPack(file, baseHeader([{ type: 'file', path: `${host.root}/evil.txt`, size: 4, mode: 0o644 }]), Buffer.from('evil'));
    expect(await refused(file, 'c')).toContain('has an absolute path');
    craftPack(file, baseHeader([{ type: 'dir', path: 'sub' }, { type: 'file', path: 'sub/../../evil.txt', size: 4, mode: 0o644 }]), Buffer.from('evil'));
    expect(await refused(file, 'c')).toContain("climbs out with '..'");
  });

  it('a symlink', async () => {
    const file = join(host.root, 'link.vnlpack');
    craftPack(file, baseHeader([{ type: 'symlink', path: 'shadow', target: '/etc/shadow' }]), Buffer.alloc(0));
    expect(await refused(file, 'd')).toContain('it holds a link (shadow): packs may hold only files and folders');
    craftPack(file, baseHeader([{ type: 'fifo', path: 'pipe' }]), Buffer.alloc(0));
    expect(await refused(file, 'd')).toContain("it holds pipe of kind 'fifo': packs may hold only files and folders");
  });

  it('a disk bigger than declared, a record outside its disk, and more data than the header declares', async () => {
    const file = join(host.root, 'big.vnlpack');
    const disk = (records: { offset: number; data: Buffer }[]) =>
      Buffer.concat(
        records.flatMap(({ offset, data }) => {
          const head = Buffer.alloc(12);
          head.writeBigUInt64BE(BigInt(offset));
          head.writeUInt32BE(data.length, 8);
          return [head, data];
        }),
      );
    const machine = (dataBytes: number, records: number, size = 1 << 20) => [{ name: 'pc1', image: 'tiny', disk: { size, records, dataBytes, imageIdentity: { name: 'tiny', sizeBytes: 1 << 19, mtime: 1 } } }];
    craftPack(file, baseHeader([], machine(4096, 1)), disk([{ offset: 0, data: Buffer.alloc(8192, 1) }]));
    expect(await refused(file, 'e')).toContain('the disk of pc1 holds more data than the 4096 bytes declared');
    craftPack(file, baseHeader([], machine(4096, 1)), disk([{ offset: (1 << 20) - 100, data: Buffer.alloc(4096, 1) }]));
    expect(await refused(file, 'e')).toContain('the disk of pc1 writes past its declared size of 1048576 bytes');
    craftPack(file, baseHeader([], machine(4096, 1, 2 ** 50)), disk([{ offset: 0, data: Buffer.alloc(4096, 1) }]));
    expect(await refused(file, 'e')).toMatch(/the disk of pc1 declares \d+ bytes \(at most \d+\)/);
    craftPack(file, baseHeader([{ type: 'file', path: 'lab.yaml', size: 4, mode: 0o644 }]), Buffer.alloc(10_000, 7));
    expect(await refused(file, 'e')).toContain('it holds more data than its header declares');
  });

  it('not a pack at all', async () => {
    const file = join(host.root, 'notes.vnlpack');
    writeFileSync(file, 'hello');
    expect(await refused(file, 'f')).toContain('is not a vnetlab pack (it does not start with VNLPACK1)');
  });
});
