// `vnetlab compile [LAB] [--json]`: the plan a lab compiles to on this host, without starting anything.
// --json prints exactly the object the runtime consumes (and the snapshots hold); otherwise a summary.
import { existsSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { formatDiagnostic, hasErrors } from '../../../shared/diagnostics.ts';
import type { Plan } from '../../../shared/plan.ts';
import { compile, formatPlanJson } from '../../compiler/index.ts';
import { loadLab } from '../../lab/index.ts';
import { compileOptionsFor } from '../../runtime/compile-options.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

const command: Command = {
  name: 'compile',
  summary: 'show the plan a lab compiles to: switches, guests with their command lines, boot waves',
  usage: 'compile [LAB] [--json]',
  description: `
LAB is a lab folder (lab.yaml, or a Netkit/Kathará lab.conf) or its lab file; the current folder by default.
Nothing is started: the plan is computed from the lab files alone, with this host's folders
(VNETLAB_RUNTIME_DIR, VNETLAB_STATE_DIR, VNETLAB_IMAGE_DIR, VNETLAB_KERNEL).

Examples:
  vnetlab compile labs/two-hosts
  vnetlab compile labs/two-hosts --json > plan.json`,
  flags: {
    json: { type: 'boolean', description: 'print the plan as JSON (what the runtime runs)' },
  },
  async run(args, io) {
    const labPath = resolve(io.cwd, args.positionals[0] ?? '.');
    const { model, diagnostics } = await loadLab(labPath);
    // On stderr, so that stdout stays exactly the plan.
    const root = model?.root ?? labPath;
    for (const d of diagnostics) io.stderr.write(`${formatDiagnostic({ ...d, file: displayPath(d.file, root, io.cwd) })}\n`);
    if (!model || hasErrors(diagnostics)) {
      io.stderr.write(`vnetlab compile: ${relative(io.cwd, labPath) || '.'} has errors; nothing compiled (vnetlab validate shows the same messages)\n`);
      return EXIT.badInput;
    }
    // The plan `start` runs; compiling needs no kernel (the plan only names it), so a missing one is no error here.
    const options = compileOptionsFor(model, io.env, { kernel: 'optional' });
    const plan = compile(model, options);
    io.stdout.write(args.flags.json ? formatPlanJson(plan) : summary(plan, options.kernel));
    return EXIT.ok;
  },
};

export default command;

/** Diagnostics name files relative to the lab folder; the terminal wants them relative to where the user is. */
function displayPath(file: string, root: string, cwd: string): string {
  const absolute = isAbsolute(file) ? file : join(root, file);
  const rel = relative(cwd, absolute);
  return rel && !rel.startsWith('..') ? rel : absolute;
}

function summary(plan: Plan, kernel: string): string {
  const out: string[] = [];
  out.push(`lab ${plan.lab.name} (${plan.lab.format}) at ${plan.lab.root}`);
  // Only a note: the plan is the same whether or not the kernel is installed yet.
  const kernelNote = existsSync(kernel) ? '' : ' (not found: `vnetlab start` needs it; install user-mode-linux or set VNETLAB_KERNEL)';
  out.push(`kernel ${kernel}${kernelNote}`, `run dir ${plan.runDir}`, `state dir ${plan.stateDir}`, '');
  out.push(`switches (${plan.switches.length}):`);
  const domainWidth = Math.max(0, ...plan.switches.map((s) => s.domain.length));
  for (const s of plan.switches) {
    out.push(`  ${s.domain.padEnd(domainWidth)}  ${s.kind.padEnd(6)}${s.hostNat ? '  + NAT to the host (slirpvde)' : ''}`);
  }
  out.push('', `guests (${plan.guests.length}):`);
  const nameWidth = Math.max(0, ...plan.guests.map((g) => g.name.length));
  for (const g of plan.guests) {
    const nics = g.interfaces.map((i) => `${i.name}→${i.domain} ${i.mac}`).join(', ');
    out.push(`  ${g.name.padEnd(nameWidth)}  ${g.image}, ${g.memoryMiB} MiB${nics ? `  ${nics}` : ''}`);
  }
  out.push('', 'boot waves:');
  plan.waves.forEach((wave, i) => out.push(`  ${i + 1}. ${wave.join(' ')}`));
  return `${out.join('\n')}\n`;
}
