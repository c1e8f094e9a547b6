// `vnetlab snapshot save|list|restore|delete`: saved states of a lab (src/main/runtime/snapshots/store.ts).
import { deleteState, formatBytes, formatStateTree, listStates, restoreState, saveState } from '../../runtime/snapshots/store.ts';
import { LAB_FLAG, machinesOnly, parseSeconds, resolveLab } from '../lab-args.ts';
import type { Command } from '../command.ts';
import { EXIT, UserError } from '../exit-codes.ts';

const USAGE = `snapshot save NAME [-l LAB] [MACHINE…] [-m "note"]
       vnetlab snapshot list [-l LAB] [--json]
       vnetlab snapshot restore NAME [-l LAB] [MACHINE…] [--force]
       vnetlab snapshot delete NAME [-l LAB]`;

const command: Command = {
  name: 'snapshot',
  summary: 'save the state of a lab (disks and live network configuration), go back to it, list and delete states',
  usage: USAGE,
  description: `
A saved state holds each machine's disk and, for a running machine, its live network state:
addresses, routes (every table), links up or down, MACs, MTUs, net.* sysctls, iptables/nft
rules, and the FRR/Quagga running config. Saving pauses each running machine only while its
disk is copied (a reflink where the filesystem has them, else a sparse copy).
  save NAME      save every machine (or those named), running or stopped; -m adds a note.
  list           the states as a tree: parent, time, disk used, machines, note (* = current).
  restore NAME   machines back to that state: the current ones are saved first as an automatic
                 state (before-restore-N), then the saved disks go in place, the machines boot,
                 and their network state is applied before they are reported ready. A lab whose
                 machines changed since is refused, with the differences; --force restores the
                 machines that still exist.
  delete NAME    remove a state; disk copies no other state uses are deleted.
States live with the lab's guest disks and are deleted only by snapshot delete.
Examples:
  vnetlab snapshot save routes-done -m "static routes on every machine"
  vnetlab snapshot restore routes-done
  vnetlab snapshot restore routes-done pc1
  vnetlab snapshot list -l labs/ospf`,
  flags: {
    lab: LAB_FLAG,
    message: { type: 'string', short: 'm', description: 'save: a note kept with the state', valueName: 'NOTE' },
    json: { type: 'boolean', description: 'list: print JSON' },
    force: { type: 'boolean', description: 'restore: even when machines were added, removed or rewired (restores those that still exist)' },
    timeout: { type: 'string', description: 'restore: seconds each machine may take to boot (default 120)', valueName: 'SECONDS' },
  },
  async run(args, io) {
    const [sub, ...positionals] = args.positionals;
    const usage = `usage: vnetlab ${USAGE}`;
    if (!sub) throw new UserError('snapshot needs a subcommand: save, list, restore or delete', EXIT.badInput, usage);
    const { labPath } = resolveLab([], args.flags.lab, io.cwd, io.env, false);
    const progress = (m: string) => io.stderr.write(`${m}\n`);
    const needName = () => {
      const name = positionals[0];
      if (!name) throw new UserError(`snapshot ${sub} needs the name of a state`, EXIT.badInput, usage);
      return name;
    };
    if (sub !== 'save' && args.flags.message !== undefined) throw new UserError('-m/--message goes with snapshot save', EXIT.badInput);
    if (sub !== 'restore' && args.flags.force) throw new UserError('--force goes with snapshot restore', EXIT.badInput);
    if (sub !== 'list' && args.flags.json) throw new UserError('--json goes with snapshot list', EXIT.badInput);

    if (sub === 'save') {
      const name = needName();
      const machines = machinesOnly(positionals.slice(1), io.cwd);
      const note = typeof args.flags.message === 'string' ? args.flags.message : undefined;
      const saved = await saveState(labPath, name, { env: io.env, machines, ...(note !== undefined ? { note } : {}), onProgress: progress });
      for (const m of saved.machines) {
        const what = !m.hasDisk ? 'no disk yet (never started)' : m.running ? `running: disk and network state, paused ${m.pauseMs} ms` : 'stopped: disk';
        io.stdout.write(`  ${m.machine}: ${what}\n`);
      }
      const reused = Object.keys(saved.state.machines).filter((m) => !saved.machines.some((s) => s.machine === m));
      for (const m of reused) io.stdout.write(`  ${m}: stopped, disk unchanged since an earlier state (shared)\n`);
      io.stdout.write(`saved state ${name} in ${saved.seconds.toFixed(1)} s${saved.state.parent ? ` (after ${saved.state.parent})` : ''}\n`);
      return EXIT.ok;
    }
    if (sub === 'list') {
      if (positionals.length) throw new UserError(`unexpected argument ${positionals[0]}`, EXIT.badInput, usage);
      const states = await listStates(labPath, { env: io.env });
      io.stdout.write(args.flags.json ? `${JSON.stringify(states, null, 2)}\n` : formatStateTree(states));
      return EXIT.ok;
    }
    if (sub === 'restore') {
      const name = needName();
      const machines = machinesOnly(positionals.slice(1), io.cwd);
      const timeoutMs = parseSeconds(args.flags.timeout, 'timeout', 120) * 1000;
      const r = await restoreState(labPath, name, { env: io.env, machines, force: args.flags.force === true, timeoutMs, onProgress: progress });
      for (const d of r.differences) io.stderr.write(`note: ${d}\n`);
      for (const m of r.restored) {
        const net = r.net[m];
        const failed = r.start.failed.find((f) => f.machine === m);
        const line = failed ? `did not start: ${failed.error.split('\n')[0]}` : net ? `ready, network state applied (${net.changes.length} change${net.changes.length === 1 ? '' : 's'}${net.ms !== undefined ? ` in ${(net.ms / 1000).toFixed(1)} s` : ''}${net.remaining.length ? `; still different: ${net.remaining.join('; ')}` : ''}${net.error ? `; ${net.error}` : ''})` : 'ready';
        io.stdout.write(`  ${m}: ${line}\n`);
      }
      io.stdout.write(`restored ${name} in ${r.seconds.toFixed(1)} s; the machines as they were are saved as ${r.before} (undo: vnetlab snapshot restore ${r.before})\n`);
      return r.start.ok ? EXIT.ok : EXIT.false;
    }
    if (sub === 'delete') {
      const name = needName();
      if (positionals.length > 1) throw new UserError(`unexpected argument ${positionals[1]}`, EXIT.badInput, usage);
      const { freedBytes } = await deleteState(labPath, name, { env: io.env });
      io.stdout.write(`deleted state ${name} (${formatBytes(freedBytes)} freed)\n`);
      return EXIT.ok;
    }
    throw new UserError(`unknown snapshot subcommand '${sub}'`, EXIT.badInput, usage);
  },
};

export default command;
