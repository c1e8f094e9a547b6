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

  it('says what each change touched, so a view redraws only that (issue 22: one event restyled all 500 nodes)', () => {
    const run = new RunState();
    run.apply({ status: status([['pc1', 'ready'], ['pc2', 'ready']]) });
    expect(run.takeChanges().all).toBe(true);
    expect(run.takeChanges()).toEqual({ all: false, machines: new Set(), cables: new Set() }); // taken once
    run.apply({ event: { type: 'machine-state', machine: 'pc2', state: 'stopping' } });
    run.apply({ event: { type: 'link-state', machine: 'pc3', interfaces: { eth0: 'up' } } });
    run.apply({ event: { type: 'cable', cable: status([]).cables[0]! } });
    run.apply({ event: { type: 'progress', message: 'stopped 1 of 2' } });
    expect(run.takeChanges()).toEqual({ all: false, machines: new Set(['pc2', 'pc3']), cables: new Set(['pc1:eth0']) });
    run.apply({ event: { type: 'lab-stopped' } });
    expect(run.takeChanges().all).toBe(true);
  });

  it('a start pressed here counts as running until it is over, even before its first guest boots; a stop has its phase', () => {
    const run = new RunState();
    run.apply({ starting: true });
    run.apply({ status: status([['pc1', 'stopped'], ['pc2', 'stopped']]) }); // the refresh, while the network comes up
    expect(run.running).toBe(true);
    expect(run.phase).toBe('starting');
    run.apply({ status: status([['pc1', 'ready'], ['pc2', 'ready']]) });
    run.apply({ starting: false });
    expect([run.running, run.phase]).toEqual([true, undefined]);
    run.apply({ stopping: true });
    expect(run.phase).toBe('stopping');
    run.apply({ event: { type: 'lab-stopped' } });
    expect([run.running, run.phase]).toEqual([false, undefined]);
    // A start that ends with nothing running (cancelled) does not stay "running".
    run.apply({ starting: true });
    run.apply({ status: status([['pc1', 'stopped']]) });
    run.apply({ starting: false });
    expect(run.running).toBe(false);
  });
});
