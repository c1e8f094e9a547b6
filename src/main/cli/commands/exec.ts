// `vnetlab exec [LAB] <machine> -- <command…>`: run a command in a running guest through its exec
// channel; stdout and stderr are streamed, and the guest's exit code is this command's exit code.
import { UserError } from '../../errors.ts';
import { LAB_FLAG, parseSeconds, machinesOnly, resolveLab, shellJoin } from '../lab-args.ts';
import { requireSupervisor } from '../../runtime/lab-target.ts';
import type { Command } from '../command.ts';

const command: Command = {
  name: 'exec',
  summary: "run a command in a running machine and return its exit code",
  usage: 'exec [LAB] MACHINE [--timeout SECONDS] -- COMMAND…',
  description: `
The command runs under /bin/sh -c in the guest. Its output is streamed; the exit code is the
command's own (124 when the timeout stopped it).

Examples:
  vnetlab exec pc1 -- ping -c 1 10.0.0.2
  vnetlab exec -l labs/two-hosts pc1 -- 'ip route | grep default'`,
  flags: {
    lab: LAB_FLAG,
    timeout: { type: 'string', description: 'stop the command after this many seconds (default 60)', valueName: 'SECONDS' },
  },
  async run(args, io) {
    const { labPath, rest } = resolveLab(args.positionals, args.flags.lab, io.cwd, io.env);
    const [machine, ...extra] = rest;
    if (machine !== undefined) machinesOnly([machine], io.cwd);
    const words = [...extra, ...args.rest];
    if (!machine) throw new UserError('which machine? usage: vnetlab exec [LAB] MACHINE -- COMMAND…');
    if (!words.length) throw new UserError(`no command given for ${machine}`, 2, `put it after --, e.g. vnetlab exec ${machine} -- ip addr`);
    const timeoutMs = parseSeconds(args.flags.timeout, 'timeout', 60) * 1000;
    const sup = await requireSupervisor(labPath, io.env);
    try {
      const result = await sup.exec(machine, shellJoin(words), {
        timeoutMs,
        onStdout: (d) => io.stdout.write(d),
        onStderr: (d) => io.stderr.write(d),
      });
      if (result.timedOut) io.stderr.write(`vnetlab exec: ${machine}: the command was stopped after ${timeoutMs / 1000} s\n`);
      return result.exitCode;
    } finally {
      sup.close();
    }
  },
};

export default command;
