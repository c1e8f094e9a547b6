// The service's Backends bound to the real modules: lab readers/writers, compiler, runtime (the lab's
// supervisor process, shared with the CLI: a lab started here is the lab `vnetlab status` sees), grader.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { LabModel } from '../../shared/lab-model.ts';
import type { LabEvent } from '../../shared/runtime-api.ts';
import type { EnvironmentReport, MachineAction, SaveFormat } from '../../shared/service-api.ts';
import { gradeLab } from '../check/grade.ts';
import { compile } from '../compiler/index.ts';
import { checkCableChange, ImpairmentError } from '../../shared/impairments.ts';
import { EnvironmentError, UserError } from '../errors.ts';
import { buildLabFs } from '../guest/labfs.ts';
import { findKernel, HOST_TOOLS, whichTool } from '../images/kernel.ts';
import { loadLab, refuseUnsafeModel, relocateLab, saveLabYaml, validateLab, writeNetkitLab } from '../lab/index.ts';
import { connectSupervisor, type SupervisorClient } from '../runtime/client.ts';
import { launchLab, stopLab } from '../runtime/launch.ts';
import { compileOptionsFor } from '../runtime/compile-options.ts';
import { labFsOptions, planLab } from '../runtime/prepare.ts';
import type { Backends } from './backends.ts';
import { stateBackends } from './state-backends.ts';

export interface RealBackendOptions {
  env?: NodeJS.ProcessEnv;
  /** Per-guest readiness timeout for starts from the app. */
  startTimeoutMs?: number;
}

