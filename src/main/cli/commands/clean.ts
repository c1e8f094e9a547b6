// `vnetlab clean [LAB] | --all`: kill everything a lab started (from the on-disk records, checking each
// pid's start time) and remove its run dir, even after a crash of the supervisor. Disks are kept.
import { UserError } from '../../errors.ts';
import { hostPaths } from '../../paths.ts';
import { cleanAll, cleanRunDir, type CleanReport } from '../../runtime/clean.ts';
import { LAB_FLAG, machinesOnly, resolveLab } from '../lab-args.ts';
import { labFolder, runDirOf } from '../../runtime/lab-target.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

const command: Command = {
  name: 'clean',
  summary: "kill whatever a lab left running and remove its sockets (guest disks are kept)",
  usage: 'clean [LAB] | clean --all',
  flags: {
    lab: LAB_FLAG,
    all: { type: 'boolean', description: 'every lab of this user' },
  },
  async run(args, io) {
    const paths = hostPaths(io.env);
    let reports: CleanReport[];
    if (args.flags.all === true) {
      if (args.positionals.length) throw new UserError('--all takes no lab');
      reports = await cleanAll(paths);
    } else {
      const { labPath, rest } = resolveLab(args.positionals, args.flags.lab, io.cwd, io.env);
      machinesOnly(rest, io.cwd);
      if (rest.length) throw new UserError(`unexpected argument ${rest[0]}`, 2, 'usage: vnetlab clean [LAB] | vnetlab clean --all');
      const runDir = runDirOf(labPath, io.env);
      if (!runDir) {
        io.stdout.write(`nothing to clean for ${labFolder(labPath)}\n`);
        return EXIT.ok;
      }
      reports = [await cleanRunDir(runDir, paths)];
    }
    if (!reports.length) io.stdout.write('nothing to clean\n');
    for (const r of reports) {
      for (const k of r.killed) io.stdout.write(`killed ${k.kind} ${k.name} (pid ${k.pid})\n`);
      for (const path of r.removed) io.stdout.write(`removed ${path}\n`);
    }
    return EXIT.ok;
  },
};

export default command;
