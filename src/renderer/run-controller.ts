// Running the lab from the app: Start, Stop, Apply, a machine's actions and its console, and keeping
// the run state (run-state.ts) in step with the lab — the service's pushed events, the status a start
// returns, and a status every 5 seconds while the lab runs (the machines' memory; it also reconciles
// anything an event missed). Everything it learns goes through RunState.apply().
import type { LabEvent } from '../shared/runtime-api.ts';
import type { MachineAction } from '../shared/service-api.ts';
import type { App } from './app.ts';
import { MAX_MACHINE_CONSOLES, type Consoles } from './consoles.ts';
import { $ } from './dom.ts';
import { pollAfterAnswer } from './poll.ts';
import { runSummary } from './run-summary.ts';

const REFRESH_MS = 5000;

export class RunController {
  /** A stop of this window's is under way: its lab-stopped event is no news. */
  private stoppingHere = false;

  constructor(
    private readonly app: App,
    private readonly consoles: Consoles,
    /** Save the lab (main.ts: lab-files.ts); false when the user cancelled or it failed. */
    private readonly save: (saveAs: boolean) => Promise<boolean>,
  ) {}

  private get state() {
    return this.app.state;
  }

  renderControls(): void {
    const { state } = this;
    const anyActive = [...state.machineStates.values()].some((s) => s === 'booting' || s === 'ready' || s === 'stopping');
    // Without the server these buttons could only fail: they wait, and the banner says why.
    const offline = this.app.offline;
    ($('start') as HTMLButtonElement).disabled = offline || (anyActive && state.running);
    ($('stop') as HTMLButtonElement).disabled = offline || !state.running;
    // Edits while the lab runs never change the drawing only: Apply makes them live (or says what waits for a restart).
    const apply = $('apply') as HTMLButtonElement;
    apply.hidden = !state.running;
    apply.classList.toggle('pending', state.running && state.dirtyForLab);
    apply.title = state.dirtyForLab ? 'The drawing changed: save it and apply the difference to the running lab' : 'Apply the saved lab files to the running lab';
    const total = state.model.machines.length;
    // Only machines of the drawing count: one deleted from it (it stops on Apply) is not "4/3 ready".
    const drawn = state.model.machines.map((m) => state.machineStates.get(m.name));
    const ready = drawn.filter((s) => s === 'ready').length;
    $('run-state').textContent = runSummary({ running: state.running, phase: state.run.phase, states: drawn, progress: state.progress });
    $('run-state').dataset.ready = String(ready);
  }

  /** An event of the lab on screen, pushed by the service. */
  handleEvent(event: LabEvent): void {
    const { state } = this;
    // Stopped here, in another window or from the command line: the status bar must not say "running".
    if (event.type === 'lab-stopped' && state.running && !this.stoppingHere) this.app.notify('The lab was stopped (from another window or the command line). Start it again to continue.');
    state.run.apply({ event });
    if (event.type !== 'machine-state') return;
    // Its console tab (open before a stop, or remembered from before a reload) follows the machine.
    if (event.state === 'booting' || event.state === 'ready') void this.consoles.restore((m) => m === event.machine);
    if (event.state === 'failed' && event.error) this.app.notify(`${event.machine} failed: ${event.error}`, 'error');
  }

  /** The lab's whole state from the service: what every view shows is reconciled with it. */
  async refreshStatus(): Promise<void> {
    const { state } = this;
    if (!state.folder) return;
    const folder = state.folder;
    const status = await this.app.api.status(folder);
    if (folder !== state.folder) return; // another lab was opened meanwhile
    state.run.apply({ status });
  }

  /** 5 seconds after the last answer, while the lab runs and the page shows it (poll.ts: calls never pile up). */
  startRefreshing(connected: () => boolean): void {
    pollAfterAnswer(REFRESH_MS, () => this.refreshStatus().catch(() => {}), () => this.state.running && !!this.state.folder && !document.hidden && connected());
  }

  /** Re-attach the consoles of the machines that run. */
  restoreConsoles(): Promise<void> {
    return this.consoles.restore((m) => ['booting', 'ready'].includes(this.state.machineStates.get(m) ?? ''));
  }

