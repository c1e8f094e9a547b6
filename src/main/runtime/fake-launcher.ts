// An in-memory Launcher for fast supervisor tests: guests "boot" after a delay, can panic, hang,
// exit early or ignore `cad`/`halt`, and every call is logged so tests can assert ordering,
// parallelism and stop escalation without booting a kernel.
import type { GuestPlan } from '../../shared/plan.ts';
import type { ExecResult } from '../../shared/runtime-api.ts';
import type { ConsolePty, DaemonHandle, DaemonSpec, ExitInfo, GuestAgent, GuestHandle, Launcher, ProcessHandle, Register } from './launcher.ts';
import { guestArgv } from './guest-argv.ts';

export type FakeGuestBehaviour = {
  /** Time from spawn to the readiness signal. */
  bootMs?: number;
  /** Time the spawn itself takes (a real one: its pty, disk and record), before the process is there. */
  spawnMs?: number;
  /** 'panic': prints a kernel panic and exits; 'exit': exits during boot; 'hang': never ready. */
  fails?: 'panic' | 'exit' | 'hang' | 'spawn-error';
  /** Ignore these mconsole commands (to exercise stop escalation). */
  ignores?: ('cad' | 'halt')[];
  /** Its agent takes a halt request on the exec channel (a real guest's does): it then stops without `cad`. */
  agentHalts?: boolean;
  startupExitCode?: number;
};

export class FakeLauncher implements Launcher {
  /** Every call, in order: `spawn-switch A`, `spawn pc1`, `ready pc1`, `cad pc1`, `kill pc1 SIGKILL`, `exit pc1`… */
  readonly log: string[] = [];
  /** Highest number of guests booting at the same time. */
  maxConcurrentBoots = 0;
  private booting = 0;
  private nextPid = 100_000;
  private readonly guests = new Map<string, { exit(info: ExitInfo): void; output(text: string): void }>();

  constructor(
    private readonly behaviour: Record<string, FakeGuestBehaviour> = {},
    /**
     * `daemonMs`: how long a daemon takes to be ready (a real one: a few ms), or how long this one does (by
     * `what`); it is then logged `daemon-up …`.
     * `failingDaemons`: daemons (by `what`) that exit at once, as a real one whose log says why.
     */
    private readonly options: { daemonMs?: number | ((what: string) => number); failingDaemons?: RegExp } = {},
  ) {}

  async spawnDaemon(spec: DaemonSpec, register: Register): Promise<DaemonHandle> {
    this.log.push(`spawn-daemon ${spec.what}`);
    if (this.options.failingDaemons?.test(spec.what)) throw new Error(`${spec.what} exited: fake failure`);
    const { handle } = this.process(spec.what, spec.argv, () => this.log.push(`exit-daemon ${spec.what}`));
    register({ pid: handle.pid, pgid: handle.pgid, argv: spec.argv, sockets: spec.sockets });
    const readyMs = typeof this.options.daemonMs === 'function' ? this.options.daemonMs(spec.what) : this.options.daemonMs;
    if (readyMs) {
      await new Promise((resolve) => setTimeout(resolve, readyMs));
      this.log.push(`daemon-up ${spec.what}`);
    }
    return handle;
  }

