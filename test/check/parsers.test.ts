// Parsers and probe judgements against real outputs captured from Debian's tools and busybox
// (fixtures/capture-host.sh), and from debian guests of labs/ospf (fixtures/*.debian.*: FRR's vtysh,
// iproute2 JSON, ss).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Check } from '../../src/shared/checks.ts';
import type { ExecResult } from '../../src/shared/runtime-api.ts';
import { canonicalAddress, canonicalPrefix, netmaskToLength } from '../../src/main/check/ip.ts';
import { describeRoute, parseDns, parseHttp, parseInterfaces, parseListening, parsePing, parseRoutes } from '../../src/main/check/parsers.ts';
import { probeFor, type ProbeContext } from '../../src/main/check/probes.ts';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');
/** Fixtures of commands end with `exit N`, the exit code the tool returned. */
function fixtureResult(name: string): ExecResult {
  const text = fixture(name);
  const exit = /(?:^|\s)exit (\d+)\s*$/.exec(text);
  return { stdout: exit ? text.slice(0, exit.index) : text, stderr: '', exitCode: exit ? Number(exit[1]) : 0, timedOut: false };
}
const ok = (stdout: string, exitCode = 0): ExecResult => ({ stdout, stderr: '', exitCode, timedOut: false });
const base = { description: 'd', points: 1, timeoutSec: 0, hidden: false, source: { file: 'lab.yaml', line: 1, column: 1 } };
const context: ProbeContext = { hosts: { pc2: '10.0.1.3' } };
function judge(check: Check, result: ExecResult) {
  return probeFor(check).judge(check as never, result, context);
}

