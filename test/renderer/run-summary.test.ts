// The status bar's line about the running lab (src/renderer/run-summary.ts).
import { describe, expect, it } from 'vitest';
import type { MachineState } from '../../src/shared/runtime-api.ts';
import { runSummary } from '../../src/renderer/run-summary.ts';

const many = (n: number, state: MachineState | undefined) => Array.from({ length: n }, () => state);

describe('runSummary', () => {
  it('says a big start is under way before its first guest boots, then how many boot', () => {
    expect(runSummary({ running: true, phase: 'starting', states: many(100, undefined), progress: '' })).toBe('0/100 ready, starting');
    expect(runSummary({ running: true, phase: 'starting', states: [...many(12, 'ready'), ...many(88, 'booting')], progress: 'building the lab-fs image' })).toBe('12/100 ready, 88 booting — building the lab-fs image');
    expect(runSummary({ running: true, states: [...many(99, 'ready'), 'failed'], progress: '' })).toBe('99/100 ready, 1 failed');
  });

  it('counts a stop as it goes, and says stopped at the end', () => {
    expect(runSummary({ running: true, phase: 'stopping', states: [...many(60, 'ready'), ...many(10, 'stopping'), ...many(30, 'stopped')], progress: 'stopped 30 of 100' })).toBe('60/100 ready, stopping: 30 of 100 stopped');
    expect(runSummary({ running: false, phase: 'stopping', states: many(100, 'stopped'), progress: '' })).toBe('stopped');
  });

  it('a small lab reads as before', () => {
    expect(runSummary({ running: true, states: ['ready', 'ready'], progress: '' })).toBe('2/2 ready');
  });
});
