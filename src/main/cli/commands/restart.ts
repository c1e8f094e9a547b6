// `vnetlab restart [LAB] <machine>`: graceful stop, then boot again and wait until ready.
import { UserError } from '../../errors.ts';
import { LAB_FLAG, parseSeconds, machinesOnly, resolveLab } from '../lab-args.ts';
import { requireSupervisor } from '../../runtime/lab-target.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

const command: Command = {
  name: 'restart',
  summary: 'stop a machine gracefully and start it again',
  usage: 'restart [LAB] MACHINE [--timeout SECONDS]',
  flags: {
    lab: LAB_FLAG,
    timeout: { type: 'string', description: 'seconds to wait for the guest to be ready (default 120)', valueName: 'SECONDS' },
  },
  async run(args, io) {
    const { labPath, rest } = resolveLab(args.positionals, args.flags.lab, io.cwd, io.env);
    machinesOnly(rest, io.cwd);
    if (rest.length !== 1) throw new UserError('restart takes exactly one machine: vnetlab restart [LAB] MACHINE');
    const timeoutMs = parseSeconds(args.flags.timeout, 'timeout', 120) * 1000;
    const sup = await requireSupervisor(labPath, io.env);
    try {
      const result = await sup.restart(rest[0]!, { timeoutMs });
      for (const f of result.failed) io.stderr.write(`${f.machine} failed: ${f.error}\n`);
      if (result.ok) io.stdout.write(`${rest[0]}: ready\n`);
      return result.ok ? EXIT.ok : EXIT.false;
    } finally {
      sup.close();
    }
  },
};

export default command;
