// `vnetlab unpack FILE.vnlpack -o DIR`: a pack back into a lab folder whose first start boots from the
// packed state (runtime/snapshots/pack.ts). A truncated, damaged or hostile file is refused.
import { resolve } from 'node:path';
import { unpackPack } from '../../runtime/snapshots/pack.ts';
import type { Command } from '../command.ts';
import { EXIT, UserError } from '../exit-codes.ts';

const command: Command = {
  name: 'unpack',
  summary: 'turn a .vnlpack back into a lab folder that starts from the packed state',
  usage: 'unpack FILE.vnlpack -o DIR',
  description: `
Checks the whole file first (not truncated, checksum, only files and folders, paths inside DIR,
sizes as declared) and refuses it with the reason otherwise; nothing is written outside DIR, and
DIR must be new or empty. The first vnetlab start of DIR boots every machine from the packed disks
and re-applies its network state before it is reported ready. The disks need the same build of
the image they were made over (the pack names it): vnetlab image import brings it.
Example:
  vnetlab unpack alice.vnlpack -o ~/grading/alice && vnetlab start ~/grading/alice`,
  flags: {
    out: { type: 'string', short: 'o', description: 'the folder to create (new or empty)', valueName: 'DIR' },
  },
  async run(args, io) {
    const [file, ...more] = args.positionals;
    if (!file) throw new UserError('unpack needs the pack file: vnetlab unpack FILE.vnlpack -o DIR', EXIT.badInput);
    if (more.length) throw new UserError(`unexpected argument ${more[0]}`, EXIT.badInput, 'usage: vnetlab unpack FILE.vnlpack -o DIR');
    if (typeof args.flags.out !== 'string') throw new UserError('unpack needs the folder to create: -o DIR', EXIT.badInput);
    const r = await unpackPack(resolve(io.cwd, file), resolve(io.cwd, args.flags.out));
    io.stdout.write(`unpacked lab ${r.header.lab.name} (state ${r.header.state.name}, packed ${r.header.createdAt}) into ${r.dir}: ${r.files} files, machines ${r.machines.join(', ')}\nstart it with: vnetlab start ${r.dir}\n`);
    return EXIT.ok;
  },
};

export default command;
