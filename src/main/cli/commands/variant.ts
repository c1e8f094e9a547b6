// `vnetlab variant LAB --seed S -o DIR | --show`: one student's version of a lab with `params:`.
import { join, resolve } from 'node:path';
import { formatDiagnostic } from '../../../shared/diagnostics.ts';
import { DEFAULT_SEED, renderVariant, renderVariants, SEED_FILE, variantValues } from '../../lab/variants.ts';
import type { Command } from '../command.ts';
import { EXIT, UserError } from '../exit-codes.ts';
import { displayPath, shownPath } from './validate.ts';

const command: Command = {
  name: 'variant',
  summary: 'one seed\'s version of a lab with params: print its values, or write it as a plain lab',
  usage: `variant LAB --seed S --show [--json]
       vnetlab variant LAB --seed S -o DIR [--for-student]
       vnetlab variant LAB --seed S1 --seed S2 … -o DIR [--for-student]`,
  description: `
A lab may declare params: (subnets, ranges, choices) and use them as {{ templates }} in every text:
addresses, startup scripts, machine files, instructions, checks. A seed (any text: a number, a student's
name) picks one value for each; the same lab and seed always give the same values, on any machine.
Without a seed, a lab with params opens as seed ${DEFAULT_SEED}.

--show prints the values of the seed. -o DIR writes the concrete lab into DIR (new or empty): a plain
lab.yaml (no params, checks included, never the solution) with the lab files it uses, rendered, and a
${SEED_FILE} file holding the seed, so \`vnetlab check LAB --submissions … --seed-from file\` grades a
student's copy against its own variant. --for-student also leaves out hidden checks and Netkit's _test/.
With several --seed, -o DIR is the parent folder: each seed's lab goes into DIR/SEED (a seed is then
also a folder name), all written in one go, faster than one command per seed.

Examples:
  vnetlab variant labs/static-routing-variant --seed alice --show
  vnetlab variant labs/static-routing-variant --seed alice -o handout/alice --for-student
  vnetlab variant lab --seed alice --seed bob --seed carol -o handout --for-student`,
  flags: {
    seed: { type: 'list', valueName: 'S', description: `the variant (any text; default ${DEFAULT_SEED}); repeat it for several` },
    out: { type: 'string', short: 'o', valueName: 'DIR', description: 'write the concrete lab into this new or empty folder' },
    show: { type: 'boolean', description: 'print the values the seed gives each parameter' },
    json: { type: 'boolean', description: 'with --show: print {seed, params} as JSON (a list of them for several seeds)' },
    'for-student': { type: 'boolean', description: 'with -o: leave out hidden checks and _test/' },
  },
  async run(args, io) {
    const lab = args.positionals[0];
    if (!lab) throw new UserError('which lab? give a lab folder, lab.yaml or lab.conf', EXIT.badInput, 'vnetlab variant LAB --seed S --show');
    if (args.positionals.length > 1) throw new UserError(`unexpected argument '${args.positionals[1]}'`, EXIT.badInput, 'give one LAB; the seed goes after --seed');
    const seeds = Array.isArray(args.flags.seed) && args.flags.seed.length ? args.flags.seed : typeof args.flags.seed === 'string' ? [args.flags.seed] : [DEFAULT_SEED];
    for (const s of seeds) if (s.trim() === '' || /[\n\r]/.test(s)) throw new UserError('--seed must be non-empty text on one line', EXIT.badInput);
    if (seeds.length > 1) {
      const twice = seeds.find((s, i) => seeds.indexOf(s) !== i);
      if (twice !== undefined) throw new UserError(`--seed ${twice} is given twice`, EXIT.badInput, 'give each seed once');
      const unfit = seeds.find((s) => s === '.' || s === '..' || s.includes('/') || s.includes('\0'));
      if (unfit !== undefined) throw new UserError(`with several seeds each one names its folder in -o DIR, and '${unfit}' cannot be a folder name`, EXIT.badInput, "use seeds without '/', other than . and ..");
    }
    const seed = seeds[0]!;
    const out = typeof args.flags.out === 'string' ? resolve(io.cwd, args.flags.out) : undefined;
    if (!out && !args.flags.show) throw new UserError('what should variant do? give --show to print the values, or -o DIR to write the lab', EXIT.badInput);
    if (args.flags['for-student'] && !out) throw new UserError('--for-student only goes with -o DIR', EXIT.badInput);
    const labPath = resolve(io.cwd, lab);
    if (args.flags.show && seeds.length > 1) {
      const all = await Promise.all(seeds.map(async (s) => ({ seed: s, params: await variantValues(labPath, s) })));
      if (args.flags.json) io.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
      else for (const { seed: s, params } of all) io.stdout.write(`seed ${s}\n${Object.entries(params).map(([k, v]) => `  ${k}  ${v}\n`).join('')}`);
    } else if (args.flags.show) {
      const values = await variantValues(labPath, seed);
      if (args.flags.json) io.stdout.write(`${JSON.stringify({ seed, params: values }, null, 2)}\n`);
      else if (Object.keys(values).length === 0) io.stdout.write(`${shownPath(labPath, io.cwd)} has no params: every seed gives the same lab\n`);
      else {
        const width = Math.max(...Object.keys(values).map((k) => k.length));
        io.stdout.write(`seed ${seed}\n`);
        for (const [name, value] of Object.entries(values)) io.stdout.write(`  ${name.padEnd(width)}  ${value}\n`);
      }
    }
    if (out && seeds.length > 1) {
      const rendered = await renderVariants(labPath, seeds, (s) => join(out, s), args.flags['for-student'] ? { forStudent: true } : {});
      // The same lab gives the same warnings for every seed but those a seed's values cause: each is shown once.
      const shownOnce = new Set<string>();
      for (const d of rendered.flatMap((r) => r.diagnostics)) {
        const line = formatDiagnostic({ ...d, file: displayPath(d, labPath, io.cwd) });
        if (!shownOnce.has(line)) io.stderr.write(`${line}\n`);
        shownOnce.add(line);
      }
      for (const r of rendered) io.stdout.write(`wrote ${shownPath(r.model.root, io.cwd)} (seed ${r.seed}: ${r.model.machines.length} machines, ${r.model.checks.length} checks)\n`);
    } else if (out) {
      const rendered = await renderVariant(labPath, seed, out, args.flags['for-student'] ? { forStudent: true } : {});
      for (const d of rendered.diagnostics) io.stderr.write(`${formatDiagnostic({ ...d, file: displayPath(d, labPath, io.cwd) })}\n`);
      io.stdout.write(`wrote ${shownPath(out, io.cwd)} (seed ${seed}: ${rendered.model.machines.length} machines, ${rendered.model.checks.length} checks)\n`);
    }
    return EXIT.ok;
  },
};

export default command;
