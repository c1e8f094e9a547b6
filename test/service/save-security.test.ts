// saveLab with models crafted by a client holding the app's token (issue 9, item 1): a machine name
// or a file entry must never make the real backends write outside the destination folder, nor copy
// host files into the saved lab through a symlink.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabModel, Machine } from '../../src/shared/lab-model.ts';
import { realBackends } from '../../src/main/service/real-backends.ts';
import { Service, type ClientSession } from '../../src/main/service/service.ts';

const repo = resolve(__dirname, '..', '..');
let dir: string;
/** Deep enough that `../../../../..` from a lab in it still lands inside the temp folder. */
let home: string;
let outside: string;
let session: ClientSession;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vnl-savesec-'));
  home = join(dir, 'h1', 'h2', 'h3', 'h4', 'home');
  outside = join(dir, 'outside');
  mkdirSync(home, { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret.txt'), 'the secret\n');
  // A lab in home with a symlink `link` to a folder outside every folder the app may use.
  mkdirSync(join(home, 'src'));
  writeFileSync(join(home, 'src', 'lab.yaml'), 'machines:\n  pc1: {image: tiny, interfaces: [A]}\n');
  symlinkSync(outside, join(home, 'src', 'link'));
  const env = { ...process.env, HOME: home, VNETLAB_RUNTIME_DIR: join(dir, 'run'), VNETLAB_STATE_DIR: join(dir, 'state') };
  const service = new Service({ backends: realBackends({ env }), labsDir: join(repo, 'labs'), home });
  session = service.connect(() => {});
});

afterAll(() => {
  session?.close();
  rmSync(dir, { recursive: true, force: true });
});

function machine(name: string, extra: Partial<Machine> = {}): Machine {
  const source = { file: 'lab.yaml', line: 0, column: 0 };
  return {
    name, kind: 'host', image: 'tiny', memoryMiB: 64, interfaces: [{ index: 0, domain: 'A', ipv4: [], ipv6: [], source }],
    files: [], dependsOn: [], sysctls: {}, env: {}, ipv6: true, bridged: false, consoles: 1, source, ...extra,
  };
}

async function labWith(root: string, machines: Machine[]): Promise<LabModel> {
  const model = await session.newLab(root);
  model.machines = machines;
  return model;
}

/** Every file under `folder`, relative to it. */
function tree(folder: string): string[] {
  return readdirSync(folder, { recursive: true, encoding: 'utf8' }).sort();
}

describe('saveLab refuses models that would write outside the destination', () => {
  it.each(['netkit', 'yaml'] as const)('a machine named ../../outside/pwn (%s)', async (format) => {
    const before = tree(dir);
    const model = await labWith(join(home, 'lab'), [machine('../../outside/pwn', { startup: { text: 'echo pwned\n', source: { file: 'x', line: 0, column: 0 } } })]);
    await expect(session.saveLab(join(home, `lab-${format}`), model, format)).rejects.toThrow(/machine name '\.\.\/\.\.\/outside\/pwn' is not valid/);
    expect(existsSync(join(home, 'outside'))).toBe(false);
    expect(existsSync(join(outside, 'pwn.startup'))).toBe(false);
    expect(tree(dir)).toEqual(before);
  });

  it('a machine named ../../../../.. with an executable inline file', async () => {
    const before = tree(dir);
    const pwn = machine('../../../../..', {
      startup: { text: 'echo pwned\n', source: { file: 'x', line: 0, column: 0 } },
      files: [{ kind: 'inline', guestPath: '/pwned.sh', content: '#!/bin/sh\necho pwned\n', mode: 0o755, source: { file: 'x', line: 0, column: 0 } }],
    });
    await expect(session.saveLab(join(home, 'lab2'), await labWith(join(home, 'lab2'), [pwn]), 'netkit')).rejects.toThrow(/is not valid/);
    // Today's writer put `...startup` and `pwned.sh` (0755) four and five folders up.
    expect(existsSync(join(dir, 'h1', 'pwned.sh'))).toBe(false);
    expect(existsSync(join(dir, 'h1', 'h2', '...startup'))).toBe(false);
    expect(tree(dir)).toEqual(before);
  });

  it.each(['yaml', 'netkit'] as const)('a file entry through a symlink to a folder outside (%s)', async (format) => {
    const model = await labWith(join(home, 'src'), [
      machine('pc1', { files: [{ kind: 'file', guestPath: '/root/secret.txt', labPath: 'link/secret.txt', source: { file: 'lab.yaml', line: 2, column: 1 } }] }),
      machine('pc2'),
    ]);
    const destination = join(home, `copy-${format}`);
    await expect(session.saveLab(destination, model, format)).rejects.toThrow(/symlink that leads out of the lab folder/);
    expect(existsSync(join(destination, 'link', 'secret.txt'))).toBe(false);
    expect(existsSync(join(destination, 'pc1', 'root', 'secret.txt'))).toBe(false);
    // …and it does not come back through openLab either.
    if (existsSync(destination)) {
      const reopened = await session.openLab(destination);
      expect(JSON.stringify(reopened)).not.toContain('the secret');
    }
  });

  it('still saves an unfinished lab (errors that are not about names or paths)', async () => {
    const model = await labWith(join(home, 'wip'), [machine('pc1', { interfaces: [{ index: 0, domain: 'A', ipv4: ['10.0.0.300/24'], ipv6: [], source: { file: 'lab.yaml', line: 0, column: 0 } }] })]);
    const saved = await session.saveLab(join(home, 'wip'), model, 'yaml');
    expect(saved.file).toBe(join(home, 'wip', 'lab.yaml'));
    expect(saved.diagnostics.some((d) => d.code === 'invalid-address')).toBe(true);
  });

  it('refuses a malformed model with a message, not a crash', async () => {
    const model = await labWith(join(home, 'bad'), [{ name: 'pc1', interfaces: 'eth0' } as unknown as Machine]);
    await expect(session.saveLab(join(home, 'bad'), model, 'netkit')).rejects.toThrow(/malformed/);
    expect(existsSync(join(home, 'bad', 'lab.conf'))).toBe(false);
  });
});

