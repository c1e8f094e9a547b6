// Real labs through the real reader and the compiler: every lab in labs/ has a snapshot of its plan
// (review a changed snapshot like code: it is exactly what `vnetlab compile --json` prints), and every
// Netkit/Kathará lab of the corpus (../shared/corpus, kept outside the repo) compiles to a sound plan.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile, formatPlanJson } from '../../src/main/compiler/index.ts';
import { loadLab } from '../../src/main/lab/index.ts';
import type { Diagnostic } from '../../src/shared/diagnostics.ts';
import type { LabModel } from '../../src/shared/lab-model.ts';
import type { CompileOptions, Plan } from '../../src/shared/plan.ts';

const repo = resolve(__dirname, '../..');
const labsDir = join(repo, 'labs');
const corpusDir = resolve(repo, '../shared/corpus');

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
    expect(guest.argv.filter((a) => /^eth\d+=vde,/.test(a))).toHaveLength(guest.interfaces.length);
    expect(guest.memoryMiB).toBeGreaterThanOrEqual(64);
  }
  expect(plan.waves.flat().sort()).toEqual(model.machines.map((m) => m.name).sort());
  const macs = plan.guests.flatMap((g) => g.interfaces.map((i) => i.mac));
  expect(new Set(macs).size).toBe(macs.length);
}

// The corpus is data kept beside the repo (shared/corpus), not in it: a clone without it cannot run these.
describe.skipIf(!existsSync(corpusDir))(`the corpus of real Netkit and Kathará labs${existsSync(corpusDir) ? '' : ' (skipped: ../shared/corpus is not beside this clone)'}`, () => {
  const corpusLabs = ['kathara-labs', 'netkit-labs'].flatMap((group) => labDirs(join(corpusDir, group)).map((name) => `${group}/${name}`));

  it('finds the corpus labs', () => {
    expect(corpusLabs.length).toBeGreaterThanOrEqual(13);
  });

  it.each(corpusLabs)('%s compiles to a sound plan', async (name) => {
    const root = join(corpusDir, name);
    const model = await loadValid(root);
    const plan = compile(model, snapshotOptions(name.split('/')[1]!));
    expectSound(model, plan);
    // Same lab, same plan, to the byte.
    expect(formatPlanJson(compile(model, snapshotOptions(name.split('/')[1]!)))).toBe(formatPlanJson(plan));
  });

  it('gives Netkit routers their folders, startup scripts and forwarding', async () => {
    const root = join(corpusDir, 'netkit-labs/netkit-lab_rip');
    const plan = compile(await loadValid(root), snapshotOptions('rip'));
    const r1 = plan.guests.find((g) => g.name === 'r1')!;
    expect(r1.interfaces.map((i) => `${i.name}=${i.domain}`)).toEqual(['eth0=H', 'eth1=G', 'eth2=E', 'eth3=A']);
    const entries = new Map(plan.labFs.entries.map((e) => [e.dest, e]));
    expect(entries.get('/machines/r1/root')).toMatchObject({ from: join(root, 'r1'), kind: 'dir' });
    expect(entries.get('/machines/r1/startup')).toMatchObject({ content: expect.stringContaining('/sbin/ifconfig eth0 100.1.0.13 netmask 255.255.255.252') });
    expect(entries.get('/machines/r1/sysctl')).toMatchObject({ content: expect.stringContaining('net.ipv4.ip_forward=1\n') });
  });

  it('keeps the MACs a Kathará lab.conf gives', async () => {
    const plan = compile(await loadValid(join(corpusDir, 'kathara-labs/basic-ipv4')), snapshotOptions('basic-ipv4'));
    const r1 = plan.guests.find((g) => g.name === 'r1')!;
    expect(r1.interfaces.map((i) => i.mac)).toEqual(['00:00:00:00:00:a1', '00:00:00:00:00:b1']);
    expect(r1.argv).toContain(`eth0=vde,${r1.interfaces[0]!.ctlDir},00:00:00:00:00:a1`);
  });
});
