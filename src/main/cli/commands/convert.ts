// `vnetlab convert`: a Netkit/Kathará folder → lab.yaml, and lab.yaml → a Netkit/Kathará folder,
// losing nothing a lab uses (addresses and vnetlab-only data travel in files Kathará ignores).
import { readdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { formatDiagnostic, hasErrors } from '../../../shared/diagnostics.ts';
import { loadLab, relocateLab, saveLabYaml, writeNetkitLab } from '../../lab/index.ts';
import type { Command } from '../command.ts';
import { EXIT, UserError } from '../exit-codes.ts';
import { displayPath, shownPath } from './validate.ts';

const command: Command = {
  name: 'convert',
  summary: 'turn a Netkit/Kathará lab into lab.yaml, or lab.yaml into a Netkit/Kathará folder',
  usage: 'convert LAB -o OUT [--to yaml|netkit] [--force]',
  description: `
From a Netkit/Kathará folder, OUT is the lab.yaml to write; files the lab uses (machine folders,
shared/, _test/) are copied next to it when OUT is in another folder.
From a lab.yaml, OUT is the folder to write lab.conf, lab.dep, *.startup and machine folders into.
Interface addresses go into an "interface addresses" block at the top of each startup file;
layout, checks and collision domain kinds go into vnetlab.yaml, which Kathará ignores.

Examples:
  vnetlab convert ~/kathara-lab_rip -o ~/kathara-lab_rip/lab.yaml
  vnetlab convert labs/static-routing/lab.yaml --to netkit -o /tmp/static-routing-netkit`,
  flags: {
    out: { type: 'string', short: 'o', valueName: 'OUT', description: 'lab.yaml file or Netkit folder to write' },
    to: { type: 'string', valueName: 'FORMAT', description: 'yaml or netkit (default: the other one)' },
    force: { type: 'boolean', description: 'overwrite OUT if it exists' },
  },
  async run(args, io) {
    const source = args.positionals[0];
    if (!source) throw new UserError('which lab? give a lab folder, lab.yaml or lab.conf', EXIT.badInput, 'vnetlab convert LAB -o OUT');
    if (typeof args.flags.out !== 'string') throw new UserError('where to? give -o OUT (a lab.yaml file, or a folder for --to netkit)');
    const out = resolve(io.cwd, args.flags.out);
    const { model, diagnostics } = await loadLab(resolve(io.cwd, source));
    const root = model?.root ?? resolve(io.cwd, source);
    for (const d of diagnostics) io.stderr.write(`${formatDiagnostic({ ...d, file: displayPath(d, root, io.cwd) })}\n`);
    if (!model || hasErrors(diagnostics)) {
      io.stderr.write(`vnetlab convert: ${source} has errors; nothing written\n`);
      return EXIT.badInput;
    }
    const to = args.flags.to ?? (/\.ya?ml$/i.test(out) ? 'yaml' : model.format === 'vnetlab' ? 'netkit' : 'yaml');
    if (to !== 'yaml' && to !== 'netkit') throw new UserError(`--to must be yaml or netkit, not '${to}'`);
    const force = args.flags.force === true;
    if (to === 'yaml') {
      if (!force && (await exists(out))) throw new UserError(`${shownPath(out, io.cwd)} already exists`, EXIT.badInput, 'use --force to overwrite it');
      const moved = await relocateLab(model, dirname(out));
      await saveLabYaml(out, moved);
    } else {
      if (!force && (await nonEmptyFolder(out))) throw new UserError(`${shownPath(out, io.cwd)} already exists and is not empty`, EXIT.badInput, 'use --force to write into it');
      if (await exists(out) && !(await stat(out)).isDirectory()) throw new UserError(`${shownPath(out, io.cwd)} is a file; --to netkit writes a folder`);
      await writeNetkitLab(model, out);
    }
    io.stdout.write(`wrote ${shownPath(out, io.cwd)} (${to === 'yaml' ? 'lab.yaml' : 'Netkit/Kathará folder'}: ${model.machines.length} machines)\n`);
    // Where shared/ lands depends on the dialect (docs/lab-format.md, "Where files land"): say when that changes.
    if (model.sharedFolder !== undefined) {
      const netkitBefore = model.format === 'netkit';
      const netkitAfter = to === 'netkit' && (await loadLab(out)).model?.format === 'netkit';
      if (netkitBefore !== netkitAfter) {
        io.stderr.write(
          netkitBefore
            ? `note: Netkit copied ${model.sharedFolder}/ onto / of every machine; the converted lab only has it at /shared: if the lab relies on its files there (shared/etc/hosts…), give the machines those files\n`
            : `note: the folder written reads as a Netkit lab, which also copies ${model.sharedFolder}/ onto / of every machine (not only /shared)\n`,
        );
      }
    }
    return EXIT.ok;
  },
};

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

async function nonEmptyFolder(path: string): Promise<boolean> {
  const entries = await readdir(path).catch(() => undefined);
  return entries !== undefined && entries.length > 0;
}

export default command;
