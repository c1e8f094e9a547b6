// `vnetlab image export|import` through the real CLI: an exported tiny image imported into an empty
// image cache is byte-identical, sparse, counts as up to date and boots a lab whose guests ping each
// other; truncated, tampered and mismatched files are refused with exit 2 and leave nothing behind.
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, createReadStream, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../src/main/images/build.ts';
import { findKernel } from '../../src/main/images/kernel.ts';
import { readImageHeader } from '../../src/main/images/transfer.ts';
import { isolatedHost, runCli } from '../support/host.ts';

const host = isolatedHost('vnl-xfer');
const work = host.root;
// The exporting host's cache (built here: this test proves the round trip, not a cached image).
const srcDir = join(work, 'src-images');
const env = (imageDir: string, extra: Record<string, string> = {}) => ({ ...host.env, VNETLAB_IMAGE_DIR: imageDir, ...extra });
const file = join(work, 'tiny.vnlimg');
const lab = resolve(import.meta.dirname, '../../labs/two-hosts');

async function vnetlab(args: string[], imageDir: string, extra: Record<string, string> = {}) {
  return runCli(args, { env: env(imageDir, extra), cwd: work });
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Everything in an image dir except the kernel wrapper folder findKernel() makes. */
function listing(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f !== 'host').sort();
  } catch {
    return [];
  }
}

beforeAll(async () => {
  await buildImage('tiny', { env: env(srcDir) });
});
afterAll(async () => {
  await vnetlab(['stop', lab], join(work, 'dst-images'));
  await vnetlab(['stop', lab], join(work, 'user-images'));
  rmSync(work, { recursive: true, force: true });
});

