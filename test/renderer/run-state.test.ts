// The app's run state (src/renderer/run-state.ts): one writer, apply(), for statuses and events.
import { describe, expect, it } from 'vitest';
import type { LabStatus } from '../../src/shared/runtime-api.ts';
import { RunState } from '../../src/renderer/run-state.ts';

const status = (machines: [string, LabStatus['machines'][number]['state'], string?][]): LabStatus => ({
  labId: 'lab-00000000',
  name: 'lab',
  root: '/labs/lab',
  supervisorPid: 1,
  machines: machines.map(([name, state, error]) => ({ name, state, interfaces: [], rssBytes: 1000, ...(error ? { error } : {}) })),
  switches: [],
  cables: [{ id: 'pc1:eth0', machine: 'pc1', interface: 'eth0', domain: 'A', plugged: true, impairments: {} } as LabStatus['cables'][number]],
});

describe('RunState', () => {
  it('a status replaces what is known; running means a machine is not stopped', () => {
    const run = new RunState();
    let told = 0;
    run.subscribe(() => told++);
    run.apply({ status: status([['pc1', 'ready'], ['pc2', 'failed', 'kernel panic']]) });
    expect(run.running).toBe(true);
    expect([...run.machineStates]).toEqual([['pc1', 'ready'], ['pc2', 'failed']]);
    expect(run.machineErrors.get('pc2')).toBe('kernel panic');
    expect(run.cables.get('pc1:eth0')?.plugged).toBe(true);
    expect(run.usage.get('pc1')).toEqual({ rssBytes: 1000 });
    run.apply({ status: status([['pc1', 'stopped']]) });
    expect(run.running).toBe(false);
    expect([...run.machineStates.keys()]).toEqual(['pc1']);
    run.apply({ status: null });
    expect(run.running).toBe(false);
    expect(run.machineStates.size).toBe(0);
    expect(told).toBe(3);
  });

  it('events change their part: progress until every machine has settled, cables, lab-stopped', () => {
    const run = new RunState();
    run.apply({ starting: true });
    expect(run.running).toBe(true);
    run.apply({ event: { type: 'progress', message: 'building the lab-fs image' } });
    run.apply({ event: { type: 'machine-state', machine: 'pc1', state: 'booting' } });
    expect(run.progress).toBe('building the lab-fs image');
    run.apply({ event: { type: 'machine-state', machine: 'pc1', state: 'ready' } });
    expect(run.progress).toBe('');
    run.apply({ event: { type: 'cable', cable: status([]).cables[0]! } });
    expect(run.cables.size).toBe(1);
    run.apply({ event: { type: 'lab-stopped' } });
    expect(run.running).toBe(false);
    expect(run.cables.size).toBe(0);
    expect(run.machineStates.get('pc1')).toBe('stopped');
  });

  it('reset forgets the lab that was on screen', () => {
    const run = new RunState();
    run.apply({ status: status([['pc1', 'ready', 'x']]) });
    run.apply({ reset: true });
    expect(run.running).toBe(false);
    expect(run.machineStates.size + run.machineErrors.size + run.cables.size + run.usage.size).toBe(0);
  });
});
