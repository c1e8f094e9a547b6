// The packet view's dissection goes through Wireshark's own tshark: the list's columns, the protocol
// tree (PDML) of an ARP request built here byte by byte, a display filter refused in tshark's words,
// tshark runs that leave the process free meanwhile (asynchronous, never spawnSync), and Wireshark
// following the capture live (a stand-in `wireshark` on PATH records what it is fed).
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PacketSummary } from '../../src/shared/service-api.ts';
import { PacketView, wiresharkPath } from '../../src/main/service/packet-view.ts';
import { sandboxedTshark, tsharkConfinement } from '../../src/main/runtime/confinement.ts';
import { landlockAbi } from '../../src/main/images/host-helpers.ts';
import { pcapHeader, pcapRecord } from '../../src/main/runtime/network/pcap.ts';
import { eventually } from '../support/poll.ts';
import { childrenRunning } from '../support/processes.ts';

const TSHARK = ['/usr/bin/tshark'].find((p) => existsSync(p));

/** An ARP request: who has 10.0.0.2? tell 10.0.0.1 (from 02:00:00:00:00:01). */
function arpRequest(): Buffer {
  const hex = 'ffffffffffff' + '020000000001' + '0806' + '0001' + '0800' + '06' + '04' + '0001' + '020000000001' + '0a000001' + '000000000000' + '0a000002';
  return Buffer.from(hex, 'hex');
}

/** The packet view pushes rows and details quickly: look every 50 ms. */
const until = <T>(read: () => T, ok: (v: T) => boolean, ms = 10_000) => eventually(read, ok, ms, 50);

