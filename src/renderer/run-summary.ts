// The status bar's one line about the running lab: "12/500 ready, 488 booting", "0/500 ready,
// starting" before the first guest boots, "stopping: 120 of 500 stopped" (issue 22: for 15 s a big
// start said only "0/100 ready", and a stop said nothing until it was over).
import type { MachineState } from '../shared/runtime-api.ts';

export interface RunSummaryInput {
  running: boolean;
  /** What this window asked for and is still under way. */
  phase?: 'starting' | 'stopping';
  /** The state of each machine of the drawing (undefined: never seen running). */
  states: (MachineState | undefined)[];
  /** The supervisor's last progress line. */
  progress: string;
}

export function runSummary({ running, phase, states, progress }: RunSummaryInput): string {
  if (!running) return 'stopped';
  const total = states.length;
  const count = (...wanted: MachineState[]) => states.filter((s) => s !== undefined && wanted.includes(s)).length;
  const ready = count('ready');
  const parts = [`${ready}/${total} ready`];
  if (phase === 'stopping') parts.push(`stopping: ${total - count('ready', 'booting', 'stopping')} of ${total} stopped`);
  else {
    const booting = count('booting');
    if (booting) parts.push(`${booting} booting`);
    else if (phase === 'starting' && ready < total) parts.push('starting');
    const failed = count('failed');
    if (failed) parts.push(`${failed} failed`);
  }
  // The supervisor's own "stopped N of M" says what the line already says.
  const news = phase === 'stopping' && /^stopped \d+ of \d+$/.test(progress) ? '' : progress;
  return `${parts.join(', ')}${news ? ` — ${news}` : ''}`;
}
