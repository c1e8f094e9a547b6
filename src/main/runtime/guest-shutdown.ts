// A guest's graceful stop, the one sequence: mconsole `cad` (the guest runs its shutdown script, syncs
// its disk and halts), `halt` after a while, SIGKILL last. The supervisor stops its own guests this way
// (supervisor.ts), and the reaper those a dead supervisor left running (reaper.ts).

export interface GuestToStop {
  /** Send an mconsole command (its failure is the caller's to report: the sequence goes on). */
  mconsole(command: 'cad' | 'halt'): Promise<unknown>;
  /** Resolves true once the guest has gone, false after `ms`. */
  gone(ms: number): Promise<boolean>;
  kill(): Promise<unknown>;
}

/** `onStep`: the guest did not go within `waitedMs` and the next step begins. */
export async function shutDownGuest(guest: GuestToStop, timeouts: { cadMs: number; haltMs: number }, onStep: (next: 'halt' | 'kill', waitedMs: number) => void = () => {}): Promise<void> {
  for (const [command, ms] of [['cad', timeouts.cadMs], ['halt', timeouts.haltMs]] as const) {
    await guest.mconsole(command);
    if (await guest.gone(ms)) return;
    onStep(command === 'cad' ? 'halt' : 'kill', ms);
  }
  await guest.kill();
}

/** Whether `promise` settles within `ms`. */
export function waitFor(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