// Issue 18, item 7: a dangling symlink in the home, pointing outside every allowed folder. The path
// check took it for a name that does not exist yet (existsSync follows links) and resolved only its
// folder, so saveCapture wrote through it outside. The service and PacketView are real; only the
// frames come from a stand-in for the runtime's capture (no guests).
describe('a dangling symlink does not lead a save outside the allowed folders', () => {
  let capSession: ClientSession;
  /** An ARP request: who has 10.0.0.2? tell 10.0.0.1. */
  const arp = Buffer.from('ffffffffffff' + '020000000001' + '0806' + '0001' + '0800' + '06' + '04' + '0001' + '020000000001' + '0a000001' + '000000000000' + '0a000002', 'hex');

  beforeAll(() => {
    const env = { ...process.env, HOME: home, VNETLAB_RUNTIME_DIR: join(dir, 'run'), VNETLAB_STATE_DIR: join(dir, 'state') };
    const backends = realBackends({ env });
    backends.capture = async (_root, _target, handlers) => {
      handlers.onFrame(arp, Date.now() * 1000);
      return { stop: async () => ({ frames: 1, dropped: 0 }) };
    };
    capSession = new Service({ backends, labsDir: join(repo, 'labs'), home }).connect(() => {});
  });
  afterAll(() => capSession?.close());

  it('saveCapture refuses a dangling link to a file outside, a link in a folder on the way, and writes nothing there', async () => {
    symlinkSync(join(outside, 'stolen.pcap'), join(home, 'capture.pcap'));
    symlinkSync(join(outside, 'newdir'), join(home, 'caps'));
    const { captureId } = await capSession.startCapture(join(home, 'src'), 'pc1:eth0');
    await expect(capSession.saveCapture(captureId, join(home, 'capture.pcap'))).rejects.toThrow(/capture\.pcap is a symbolic link that leads nowhere \(to .*outside\/stolen\.pcap\)/);
    await expect(capSession.saveCapture(captureId, '~/capture.pcap')).rejects.toThrow(/symbolic link that leads nowhere/);
    await expect(capSession.saveCapture(captureId, join(home, 'caps', 'x.pcap'))).rejects.toThrow(/caps is a symbolic link that leads nowhere/);
    expect(readdirSync(outside).sort()).toEqual(['secret.txt']);
    // A real file in the home is still written (the check refuses only what leads outside).
    const saved = await capSession.saveCapture(captureId, join(home, 'ok.pcap'));
    expect(saved).toBe(join(home, 'ok.pcap'));
    expect(readFileSync(saved).subarray(0, 4).toString('hex')).toMatch(/^(d4c3b2a1|a1b2c3d4|4d3cb2a1|a1b23c4d)$/);
    // …and saved again over itself, not through anything.
    await capSession.saveCapture(captureId, join(home, 'ok.pcap'));
    await capSession.closeCapture(captureId);
  });

  it.each(['yaml', 'netkit'] as const)('saveLab refuses a dangling link as the lab folder or on its way (%s)', async (format) => {
    symlinkSync(join(outside, `lab-${format}`), join(home, `linked-${format}`));
    const model = await labWith(join(home, 'src'), [machine('pc1'), machine('pc2')]);
    await expect(session.saveLab(join(home, `linked-${format}`), model, format)).rejects.toThrow(new RegExp(`linked-${format} is a symbolic link that leads nowhere`));
    await expect(session.saveLab(join(home, `linked-${format}`, 'deeper'), model, format)).rejects.toThrow(/symbolic link that leads nowhere/);
    expect(readdirSync(outside).sort()).toEqual(['secret.txt']);
  });
});
