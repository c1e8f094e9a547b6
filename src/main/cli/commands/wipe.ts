// `vnetlab wipe [LAB] [machines…]`: delete guest disks, so the next start begins again from the lab
// files. Refuses running machines; asks first unless --yes.
import { createInterface } from 'node:readline';
import { UserError } from '../../errors.ts';
import { wipeLab } from '../../runtime/wipe.ts';
import { LAB_FLAG, machinesOnly, resolveLab } from '../lab-args.ts';
import type { Command, CommandIO } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

const command: Command = {
  name: 'wipe',
  summary: "delete machines' disks (all by default): what students changed inside them is lost",
  usage: 'wipe [LAB] [MACHINE…] [--yes]',
  flags: {
    lab: LAB_FLAG,
    yes: { type: 'boolean', short: 'y', description: 'do not ask for confirmation' },
  },
  async run(args, io) {
    const { labPath, rest } = resolveLab(args.positionals, args.flags.lab, io.cwd, io.env);
    const outcome = await wipeLab(labPath, machinesOnly(rest, io.cwd), {
      env: io.env,
      confirm: async (names) => args.flags.yes === true || confirm(io, `Delete the disks of ${names.join(', ')}? Changes made inside them are lost. [y/N] `),
    });
    if ('reason' in outcome) io.stdout.write(outcome.reason === 'no-disk' ? 'no disk to wipe\n' : 'nothing wiped\n');
    else io.stdout.write(`wiped: ${outcome.wiped.join(', ')}\n`);
    return EXIT.ok;
  },
};

export default command;

async function confirm(io: CommandIO, question: string): Promise<boolean> {
  if (!io.stdin.isTTY) throw new UserError('wipe needs confirmation', 2, 'run it in a terminal, or add --yes');
  const rl = createInterface({ input: io.stdin, output: io.stdout });
  const answer = await new Promise<string>((resolve) => rl.question(question, resolve));
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}
