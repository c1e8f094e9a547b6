// `vnetlab wipe [LAB] [machines…]`: delete guest disks, so the next start begins again from the lab
// files. Refuses running machines; asks first unless --yes.
import { existsSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { UserError } from '../../errors.ts';
import { connectRunDir } from '../../runtime/client.ts';
import { LAB_FLAG, machinesOnly, resolveLab, runDirOf } from '../../runtime/cli-support.ts';
import { planLab } from '../../runtime/prepare.ts';
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
    const machines = machinesOnly(rest, io.cwd);
    const { plan } = await planLab(labPath, { env: io.env });
    const unknown = machines.filter((m) => !plan.guests.some((g) => g.name === m));
    if (unknown.length) throw new UserError(`no machine named ${unknown.join(', ')} in lab ${plan.lab.name}`, 2, `machines: ${plan.guests.map((g) => g.name).join(', ')}`);
    const targets = plan.guests.filter((g) => machines.length === 0 || machines.includes(g.name));

    const runDir = runDirOf(labPath, io.env);
    const sup = runDir ? await connectRunDir(runDir) : undefined;
    if (sup) {
      try {
        const status = await sup.status();
        const running = status.machines.filter((m) => targets.some((t) => t.name === m.name) && ['booting', 'ready', 'stopping'].includes(m.state));
        if (running.length) {
          const names = running.map((m) => m.name).join(' ');
          throw new UserError(`cannot wipe running machines: ${names.replace(/ /g, ', ')}`, 2, `stop them first: vnetlab stop ${names}`);
        }
      } finally {
        sup.close();
      }
    }
    const existing = targets.filter((g) => existsSync(g.cow));
    if (!existing.length) {
      io.stdout.write('no disk to wipe\n');
      return EXIT.ok;
    }
    const names = existing.map((g) => g.name).join(', ');
    if (args.flags.yes !== true && !(await confirm(io, `Delete the disks of ${names}? Changes made inside them are lost. [y/N] `))) {
      io.stdout.write('nothing wiped\n');
      return EXIT.ok;
    }
    for (const g of existing) rmSync(g.cow, { force: true });
    io.stdout.write(`wiped: ${names}\n`);
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
