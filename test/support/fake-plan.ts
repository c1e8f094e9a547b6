// A guest's plan for the fake launcher (runtime/fake-launcher.ts): nothing in it is ever opened or run, so
// every path points nowhere. Supervisor tests override what they are about (interfaces, waves, consoles).
import type { GuestPlan } from '../../src/shared/plan.ts';

export function fakeGuestPlan(name: string, overrides: Partial<GuestPlan> = {}): GuestPlan {
  return {
    name,
    umid: `t-${name}`,
    image: 'tiny',
    imagePath: '/nonexistent/tiny.ext4',
    cow: `/nonexistent/${name}.cow`,
    labFsImage: '/nonexistent/labfs.ext4',
    memoryMiB: 64,
    boot: { kernel: 'linux.uml', shared: [], umlDir: '/nonexistent/uml', nicSyntax: 'legacy', name },
    dir: `/nonexistent/${name}`,
    execChannel: { toGuest: 'in', fromGuest: 'out' },
    mconsole: 'mc',
    interfaces: [],
    dependsOn: [],
    consoles: 1,
    ...overrides,
  };
}

/** One NIC on `domain`, as the compiler would plan it (the fake launcher only reads its name). */
export function fakeInterface(machine: string, domain: string): GuestPlan['interfaces'][number] {
  return { name: 'eth0', domain, mac: '02:00:00:00:00:01', ctlDir: `/nonexistent/c/${machine}.eth0`, addresses: [] };
}
