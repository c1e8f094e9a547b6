// The `capture` check kind and grader machines in lab files: schema and semantic diagnostics at
// file:line:col, round trip through lab.yaml, and the frame parser the capture check judges with
// (on frames built byte by byte as a guest's NIC sends them).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/shared/diagnostics.ts';
import { frameMatcher, summarizeFrame } from '../../src/main/check/capture.ts';
import { loadLab } from '../../src/main/lab/index.ts';
import { writeLabYaml } from '../../src/main/lab/write-yaml.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function load(text: string) {
  const dir = mkdtempSync(join(tmpdir(), 'vnl-capkind-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'lab.yaml'), text);
  return loadLab(dir);
}

const HEAD = `lab: {name: cap}
machines:
  pc1: {image: tiny, interfaces: [{domain: lan, ipv4: 10.0.1.10/24}]}
  pc2: {image: tiny, interfaces: [{domain: lan, ipv4: 10.0.1.20/24}]}
  probe: {image: tiny, grader: true, interfaces: [{domain: lan, ipv4: 10.0.1.30/24}]}
checks:
`;

describe('capture checks and grader machines in lab.yaml', () => {
  it('read, and written back the same', async () => {
    const { model, diagnostics } = await load(`${HEAD}  - id: ping-seen
    kind: capture
    cable: pc1:eth0
    match: {protocol: echo-request, src: pc1, dst: 10.0.1.20}
    trigger: {on: pc1, run: ping -c 3 pc2}
    timeout: 15
  - {id: filtered, kind: capture, cable: pc2:eth0, filter: "tcp.port == 80", count: 3}
  - {id: from-probe, kind: reach, from: probe, to: pc2}
`);
    expect(diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic)).toEqual([]);
    expect(model!.machines.find((m) => m.name === 'probe')!.grader).toBe(true);
    expect(model!.machines.find((m) => m.name === 'pc1')!.grader).toBeUndefined();
    expect(model!.checks[0]).toMatchObject({ kind: 'capture', cable: 'pc1:eth0', count: 1, timeoutSec: 15, match: { protocol: 'echo-request', src: 'pc1', dst: '10.0.1.20' }, trigger: { on: 'pc1', run: 'ping -c 3 pc2' } });
    expect(model!.checks[1]).toMatchObject({ kind: 'capture', filter: 'tcp.port == 80', count: 3 });
    const text = writeLabYaml(model!);
    expect(text).toMatch(/grader: true/);
    const again = await load(text);
    expect(again.model!.checks).toEqual(model!.checks.map((c) => ({ ...c, source: expect.anything() })));
  });

  it('a grader flag that is not a boolean is an error at its line', async () => {
    const { diagnostics } = await load(HEAD.replace('grader: true', 'grader: yes') + '  - {id: r, kind: reach, from: probe, to: pc2}\n');
    expect(diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic)).toEqual([expect.stringMatching(/^lab\.yaml:5:\d+: error: 'machines\.probe\.grader' must be a boolean, not a string/)]);
  });

  it('report what is wrong at file:line:col', async () => {
    const { diagnostics } = await load(`${HEAD}  - {id: no-match, kind: capture, cable: pc1:eth0}
  - {id: bad-cable, kind: capture, cable: pc1-eth0, match: {protocol: arp}}
  - {id: no-machine, kind: capture, cable: pc9:eth0, match: {protocol: arp}}
  - {id: no-nic, kind: capture, cable: pc1:eth3, match: {protocol: arp}}
  - {id: bad-proto, kind: capture, cable: pc1:eth0, match: {protocol: icmpx}}
  - {id: bad-src, kind: capture, cable: pc1:eth0, match: {src: pc7}, trigger: {on: pc8, run: "true"}}
`);
    const errors = diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic).join('\n');
    expect(errors).toMatch(/lab\.yaml:7:\d+: error: .*match|lab\.yaml:7:\d+: error: .*filter/);
    expect(errors).toMatch(/lab\.yaml:8:43: error: 'checks\.1\.cable' is "pc1-eth0", which is not valid/);
    expect(errors).toMatch(/lab\.yaml:9:\d+: error: check 'no-machine' watches cable 'pc9:eth0', but 'pc9' is not a machine of this lab/);
    expect(errors).toMatch(/lab\.yaml:10:\d+: error: check 'no-nic' watches cable 'pc1:eth3', but pc1 has only eth0/);
    expect(errors).toMatch(/lab\.yaml:11:71: error: 'checks\.4\.match\.protocol' is "icmpx"; it must be one of any, arp/);
    expect(errors).toMatch(/lab\.yaml:12:\d+: error: check 'bad-src': match\.src 'pc7' is neither an IP address nor a machine of this lab/);
    expect(errors).toMatch(/lab\.yaml:12:\d+: error: check 'bad-src' runs its trigger on 'pc8', which is not a machine of this lab/);
  });
});

