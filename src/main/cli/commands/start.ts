// `vnetlab start [LAB] [machines…]`: read, validate and compile the lab, build its lab-fs, make sure
// the images exist, hand the plan to the lab's supervisor (spawned if needed) and wait until every
// guest is ready. The guests keep running after this command returns.
import { formatDiagnostic } from '../../../shared/diagnostics.ts';
import type { LabEvent, MachineState } from '../../../shared/runtime-api.ts';
import { LAB_FLAG, UNCONFINED_FLAG, applyUnconfinedFlag, parseSeconds, machinesOnly, resolveLab } from '../lab-args.ts';
import { launchLab } from '../../runtime/launch.ts';
import type { LaunchTimings } from '../../runtime/launch.ts';
import type { StartTimings } from '../../runtime/supervisor.ts';
import type { SupervisorClient } from '../../runtime/client.ts';
import type { Plan } from '../../../shared/plan.ts';
import { parseUnplaced, placesFiles, UNPLACED_FILE, type UnplacedFile } from '../../guest/unplaced.ts';
import type { Command, CommandIO } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

const command: Command = {
  name: 'start',
  summary: 'start a lab (or some of its machines) and wait until they are ready',
  usage: 'start [LAB] [MACHINE…] [--timeout SECONDS] [--image NAME] [--json] [--profile] [--unconfined]',
  description: `
Starts one switch per collision domain and boots the guests in dependency order, several at a time,
then waits for each guest's startup script to finish. Guests keep running after the command returns:
use 'vnetlab connect MACHINE' for a console, 'vnetlab stop' to stop them.
A guest that panics or is not ready in time fails the start (exit 1); the others keep running.
Every guest, switch and cable runs in a Landlock sandbox that lets it reach only its own files; on a
host kernel without Landlock, start refuses (exit 3) unless given --unconfined (docs/security.md).

Examples:
  vnetlab start                      the lab in the current folder
  vnetlab start labs/two-hosts pc1   only pc1
  vnetlab start --image tiny         boot every machine on the tiny image (also VNETLAB_IMAGE_OVERRIDE=tiny)
  vnetlab start --profile            then print where the time went, per machine

With --json every line carries "t", the milliseconds since the command began.`,
  flags: {
    lab: LAB_FLAG,
    timeout: { type: 'string', description: 'seconds to wait for each guest to be ready (default 120)', valueName: 'SECONDS' },
    image: { type: 'string', description: 'boot every machine on this image instead of the one the lab names', valueName: 'NAME' },
    json: { type: 'boolean', description: 'print events as JSON lines (each with "t": ms since the command began)' },
    profile: { type: 'boolean', description: 'print where the time went: lab, supervisor, lab-fs, and per machine spawn, kernel, init phases, startup, ready' },
    unconfined: UNCONFINED_FLAG,
  },
  async run(args, io) {
    applyUnconfinedFlag(args.flags.unconfined, io.env);
    const { labPath, rest } = resolveLab(args.positionals, args.flags.lab, io.cwd, io.env);
    const machines = machinesOnly(rest, io.cwd);
    const timeoutMs = parseSeconds(args.flags.timeout, 'timeout', 120) * 1000;
    const json = args.flags.json === true;
    const began = Date.now();
    const emit = (event: object) => io.stdout.write(`${JSON.stringify({ t: Date.now() - began, ...event })}\n`);
    const view = json ? undefined : new ProgressView(io);

    const { plan, client: sup, result, timings } = await launchLab(labPath, {
      env: io.env,
      supervisorStandby: io.supervisorStandby,
      machines,
      timeoutMs,
      imageOverride: typeof args.flags.image === 'string' ? args.flags.image : undefined,
      onProgress: (message) => (json ? emit({ type: 'progress', message }) : view!.note(message)),
      onPlanned: (planned, diagnostics) => {
        for (const d of diagnostics) {
          if (json) emit({ type: 'diagnostic', ...d });
          else io.stderr.write(`${formatDiagnostic(d)}\n`);
        }
        view?.begin(machines.length ? machines : planned.guests.map((g) => g.name));
      },
      onEvent: (event) => (json ? emit(event) : view!.onEvent(event)),
    });
    try {
      view?.end();
      // Lab files a guest could not place on its disk's first boot (a folder of the image where the lab has a file…).
      for (const u of await unplacedFiles(sup, plan, result.started)) {
        if (json) emit({ type: 'unplaced', ...u });
        else io.stderr.write(`${u.file}: error: ${u.machine} could not place it at ${u.guestPath} (${u.why}); the machine runs without it\n`);
      }
      if (!json) {
        for (const f of result.startupFailed) {
          const log = await sup.exec(f.machine, 'tail -n 5 /var/log/vnetlab-startup.log', { timeoutMs: 5_000 }).catch(() => undefined);
          io.stderr.write(`warning: the startup script of ${f.machine} exited with ${f.exitCode}${log?.stdout ? `; its last lines:\n${log.stdout.replace(/^/gm, '  ')}` : ''}\n`);
        }
      }
      if (args.flags.profile === true) {
        const guests = await readGuestProfiles(sup, result.timings ? Object.keys(result.timings.machines) : []);
        const profile = buildProfile(began, timings, result.timings, guests);
        if (json) emit({ type: 'profile', ...profile });
        else io.stdout.write(formatProfile(profile));
      }
      if (json) emit({ type: 'result', ...result, labId: plan.lab.id });
      else if (result.stopped.length) {
        const others = result.started.length ? ` ${result.started.join(', ')} ${result.started.length === 1 ? 'is' : 'are'} ready.` : '';
        io.stderr.write(`${plan.lab.name}: start interrupted: ${result.stopped.join(', ')} ${result.stopped.length === 1 ? 'was' : 'were'} stopped while starting.${others}\n`);
      } else if (result.ok && result.started.length === 0) io.stdout.write(`${plan.lab.name}: already running (vnetlab status shows its machines)\n`);
      else if (result.ok) io.stdout.write(`${plan.lab.name}: ${result.started.length} machine(s) ready. Consoles: vnetlab connect <machine> (detach with Ctrl-])\n`);
      else {
        for (const f of result.failed) io.stderr.write(`\n${f.machine} failed: ${f.error}\n`);
        const others = result.started.length ? ` The others (${result.started.join(', ')}) are running.` : '';
        io.stderr.write(`\n${result.failed.length} machine(s) failed to start: ${result.failed.map((f) => f.machine).join(', ')}.${others}\n`);
      }
      return result.ok ? EXIT.ok : EXIT.false;
    } finally {
      sup.close();
    }
  },
};

