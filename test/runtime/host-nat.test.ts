// A host-NAT collision domain (slirpvde): a guest reaches an HTTP server listening on the host's
// loopback through the gateway 10.0.2.2 (docs/host-nat.md).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostPaths } from '../../src/main/paths.ts';
import { readRecords } from '../../src/main/runtime/records.ts';
import { findRunDir } from '../../src/main/runtime/run-dir.ts';
import { eventually, processesMentioning, testEnv, type TestEnv } from './helpers.ts';

describe('host NAT (real UML + slirpvde)', () => {
  let t: TestEnv;
  let server: Server;
  let port: number;
  beforeAll(async () => {
    t = testEnv();
    server = createServer((_req, res) => res.end('hello from the host\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server?.close();
    await t?.dispose();
  });

  it('lets a guest fetch a page from a server on the host loopback', async () => {
    const lab = t.lab('nat', {
      'lab.yaml': `lab:\n  name: nat\nmachines:\n  pc1:\n    image: tiny\n    memory: 64\n    interfaces:\n      - {domain: wan, ipv4: 10.0.2.15/24}\ndomains:\n  wan: {kind: switch, host_nat: true}\n`,
    });
    expect((await t.cli(['start', lab])).code).toBe(0);
    const runDir = findRunDir(lab, hostPaths(t.env))!;
    expect(readRecords(runDir).map((r) => r.kind).sort()).toEqual(['guest', 'host-nat', 'port', 'supervisor', 'switch', 'wire']);
    const fetched = await t.cli(['exec', '-l', lab, 'pc1', '--', `wget -q -O - http://10.0.2.2:${port}/`]);
    expect(fetched.stdout).toBe('hello from the host\n');
    expect((await t.cli(['stop', lab])).code).toBe(0);
    expect(await eventually(() => processesMentioning(runDir), (p) => p.length === 0, 5_000)).toEqual([]);
  });
});
