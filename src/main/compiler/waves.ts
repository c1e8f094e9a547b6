// Boot order as dependency waves (Kahn's algorithm, one layer at a time): a machine boots in the
// first wave after every machine it depends on. Names within a wave are sorted so the plan is stable.

/** `dependsOn` maps each machine to the machines it waits for; names that are not machines are ignored. */
export function bootWaves(dependsOn: ReadonlyMap<string, readonly string[]>): string[][] {
  const waitingOn = new Map<string, Set<string>>();
  for (const [machine, deps] of dependsOn) {
    waitingOn.set(machine, new Set(deps.filter((d) => d !== machine && dependsOn.has(d))));
  }
  const waves: string[][] = [];
  while (waitingOn.size > 0) {
    const ready = [...waitingOn].filter(([, deps]) => deps.size === 0).map(([m]) => m);
    if (ready.length === 0) {
      // A cycle: the reader reports it as an error; should a plan still be asked for, boot the rest
      // together rather than never.
      waves.push(sortNames([...waitingOn.keys()]));
      break;
    }
    waves.push(sortNames(ready));
    for (const m of ready) waitingOn.delete(m);
    for (const deps of waitingOn.values()) for (const m of ready) deps.delete(m);
  }
  return waves;
}

/** Code-unit order, independent of the host's locale. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sortNames(names: string[]): string[] {
  return names.sort(compareNames);
}
