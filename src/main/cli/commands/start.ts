// `vnetlab start [LAB] [machines…]`: read, validate and compile the lab, build its lab-fs, make sure
// the images exist, hand the plan to the lab's supervisor (spawned if needed) and wait until every
// guest is ready. The guests keep running after this command returns.
import { formatDiagnostic } from '../../../shared/diagnostics.ts';
import type { LabEvent, MachineState } from '../../../shared/runtime-api.ts';
import { LAB_FLAG, parseSeconds, machinesOnly, resolveLab } from '../../runtime/cli-support.ts';
import { launchLab } from '../../runtime/launch.ts';
import type { Command, CommandIO } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

const command: Command = {
  name: 'start',
  summary: 'start a lab (or some of its machines) and wait until they are ready',
  usage: 'start [LAB] [MACHINE…] [--timeout SECONDS] [--image NAME] [--json]',
  description: `
Starts one switch per collision domain and boots the guests in dependency order, several at a time,
then waits for each guest's startup script to finish. Guests keep running after the command returns:
use 'vnetlab connect MACHINE' for a console, 'vnetlab stop' to stop them.
A guest that panics or is not ready in time fails the start (exit 1); the others keep running.

Examples:
  vnetlab start                      the lab in the current folder
  vnetlab start labs/two-hosts pc1   only pc1
  vnetlab start --image tiny         boot every machine on the tiny image (also VNETLAB_IMAGE_OVERRIDE=tiny)`,
  flags: {
    lab: LAB_FLAG,
    timeout: { type: 'string', description: 'seconds to wait for each guest to be ready (default 120)', valueName: 'SECONDS' },
    image: { type: 'string', description: 'boot every machine on this image instead of the one the lab names', valueName: 'NAME' },
    json: { type: 'boolean', description: 'print events as JSON lines' },
  },
  async run(args, io) {
    const { labPath, rest } = resolveLab(args.positionals, args.flags.lab, io.cwd, io.env);
    const machines = machinesOnly(rest, io.cwd);
    const timeoutMs = parseSeconds(args.flags.timeout, 'timeout', 120) * 1000;
    const json = args.flags.json === true;
    const emit = (event: object) => io.stdout.write(`${JSON.stringify(event)}\n`);
    const view = json ? undefined : new ProgressView(io);

    const { plan, client: sup, result } = await launchLab(labPath, {
      env: io.env,
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
      if (!json) {
        for (const f of result.startupFailed) {
          const log = await sup.exec(f.machine, 'tail -n 5 /var/log/vnetlab-startup.log', { timeoutMs: 5_000 }).catch(() => undefined);
          io.stderr.write(`warning: the startup script of ${f.machine} exited with ${f.exitCode}${log?.stdout ? `; its last lines:\n${log.stdout.replace(/^/gm, '  ')}` : ''}\n`);
        }
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

/** One line per machine; on a terminal the lines change in place, otherwise each change is a new line. */
class ProgressView {
  private readonly states = new Map<string, { state: MachineState | 'waiting'; error?: string }>();
  private drawn = 0;
  private readonly tty: boolean;

  constructor(private readonly io: CommandIO) {
    this.tty = !!io.stdout.isTTY;
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
      else this.io.stdout.write(`${event.machine}: ${event.state}\n`);
    } else if (event.type === 'progress' && !this.tty) {
      this.io.stdout.write(`${event.message}\n`);
    }
  }

  end(): void {
    if (this.tty) this.draw();
  }

  private draw(): void {
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
