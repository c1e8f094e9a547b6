// `vnetlab status [LAB] [--json]`: what runs in a lab: state, pid, memory, uptime and interfaces of
// each machine, and the switches; a warning when the state dir (guest disks) is nearly full.
import type { LabStatus } from '../../../shared/runtime-api.ts';
import { UserError } from '../../errors.ts';
import { connectRunDir } from '../../runtime/client.ts';
import { LAB_FLAG, machinesOnly, resolveLab } from '../lab-args.ts';
import { labFolder, runDirOf } from '../../runtime/lab-target.ts';
import { stateSpaceWarning } from '../../runtime/disk-space.ts';
import { readRunPlan } from '../../runtime/run-dir.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

const command: Command = {
  name: 'status',
  summary: 'show the machines of a running lab: state, pid, memory, uptime, interfaces',
  usage: 'status [LAB] [--json]',
  flags: {
    lab: LAB_FLAG,
    json: { type: 'boolean', description: 'print the status as JSON' },
  },
  async run(args, io) {
    const { labPath, rest } = resolveLab(args.positionals, args.flags.lab, io.cwd, io.env);
    machinesOnly(rest, io.cwd);
    if (rest.length) throw new UserError(`${rest[0]} is neither a lab folder nor the id of a running lab`, 2, 'usage: vnetlab status [LAB] (vnetlab list shows the running labs)');
    const runDir = runDirOf(labPath, io.env);
    const sup = runDir ? await connectRunDir(runDir) : undefined;
    if (!sup) {
      if (args.flags.json) io.stdout.write(`${JSON.stringify({ running: false, root: labFolder(labPath) })}\n`);
      else io.stdout.write(`The lab in ${labFolder(labPath)} is not running.${runDir ? ' Leftovers of an earlier run can be removed with: vnetlab clean' : ''}\n`);
      return EXIT.ok;
    }
    try {
      const status = await sup.status();
      // A full state dir makes guests' disk writes fail while they still look ready: say so.
      const stateDir = readRunPlan(runDir!)?.stateDir;
      const warning = stateDir ? stateSpaceWarning(stateDir, io.env) : undefined;
      if (warning) io.stderr.write(`${warning}\n`);
      if (args.flags.json) io.stdout.write(`${JSON.stringify({ running: true, ...status }, null, 2)}\n`);
      else io.stdout.write(formatStatus(status));
      return EXIT.ok;
    } finally {
      sup.close();
    }
  },
};

export default command;

export function formatStatus(status: LabStatus, now = Date.now()): string {
  const rows = [['MACHINE', 'STATE', 'PID', 'MEMORY', 'UPTIME', 'INTERFACES']];
  for (const m of status.machines) {
    rows.push([
      m.name,
      m.state,
      m.pid ? String(m.pid) : '-',
      m.rssBytes ? `${(m.rssBytes / 1024 / 1024).toFixed(1)} MB` : '-',
      m.startedAt ? formatDuration(now - Date.parse(m.startedAt)) : '-',
      m.interfaces.map((i) => `${i.name}→${i.domain}`).join(' ') || '-',
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const table = rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n');
  const switches = status.switches.map((s) => `${s.domain}${s.running ? '' : ' (down)'}`).join(', ');
  const errors = status.machines.filter((m) => m.error).map((m) => `\n${m.name}: ${m.error}`).join('\n');
  return `${status.name} (${status.labId}), supervisor pid ${status.supervisorPid ?? '-'}\n${table}\ncollision domains: ${switches || '-'}\n${errors ? `${errors}\n` : ''}`;
}

function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