/** An Ethernet frame: IPv4 + ICMP echo (type 8 request, 0 reply), or IPv6 + ICMPv6 echo. */
function ipv4Icmp(type: number, src: number[], dst: number[]): Buffer {
  const eth = Buffer.from([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip[9] = 1;
  Buffer.from(src).copy(ip, 12);
  Buffer.from(dst).copy(ip, 16);
  return Buffer.concat([eth, ip, Buffer.from([type, 0, 0, 0, 0, 1, 0, 1])]);
}

describe('frames as the capture check sees them', () => {
  const addresses = { pc1: ['10.0.1.10', '2001:db8::10'], pc2: ['10.0.1.20'] };
  it('tells an echo request from pc1 to pc2 from its reply and from other traffic', () => {
    const request = summarizeFrame(ipv4Icmp(8, [10, 0, 1, 10], [10, 0, 1, 20]));
    const reply = summarizeFrame(ipv4Icmp(0, [10, 0, 1, 20], [10, 0, 1, 10]));
    expect(request).toEqual({ family: 'ipv4', l4: 'icmp', icmpType: 8, src: '10.0.1.10', dst: '10.0.1.20' });
    const wanted = frameMatcher({ protocol: 'echo-request', src: 'pc1', dst: 'pc2' }, addresses, {});
    expect([wanted(request), wanted(reply)]).toEqual([true, false]);
    expect(frameMatcher({ protocol: 'echo-reply', dst: '10.0.1.10' }, addresses, {})(reply)).toBe(true);
    const arp = Buffer.concat([Buffer.from([255, 255, 255, 255, 255, 255, 2, 0, 0, 0, 0, 1, 0x08, 0x06]), Buffer.from([0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 1, 10, 0, 0, 0, 0, 0, 0, 10, 0, 1, 20])]);
    expect(summarizeFrame(arp)).toEqual({ family: 'arp', src: '10.0.1.10', dst: '10.0.1.20' });
    expect(wanted(summarizeFrame(arp))).toBe(false);
    expect(summarizeFrame(Buffer.from([1, 2, 3]))).toEqual({});
  });

  it('reads IPv6 (ICMPv6 echo 128) and TCP ports', () => {
    const eth = Buffer.from([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd]);
    const ip6 = Buffer.alloc(40);
    ip6[0] = 0x60;
    ip6[6] = 58;
    Buffer.from([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10]).copy(ip6, 8);
    Buffer.from([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20]).copy(ip6, 24);
    const frame = Buffer.concat([eth, ip6, Buffer.from([128, 0, 0, 0])]);
    expect(summarizeFrame(frame)).toEqual({ family: 'ipv6', l4: 'icmp', icmpType: 128, src: '2001:db8::10', dst: '2001:db8::20' });
    expect(frameMatcher({ protocol: 'echo-request', src: 'pc1' }, addresses, {})(summarizeFrame(frame))).toBe(true);
    const tcp = ipv4Icmp(0, [10, 0, 1, 10], [10, 0, 1, 20]);
    tcp[14 + 9] = 6;
    const withPorts = Buffer.concat([tcp.subarray(0, 34), Buffer.from([0xc0, 0x00, 0, 80])]);
    expect(summarizeFrame(withPorts)).toMatchObject({ l4: 'tcp', sport: 0xc000, dport: 80 });
    expect(frameMatcher({ protocol: 'tcp', port: 80 }, addresses, {})(summarizeFrame(withPorts))).toBe(true);
  });
});
