// Guest networking on whatever UML kernel this host has (6.1 here; 6.12 and 7.x through
// `npm run test:kernels`, which runs this file inside trixie and sid roots): the NIC syntax found from
// the kernel binary gives two guests on a VDE hub a working eth0 (named eth0 inside whatever the driver
// calls it, addresses set by the guest from the lab-fs before the startup script), they ping each other,
// and a NIC hot-plugged through mconsole with the same syntax works as eth1.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nicArg, nicArgs, nicRenameCommand } from '../../src/main/compiler/nic.ts';
import { ensureImage } from '../../src/main/images/build.ts';
import { findKernel } from '../../src/main/images/kernel.ts';
import { bootGuest, startSwitch, stopAllGuests, type TestGuest, type TestSwitch } from '../images/guest-helper.ts';

const work = mkdtempSync(join(tmpdir(), 'vnl-knet-'));
const kernel = findKernel();
const [major, minor] = kernel.version.split('.').map(Number) as [number, number];
const guests: TestGuest[] = [];
const switches: TestSwitch[] = [];

function labFs(): string {
  const tree = join(work, 'labfs');
  for (const [name, addr] of [['a', '10.9.0.1/24'], ['b', '10.9.0.2/24']] as const) {
    const dir = join(tree, 'machines', name);
    mkdirSync(join(dir, 'root'), { recursive: true });
    writeFileSync(join(dir, 'interfaces'), `eth0 ${addr}\n`);
    writeFileSync(join(dir, 'startup'), 'ip -o link show eth0 > /tmp/eth0-at-startup\n');
  }
  mkdirSync(join(tree, 'lab'), { recursive: true });
  const img = join(work, 'labfs.ext4');
  execFileSync('mkfs.ext4', ['-q', '-F', '-d', tree, img, '8M']);
  return img;
}

beforeAll(async () => {
  const image = await ensureImage('tiny');
  const fs = labFs();
  const hub = startSwitch(join(work, 'hub'));
  switches.push(hub, startSwitch(join(work, 'hub2')));
  await new Promise((r) => setTimeout(r, 300)); // vde_switch creates its control socket
  for (const [name, mac] of [['a', '02:00:00:00:09:01'], ['b', '02:00:00:00:09:02']] as const) {
    guests.push(bootGuest({ image, name, labFs: fs, extraArgs: nicArgs(kernel.nicSyntax, [{ name: 'eth0', ctlDir: hub.dir, mac }]) }));
  }
  for (const g of guests) expect(await g.waitReady(90_000)).toBe(0);
}, 300_000);

afterAll(async () => {
  await stopAllGuests();
  for (const s of switches) s.stop();
  rmSync(work, { recursive: true, force: true });
});

describe(`guest networking on UML ${kernel.version} (${kernel.nicSyntax} NIC syntax)`, () => {
  it('the syntax follows from the binary: the old VDE transport while the kernel has it, else the vector one', () => {
    expect(kernel.networking.legacyVde || kernel.networking.vectorVde).toBe(true);
    expect(kernel.nicSyntax).toBe(kernel.networking.legacyVde ? 'legacy' : 'vector');
    // Linux 6.16 removed the old transports; Debian built 6.12 without the old VDE one; 6.1 has no vector VDE.
    if (major > 6 || (major === 6 && minor >= 16)) expect(kernel.networking.legacyVde).toBe(false);
    if (major === 6 && minor < 12) expect(kernel.nicSyntax).toBe('legacy');
  });

  it('each guest has eth0 with its MAC and address (named eth0 before the startup script ran), and no vecN', async () => {
    const [a] = guests;
    const links = await a!.client.exec('ip -o link show');
    expect(links.stdout).toMatch(/^\d+: eth0: .*link\/ether 02:00:00:00:09:01/m);
    expect(links.stdout).not.toMatch(/: vec\d+:/);
    expect((await a!.client.exec('cat /tmp/eth0-at-startup')).stdout).toMatch(/eth0: <[^>]*\bUP\b/);
    expect((await a!.client.exec('ip -o -4 addr show dev eth0')).stdout).toContain('10.9.0.1/24');
  });

  it('the guests ping each other across the hub', async () => {
    const r = await guests[0]!.client.exec('ping -c 2 -W 5 10.9.0.2');
    expect(r.stdout).toMatch(/2 packets transmitted, 2 packets received/);
  });

  it('a NIC hot-plugged through mconsole with the same syntax becomes eth1 and carries traffic', async () => {
    const [a, b] = guests as [TestGuest, TestGuest];
    for (const [g, mac, addr] of [[a, '02:00:00:00:09:11', '10.9.1.1/24'], [b, '02:00:00:00:09:12', '10.9.1.2/24']] as const) {
      const reply = g.mconsoleCommand(`config ${nicArg(kernel.nicSyntax, 'eth1', switches[1]!.dir, mac)}`);
      expect(reply).not.toMatch(/ERR|failed|error/i);
      const rename = nicRenameCommand(kernel.nicSyntax, 'eth1');
      const setup = await g.client.exec(`${rename ? `${rename} && ` : ''}ip addr add ${addr} dev eth1 && ip link set eth1 up && ip -o link show eth1`);
      expect(setup.stderr).toBe('');
      expect(setup.stdout).toContain(mac);
    }
    const r = await a.client.exec('ping -c 2 -W 5 10.9.1.2');
    expect(r.stdout).toMatch(/2 packets transmitted, 2 packets received/);
  });
});
