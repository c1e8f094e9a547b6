// Real UML: every check kind against busybox guests (tiny image), passing and failing, so the
// probes' commands and parsers are proven on what a guest really prints, not only on fixtures.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckReport } from '../../src/shared/checks.ts';
import { gradeLab } from '../../src/main/check/grade.ts';
import { testHost, type TestHost } from './helpers.ts';

let host: TestHost;
let report: CheckReport;

const LAB = `lab:
  name: kinds
machines:
  srv:
    image: tiny
    memory: 64
    interfaces: [{domain: A, ipv4: 10.0.0.1/24, mac: "02:00:00:00:00:01"}]
    files:
      - {path: /www/index.html, content: "<h1>Hello from srv</h1>\\n"}
    startup: |
      httpd -p 80 -h /www
  cli:
    image: tiny
    memory: 64
    interfaces: [{domain: A, ipv4: 10.0.0.2/24}]
checks:
  # Expected to pass.
  - {id: reach-ip, kind: reach, from: cli, to: 10.0.0.1}
  - {id: reach-name, kind: reach, from: cli, to: srv}
  - {id: no-reach, kind: reach, from: cli, to: 10.0.0.9, expect: failure}
  - {id: route-lan, kind: route, on: cli, prefix: 10.0.0.0/24, dev: eth0}
  - {id: no-default, kind: route, on: cli, prefix: default, expect: absent}
  - {id: iface, kind: interface, on: srv, name: eth0, address: 10.0.0.1/24, state: up, mac: "02:00:00:00:00:01"}
  - {id: command, kind: command, on: srv, run: "uname -r", stdout_matches: "^6\\\\.1\\\\."}
  - {id: file, kind: file, on: srv, path: /www/index.html, contains: Hello}
  - {id: no-file, kind: file, on: srv, path: /etc/nope, exists: false}
  - {id: listen, kind: listening, on: srv, port: 80}
  - {id: http, kind: http, on: cli, url: "http://10.0.0.1/", body_contains: Hello}
  - {id: http-404, kind: http, on: cli, url: "http://10.0.0.1/missing", status: 404}
  # Expected to fail, each with its reason.
  - {id: bad-route, kind: route, on: cli, prefix: 10.9.0.0/16, timeout: 1}
  - {id: bad-iface, kind: interface, on: srv, name: eth0, state: down, timeout: 1}
  - {id: bad-listen, kind: listening, on: srv, port: 8081, timeout: 1}
  - {id: bad-http, kind: http, on: cli, url: "http://10.0.0.1/", body_contains: Goodbye, timeout: 1}
  - {id: no-http, kind: http, on: cli, url: "http://10.0.0.1:81/", timeout: 1}
  - {id: bad-command, kind: command, on: srv, run: "exit 3", timeout: 1}
  - {id: no-frr, kind: frr, on: srv, command: "show ip route", contains: "O>*"}
  - {id: no-dns, kind: dns, on: cli, name: www.lab.test, expect: 10.0.0.1, server: 10.0.0.1, timeout: 1}
`;

beforeAll(async () => {
  host = testHost('kinds');
  const lab = join(host.root, 'kinds');
  mkdirSync(lab);
  writeFileSync(join(lab, 'lab.yaml'), LAB);
  report = await gradeLab(lab, { env: host.env, jobs: 2 });
});

afterAll(async () => {
  await host?.cleanup();
});

describe('every check kind on busybox guests', () => {
  it('passes what holds', () => {
    const passing = ['reach-ip', 'reach-name', 'no-reach', 'route-lan', 'no-default', 'iface', 'command', 'file', 'no-file', 'listen', 'http', 'http-404'];
    const results = report.results.filter((r) => passing.includes(r.id));
    expect(results.map((r) => [r.id, r.passed, r.reason])).toEqual(passing.map((id) => [id, true, undefined]));
  });

  it('fails what does not hold, saying why', () => {
    const reasons = Object.fromEntries(report.results.filter((r) => !r.passed).map((r) => [r.id, r.reason]));
    expect(reasons).toEqual({
      'bad-route': 'cli has no route to 10.9.0.0/16 (routes: 10.0.0.0/24 dev eth0)',
      'bad-iface': 'on srv: eth0 is up, expected down',
      'bad-listen': 'nothing listens on TCP port 8081 on srv (listening: 80)',
      'bad-http': 'the page http://10.0.0.1/ (as seen from cli) does not contain "Goodbye" (got: <h1>Hello from srv</h1>)',
      'no-http': "cli got no HTTP response from http://10.0.0.1:81/ (wget: can't connect to remote host (10.0.0.1): Connection refused)",
      'bad-command': '`exit 3` on srv: exit code 3, expected exit code 0 (output: (nothing))',
      'no-frr': 'vtysh (FRR) is not installed on srv (sh: vtysh: not found); this check needs an image that has it',
      'no-dns': expect.stringMatching(/^cli resolves A www\.lab\.test \(asking 10\.0\.0\.1\) to .+; expected 10\.0\.0\.1$/),
    });
    // A missing tool is final: one attempt, not a retry loop until the timeout.
    expect(report.results.find((r) => r.id === 'no-frr')!.attempts).toBe(1);
    expect(report.score).toBe(12);
    expect(report.maxScore).toBe(20);
  });
});
