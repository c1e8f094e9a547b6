// Real labs through the real reader and the compiler: every lab in labs/ has a snapshot of its plan
// (review a changed snapshot like code: it is exactly what `vnetlab compile --json` prints), and every
// Netkit/Kathará lab of test/fixtures/ — and of the external corpus, when it is there — compiles to a
// sound plan.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile, formatPlanJson } from '../../src/main/compiler/index.ts';
import { loadLab } from '../../src/main/lab/index.ts';
import type { Diagnostic } from '../../src/shared/diagnostics.ts';
import type { LabModel } from '../../src/shared/lab-model.ts';
import type { CompileOptions, Plan } from '../../src/shared/plan.ts';
import { corpusLabs, describeWithCorpus, itEachCorpusLab } from '../support/corpus.ts';
import { FIXTURES, fixtureLab, fixtureLabs } from '../support/fixtures.ts';
import { guestArgv } from '../../src/main/runtime/guest-argv.ts';

const repo = resolve(__dirname, '../..');
const labsDir = join(repo, 'labs');

/** Where the lab sits on the machine running the test must not show in a snapshot. */
const LAB_ROOT_PLACEHOLDER = '/LAB_ROOT';

function snapshotOptions(name: string): CompileOptions {
  return {
    runDir: '/run/vnetlab/test',
    stateDir: '/var/lib/vnetlab/labs/test',
    imageDir: '/var/cache/vnetlab/images',
    kernel: '/usr/bin/linux.uml',
    labId: `${name}-00000000`,
  };
}

async function loadValid(path: string): Promise<LabModel> {
  const { model, diagnostics } = await loadLab(path);
  const errors = diagnostics.filter((d: Diagnostic) => d.severity === 'error');
  expect(errors, `${path} should load without errors`).toEqual([]);
  expect(model).toBeDefined();
  return model!;
}

