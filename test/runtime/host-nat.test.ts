// A host-NAT collision domain (slirpvde) lets guests out, but never into the host itself: neither the
// gateway 10.0.2.2 (slirp's alias for the host's loopback) nor any address of the host's interfaces
// reaches a server on the host (kernels/host/vnetlab-nat-guard.c, docs/host-nat.md). The same fetch
// from an unconfined lab gets through: the probe works, so the refusal is the guard's doing.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostPaths } from '../../src/main/paths.ts';
import { readRecords } from '../../src/main/runtime/records.ts';
import { findRunDir } from '../../src/main/runtime/run-dir.ts';
import { runCli } from '../support/host.ts';
import { eventually, processesMentioning, testEnv, type TestEnv } from './helpers.ts';

const NAT_LAB = `lab:\n  name: nat\nmachines:\n  pc1:\n    image: tiny\n    memory: 64\n    interfaces:\n      - {domain: wan, ipv4: 10.0.2.15/24}\ndomains:\n  wan: {kind: switch, host_nat: true}\n`;

/** A non-loopback IPv4 address of this host, if it has one. */
function ownAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
}

describe('host NAT (real UML + slirpvde)', () => {
  let t: TestEnv;
  let server: Server;
  let port: number;
  beforeAll(async () => {
    t = testEnv();
    server = createServer((_req, res) => res.end('hello from the host\n'));
    // On every address: the loopback one (10.0.2.2 maps there) and the host's own.
    await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server?.close();
    await t?.dispose();
  });

  const fetchFrom = (lab: string, url: string) => t.cli(['exec', '-l', lab, 'pc1', '--', `timeout 10 wget -q -O - ${url} 2>&1; echo "exit=$?"`]);

  it("never lets a guest reach the host: not its loopback through 10.0.2.2, not the host's own address", async () => {
    const lab = t.lab('nat', { 'lab.yaml': NAT_LAB });
    expect((await t.cli(['start', lab])).code).toBe(0);
    const runDir = findRunDir(lab, hostPaths(t.env))!;
    expect(readRecords(runDir).map((r) => r.kind).sort()).toEqual(['guest', 'host-nat', 'port', 'supervisor', 'switch', 'wire']);
    const viaGateway = await fetchFrom(lab, `http://10.0.2.2:${port}/`);
    expect(viaGateway.stdout).not.toContain('hello from the host');
    expect(viaGateway.stdout).toMatch(/exit=[1-9]/);
    const own = ownAddress();
    if (own) {
      const direct = await fetchFrom(lab, `http://${own}:${port}/`);
      expect(direct.stdout).not.toContain('hello from the host');
      expect(direct.stdout).toMatch(/exit=[1-9]/);
    }
    expect((await t.cli(['stop', lab])).code).toBe(0);
    expect(await eventually(() => processesMentioning(runDir), (p) => p.length === 0, 5_000)).toEqual([]);
  });

  it('the same fetch from a lab started --unconfined reaches the host (the probe works)', async () => {
    const lab = t.lab('nat-trusted', { 'lab.yaml': NAT_LAB.replace('name: nat', 'name: nat-trusted') });
    expect((await t.cli(['start', lab, '--unconfined'])).code).toBe(0);
    const fetched = await fetchFrom(lab, `http://10.0.2.2:${port}/`);
    expect(fetched.stdout).toContain('hello from the host');
    expect((await t.cli(['stop', lab])).code).toBe(0);
  });

  it('a server with host NAT off (classroom host_nat: off) starts the domain as a plain switch, with no way out', async () => {
    const lab = t.lab('nat-off', { 'lab.yaml': NAT_LAB.replace('name: nat', 'name: nat-off') });
    const env = { ...t.env, VNETLAB_HOST_NAT: 'off' };
    const started = await runCli(['start', lab], { env, cwd: t.base });
    expect(started.code, started.stderr).toBe(0);
    const runDir = findRunDir(lab, hostPaths(t.env))!;
    expect(readRecords(runDir).map((r) => r.kind).sort()).toEqual(['guest', 'port', 'supervisor', 'switch', 'wire']);
    const fetched = await fetchFrom(lab, `http://10.0.2.2:${port}/`);
    expect(fetched.stdout).not.toContain('hello from the host');
    expect((await t.cli(['stop', lab])).code).toBe(0);
  });
});