export default command;

/** What the machines just started could not place of the lab's files (src/main/guest/unplaced.ts). */
async function unplacedFiles(sup: SupervisorClient, plan: Plan, started: string[]): Promise<UnplacedFile[]> {
  const guests = plan.guests.filter((g) => started.includes(g.name) && !g.grader && placesFiles(plan, g));
  const lists = await Promise.all(
    guests.map(async (g) => {
      const run = await sup.exec(g.name, `cat ${UNPLACED_FILE} 2>/dev/null || true`, { timeoutMs: 5_000 }).catch(() => undefined);
      return run?.stdout ? parseUnplaced(plan, g, run.stdout) : [];
    }),
  );
  return lists.flat();
}

/** Above this many machines, one summary line ("120 of 500 ready, 380 booting") instead of a line each. */
const LINES_UP_TO = 20;
/** How often the summary line is printed when it cannot be rewritten in place (not a terminal). */
const SUMMARY_EVERY_MS = 1_000;

/**
 * One line per machine, or one summary line for a big lab; on a terminal the lines change in place,
 * otherwise each change is a new line (the summary at most once a second, and its last state).
 */
export class ProgressView {
  private readonly states = new Map<string, { state: MachineState | 'waiting'; error?: string }>();
  private drawn = 0;
  private readonly tty: boolean;
  private summaryAt = 0;
  private lastSummary = '';

