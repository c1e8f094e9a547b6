// The running lab as the app knows it: each machine's state (and error), its cables, start progress,
// the machines' memory, and whether the lab runs. One writer, `apply()`: a status (the lab's whole
// state, from a start, a reconnect or the 5-second refresh) replaces what is known; an event (pushed
// by the service) changes its part. Views read it and subscribe; nothing else writes it.
import type { CableStatus, LabEvent, LabStatus, LinkState, MachineState } from '../shared/runtime-api.ts';

export type RunInput =
  /** The lab's whole state as the service says it now (null: it does not run). */
  | { status: LabStatus | null }
  | { event: LabEvent }
  /** Start was pressed (true): the lab counts as running until that start is over (false). */
  | { starting: boolean }
  /** Stop was pressed here (true) and is over (false): the status bar counts the machines stopped. */
  | { stopping: boolean }
  /** Another lab is on screen: nothing of this one runs. */
  | { reset: true };

/** What a run change touched, for views that redraw only that (the canvas: one node per machine event). */
export interface RunChanges {
  /** A status, a reset or the lab stopping: everything may have changed. */
  all: boolean;
  /** Machines whose state or link lights changed. */
  machines: Set<string>;
  /** Cables (by id) whose state changed. */
  cables: Set<string>;
}

const noChanges = (): RunChanges => ({ all: false, machines: new Set(), cables: new Set() });

export class RunState {
  private changes = noChanges();
  private isRunning = false;
  private phaseNow: 'starting' | 'stopping' | undefined;
  private progressLine = '';
  private readonly states = new Map<string, MachineState>();
  private readonly errors = new Map<string, string>();
  private cableMap = new Map<string, CableStatus>();
  private usageMap = new Map<string, { rssBytes?: number }>();
  /** Link lights: each running machine's NICs as its guest sees them (`eth0` → up, down, no-carrier). */
  private readonly linkMap = new Map<string, Record<string, LinkState>>();
  private readonly listeners = new Set<() => void>();

  /** A machine runs, or a start pressed here is under way (its machines may not have begun to boot yet). */
  get running(): boolean {
    return this.isRunning || this.phaseNow === 'starting';
  }

  /** A start or stop asked for in this window and still under way. */
  get phase(): 'starting' | 'stopping' | undefined {
    return this.phaseNow;
  }

  /** What the lab is doing (image builds, a slow guest), until every machine has settled. */
  get progress(): string {
    return this.progressLine;
  }

  /** Machine states of the running lab (empty when nothing ran since the lab was opened). */
  get machineStates(): ReadonlyMap<string, MachineState> {
    return this.states;
  }

  get machineErrors(): ReadonlyMap<string, string> {
    return this.errors;
  }

  /** Cables of the running lab by id (`pc1:eth0`): plugged or not, impairments. */
  get cables(): ReadonlyMap<string, CableStatus> {
    return this.cableMap;
  }

  /** Host resources of each running machine (from status), for the properties panel. */
  get usage(): ReadonlyMap<string, { rssBytes?: number }> {
    return this.usageMap;
  }

  /** Each running machine's NICs as its guest sees them (link lights). */
  get links(): ReadonlyMap<string, Record<string, LinkState>> {
    return this.linkMap;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** What changed since the last call (one reader: the views' update, views.ts). */
  takeChanges(): RunChanges {
    const taken = this.changes;
    this.changes = noChanges();
    return taken;
  }

  /** The one writer of the run state. */
  apply(input: RunInput): void {
    this.noteChanges(input);
    if ('status' in input) this.applyStatus(input.status);
    else if ('event' in input) this.applyEvent(input.event);
    else if ('starting' in input) this.setPhase('starting', input.starting);
    else if ('stopping' in input) this.setPhase('stopping', input.stopping);
    else {
      this.phaseNow = undefined;
      this.isRunning = false;
      this.progressLine = '';
      this.states.clear();
      this.errors.clear();
      this.cableMap.clear();
      this.usageMap.clear();
      this.linkMap.clear();
    }
    for (const l of this.listeners) l();
  }

  private setPhase(phase: 'starting' | 'stopping', on: boolean): void {
    if (on) this.phaseNow = phase;
    else if (this.phaseNow === phase) this.phaseNow = undefined;
  }

  private noteChanges(input: RunInput): void {
    if ('status' in input || 'reset' in input) this.changes.all = true;
    else if ('event' in input) {
      const e = input.event;
      if (e.type === 'machine-state' || e.type === 'link-state') this.changes.machines.add(e.machine);
      else if (e.type === 'cable') this.changes.cables.add(e.cable.id);
      else if (e.type === 'lab-stopped') this.changes.all = true;
    }
  }

  private applyStatus(status: LabStatus | null): void {
    this.usageMap = new Map((status?.machines ?? []).map((m) => [m.name, { rssBytes: m.rssBytes }]));
    this.isRunning = !!status && status.machines.some((m) => m.state !== 'stopped');
    this.states.clear();
    this.cableMap = new Map((status?.cables ?? []).map((c) => [c.id, c]));
    this.linkMap.clear();
    for (const m of status?.machines ?? []) {
      this.states.set(m.name, m.state);
      if (m.error) this.errors.set(m.name, m.error);
      if (m.links) this.linkMap.set(m.name, m.links);
    }
  }

  private applyEvent(event: LabEvent): void {
    if (event.type === 'machine-state') {
      this.states.set(event.machine, event.state);
      if (event.state !== 'ready') this.linkMap.delete(event.machine); // its guest says them again once ready
      if ([...this.states.values()].every(settled)) this.progressLine = '';
      if (event.error) this.errors.set(event.machine, event.error);
      this.isRunning = true;
    } else if (event.type === 'progress') {
      this.progressLine = event.message;
    } else if (event.type === 'cable') {
      this.cableMap.set(event.cable.id, event.cable);
    } else if (event.type === 'link-state') {
      this.linkMap.set(event.machine, event.interfaces);
    } else if (event.type === 'lab-stopped') {
      this.phaseNow = undefined;
      this.isRunning = false;
      this.progressLine = '';
      this.cableMap.clear();
      this.linkMap.clear();
      for (const m of this.states.keys()) this.states.set(m, 'stopped');
    }
  }
}

/** A machine that is not on its way up or down. */
function settled(state: MachineState): boolean {
  return state === 'ready' || state === 'failed' || state === 'stopped';
}
