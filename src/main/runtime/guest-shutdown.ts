// A guest's graceful stop, the one sequence: a halt request on the exec channel, else mconsole `cad`
// (either way the guest's init runs its shutdown script, syncs
// its disk and halts); when it has not gone after a while, its kernel syncs and remounts its disks
// read-only itself (`sysrq s`, `sysrq u`: no guest program needed, so a guest too slow or too busy to
// run its shutdown still keeps what was written), then `halt`; SIGKILL last. The supervisor stops its
// own guests this way (supervisor.ts), and the reaper those a dead supervisor left running (reaper.ts).

export type ShutdownCommand = 'cad' | 'sysrq s' | 'sysrq u' | 'halt';

export interface GuestToStop {
  /**
   * Ask the guest's agent to shut down (`H` on the exec channel): no host process per guest, where an
   * mconsole command is one. Resolves false when the guest did not take it; `cad` is then sent.
   */
  ask?(): Promise<boolean>;
  /** Send an mconsole command (its failure is the caller's to report: the sequence goes on). */
  mconsole(command: ShutdownCommand): Promise<unknown>;
  /** Resolves true once the guest has gone, false after `ms`. */
  gone(ms: number): Promise<boolean>;
  kill(): Promise<unknown>;
}

/** How long the kernel's emergency sync and read-only remount get before `halt` (they run in the background in the guest). */
const EMERGENCY_SYNC_MS = 1_500;

/** `onStep`: the guest did not go within `waitedMs` and the next step begins. */
export async function shutDownGuest(guest: GuestToStop, timeouts: { cadMs: number; haltMs: number; syncMs?: number }, onStep: (next: 'halt' | 'kill', waitedMs: number) => void = () => {}): Promise<void> {
  if (!(await guest.ask?.())) await guest.mconsole('cad');
  if (await guest.gone(timeouts.cadMs)) return;
  onStep('halt', timeouts.cadMs);
  await guest.mconsole('sysrq s');
  await guest.mconsole('sysrq u');
  if (await guest.gone(timeouts.syncMs ?? EMERGENCY_SYNC_MS)) return;
  await guest.mconsole('halt');
  if (await guest.gone(timeouts.haltMs)) return;
  onStep('kill', timeouts.haltMs);
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
