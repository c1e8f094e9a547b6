// Checks run with the lab-fs tool set (busybox), yet a check that needs a program busybox lacks still
// finds it in the guest (real UML, debian image): vtysh, dig, ss and iproute2 come through PATH.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gradeLab } from '../../src/main/check/grade.ts';
import { testHost, type TestHost } from './helpers.ts';

let host: TestHost | undefined;
afterAll(async () => {
  await host?.cleanup();
});

const LAB = `lab: {name: tools}
machines:
  r1:
    image: debian
    interfaces: [{domain: a, ipv4: 10.0.0.1/24}]
checks:
  - {id: guest-tools, kind: command, on: r1, run: "for t in vtysh dig ss curl; do command -v $t; done", stdout_matches: "/vtysh\\n.*/dig\\n.*/ss\\n.*/curl"}
  - {id: dig, kind: command, on: r1, run: "dig -v 2>&1", stdout_contains: "DiG 9"}
  - {id: vtysh, kind: command, on: r1, run: "vtysh -h 2>&1", stdout_contains: "Integrated shell for FRR"}
  - {id: busybox-first, kind: command, on: r1, run: "readlink /proc/$$/exe", stdout_contains: "/run/vnetlab/labfs/tools/busybox"}
  - {id: route, kind: route, on: r1, prefix: 10.0.0.0/24, dev: eth0}
  - {id: address, kind: interface, on: r1, name: eth0, address: 10.0.0.1/24}
`;

describe('the tool set on the debian image', () => {
  it('runs checks in busybox and still finds vtysh, dig, ss and curl in the guest', async () => {
    host = testHost('tooldeb');
    const lab = join(host.root, 'tools');
    mkdirSync(lab);
    writeFileSync(join(lab, 'lab.yaml'), LAB);
    const report = await gradeLab(lab, { env: host.env, jobs: 1 });
    expect(report.results.map((r) => [r.id, r.passed, r.reason])).toEqual(['guest-tools', 'dig', 'vtysh', 'busybox-first', 'route', 'address'].map((id) => [id, true, undefined]));
  }, 300_000);
});