  async spawnGuest(plan: GuestPlan, _size: { cols: number; rows: number }, register: Register): Promise<GuestHandle> {
    const b = this.behaviour[plan.name] ?? {};
    if (b.fails === 'spawn-error') throw new Error('no such kernel');
    if (b.spawnMs) await new Promise((resolve) => setTimeout(resolve, b.spawnMs));
    this.log.push(`spawn ${plan.name}`);
    this.booting++;
    this.maxConcurrentBoots = Math.max(this.maxConcurrentBoots, this.booting);
    let bootDone = false;
    const endBoot = () => {
      if (!bootDone) this.booting--;
      bootDone = true;
    };
    const listeners: ((d: string) => void)[] = [];
    const consolePty: ConsolePty = {
      onData: (l) => listeners.push(l),
      write: (d) => listeners.forEach((l) => l(d)), // echo, like a terminal
      resize: (cols, rows) => this.log.push(`resize ${plan.name} ${cols}x${rows}`),
    };
    const argv = guestArgv(plan);
    const { handle, exit } = this.process(plan.name, argv, () => {
      endBoot();
      this.log.push(`exit ${plan.name}`);
    });
    register({ pid: handle.pid, pgid: handle.pgid, argv, sockets: [] });
    let readyResolve: ((code: number) => void) | undefined;
    const ready = new Promise<number>((resolve) => (readyResolve = resolve));
    const timer = setTimeout(() => {
      if (b.fails === 'panic') {
        listeners.forEach((l) => l('Kernel panic - not syncing: Attempted to kill init!\r\n'));
        setTimeout(() => exit({ code: 1, signal: null }), 5);
      } else if (b.fails === 'exit') {
        exit({ code: 1, signal: null });
      } else if (b.fails !== 'hang') {
        endBoot();
        this.log.push(`ready ${plan.name}`);
        readyResolve!(b.startupExitCode ?? 0);
      }
    }, b.bootMs ?? 10);
    void handle.exited.then(() => clearTimeout(timer));
    const agent: GuestAgent = {
      waitReady: (timeoutMs) =>
        new Promise<number>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`not ready after ${timeoutMs / 1000} s`)), timeoutMs);
          void ready.then((code) => {
            clearTimeout(t);
            resolve(code);
          });
        }),
      exec: async (command, options = {}): Promise<ExecResult> => {
        const stdout = `${plan.name}: ${command}\n`;
        options.onStdout?.(stdout);
        return { stdout, stderr: '', exitCode: 0, timedOut: false };
      },
      // A fake extra console: an echo of what is typed, like a terminal; closing stdin ends it.
      interactive: (command, options) => {
        this.log.push(`interactive ${plan.name} ${command}`);
        let end!: (code: number) => void;
        const done = new Promise<ExecResult>((resolve) => (end = (code) => resolve({ stdout: '', stderr: '', exitCode: code, timedOut: false })));
        void handle.exited.then(() => end(137));
        return { done, write: (data) => options.onStdout(data), end: () => end(0), kill: () => end(137) };
      },
      // Unless told otherwise, an agent that does not know `H`: the stop falls back to mconsole `cad`.
      requestHalt: async () => {
        this.log.push(`ask-halt ${plan.name}`);
        if (!b.agentHalts) return false;
        setTimeout(() => exit({ code: 0, signal: null }), 5);
        return true;
      },
      ipv6Now: async () => void this.log.push(`ipv6 ${plan.name}`),
      // Every NIC up, once; the watch ends with the guest (as the agent's does).
      watchLinks: (onStdout) => {
        onStdout(`links${plan.interfaces.map((i) => ` ${i.name}=up`).join('')}\n`);
        return handle.exited.then(() => ({ stdout: '', stderr: '', exitCode: 137, timedOut: false }));
      },
      close: () => {},
    };
    this.guests.set(plan.name, { exit, output: (t) => listeners.forEach((l) => l(t)) });
    return { ...handle, console: consolePty, agent, sockets: [] };
  }

  async mconsole(plan: GuestPlan, command: string): Promise<string> {
    this.log.push(`${command} ${plan.name}`);
    if (command !== 'cad' && command !== 'halt') return '';
    if (this.behaviour[plan.name]?.ignores?.includes(command)) return '';
    setTimeout(() => this.guests.get(plan.name)?.exit({ code: 0, signal: null }), 5);
    return '';
  }

  /** Make a guest print to its console (tests of console sessions). */
  output(machine: string, text: string): void {
    this.guests.get(machine)?.output(text);
  }

  private process(label: string, argv: string[], onExit: () => void): { handle: ProcessHandle; exit: (info: ExitInfo) => void } {
    let resolveExit!: (info: ExitInfo) => void;
    let done = false;
    const exited = new Promise<ExitInfo>((resolve) => (resolveExit = resolve));
    const exit = (info: ExitInfo) => {
      if (done) return;
      done = true;
      onExit();
      resolveExit(info);
    };
    const pid = this.nextPid++;
    const handle: ProcessHandle = {
      pid,
      pgid: pid,
      argv,
      exited,
      kill: (signal) => {
        this.log.push(`kill ${label} ${signal}`);
        setTimeout(() => exit({ code: null, signal }), 1);
      },
    };
    return { handle, exit };
  }
}