  constructor(private readonly io: CommandIO) {
    this.tty = !!io.stdout.isTTY;
  }

  private get big(): boolean {
    return this.states.size > LINES_UP_TO;
  }

  begin(machines: string[]): void {
    for (const m of machines) this.states.set(m, { state: 'waiting' });
    if (this.tty) this.draw();
  }

  note(message: string): void {
    if (this.tty && this.drawn) return; // the machine lines say it better once they are on screen
    this.io.stdout.write(`${message}\n`);
  }

  onEvent(event: LabEvent): void {
    if (event.type === 'machine-state' && this.states.has(event.machine)) {
      this.states.set(event.machine, { state: event.state, error: event.error });
      if (this.tty) this.draw();
      else if (this.big) this.printSummary(false);
      else this.io.stdout.write(`${event.machine}: ${event.state}\n`);
    } else if (event.type === 'progress' && !this.tty) {
      this.io.stdout.write(`${event.message}\n`);
    }
  }

  end(): void {
    if (this.tty) this.draw();
    if (this.tty && this.big) this.io.stdout.write('\n');
    else if (this.big) this.printSummary(true);
  }

  /** "120 of 500 ready, 370 booting, 10 waiting, 1 failed". */
  summary(): string {
    const counts = new Map<string, number>();
    for (const { state } of this.states.values()) counts.set(state, (counts.get(state) ?? 0) + 1);
    const others = ['booting', 'waiting', 'failed', 'stopping', 'stopped', 'crashed'].filter((s) => counts.get(s)).map((s) => `${counts.get(s)} ${s}`);
    return [`${counts.get('ready') ?? 0} of ${this.states.size} ready`, ...others].join(', ');
  }

  private printSummary(last: boolean): void {
    const line = this.summary();
    if (line === this.lastSummary || (!last && Date.now() - this.summaryAt < SUMMARY_EVERY_MS)) return;
    this.summaryAt = Date.now();
    this.lastSummary = line;
    this.io.stdout.write(`${line}\n`);
  }

  private draw(): void {
    if (this.big) {
      this.io.stdout.write(`\r\x1b[2K${this.summary()}`);
      this.drawn = 1;
      return;
    }
    const width = Math.max(...[...this.states.keys()].map((k) => k.length), 4);
    let out = this.drawn ? `\x1b[${this.drawn}A` : '';
    for (const [name, { state }] of this.states) {
      const color = state === 'ready' ? '\x1b[32m' : state === 'failed' ? '\x1b[31m' : '\x1b[33m';
      out += `\x1b[2K  ${name.padEnd(width)}  ${color}${state}\x1b[0m\n`;
    }
    this.drawn = this.states.size;
    this.io.stdout.write(out);
  }
}

// ---- --profile ---------------------------------------------------------------------------------

/** Where a start's time went, in ms since the command began (host-side moments and guest init phases). */
export interface StartProfile {
  lab: { planned: number; supervisor: number; labFsAndImages: number; networkUp?: number; done: number };
  machines: {
    machine: string;
    /** Phase → its duration in ms, in order: wait (wave/bound), ports (its cables up), spawn, kernel, the init's phases, ready. */
    phases: [string, number][];
    /** From its turn to ready. */
    total: number;
  }[];
}

