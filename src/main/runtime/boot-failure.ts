// Why a guest failed to boot, told from its console: the lines around the failure (kernel stack dumps
// say nothing to a student) and the one cause we can name with a fix, a disk over a rebuilt image.

const STACK_NOISE = /^\s*(\[<[0-9a-f]+>\]|Stack:|Call Trace:|([0-9a-f]{8}\s*)+$)/;

export function describeBootFailure(reason: string, machine: string, image: string, consoleTail: string): string {
  const tail = consoleTail
    .split('\n')
    .filter((l) => !STACK_NOISE.test(l))
    .slice(-12)
    .join('\n');
  let error = tail ? `${reason}\n--- last console lines of ${machine} ---\n${tail}` : reason;
  // UML refuses a disk whose image changed since the disk was made (an image rebuild).
  const mismatch = /^.*(mismatch.*COW header|COW header.*mismatch).*$/im.exec(consoleTail);
  if (mismatch) {
    error += `\n${mismatch[0].trim()}\nThe ${image} image changed since ${machine}'s disk was created; start over from the lab files with: vnetlab wipe ${machine}`;
  }
  return error;
}

/** Whether console output shows a kernel panic (the message may straddle two chunks: keep a tail). */
export function panicWatcher(): (chunk: string) => boolean {
  let recent = '';
  return (chunk) => {
    const seen = /Kernel panic/.test(recent + chunk);
    recent = chunk.slice(-16);
    return seen;
  };
}
