// `vnetlab list [--json]`: the labs of this user that have a run dir, and whether they are running.
import { hostPaths } from '../../paths.ts';
import { connectRunDir } from '../../runtime/client.ts';
import { listRunDirs, readRunPlan } from '../../runtime/run-dir.ts';
import { isAlive, readRecords } from '../../runtime/records.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

const command: Command = {
  name: 'list',
  summary: 'list the labs running for this user',
  usage: 'list [--json]',
  flags: { json: { type: 'boolean', description: 'print JSON' } },
  async run(args, io) {
    const labs = [];
    for (const runDir of listRunDirs(hostPaths(io.env))) {
      const plan = readRunPlan(runDir);
      const sup = await connectRunDir(runDir);
      let machines: { name: string; state: string }[] = [];
      if (sup) {
        machines = (await sup.status().catch(() => undefined))?.machines ?? [];
        sup.close();
      }
      // A lab whose supervisor is gone but whose processes live on (it was killed) needs a clean.
      const leftovers = sup ? 0 : readRecords(runDir).filter(isAlive).length;
      if (!sup && !leftovers) continue;
      labs.push({ id: runDir.split('/').pop()!, name: plan?.lab.name ?? '?', root: plan?.lab.root ?? '?', running: !!sup, leftovers, runDir, machines });
    }
    if (args.flags.json) {
      io.stdout.write(`${JSON.stringify(labs, null, 2)}\n`);
      return EXIT.ok;
    }
    if (!labs.length) io.stdout.write('no lab is running\n');
    for (const lab of labs) {
      const ready = lab.machines.filter((m) => m.state === 'ready').length;
      const state = lab.running
        ? `running, ${ready}/${lab.machines.length} ready`
        : `supervisor gone, ${lab.leftovers} process(es) left: vnetlab clean ${lab.id}`;
      io.stdout.write(`${lab.id}  ${lab.root}  ${state}\n`);
    }
    return EXIT.ok;
  },
};

export default command;