export function realBackends(options: RealBackendOptions = {}): Backends {
  const env = options.env ?? process.env;
  /** Progress of a start in flight, pushed to watchers of that lab (image builds, lab-fs). */
  const progressListeners = new Map<string, Set<(event: LabEvent) => void>>();
  const progress = (labRoot: string, message: string) => {
    for (const l of progressListeners.get(labRoot) ?? []) l({ type: 'progress', message });
  };
  /** Watchers waiting for a lab's supervisor to appear: a start wakes them at once instead of at their next poll. */
  const wakeWatchers = new Map<string, Set<() => void>>();
  const wake = (labRoot: string) => {
    for (const w of wakeWatchers.get(labRoot) ?? []) w();
  };

  async function supervisor(labRoot: string): Promise<SupervisorClient> {
    const sup = await connectSupervisor(labRoot, env);
    if (!sup) throw new UserError(`the lab in ${labRoot} is not running`, 1, 'press Start first');
    return sup;
  }

  /** One short-lived connection per call: the supervisor lives on, the service holds nothing open. */
  async function withSupervisor<T>(labRoot: string, fn: (sup: SupervisorClient) => Promise<T>): Promise<T> {
    const sup = await supervisor(labRoot);
    try {
      return await fn(sup);
    } finally {
      sup.close();
    }
  }

  return {
    // Saved states, wipe and hand-in (docs/snapshots.md).
    ...stateBackends(env),
    async environment(): Promise<EnvironmentReport> {
      const problems: EnvironmentReport['problems'] = [];
      try {
        findKernel({ env });
      } catch (err) {
        problems.push({ what: (err as Error).message, fix: HOST_TOOLS['linux.uml'] });
      }
      for (const tool of ['vde_switch', 'uml_mconsole', 'mkfs.ext4'] as const) {
        if (!whichTool(tool, env)) problems.push({ what: `${tool} is not installed`, fix: HOST_TOOLS[tool] });
      }
      return { problems };
    },

    loadLab: (path) => loadLab(path),
    validateLab: async (model) => validateLab(model),

    async saveLab(folder: string, model: LabModel, format: SaveFormat) {
      // The model comes from a client: the same name and path rules as a lab on disk, before anything is written.
      refuseUnsafeModel(model);
      // Save as into another folder: the files the lab references come along.
      const moved = model.root && existsSync(model.root) ? await relocateLab(model, folder) : { ...model, root: folder };
      await mkdir(folder, { recursive: true });
      if (format === 'yaml') {
        const file = join(folder, 'lab.yaml');
        await saveLabYaml(file, { ...moved, format: 'vnetlab', sourceFile: 'lab.yaml' });
        return file;
      }
      await writeNetkitLab(moved, folder);
      return join(folder, 'lab.conf');
    },

    // With the kernel the lab would boot with (as planLab finds it), so the app shows the plan `start` runs.
    compile: async (model: LabModel) => compile(model, compileOptionsFor(model, env)),

    async startLab(labRoot: string) {
      const { client: sup } = await launchLab(labRoot, {
        env,
        timeoutMs: options.startTimeoutMs ?? 120_000,
        onProgress: (m) => progress(labRoot, m),
        onSupervisor: () => wake(labRoot), // watchers connect now and see the machines boot
      });
      try {
        return await sup.status();
      } finally {
        sup.close();
      }
    },

    async stopLab(labRoot: string) {
      // Not running is nothing to stop; a start in progress (no supervisor yet) is cancelled.
      const stopped = await stopLab(labRoot, { env });
      if (stopped.outcome === 'supervisor-lingers') throw new EnvironmentError(`the lab's supervisor did not exit after every machine stopped`, `run: vnetlab clean ${labRoot}`);
    },

    async machine(labRoot: string, machine: string, action: MachineAction) {
      // Both come from the network: a name is a string, and an unknown action is refused, not taken as restart.
      if (!['start', 'stop', 'restart', 'crash'].includes(action)) throw new UserError(`unknown machine action "${String(action)}"`);
      machine = String(machine);
      return withSupervisor(labRoot, async (sup) => {
        if (action === 'stop') return void (await sup.stop([machine]));
        if (action === 'crash') return void (await sup.crash([machine]));
        // A machine (re)starts with the lab's files as saved (issue 23): its startup script, files and
        // memory as the editor saved them, not as they were when the lab started.
        const { plan } = await planLab(labRoot, { env });
        if (!plan.guests.some((g) => g.name === machine)) throw new UserError(`the saved lab has no machine ${machine}`, 2, 'save the lab, then press Apply');
        await buildLabFs(plan.labFs, labFsOptions(plan));
        const result = await sup.apply(plan, { restart: action === 'restart' ? [machine] : [] });
        if (action === 'start') await sup.start([machine]);
        const failed = result.changes.find((c) => c.startsWith(`! ${machine} did not start`));
        if (failed) throw new UserError(failed.slice(2));
      });
    },

    async status(labRoot: string) {
      const sup = await connectSupervisor(labRoot, env);
      if (!sup) return null;
      try {
        return await sup.status();
      } finally {
        sup.close();
      }
    },

    /**
     * Events of a lab, also across restarts of its supervisor: while nobody runs it we only relay
     * start progress, and we re-connect when a supervisor appears (polling its socket once a second).
     */
    async watch(labRoot: string, listener: (event: LabEvent) => void) {
      let stopped = false;
      let sup: SupervisorClient | undefined;
      let timer: NodeJS.Timeout | undefined;
      let connecting = false;
      const listeners = progressListeners.get(labRoot) ?? new Set();
      progressListeners.set(labRoot, listeners);
      listeners.add(listener);
      const connect = async () => {
        if (stopped || sup || connecting) return;
        if (timer) clearTimeout(timer);
        connecting = true;
        const found = await connectSupervisor(labRoot, env);
        connecting = false;
        if (stopped) return found?.close();
        if (!found) {
          timer = setTimeout(() => void connect(), 1000);
          return;
        }
        sup = found;
        found.subscribe(listener);
        // Whatever happened before we were listening: report the current state of every machine.
        void found.status().then((st) => {
          for (const m of st.machines) listener({ type: 'machine-state', machine: m.name, state: m.state, ...(m.error ? { error: m.error } : {}) });
        }, () => {});
        void found.waitClosed().then(() => {
          sup = undefined;
          if (!stopped) timer = setTimeout(() => void connect(), 1000);
        });
      };
      const wakers = wakeWatchers.get(labRoot) ?? new Set();
      wakeWatchers.set(labRoot, wakers);
      const wakeMe = () => void connect();
      wakers.add(wakeMe);
      await connect();
      return () => {
        stopped = true;
        if (timer) clearTimeout(timer);
        listeners.delete(listener);
        wakers.delete(wakeMe);
        sup?.close();
      };
    },

    async attachConsole(labRoot, machine, handlers, console = 0) {
      const sup = await supervisor(labRoot);
      try {
        const attachment = await sup.attachConsole(machine, {
          console,
          onData: handlers.onData,
          onClose: () => handlers.onExit('the lab stopped'),
          replay: true,
          // Each window is its own viewer of the console session, which holds (never pauses the
          // guest) while that window is behind: see runtime/console-session.ts.
          flowControl: true,
        });
        return {
          write: (d) => attachment.write(d),
          resize: (c, r) => attachment.resize(c, r),
          ack: (n) => attachment.ack(n),
          detach: () => {
            attachment.detach();
            sup.close();
          },
        };
      } catch (err) {
        sup.close();
        throw err;
      }
    },

    links: (labRoot) => withSupervisor(labRoot, (sup) => sup.links()),

    changeLink: (labRoot, cable, change) =>
      withSupervisor(labRoot, async (sup) => {
        let checked;
        try {
          checked = checkCableChange(change);
        } catch (err) {
          if (err instanceof ImpairmentError) throw new UserError(err.message, 2);
          throw err;
        }
        return sup.changeLink(String(cable), checked);
      }),

    /** The lab as saved, applied live (the canvas saves first): vnetlab apply's path. */
    applyLab: (labRoot, dryRun) =>
      withSupervisor(labRoot, async (sup) => {
        const { plan } = await planLab(labRoot, { env });
        const preview = await sup.apply(plan, { dryRun: true });
        if (dryRun === true || !preview.changes.length) return preview;
        await buildLabFs(plan.labFs, labFsOptions(plan));
        return sup.apply(plan);
      }),

    async capture(labRoot, target, handlers) {
      const sup = await supervisor(labRoot);
      try {
        const capture = await sup.capture(String(target), { onFrame: handlers.onFrame, onEnd: (reason, counts) => handlers.onEnd(reason, counts.dropped) });
        return {
          stop: async () => {
            const counts = await capture.stop().catch(() => ({ frames: 0, dropped: 0 }));
            sup.close();
            return counts;
          },
        };
      } catch (err) {
        sup.close();
        throw err;
      }
    },

    /**
     * "Check my work" grades the lab the student is working on, as it is: the running supervisor,
     * nothing booted or stopped for it (a stopped machine's checks fail and say so).
     */
    async runChecks(labRoot: string) {
      const running = await connectSupervisor(labRoot, env);
      if (!running) throw new UserError('the lab is not running: start the lab first', 1, 'press Start, wait until the machines are green, then Check my work');
      running.close();
      return gradeLab(labRoot, { visibleOnly: true, useRunning: true, failFast: true, env });
    },
  };
}