  async start(): Promise<void> {
    const { state, app } = this;
    let starting = false;
    if (!state.folder || state.dirty) {
      const saved = await this.save(false);
      if (!saved) return;
    }
    try {
      // Starting from here on: in a classroom, environment() itself may wait for the student's lab
      // server, and the progress it sends meanwhile ("waiting for it…") must show.
      state.run.apply({ starting: true });
      starting = true;
      const env = await app.api.environment();
      if (env.problems.length) {
        app.notify(`Cannot start yet: ${env.problems.map((p) => `${p.what} — run: ${p.fix}`).join('; ')}`, 'error');
        return;
      }
      app.notify('Starting the lab… (the first start may build guest images)');
      const status = await app.api.startLab(state.folder);
      state.run.apply({ status });
      await this.restoreConsoles();
      await this.openAskedConsoles();
      const failed = status.machines.filter((m) => m.state === 'failed');
      app.notify(failed.length ? `Started with failures: ${failed.map((m) => `${m.name}: ${m.error ?? 'failed'}`).join('; ')}` : 'Lab running.', failed.length ? 'error' : 'info');
    } catch (err) {
      app.fail(err);
      await this.refreshStatus().catch(() => {});
    } finally {
      if (starting) state.run.apply({ starting: false });
    }
  }

  async stop(): Promise<void> {
    const { state, app } = this;
    try {
      app.notify('Stopping the lab…');
      this.stoppingHere = true;
      state.run.apply({ stopping: true });
      await app.api.stopLab(state.folder);
      state.run.apply({ event: { type: 'lab-stopped' } });
      app.notify('Lab stopped.');
    } catch (err) {
      app.fail(err);
    } finally {
      this.stoppingHere = false;
      state.run.apply({ stopping: false });
    }
  }

  async machineAction(machine: string, action: MachineAction): Promise<void> {
    const { state, app } = this;
    try {
      if (!state.folder) throw new Error('Save and start the lab first.');
      // A machine (re)starts with the lab's files as saved: unsaved edits are saved first, as Start does.
      if ((action === 'restart' || action === 'start') && state.dirty && !(await this.save(false))) return;
      app.notify(`${action} ${machine}…`);
      await app.api.machine(state.folder, machine, action);
      app.notify(`${machine}: ${action} done.`);
    } catch (err) {
      app.fail(err);
    }
  }

  /** `another`: the machine's next console (a shell of its own in a new tab), not its own console. */
  async openConsole(machine: string, another = false): Promise<void> {
    if (!this.state.folder || !this.state.running) {
      this.app.notify('Start the lab to open consoles.', 'error');
      return;
    }
    await (another ? this.consoles.openNext(machine) : this.consoles.open(machine));
  }

  /** Machines that ask for several consoles (Kathará's num_terms, lab.yaml `consoles:`) get them at Start. */
  private async openAskedConsoles(): Promise<void> {
    for (const m of this.state.model.machines) {
      if (m.consoles > 1 && ['booting', 'ready'].includes(this.state.machineStates.get(m.name) ?? '')) await this.consoles.openFirst(m.name, m.consoles);
      if (m.consoles > MAX_MACHINE_CONSOLES) this.app.notify(`${m.name} asks for ${m.consoles} consoles (num_terms); a machine has at most ${MAX_MACHINE_CONSOLES}, so ${MAX_MACHINE_CONSOLES} opened.`, 'error');
    }
  }

  /** The lab runs and its drawing changed: save, then apply the difference live (vnetlab apply's path). */
  async applyLive(): Promise<void> {
    const { state, app } = this;
    if (!state.running) return;
    if (state.dirty && !(await this.save(false))) return;
    try {
      const result = await app.api.applyLab(state.folder, false);
      await this.refreshStatus();
      // The lines are `vnetlab apply`'s: here the actions are the app's (right-click a machine to restart it).
      const changes = result.changes.map((c) => c.replace(/ \(vnetlab restart ([^)\s]+)\)/g, ' (right-click $1 → Restart)').replace(/ \(vnetlab [^)]*\)/g, ''));
      app.notify(changes.length ? `Applied to the running lab: ${changes.join('; ')}` : 'Nothing to apply: the running lab matches the drawing.');
    } catch (err) {
      app.fail(err);
    }
  }
}
