// Hand-built lab models for compiler tests: the smallest valid LabModel, with helpers to add machines
// and domains, so a test states only what it is about.
import { defaultMachine, type CollisionDomain, type Interface, type LabModel, type Machine, type SourceRef } from '../../src/shared/lab-model.ts';
import type { CompileOptions } from '../../src/shared/plan.ts';

export const at = (line: number, file = 'lab.conf'): SourceRef => ({ file, line, column: 1 });

export function lab(partial: Partial<LabModel> = {}): LabModel {
  return {
    format: 'netkit',
    root: '/srv/labs/demo',
    sourceFile: 'lab.conf',
    meta: { name: 'demo', authors: [] },
    machines: [],
    domains: [],
    checks: [],
    layout: {},
    ...partial,
  };
}

/** A machine wired to the given domains as eth0, eth1, …; `extra` overrides any field. */
export function machine(name: string, domains: string[], extra: Partial<Machine> = {}): Machine {
  const interfaces: Interface[] = domains.map((domain, index) => ({ index, domain, ipv4: [], ipv6: [], source: at(index + 1) }));
  return defaultMachine(name, 'tiny', at(1), { memoryMiB: 128, interfaces, ...extra });
}

export function domain(name: string, extra: Partial<CollisionDomain> = {}): CollisionDomain {
  return { name, kind: 'hub', hostNat: false, source: at(1), ...extra };
}

/** Fixed options, so plans do not depend on the host running the test. */
export const FIXED_OPTIONS: CompileOptions = {
  runDir: '/run/vnetlab/test',
  stateDir: '/var/lib/vnetlab/labs/test',
  imageDir: '/var/cache/vnetlab/images',
  kernel: '/usr/bin/linux.uml',
  labId: 'demo-0123abcd',
};
