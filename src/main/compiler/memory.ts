// Guest memory: what the lab asks for, raised to the floor of the machine's image. The floors are the
// `min_memory` of kernels/images/<image>.yaml (test/images/memory-floor.test.ts keeps them equal; the
// compiler is pure and reads no files). Measured with UML 6.1 without address randomisation
// (src/main/images/kernel.ts): mem=64M leaves 53 MB usable. That boots busybox guests, and BIND 9.18
// too, with 12 MB to spare; debian guests get 96 so that a resolver's cache, FRR's daemons or a
// tcpdump next to them do not push a swap-less guest into thrashing.
import type { Machine } from '../../shared/lab-model.ts';
import { MIN_MEMORY_MIB } from '../../shared/lab-model.ts';

export const IMAGE_MEMORY_FLOOR_MIB: Readonly<Record<string, number>> = { tiny: 64, debian: 96 };

export function guestMemoryMiB(machine: Pick<Machine, 'image' | 'memoryMiB'>): number {
  const floor = IMAGE_MEMORY_FLOOR_MIB[machine.image] ?? MIN_MEMORY_MIB;
  return Math.max(floor, MIN_MEMORY_MIB, Math.round(machine.memoryMiB));
}
