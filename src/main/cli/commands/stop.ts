// `vnetlab stop [LAB] [machines…]`: graceful stop (the guest runs its shutdown script: mconsole `cad`,
// then `halt` after ~10 s, then SIGKILL). Stopping every machine also stops the switches and the
// supervisor, and removes the lab's sockets.
import { existsSync } from 'node:fs';
import { loadLab } from '../../lab/index.ts';
import { join } from 'node:path';
import { hostPaths, labIdFor } from '../../paths.ts';
import { connectRunDir, type SupervisorClient } from '../../runtime/client.ts';
import { LAB_FLAG, labFolder, requireSupervisor, machinesOnly, resolveLab, runDirOf, waitSupervisorGone } from '../../runtime/cli-support.ts';
import { requestStop, startInProgress } from '../../runtime/start-intent.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { UserError } from '../../errors.ts';

/** The run dir a lab would use, even before its first start wrote a plan there. */
async function labRunDirOf(labPath: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const { model } = await loadLab(labFolder(labPath)).catch(() => ({ model: undefined }));
  return model ? join(hostPaths(env).runtimeRoot, labIdFor(model.root, model.meta.name)) : undefined;
}

/**
 * Ask a start that has not reached its supervisor yet to give up, and wait: either it gives up, or
 * its supervisor appears and the stop goes through it.
 */
async function stopStartInProgress(runDir: string | undefined): Promise<SupervisorClient | 'cancelled' | undefined> {
  if (!runDir || !existsSync(runDir) || !startInProgress(runDir)) return undefined;
  requestStop(runDir);
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const sup = await connectRunDir(runDir);
    if (sup) return sup;
    if (!startInProgress(runDir)) return 'cancelled';
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

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
      // A start in progress is told to give up too, whether or not its supervisor already answers.
      const startingRunDir = machines.length === 0 ? (runDirOf(labPath, io.env) ?? (await labRunDirOf(labPath, io.env))) : undefined;
      if (startingRunDir && existsSync(startingRunDir) && startInProgress(startingRunDir)) requestStop(startingRunDir);
      let sup;
      try {
        sup = await requireSupervisor(labPath, io.env);
      } catch (err) {
        if (err instanceof UserError && machines.length === 0) {
          // A start may be on its way (no supervisor yet): stop wins over it too.
          sup = await stopStartInProgress(startingRunDir);
          if (sup === 'cancelled') {
            io.stdout.write(`the start in progress was cancelled; nothing runs.\n`);
            return EXIT.ok;
          }
          if (!sup) {
            io.stdout.write(`${err.message}; nothing to ${verb}.\n`);
            return EXIT.ok;
          }
        } else throw err;
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