/** The init's `<phase> <uptime>` lines (kernels/guest/agent/vnetlab-agent.c, `boot_mark`), read once every machine is ready. */
async function readGuestProfiles(sup: SupervisorClient, machines: string[]): Promise<Map<string, [string, number][]>> {
  const out = new Map<string, [string, number][]>();
  await Promise.all(
    machines.map(async (m) => {
      const r = await sup.exec(m, 'cat /run/vnetlab/profile', { timeoutMs: 10_000 }).catch(() => undefined);
      if (r?.exitCode !== 0) return;
      const phases = r.stdout
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((w) => w.length === 2 && Number.isFinite(Number(w[1])))
        .map(([p, u]) => [p!, Number(u) * 1000] as [string, number]);
      out.set(m, phases);
    }),
  );
  return out;
}

export function buildProfile(began: number, launch: LaunchTimings, start: StartTimings | undefined, guests: Map<string, [string, number][]>): StartProfile {
  const rel = (t: number) => Math.max(0, t - began);
  const profile: StartProfile = {
    lab: { planned: rel(launch.planned), supervisor: rel(launch.supervisor), labFsAndImages: rel(launch.host), networkUp: start ? rel(start.networkUp) : undefined, done: rel(launch.done) },
    machines: [],
  };
  for (const [machine, t] of Object.entries(start?.machines ?? {})) {
    const phases: [string, number][] = [
      ['wait', t.slot - start!.networkUp],
      ['ports', t.spawn - t.slot],
      ['spawn', t.spawned - t.spawn],
    ];
    let guest = guests.get(machine) ?? [];
    // A guest from the warm pool booted before this start: its time here begins when it got its name
    // (`claim`: hot-plugging its lab-fs and NICs, then the agent's answer), not with its kernel.
    const claimed = t.pooled ? guest.findIndex(([phase]) => phase === 'claimed') : -1;
    if (claimed >= 0) guest = guest.slice(claimed);
    const last = guest[guest.length - 1];
    if (t.ready && last && guest.length) {
      // Guest uptimes, anchored on the last phase (just before the init signals ready).
      const hostOf = (uptime: number) => t.ready! - (last[1] - uptime);
      phases.push([claimed >= 0 ? 'claim' : 'kernel', hostOf(guest[0]![1]) - t.spawned]);
      for (let i = 1; i < guest.length; i++) phases.push([guest[i]![0], guest[i]![1] - guest[i - 1]![1]]);
      phases.push(['ready', t.ready - hostOf(last[1])]);
    } else if (t.ready) phases.push(['boot', t.ready - t.spawned]);
    profile.machines.push({ machine, phases: phases.map(([p, ms]) => [p, Math.round(Math.max(0, ms))]), total: t.ready ? t.ready - t.slot : 0 });
  }
  return profile;
}

export function formatProfile(p: StartProfile): string {
  const lines = [
    `profile (ms since the command began): planned ${p.lab.planned}, supervisor up ${p.lab.supervisor}, images + lab-fs ${p.lab.labFsAndImages}, switches up ${p.lab.networkUp ?? '-'}, all ready ${p.lab.done}`,
  ];
  if (!p.machines.length) return `${lines[0]}\n`;
  const names = [...new Set(p.machines.flatMap((m) => m.phases.map(([n]) => n)))];
  const width = Math.max(7, ...p.machines.map((m) => m.machine.length));
  const col = (s: string | number, w: number) => String(s).padStart(w);
  lines.push(`  ${'machine'.padEnd(width)} ${names.map((n) => col(n, Math.max(6, n.length))).join(' ')} ${col('total', 6)}`);
  for (const m of p.machines) {
    const by = new Map(m.phases);
    lines.push(`  ${m.machine.padEnd(width)} ${names.map((n) => col(by.get(n) ?? '-', Math.max(6, n.length))).join(' ')} ${col(m.total, 6)}`);
  }
  lines.push('  (wait: for its wave and a free boot slot; the phases after kernel are the guest init\'s, ms each)');
  if (p.machines.some((m) => m.phases.some(([n]) => n === 'claim'))) lines.push('  (claim: a guest from the warm pool took this machine\'s lab-fs, NICs and name; its spawn is the handover)');
  return `${lines.join('\n')}\n`;
}
