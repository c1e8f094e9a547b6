// `vnetlab stop [LAB] [machines…]`: graceful stop (the guest runs its shutdown script: mconsole `cad`,
// then `halt` after ~10 s, then SIGKILL). Stopping every machine also stops the switches and the
// supervisor, and removes the lab's sockets.
import { LAB_FLAG, requireSupervisor, machinesOnly, resolveLab, runDirOf, waitSupervisorGone } from '../../runtime/cli-support.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { UserError } from '../../errors.ts';

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
      let sup;
      try {
        sup = await requireSupervisor(labPath, io.env);
      } catch (err) {
        if (err instanceof UserError && machines.length === 0) {
          io.stdout.write(`${err.message}; nothing to ${verb}.\n`);
          return EXIT.ok;
        }
        throw err;
      }
      try {
        if (machines.length === 0) {
          await sup.shutdown(how);
          await sup.waitClosed();
        } else if (how === 'stop') await sup.stop(machines);
        else await sup.crash(machines);
      } finally {
        sup.close();
      }
      const runDir = runDirOf(labPath, io.env);
      // Stopping the last machine makes the supervisor exit: wait for it so nothing is left behind.
      if (runDir && machines.length === 0 && !(await waitSupervisorGone(runDir))) {
        io.stderr.write(`the supervisor did not exit; run: vnetlab clean\n`);
        return EXIT.environment;
      }
      io.stdout.write(`${machines.length ? machines.join(', ') : 'every machine'}: ${how === 'stop' ? 'stopped' : 'crashed'}\n`);
      return EXIT.ok;
    },
  };
}

export default stopCommand('stop');