describe('vnetlab image export / import', () => {
  it('export writes one compressed file with the manifest and the kernel version', async () => {
    const r = await vnetlab(['image', 'export', 'tiny', '-o', file], srcDir);
    expect(r.stderr).toMatch(/exported 'tiny'/);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(file);
    const { header } = readImageHeader(file);
    expect(header.name).toBe('tiny');
    expect(header.kernelVersion).toBe(findKernel().version);
    expect(header.manifest).toContain('name: tiny');
    expect(header.record.manifestHash).toMatch(/^[0-9a-f]{64}$/);
    // Compressed and sparse-aware: far smaller than the image's data, let alone its apparent size.
    const image = join(srcDir, 'tiny.ext4');
    expect(statSync(file).size).toBeLessThan(statSync(image).blocks * 512 * 0.6);
    expect(header.contentSha256).toBe(await sha256(image));
  });

  it('import into an empty cache: identical bytes, still sparse, up to date, and a lab boots on it and pings', async () => {
    const dst = join(work, 'dst-images');
    const r = await vnetlab(['image', 'import', file], dst);
    expect(r.stderr).toMatch(/imported 'tiny' .* for kernel /);
    expect(r.code).toBe(0);
    const imported = join(dst, 'tiny.ext4');
    expect(await sha256(imported)).toBe(await sha256(join(srcDir, 'tiny.ext4')));
    expect(statSync(imported).size).toBe(512 * 2 ** 20);
    expect(statSync(imported).blocks * 512).toBeLessThan(statSync(imported).size / 2);
    expect(listing(dst)).toEqual(['tiny.ext4', 'tiny.json']);
    const list = JSON.parse((await vnetlab(['image', 'list', '--json'], dst)).stdout) as { name: string; stale: string | null; importedFrom?: string }[];
    const tiny = list.find((i) => i.name === 'tiny')!;
    expect(tiny.stale).toBeNull();
    expect(tiny.importedFrom).toBe('tiny.vnlimg');

    const start = await vnetlab(['start', lab], dst);
    expect(start.stderr + start.stdout).not.toMatch(/building image/); // used as imported, not rebuilt
    expect(start.code).toBe(0);
    const ping = await vnetlab(['exec', '-l', lab, 'pc1', '--', 'ping', '-c', '1', '-W', '5', '10.0.0.2'], dst);
    expect(ping.stdout).toMatch(/1 packets received/);
    expect((await vnetlab(['stop', lab], dst)).code).toBe(0);
  });

  it('a system-wide folder (read-only) serves a user whose cache has no image: linked, not built, and a lab runs on it', async () => {
    const system = join(work, 'dst-images'); // what the import above made: as a package would ship it
    chmodSync(system, 0o555);
    const userCache = join(work, 'user-images');
    const extra = { VNETLAB_SYSTEM_IMAGE_DIRS: `${join(work, 'no-such-dir')}:${system}` };
    try {
      const start = await vnetlab(['start', lab], userCache, extra);
      expect(start.stderr + start.stdout).toContain(`using the system-wide image ${join(system, 'tiny.ext4')}`);
      expect(start.stderr + start.stdout).not.toMatch(/building image/);
      expect(start.code).toBe(0);
      expect(readlinkSync(join(userCache, 'tiny.ext4'))).toBe(join(system, 'tiny.ext4'));
      const ping = await vnetlab(['exec', '-l', lab, 'pc1', '--', 'ping', '-c', '1', '-W', '5', '10.0.0.2'], userCache, extra);
      expect(ping.stdout).toMatch(/1 packets received/);
      expect((await vnetlab(['stop', lab], userCache, extra)).code).toBe(0);
      const list = JSON.parse((await vnetlab(['image', 'list', '--json'], userCache, extra)).stdout) as { name: string; stale: string | null; systemImage?: string }[];
      expect(list.find((i) => i.name === 'tiny')).toMatchObject({ stale: null, systemImage: join(system, 'tiny.ext4') });
      // Without the system folder the same user has nothing up to date: the lookup is what served it.
      expect(listing(system)).toEqual(['tiny.ext4', 'tiny.json']);
    } finally {
      chmodSync(system, 0o755);
    }
  });

  it('a truncated file is refused (exit 2) wherever it was cut, and nothing is imported', async () => {
    const dst = join(work, 'trunc-images');
    const size = statSync(file).size;
    for (const keep of [4, 200, Math.floor(size / 2), size - 8, size - 1]) {
      const cut = join(work, `cut-${keep}.vnlimg`);
      copyFileSync(file, cut);
      truncateSync(cut, keep);
      const r = await vnetlab(['image', 'import', cut], dst);
      expect(r.code, `cut at ${keep}`).toBe(2);
      expect(r.stderr, `cut at ${keep}`).toMatch(/is not a usable vnetlab image file: .*(truncated|end marker|magic)|is damaged/);
      expect(r.stderr).toContain('hint: ');
      expect(listing(dst), `cut at ${keep}`).toEqual([]);
    }
  });

  it('a tampered file is refused (exit 2): a flipped byte in the data or in the header', async () => {
    const dst = join(work, 'tamper-images');
    const size = statSync(file).size;
    const { payloadStart } = readImageHeader(file);
    const original = readFileSync(file);
    for (const [what, at] of [['data', Math.floor((payloadStart + size) / 2)], ['header', original.indexOf('"kernelVersion"') + 18]] as const) {
      const bad = Buffer.from(original);
      bad[at] = bad[at]! ^ 0x01;
      const tampered = join(work, `tampered-${what}.vnlimg`);
      writeFileSync(tampered, bad);
      const r = await vnetlab(['image', 'import', tampered], dst);
      expect(r.code, what).toBe(2);
      expect(r.stderr, what).toContain('is damaged: its checksum does not match');
      expect(listing(dst), what).toEqual([]);
    }
  });

  it('an image built for another kernel is refused (exit 2) with both versions, and the current image stays', async () => {
    const dst = join(work, 'dst-images');
    const before = statSync(join(dst, 'tiny.ext4'));
    // A "kernel" that only answers --version, as UML does, with another version.
    const fake = join(work, 'linux-9.9.uml');
    writeFileSync(fake, '#!/bin/sh\necho 9.9.9\n');
    chmodSync(fake, 0o755);
    const r = await vnetlab(['image', 'import', file], dst, { VNETLAB_KERNEL: fake, VNETLAB_UML_NORANDMAPS: '0', VNETLAB_UML_XSTATE_FIX: '0' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/built for kernel \d+\.\d+\.\d+, but this host's UML kernel is 9\.9\.9/);
    expect(listing(dst)).toEqual(['tiny.ext4', 'tiny.json']);
    expect(statSync(join(dst, 'tiny.ext4')).mtimeMs).toBe(before.mtimeMs);
  });

  it('export of an image that is not built, or without -o, is bad input (exit 2)', async () => {
    const empty = join(work, 'empty-images');
    mkdirSync(empty, { recursive: true });
    const r = await vnetlab(['image', 'export', 'tiny', '-o', join(work, 'x.vnlimg')], empty);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("image 'tiny' is not built");
    expect(r.stderr).toContain('hint: build it first: vnetlab image build tiny');
    expect((await vnetlab(['image', 'export', 'tiny'], srcDir)).code).toBe(2);
    expect((await vnetlab(['image', 'import', join(work, 'nope.vnlimg')], empty)).code).toBe(2);
    expect(listing(work).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
