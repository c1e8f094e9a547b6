// `vnetlab pack [-l LAB] -o FILE.vnlpack [--state NAME]`: hand a lab in as one file (runtime/snapshots/pack.ts).
import { resolve } from 'node:path';
import { formatBytes } from '../../runtime/snapshots/store.ts';
import { PACK_EXTENSION, writePack } from '../../runtime/snapshots/pack.ts';
import { LAB_FLAG, resolveLab } from '../lab-args.ts';
import type { Command } from '../command.ts';
import { EXIT, UserError } from '../exit-codes.ts';

const command: Command = {
  name: 'pack',
  summary: 'write a lab, its machines\' disks and their live network state into one file to hand in',
  usage: 'pack [-l LAB] -o FILE.vnlpack [--state NAME]',
  description: `
Writes the lab's files, every machine's disk differences and the network state of the machines
that run (addresses, routes, sysctls, firewall rules, routing daemons' config) into one compressed,
checksummed file, which says which image and kernel the disks belong to. Without --state, the lab
is saved as it is now (a state named pack-<time>, see vnetlab snapshot) and that is packed.
The file unpacks with vnetlab unpack, and grades with vnetlab check FILE.vnlpack.
Examples:
  vnetlab pack -o alice.vnlpack
  vnetlab pack -l labs/ospf --state routes-done -o ~/handin/ospf.vnlpack`,
  flags: {
    lab: LAB_FLAG,
    out: { type: 'string', short: 'o', description: 'the file to write (.vnlpack)', valueName: 'FILE' },
    state: { type: 'string', description: 'pack this saved state (default: the lab as it is now)', valueName: 'NAME' },
  },
  async run(args, io) {
    const { labPath } = resolveLab(args.positionals, args.flags.lab, io.cwd, io.env);
    if (typeof args.flags.out !== 'string') throw new UserError('pack needs the file to write: -o FILE.vnlpack', EXIT.badInput);
    const file = resolve(io.cwd, args.flags.out);
    if (!file.endsWith(PACK_EXTENSION)) throw new UserError(`the pack's name must end in ${PACK_EXTENSION} (${args.flags.out})`, EXIT.badInput, `e.g. -o ${args.flags.out}${PACK_EXTENSION}`);
    const state = typeof args.flags.state === 'string' ? args.flags.state : undefined;
    const r = await writePack(labPath, file, { env: io.env, ...(state ? { state } : {}), onProgress: (m) => io.stderr.write(`${m}\n`) });
    const disks = r.header.machines.filter((m) => m.disk).length;
    const nets = r.header.machines.filter((m) => m.netBytes !== undefined).length;
    io.stdout.write(`wrote ${file}: ${formatBytes(r.bytes)}, state ${r.header.state.name}, ${r.header.entries.filter((e) => e.type === 'file').length} lab files, ${disks} disks, ${nets} network states, in ${r.seconds.toFixed(1)} s\n`);
    return EXIT.ok;
  },
};

export default command;