const labDirs = (parent: string) =>
  existsSync(parent)
    ? readdirSync(parent, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort()
    : [];

describe('plans of the labs that ship', () => {
  const labs = labDirs(labsDir);

  it('finds the shipped labs', () => {
    expect(labs.length).toBeGreaterThan(0);
  });

  it.each(labs)('%s matches its snapshot', async (name) => {
    const model = await loadValid(join(labsDir, name));
    const plan = compile({ ...model, root: LAB_ROOT_PLACEHOLDER }, snapshotOptions(name));
    await expect(formatPlanJson(plan)).toMatchFileSnapshot(`__snapshots__/${name}.plan.json`);
  });
});

describe('boot waves from a Netkit lab.dep', () => {
  it('boots each machine after the ones its lab.dep line names', async () => {
    const root = mkdtempSync(join(tmpdir(), 'vnetlab-labdep-'));
    try {
      writeFileSync(join(root, 'lab.conf'), ['router[0]=A', 'dns[0]=A', 'web[0]=A', 'pc1[0]=A', 'pc2[0]=A', ''].join('\n'));
      // Makefile syntax: target: prerequisites.
      writeFileSync(join(root, 'lab.dep'), 'dns: router\nweb: dns router\npc1 pc2: web\n');
      const plan = compile(await loadValid(root), snapshotOptions('labdep'));
      expect(plan.waves).toEqual([['router'], ['dns'], ['web'], ['pc1', 'pc2']]);
      expect(plan.guests.find((g) => g.name === 'web')!.dependsOn).toEqual(['dns', 'router']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

/** What every plan must hold, whatever the lab: one guest per machine, wired to switches that exist. */
function expectSound(model: LabModel, plan: Plan): void {
  expect(plan.guests.map((g) => g.name).sort()).toEqual(model.machines.map((m) => m.name).sort());
  const domains = new Set(plan.switches.map((s) => s.domain));
  for (const guest of plan.guests) {
    for (const nic of guest.interfaces) {
      // Every NIC plugs into its own cable's port, and that cable leads to a switch of the plan.
      const cable = plan.cables.find((c) => c.machine === guest.name && c.interface === nic.name);
      expect(cable?.portCtlDir, `${guest.name} ${nic.name}`).toBe(nic.ctlDir);
      expect(domains.has(cable!.domain), `${guest.name} ${nic.name} → ${cable!.domain}`).toBe(true);
    }
    expect(guestArgv(guest).filter((a) => /^eth\d+=vde,/.test(a))).toHaveLength(guest.interfaces.length);
    expect(guest.memoryMiB).toBeGreaterThanOrEqual(64);
  }
  expect(plan.waves.flat().sort()).toEqual(model.machines.map((m) => m.name).sort());
  const macs = plan.guests.flatMap((g) => g.interfaces.map((i) => i.mac));
  expect(new Set(macs).size).toBe(macs.length);
}

describe('Netkit and Kathará labs (test/fixtures)', () => {
  it.each(fixtureLabs().map((dir) => basename(dir)))('%s compiles to a sound plan', async (name) => {
    const model = await loadValid(join(FIXTURES, name));
    const plan = compile(model, snapshotOptions(name));
    expectSound(model, plan);
    // Same lab, same plan, to the byte.
    expect(formatPlanJson(compile(model, snapshotOptions(name)))).toBe(formatPlanJson(plan));
  });

  it('gives Netkit routers their folders, startup scripts and forwarding; lab.dep gives the boot waves', async () => {
    const root = fixtureLab('netkit-rip');
    const plan = compile(await loadValid(root), snapshotOptions('rip'));
    const r1 = plan.guests.find((g) => g.name === 'r1')!;
    expect(r1.interfaces.map((i) => `${i.name}=${i.domain}`)).toEqual(['eth0=A', 'eth1=B']);
    const entries = new Map(plan.labFs.entries.map((e) => [e.dest, e]));
    expect(entries.get('/machines/r1/root')).toMatchObject({ from: join(root, 'r1'), kind: 'dir' });
    expect(entries.get('/machines/r1/startup')).toMatchObject({ content: expect.stringContaining('/sbin/ifconfig eth0 10.10.1.1 netmask 255.255.255.0 broadcast 10.10.1.255 up') });
    expect(entries.get('/machines/r1/sysctl')).toMatchObject({ content: expect.stringContaining('net.ipv4.ip_forward=1\n') });
    expect(plan.waves).toEqual([['r1', 'r2'], ['h1', 'h2']]);
  });

  it('keeps the MACs a Kathará lab.conf gives, and derives the others', async () => {
    const plan = compile(await loadValid(fixtureLab('kathara-static-routing')), snapshotOptions('static'));
    const r1 = plan.guests.find((g) => g.name === 'r1')!;
    expect(r1.interfaces.map((i) => i.mac)).toEqual(['02:00:00:0a:00:01', '02:00:00:0b:00:01']);
    expect(guestArgv(r1)).toContain(`eth0=vde,${r1.interfaces[0]!.ctlDir},02:00:00:0a:00:01`);
    const r2 = plan.guests.find((g) => g.name === 'r2')!;
    for (const nic of r2.interfaces) expect(nic.mac).toMatch(/^02(:[0-9a-f]{2}){5}$/);
  });

  it('Kathará ipv6=false: IPv4 forwarding only in the plan', async () => {
    const plan = compile(await loadValid(fixtureLab('kathara-dns')), snapshotOptions('dns'));
    const sysctl = plan.labFs.entries.find((e) => e.dest === '/machines/dns1/sysctl');
    expect(sysctl).toMatchObject({ content: 'net.ipv4.ip_forward=1\n' });
  });
});

describeWithCorpus('the corpus of real Netkit and Kathará labs', () => {
  it('finds the corpus labs', () => {
    expect(corpusLabs().length).toBeGreaterThanOrEqual(13);
  });

  itEachCorpusLab('%s compiles to a sound plan', async (root) => {
    const model = await loadValid(root);
    const plan = compile(model, snapshotOptions(basename(root)));
    expectSound(model, plan);
    // Same lab, same plan, to the byte.
    expect(formatPlanJson(compile(model, snapshotOptions(basename(root))))).toBe(formatPlanJson(plan));
  });
});