describe.skipIf(!TSHARK)(`packet view${TSHARK ? '' : ' (skipped: tshark is not installed: sudo apt-get install tshark)'}`, () => {
  it('lists packets with Wireshark columns and shows named fields of a packet from tshark', async () => {
    const rows: PacketSummary[] = [];
    const view = new PacketView(TSHARK, (packets) => rows.push(...packets));
    try {
      view.addFrame(arpRequest(), Date.now() * 1000);
      await until(() => rows.length, (n) => n === 1);
      expect(rows[0]).toMatchObject({ number: 1, protocol: 'ARP', length: 42 });
      // The frame's own MACs ride along (the canvas animates it from the cable of its sender).
      expect(rows[0]).toMatchObject({ ethSrc: '02:00:00:00:00:01', ethDst: 'ff:ff:ff:ff:ff:ff' });
      expect(rows[0]!.info).toMatch(/Who has 10\.0\.0\.2\? Tell 10\.0\.0\.1/);
      const detail = await view.detail(1);
      const labels = JSON.stringify(detail.tree);
      expect(labels).toMatch(/Address Resolution Protocol \(request\)/);
      expect(labels).toMatch(/Sender IP address: 10\.0\.0\.1/);
      expect(labels).toMatch(/"field":"arp.dst.proto_ipv4"/);
      expect(detail.hex.startsWith('ffffffffffff020000000001')).toBe(true);
    } finally {
      view.close();
    }
  });

  it('refuses a display filter tshark does not understand, in its words, and re-lists on a good one', async () => {
    let last: { packets: PacketSummary[]; reset: boolean } | undefined;
    const view = new PacketView(TSHARK, (packets, reset) => (last = { packets, reset }));
    try {
      view.addFrame(arpRequest(), Date.now() * 1000);
      await until(() => last, (v) => !!v);
      await expect(view.setFilter('arp.nosuchfield == 1')).rejects.toThrow(/display filter 'arp.nosuchfield == 1': .*(must be a field|neither a field nor a protocol|not a valid)/i);
      await view.setFilter('icmp');
      await until(() => last?.reset, (r) => r === true, 3_000).catch(() => undefined);
      await view.setFilter('arp');
      await until(() => last, (v) => !!v && v.reset && v.packets.length === 1);
      expect(last!.packets[0]!.protocol).toBe('ARP');
    } finally {
      view.close();
    }
  });

  it('runs tshark without holding the process: timers fire while six dissections and a filter check run', async () => {
    const view = new PacketView(TSHARK, () => {});
    try {
      view.addFrame(arpRequest(), Date.now() * 1000);
      const t0 = performance.now();
      const done: number[] = [];
      const calls = [...Array.from({ length: 6 }, () => view.detail(1)), view.setFilter('arp')].map((p) => p.then(() => done.push(performance.now() - t0)));
      // With spawnSync this timer fired only after every tshark had finished.
      const tick = await new Promise<number>((r) => setTimeout(() => r(performance.now() - t0), 0));
      await Promise.all(calls);
      // The timer fired before the first tshark was done: nothing waited on them. (Not a figure in ms:
      // spawning seven processes on a loaded host takes what it takes.)
      expect(tick).toBeLessThan(Math.min(...done));
      const detail = await view.detail(1);
      expect(JSON.stringify(detail.tree)).toMatch(/Address Resolution Protocol \(request\)/);
    } finally {
      view.close();
    }
  });

  it('feeds Wireshark the capture so far and then each new packet', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vws-'));
    const out = join(dir, 'fed.pcap');
    // A stand-in for Wireshark that keeps what it reads from `-i -`.
    writeFileSync(join(dir, 'wireshark'), `#!/bin/sh\n[ "$1 $2 $3" = "-k -i -" ] || exit 2\ncat > ${out}\n`);
    chmodSync(join(dir, 'wireshark'), 0o755);
    const env = { ...process.env, PATH: `${dir}:${process.env.PATH}`, DISPLAY: ':99' };
    expect(wiresharkPath({ ...env, DISPLAY: '', WAYLAND_DISPLAY: '' })).toBeUndefined(); // no display: no button
    const bin = wiresharkPath(env)!;
    expect(bin).toBe(join(dir, 'wireshark'));
    const view = new PacketView(TSHARK, () => {});
    try {
      view.addFrame(arpRequest(), Date.now() * 1000);
      view.openInWireshark(bin);
      view.addFrame(arpRequest(), Date.now() * 1000 + 1000);
    } finally {
      view.close(); // ends Wireshark's input: the stand-in writes its file and exits
    }
    await until(() => existsSync(out) && readFileSync(out).length, (n) => n === 24 + 2 * (16 + 42));
    const frames = execFileSync(TSHARK!, ['-r', out, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' }).trim().split('\n');
    expect(frames).toEqual(['1', '2']);
    rmSync(dir, { recursive: true, force: true });
  });
});

const sandboxSkip = !TSHARK ? ' (skipped: tshark is not installed: sudo apt-get install tshark)' : landlockAbi() < 1 ? ' (skipped: this kernel has no Landlock, where no lab runs confined either)' : '';

describe.skipIf(sandboxSkip !== '')(`tshark in its sandbox: it dissects what guests send${sandboxSkip}`, () => {
  it('reads the capture it is given and no other file; the packet view\'s tshark runs sandboxed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vnetlab-tshark-sandbox-'));
    try {
      const capture = (name: string) => {
        const file = join(dir, name);
        writeFileSync(file, Buffer.concat([pcapHeader(), pcapRecord(arpRequest(), Date.now() * 1000)]));
        return file;
      };
      const given = capture('given.pcap');
      const other = capture('other.pcap');
      const run = (file: string) => {
        const [program, ...args] = sandboxedTshark(tsharkConfinement(), TSHARK!, ['-n', '-r', file, '-T', 'fields', '-e', 'arp.src.proto_ipv4'], { read: [given] });
        expect(program).toMatch(/vnetlab-confine-[0-9a-f]{12}$/);
        try {
          return { out: execFileSync(program!, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }), err: '' };
        } catch (err) {
          return { out: '', err: String((err as { stderr?: string }).stderr ?? err) };
        }
      };
      expect(run(given).out.trim()).toBe('10.0.0.1');
      // The same capture under another name, not given: refused by the sandbox, not by tshark.
      const refused = run(other);
      expect(refused.out).toBe('');
      expect(refused.err).toMatch(/permission to read the file .*other\.pcap/);

      // The packet view's streaming tshark (and the dumpcap it reads the pipe with) runs in it too.
      const rows: PacketSummary[] = [];
      const view = new PacketView(TSHARK, (packets) => rows.push(...packets));
      try {
        view.addFrame(arpRequest(), Date.now() * 1000);
        await until(() => rows.length, (n) => n === 1);
        const pids = childrenRunning(TSHARK!);
        expect(pids).toHaveLength(1);
        expect(readFileSync(`/proc/${pids[0]}/status`, 'utf8')).toMatch(/^NoNewPrivs:\s+1$/m);
      } finally {
        view.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
