// Real teaching labs of the external corpus (test/support/corpus.ts: $VNETLAB_CORPUS, or ../shared/corpus),
// started unchanged from their folders; skipped without it. What vnetlab must do with such labs is proven
// on test/fixtures/ by test/runtime/netkit-kathara.test.ts.
// They name Debian-based images (kathara/base → debian); when the debian image is not built (it needs
// debootstrap, network and minutes: `vnetlab image build debian`), they run on `tiny` through the
// image override (VNETLAB_IMAGE_OVERRIDE=tiny) — their startup files only use ip/ifconfig/route, which
// busybox provides.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { corpusLab, describeWithCorpus } from '../support/corpus.ts';
import { debianForTests } from '../support/debian.ts';
import { hostPaths } from '../../src/main/paths.ts';
import { findRunDir } from '../../src/main/runtime/run-dir.ts';
import { eventually, processesMentioning, testEnv, type TestEnv } from './helpers.ts';

// Built AND up to date (a stale image would be rebuilt by start: minutes, root and network), or
// required (VNETLAB_TEST_DEBIAN=1, as npm run test:kernels sets: then start rebuilds a stale one).
const debianBuilt = debianForTests().run;

describeWithCorpus('corpus labs (real UML)', () => {
  let t: TestEnv;
  beforeAll(() => {
    t = testEnv();
    if (!debianBuilt) t.env.VNETLAB_IMAGE_OVERRIDE = 'tiny';
  });
  afterAll(async () => {
    await t?.dispose();
  });

  it('kathara static-routing: routes added with exec let pc1 reach pc2', async () => {
    const lab = corpusLab('kathara-labs/static-routing');
    const start = await t.cli(['start', lab]);
    expect(start.code, start.stderr).toBe(0);
    const exec = (machine: string, command: string) => t.cli(['exec', '-l', lab, machine, '--', command]);
    // Without routes, pc2's network is unreachable from pc1.
    expect((await exec('pc1', 'ping -c 1 -W 1 200.1.1.7')).code).not.toBe(0);
    // The routes the lab leaves commented out for students to add.
    expect((await exec('pc1', 'ip route add default via 195.11.14.1 dev eth0')).code).toBe(0);
    expect((await exec('pc2', 'ip route add default via 200.1.1.1 dev eth0')).code).toBe(0);
    expect((await exec('r1', 'ip route add 200.1.1.0/24 via 100.0.0.10 dev eth1')).code).toBe(0);
    expect((await exec('r2', 'ip route add 195.11.14.0/24 via 100.0.0.9 dev eth1')).code).toBe(0);
    const ping = await exec('pc1', 'ping -c 2 -W 2 200.1.1.7');
    expect(ping.code, ping.stdout + ping.stderr).toBe(0);
    const runDir = findRunDir(lab, hostPaths(t.env))!;
    expect((await t.cli(['stop', lab])).code).toBe(0);
    expect(await eventually(() => processesMentioning(runDir), (p) => p.length === 0, 5_000)).toEqual([]);
  });

  it('netkit arp: the lab starts as written and its hosts ping each other', async () => {
    const lab = corpusLab('netkit-labs/netkit-lab_arp');
    const start = await t.cli(['start', lab]);
    expect(start.code, start.stderr).toBe(0);
    const exec = (machine: string, command: string) => t.cli(['exec', '-l', lab, machine, '--', command]);
    const local = await exec('pc2', 'ping -c 1 -W 2 200.1.1.3');
    expect(local.code, local.stdout).toBe(0);
    const routed = await exec('pc1', 'ping -c 1 -W 2 200.1.1.7');
    expect(routed.code, routed.stdout).toBe(0);
    const back = await exec('pc3', 'ping -c 1 -W 2 195.11.14.5');
    expect(back.code, back.stdout).toBe(0);
    expect((await t.cli(['stop', lab])).code).toBe(0);
  });
});