describe('address arithmetic', () => {
  it('canonicalises addresses and prefixes of both families', () => {
    expect(canonicalAddress('2001:DB8:0::1')).toBe('2001:db8::1');
    expect(canonicalAddress('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(canonicalAddress('::ffff:1.2.3.4')).toBe('::ffff:102:304');
    expect(canonicalAddress('fe80::1%eth0')).toBe('fe80::1');
    expect(canonicalAddress('pc1')).toBeUndefined();
    expect(canonicalPrefix('10.0.2.7/24')).toBe('10.0.2.0/24');
    expect(canonicalPrefix('default')).toBe('0.0.0.0/0');
    expect(canonicalPrefix('default', true)).toBe('::/0');
    expect(canonicalPrefix('10.0.0.5')).toBe('10.0.0.5/32');
    expect(canonicalPrefix('2001:db8:ffff::/33')).toBe('2001:db8:8000::/33');
    expect(canonicalPrefix('10.0.0.0/33')).toBeUndefined();
    expect(netmaskToLength('255.255.255.252')).toBe(30);
    expect(netmaskToLength('0.0.0.0')).toBe(0);
  });
});

describe('routes', () => {
  const expected = [
    'default via 10.0.1.1 dev eth0',
    '10.0.1.0/24 dev eth0',
    '10.0.2.0/24 via 10.0.1.254 dev eth0',
    '172.16.0.0/16 via 10.0.1.5 via 10.0.1.6 dev eth0',
    '192.168.7.0/24 dev eth0',
  ];
  it('reads iproute2 JSON and text alike', () => {
    expect(parseRoutes(fixture('route.iproute2.json')).map(describeRoute)).toEqual(expected);
    expect(parseRoutes(fixture('route.iproute2.txt')).map(describeRoute)).toEqual(expected);
  });
  it('reads busybox ip (which drops multipath next hops) and route -n', () => {
    const busybox = parseRoutes(fixture('route.busybox.txt')).map(describeRoute);
    expect(busybox).toEqual([expected[0], expected[1], expected[2], '172.16.0.0/16', expected[4]]);
    const dashN = parseRoutes(fixture('route.busybox-route-n.txt')).map(describeRoute);
    // route -n shows the first next hop of a multipath route only.
    expect(dashN).toEqual([expected[0], expected[1], expected[2], '172.16.0.0/16 via 10.0.1.5 dev eth0', expected[4]]);
  });
  it('passes, fails with the routes it saw, and names a wrong gateway', () => {
    const route = (extra: object): Check => ({ ...base, id: 'r', kind: 'route', on: 'pc1', prefix: '10.0.2.0/24', expect: 'present', ...extra }) as Check;
    for (const f of ['route.iproute2.json', 'route.iproute2.txt', 'route.busybox.txt', 'route.busybox-route-n.txt']) {
      expect(judge(route({ via: '10.0.1.254', dev: 'eth0' }), ok(fixture(f))).passed).toBe(true);
      expect(judge(route({ prefix: '10.0.3.0/24' }), ok(fixture(f))).reason).toMatch(/^pc1 has no route to 10.0.3.0\/24 \(routes: default via 10.0.1.1 dev eth0, 10.0.1.0\/24 dev eth0, /);
      expect(judge(route({ via: '10.0.1.9' }), ok(fixture(f))).reason).toBe('pc1 routes 10.0.2.0/24 as 10.0.2.0/24 via 10.0.1.254 dev eth0, expected 10.0.2.0/24 via 10.0.1.9');
      expect(judge(route({ prefix: 'default', via: '10.0.1.1' }), ok(fixture(f))).passed).toBe(true);
      expect(judge(route({ prefix: '10.0.2.0/24', expect: 'absent' }), ok(fixture(f))).reason).toMatch(/has a route 10.0.2.0\/24 via 10.0.1.254/);
      expect(judge(route({ prefix: '10.9.0.0/16', expect: 'absent' }), ok(fixture(f))).passed).toBe(true);
    }
  });
});

describe('interfaces', () => {
  const check = (extra: object): Check => ({ ...base, id: 'i', kind: 'interface', on: 'pc1', name: 'eth0', ...extra }) as Check;
  it('reads addresses, MAC and state from JSON, iproute2 and busybox text', () => {
    for (const f of ['addr-eth0.iproute2.json', 'addr-eth0.iproute2.txt', 'addr-eth0.busybox.txt']) {
      const [eth0] = parseInterfaces(fixture(f));
      expect(eth0).toMatchObject({ name: 'eth0', up: true, mac: '02:aa:bb:cc:dd:01' });
      expect(eth0!.addresses.map((a) => `${a.address}/${a.prefixLength}`)).toEqual(['10.0.1.2/24', '10.0.1.3/24', '2001:db8:1::2/64', 'fe80::aa:bbff:fecc:dd01/64']);
      expect(judge(check({ address: '10.0.1.3/24', state: 'up', mac: '02:AA:BB:CC:DD:01' }), ok(fixture(f))).passed).toBe(true);
      expect(judge(check({ address: '2001:DB8:1:0::2' }), ok(fixture(f))).passed).toBe(true);
      expect(judge(check({ address: '10.0.1.3/16' }), ok(fixture(f))).reason).toBe(
        'on pc1: eth0 has no address 10.0.1.3/16 (addresses: 10.0.1.2/24, 10.0.1.3/24, 2001:db8:1::2/64)',
      );
    }
  });
  it('sees a down interface in both dialects', () => {
    for (const f of ['addr-eth2-down.iproute2.json', 'addr-eth2-down.busybox.txt']) {
      expect(judge(check({ name: 'eth2', state: 'up' }), ok(fixture(f))).reason).toBe('on pc1: eth2 is down, expected up');
      expect(judge(check({ name: 'eth2', state: 'down', address: '10.9.9.1' }), ok(fixture(f))).passed).toBe(true);
    }
  });
  it('says when the interface does not exist', () => {
    const v = judge(check({ name: 'eth9' }), { stdout: "ip: can't find device 'eth9'\n", stderr: '', exitCode: 1, timedOut: false });
    expect(v.reason).toBe("pc1 has no interface eth9 (ip: can't find device 'eth9')");
  });
});

describe('listening ports', () => {
  it('reads ss (with and without header) and busybox netstat', () => {
    for (const f of ['listen-tcp.ss.txt', 'listen-tcp.ss-header.txt', 'listen-tcp.busybox.txt']) {
      expect(parseListening(fixture(f)).map((s) => s.port).sort()).toEqual([80, 80, 8080]);
    }
    expect(parseListening(fixture('listen-tcp.ss.txt'))[2]).toEqual({ address: '*', port: 8080 });
    expect(parseListening(fixture('listen-tcp.busybox.txt'))[2]).toEqual({ address: '::', port: 8080 });
    for (const f of ['listen-udp.ss.txt', 'listen-udp.busybox.txt']) expect(parseListening(fixture(f))).toEqual([{ address: '0.0.0.0', port: 5353 }]);
  });
  it('judges with the ports it saw', () => {
    const check = { ...base, id: 'l', kind: 'listening', on: 'srv', port: 22, protocol: 'tcp' } as Check;
    expect(judge(check, ok(`#fallback\n${fixture('listen-tcp.busybox.txt')}`)).reason).toBe('nothing listens on TCP port 22 on srv (listening: 80, 8080)');
    expect(judge({ ...check, port: 8080 } as Check, ok(`#ss\n${fixture('listen-tcp.ss.txt')}`)).passed).toBe(true);
  });
});

describe('ping', () => {
  const reach = (extra: object): Check => ({ ...base, id: 'p', kind: 'reach', from: 'pc1', to: '10.0.1.3', expect: 'success', ...extra }) as Check;
  it('reads busybox summaries', () => {
    expect(parsePing(fixture('ping-ok.busybox.txt'))).toEqual({ transmitted: 2, received: 2 });
    expect(parsePing(fixture('ping-lost.busybox.txt'))).toEqual({ transmitted: 2, received: 0 });
    expect(parsePing(fixture('ping-badname.busybox.txt')).error).toBe("bad address 'nosuchhost'");
  });
  it('reads iputils summaries, where one lost packet is not a failure', () => {
    expect(parsePing(fixture('ping-ok.iputils.txt'))).toEqual({ transmitted: 2, received: 2 });
    expect(parsePing(fixture('ping-lost.iputils.txt'))).toEqual({ transmitted: 3, received: 0 });
    expect(parsePing(fixture('ping-badname.iputils.txt')).error).toBe('nosuchhost: Temporary failure in name resolution');
    expect(judge(reach({ to: 'nosuchhost' }), fixtureResult('ping-badname.iputils.txt')).reason).toBe(
      'pc1 cannot resolve the name nosuchhost (nosuchhost: Temporary failure in name resolution)',
    );
    expect(judge(reach({}), fixtureResult('ping-lost.iputils.txt')).reason).toBe('pc1 cannot reach 10.0.1.3: 0 of 3 pings answered');
    // iputils exits 1 when fewer than -c replies came before -w; one reply still means reachable.
    const oneOfTwo = fixture('ping-ok.iputils.txt').replace(/^64 bytes.*icmp_seq=1.*\n/m, '').replace('2 received, 0%', '1 received, 50%');
    expect(judge(reach({}), ok(oneOfTwo, 1)).passed).toBe(true);
    expect(parsePing('ping: connect: Network is unreachable\n').error).toBe('connect: Network is unreachable');
  });
  it('explains failures and the reverse expectation', () => {
    expect(judge(reach({}), fixtureResult('ping-ok.busybox.txt')).passed).toBe(true);
    expect(judge(reach({ to: 'pc2' }), fixtureResult('ping-lost.busybox.txt')).reason).toBe('pc1 cannot reach pc2 (10.0.1.3): 0 of 2 pings answered');
    expect(judge(reach({ to: 'nosuchhost' }), fixtureResult('ping-badname.busybox.txt')).reason).toBe("pc1 cannot resolve the name nosuchhost (bad address 'nosuchhost')");
    expect(judge(reach({ expect: 'failure' }), fixtureResult('ping-lost.busybox.txt')).passed).toBe(true);
    expect(judge(reach({ expect: 'failure' }), fixtureResult('ping-ok.busybox.txt')).reason).toBe('pc1 can reach 10.0.1.3 (2 of 2 pings answered), expected it not to');
    expect(probeFor(reach({ to: 'pc2' })).command(reach({ to: 'pc2' }) as never, context)).toBe("ping -c 1 -W 2 -w 3 '10.0.1.3' 2>&1");
  });
});

describe('http', () => {
  const http = (extra: object): Check => ({ ...base, id: 'h', kind: 'http', on: 'pc1', url: 'http://10.0.1.3/', ...extra }) as Check;
  const asProbe = (head: string, headers: string, body = '') => ok(`${head}VNL_HEADERS\n${headers}VNL_BODY\n${body}`);
  it('reads busybox wget -S headers and curl status codes', () => {
    const wget200 = fixtureResult('http-200.busybox-wget.txt').stdout;
    expect(parseHttp(`#fallback\nVNL_HEADERS\n${wget200}VNL_BODY\n<h1>Hello from pc1</h1>\n`)).toEqual({ status: 200, body: '<h1>Hello from pc1</h1>\n' });
    expect(parseHttp(`#fallback\nVNL_HEADERS\n${fixtureResult('http-404.busybox-wget.txt').stdout}VNL_BODY\n`).status).toBe(404);
    const refused = parseHttp(`#fallback\nVNL_HEADERS\n${fixtureResult('http-refused.busybox-wget.txt').stdout}VNL_BODY\n`);
    expect(refused).toEqual({ body: '', error: "wget: can't connect to remote host (10.0.1.2): Connection refused" });
    const curl404 = fixture('http-404.curl.txt').replace(/ exit.*/s, '');
    expect(parseHttp(`#curl\nVNL_STATUS ${curl404}\nVNL_HEADERS\nVNL_BODY\nnot here`).status).toBe(404);
    const curl000 = fixture('http-refused.curl.txt').replace(/ exit.*/s, '');
    expect(parseHttp(`#curl\nVNL_STATUS ${curl000}\nVNL_HEADERS\ncurl: (7) Failed to connect to 10.0.1.2 port 81 after 0 ms: Couldn't connect to server\nVNL_BODY\n`).error).toMatch(/^curl: \(7\)/);
  });
  it('judges status and body', () => {
    const wget200 = fixtureResult('http-200.busybox-wget.txt').stdout;
    expect(judge(http({ bodyContains: 'Hello' }), asProbe('#fallback\n', wget200, '<h1>Hello from pc1</h1>')).passed).toBe(true);
    expect(judge(http({ bodyContains: 'Bye' }), asProbe('#fallback\n', wget200, '<h1>Hello from pc1</h1>')).reason).toBe(
      'the page http://10.0.1.3/ (as seen from pc1) does not contain "Bye" (got: <h1>Hello from pc1</h1>)',
    );
    expect(judge(http({}), asProbe('#fallback\n', fixtureResult('http-404.busybox-wget.txt').stdout)).reason).toBe('http://10.0.1.3/ answered pc1 with status 404, expected 200');
    expect(judge(http({}), asProbe('#fallback\n', fixtureResult('http-refused.busybox-wget.txt').stdout)).reason).toBe(
      "pc1 got no HTTP response from http://10.0.1.3/ (wget: can't connect to remote host (10.0.1.2): Connection refused)",
    );
  });
});

describe('dns', () => {
  const dns = (extra: object): Check => ({ ...base, id: 'n', kind: 'dns', on: 'pc1', name: 'www.lab.test', type: 'A', expect: ['10.0.0.80'], ...extra }) as Check;
  // Real dig 9.18, BIND nslookup and busybox 1.35 nslookup against fixtures/dns-responder.mjs.
  const digA = `#dig\n${fixture('dns-a.dig.txt')}`;
  const digMx = `#dig\n${fixture('dns-mx.dig.txt')}`;
  const digTimeout = `#dig\n${fixture('dns-noserver.dig.txt')}`;
  const busyboxA = `#fallback\n${fixture('dns-a.busybox.txt')}`;
  const busyboxMx = `#fallback\n${fixture('dns-mx.busybox.txt')}`;
  const busyboxNx = `#fallback\n${fixture('dns-nx.busybox.txt')}`;
  it('reads dig +short and nslookup', () => {
    expect(parseDns(digA).answers).toEqual(['web.lab.test', '10.0.0.80']);
    expect(parseDns(`#dig\n${fixture('dns-ptr.dig.txt')}`).answers).toEqual(['web.lab.test']);
    expect(parseDns(`#dig\n${fixture('dns-nx.dig.txt')}`)).toEqual({ answers: [] });
    expect(parseDns(busyboxA).answers).toEqual(['web.lab.test', '10.0.0.80']);
    expect(parseDns(`#fallback\n${fixture('dns-a.nslookup.txt')}`).answers).toEqual(['web.lab.test', '10.0.0.80']);
    expect(parseDns(`#fallback\n${fixture('dns-aaaa.busybox.txt')}`).answers).toEqual(['2001:db8::80']);
    expect(parseDns(busyboxMx).answers).toEqual(['10 mail.lab.test']);
    expect(parseDns(`#fallback\n${fixture('dns-mx.nslookup.txt')}`).answers).toEqual(['10 mail.lab.test']);
    expect(parseDns(digTimeout)).toEqual({ answers: [], error: 'communications error to 10.0.1.99#53: timed out' });
    expect(parseDns(busyboxNx)).toEqual({ answers: [], error: "server can't find nope.lab.test: NXDOMAIN" });
    expect(parseDns(`#fallback\n${fixture('dns-nx.nslookup.txt')}`)).toEqual({ answers: [], error: "server can't find nope.lab.test: NXDOMAIN" });
  });
  it('judges answers', () => {
    expect(judge(dns({}), ok(digA)).passed).toBe(true);
    expect(judge(dns({}), ok(busyboxA)).passed).toBe(true);
    expect(judge(dns({ type: 'MX', expect: ['mail.lab.test.'] }), ok(digMx)).passed).toBe(true);
    expect(judge(dns({ type: 'MX', expect: ['mail.lab.test'] }), ok(busyboxMx)).passed).toBe(true);
    expect(judge(dns({ expect: ['10.0.0.81'] }), ok(digA)).reason).toBe('pc1 resolves A www.lab.test to web.lab.test, 10.0.0.80; expected 10.0.0.81');
    expect(judge(dns({ expect: ['web.lab.test.', '10.0.0.80'] }), ok(busyboxA)).passed).toBe(true);
    expect(judge(dns({ name: 'nope.lab.test', server: '10.0.0.53' }), ok(busyboxNx)).reason).toBe(
      "pc1 resolves A nope.lab.test (asking 10.0.0.53) to server can't find nope.lab.test: NXDOMAIN; expected 10.0.0.80",
    );
  });
});

describe('command, file, frr', () => {
  it('judges exit codes and output', () => {
    const command = { ...base, id: 'c', kind: 'command', on: 'r1', run: 'sysctl net.ipv4.ip_forward' } as Check;
    expect(judge({ ...command, stdoutContains: '= 1' } as Check, ok('net.ipv4.ip_forward = 1\n')).passed).toBe(true);
    expect(judge({ ...command, stdoutMatches: '=\\s*1$' } as Check, ok('net.ipv4.ip_forward = 0\n')).reason).toBe(
      'the output of `sysctl net.ipv4.ip_forward` on r1 does not match /=\\s*1$/ (got: net.ipv4.ip_forward = 0)',
    );
    expect(judge(command, { stdout: '', stderr: 'sh: nope: not found', exitCode: 127, timedOut: false }).reason).toBe(
      '`sysctl net.ipv4.ip_forward` on r1: exit code 127, expected exit code 0 (output: sh: nope: not found)',
    );
    const badRegex = judge({ ...command, stdoutMatches: '(' } as Check, ok('x'));
    expect(badRegex).toMatchObject({ passed: false, final: true });
  });
  it('judges files', () => {
    const file = { ...base, id: 'f', kind: 'file', on: 'pc1', path: "/etc/it's" } as Check;
    expect(probeFor(file).command(file as never, context)).toContain(`[ -e '/etc/it'\\''s' ]`);
    expect(judge({ ...file, contains: 'nameserver' } as Check, ok('VNL_EXISTS\nnameserver 10.0.0.53\n')).passed).toBe(true);
    expect(judge(file, ok('VNL_MISSING\n')).reason).toBe("/etc/it's does not exist on pc1, expected it to exist");
    expect(judge({ ...file, exists: false } as Check, ok('VNL_MISSING\n')).passed).toBe(true);
  });
  it('judges vtysh output and a missing FRR', () => {
    const frr = { ...base, id: 'o', kind: 'frr', on: 'r1', command: 'show ip ospf neighbor', contains: 'Full' } as Check;
    // FRR 8.4 in the debian guest of labs/ospf, captured just as both adjacencies came up.
    const neighbours = fixture('frr-ospf-neighbor.debian.txt');
    expect(judge(frr, ok(neighbours)).passed).toBe(true);
    expect(judge({ ...frr, contains: undefined, matches: 'Full[\\s\\S]*Full' } as Check, ok(neighbours)).passed).toBe(true);
    expect(judge(frr, ok(neighbours.replace(/Full/g, 'Init'))).reason).toMatch(/^"show ip ospf neighbor" on r1 does not contain "Full" \(got: Neighbor ID/);
    // Same moment: OSPF has not yet put lan2 into r1's routing table.
    const routes = { ...base, id: 'l', kind: 'frr', on: 'r1', command: 'show ip route ospf', contains: '10.1.3.0/24' } as Check;
    expect(judge(routes, ok(fixture('frr-route-ospf.debian.txt'))).reason).toMatch(/^"show ip route ospf" on r1 does not contain "10.1.3.0\/24" \(got: Codes: K - kernel route/);
    expect(judge({ ...routes, contains: '10.1.1.0/24' } as Check, ok(fixture('frr-route-ospf.debian.txt'))).passed).toBe(true);
    const kernel = { ...base, id: 'k', kind: 'route', on: 'r1', prefix: '10.1.3.0/24', expect: 'present' } as Check;
    expect(judge(kernel, ok(fixture('route-ospf.debian.json'))).reason).toBe('r1 has no route to 10.1.3.0/24 (routes: 10.0.12.0/30 dev eth1, 10.0.13.0/30 dev eth2, 10.1.1.0/24 dev eth0)');
    expect(parseListening(fixture('listen-tcp.debian-ss.txt')).map((l) => l.port)).toEqual([2616, 2601, 2604]);
    expect(judge(frr, { stdout: '', stderr: 'sh: vtysh: not found', exitCode: 127, timedOut: false })).toEqual({
      passed: false,
      final: true,
      reason: 'vtysh (FRR) is not installed on r1 (sh: vtysh: not found); this check needs an image that has it',
    });
  });
});
