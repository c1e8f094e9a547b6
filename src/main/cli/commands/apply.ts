// `vnetlab apply [LAB] [--dry-run]`: re-read the lab files and apply the difference to the running lab,
// leaving unaffected machines alone (src/main/runtime/plan-diff.ts says what counts as a difference).
import { formatDiagnostic } from '../../../shared/diagnostics.ts';
import { LAB_FLAG, resolveLab } from '../lab-args.ts';
import { requireSupervisor } from '../../runtime/lab-target.ts';
import { buildLabFs } from '../../guest/labfs.ts';
import { labFsOptions, planLab } from '../../runtime/prepare.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

const command: Command = {
  name: 'apply',
  summary: 'apply changes of the lab files to the running lab, live',
  usage: 'apply [LAB] [--dry-run] [--json]',
  description: `
New machines boot, removed ones stop, new interfaces are hot-plugged into running guests (with their
addresses), moved cables change collision domain, and a cable's declared impairments are set live.
Machines that are not affected keep running untouched. A running machine whose changes only take
effect at boot (its startup or shutdown script, files, memory, image, an address of an existing
interface) is restarted, and listed as "~ machine NAME restarts"; a stopped one takes them when it starts.

Examples:
  vnetlab apply --dry-run      what would change
  vnetlab apply labs/ospf`,
  flags: {
    lab: LAB_FLAG,
    'dry-run': { type: 'boolean', description: 'only print the difference' },
    json: { type: 'boolean', description: 'print the result as JSON' },
  },
  async run(args, io) {
    const { labPath } = resolveLab(args.positionals, args.flags.lab, io.cwd, io.env);
    const { plan, diagnostics } = await planLab(labPath, { env: io.env });
    for (const d of diagnostics) io.stderr.write(`${formatDiagnostic(d)}\n`);
    const sup = await requireSupervisor(labPath, io.env);
    try {
      const preview = await sup.apply(plan, { dryRun: true });
      if (!args.flags['dry-run'] && preview.changes.length) {
        // New or restarted machines read their files from the lab-fs: rebuild it (atomically; running
        // guests keep the image they mounted).
        await buildLabFs(plan.labFs, labFsOptions(plan));
      }
      const result = args.flags['dry-run'] ? preview : await sup.apply(plan);
      if (args.flags.json) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else if (!result.changes.length) io.stdout.write('nothing to apply: the running lab matches its files\n');
      else io.stdout.write(`${result.changes.join('\n')}\n${args.flags['dry-run'] ? '(dry run: nothing changed)\n' : ''}`);
      return EXIT.ok;
    } finally {
      sup.close();
    }
  },
};

export default command;
