// `vnetlab stop [LAB] [machines…]`: graceful stop (the guest runs its shutdown script: mconsole `cad`,
// then `halt` after ~10 s, then SIGKILL). Stopping every machine also stops the switches and the
// supervisor, and removes the lab's sockets.
import { stopLab } from '../../runtime/launch.ts';
import { LAB_FLAG, machinesOnly, resolveLab } from '../lab-args.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

export function stopCommand(how: 'stop' | 'crash'): Command {
  const verb = how === 'stop' ? 'stop' : 'crash';
  return {
    name: verb,
    summary: how === 'stop' ? 'stop machines gracefully (all of them by default)' : 'kill machines at once, like pulling the plug',
    usage: `${verb} [LAB] [MACHINE…]`,
    description:
      how === 'stop'
        ? 'Each guest runs its shutdown script and halts; one that does not within ~10 s is halted, then killed.\nWhen no machine runs any more, the switches and the supervisor stop too.'
        : 'SIGKILL at once: no shutdown script runs and the guest disk is left as it was at that instant.',
    flags: { lab: LAB_FLAG },
    async run(args, io) {
      const { labPath, rest } = resolveLab(args.positionals, args.flags.lab, io.cwd, io.env);
      const machines = machinesOnly(rest, io.cwd);
      // A big lab takes a while: say how far it got (one line rewritten on a terminal).
      const tty = !!io.stdout.isTTY;
      let shown = false;
      const onProgress = (message: string) => {
        io.stdout.write(tty ? `\r\x1b[2K${message}` : `${message}\n`);
        shown = true;
      };
      const stopped = await stopLab(labPath, { env: io.env, how, machines, onProgress });
      if (tty && shown) io.stdout.write('\n');
      if (stopped.outcome === 'cancelled') {
        io.stdout.write(`the start in progress was cancelled; nothing runs.\n`);
        return EXIT.ok;
      }
      if (stopped.outcome === 'not-running') {
        io.stdout.write(`${stopped.message}; nothing to ${verb}.\n`);
        return EXIT.ok;
      }
      if (stopped.outcome === 'supervisor-lingers') {
        io.stderr.write(`the supervisor did not exit; run: vnetlab clean\n`);
        return EXIT.environment;
      }
      io.stdout.write(`${machines.length ? machines.join(', ') : 'every machine'}: ${how === 'stop' ? 'stopped' : 'crashed'}\n`);
      return EXIT.ok;
    },
  };
}

export default stopCommand('stop');
