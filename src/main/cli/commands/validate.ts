// `vnetlab validate [LAB] [--json] [--checks FILE]`: reads a lab (lab.yaml or a Netkit/Kathará
// folder) and prints every problem as `file:line:col: severity: message`. Exit 0 without errors, 2 with.
import { relative, resolve, isAbsolute, join } from 'node:path';
import { formatDiagnostic, hasErrors, type Diagnostic } from '../../../shared/diagnostics.ts';
import { UserError } from '../../errors.ts';
import { loadChecksFile, loadLab, validateChecks } from '../../lab/index.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

const command: Command = {
  name: 'validate',
  summary: 'check a lab file for mistakes, with file:line:col for each',
  usage: 'validate [LAB | -l LAB] [--json] [--checks FILE]',
  description: `
LAB is a lab folder (lab.yaml, or a Netkit/Kathará lab.conf), a lab.yaml or a lab.conf; the current
folder by default. Nothing is started. Exit status: 0 when there are no errors (warnings allowed),
2 when there are errors.

Examples:
  vnetlab validate labs/static-routing
  vnetlab validate -l labs/static-routing   (as start, exec, status and stop take it)
  vnetlab validate ~/labs/kathara-lab_rip --json
  vnetlab validate labs/ospf --checks private/ospf-checks.yaml`,
  flags: {
    lab: { type: 'string', short: 'l', description: 'the lab folder (default: the current folder)', valueName: 'LAB' },
    json: { type: 'boolean', description: 'print {lab, valid, diagnostics} as JSON on stdout' },
    checks: { type: 'string', valueName: 'FILE', description: 'also validate a separate checks file against the lab' },
    quiet: { type: 'boolean', short: 'q', description: 'print errors only' },
  },
  async run(args, io) {
    const labFlag = typeof args.flags.lab === 'string' ? args.flags.lab : undefined;
    if (labFlag !== undefined && args.positionals.length > 0) {
      throw new UserError(`give the lab once, as -l ${labFlag} or as ${args.positionals[0]}, not both`, EXIT.badInput, 'usage: vnetlab validate [LAB | -l LAB] [--json] [--checks FILE]');
    }
    if (args.positionals.length > 1) io.stderr.write(`vnetlab validate: only the first lab is read (${args.positionals.slice(1).join(' ')} ignored)\n`);
    const labPath = resolve(io.cwd, labFlag ?? args.positionals[0] ?? '.');
    const { model, diagnostics } = await loadLab(labPath);
    const checksFile = typeof args.flags.checks === 'string' ? resolve(io.cwd, args.flags.checks) : undefined;
    if (checksFile) {
      const loaded = await loadChecksFile(checksFile);
      diagnostics.push(...loaded.diagnostics);
      if (model) diagnostics.push(...validateChecks(model, loaded.checks).filter((d) => d.file === checksFile));
    }
    const root = model?.root ?? labPath;
    const valid = model !== undefined && !hasErrors(diagnostics);
    if (args.flags.json) {
      io.stdout.write(`${JSON.stringify({ lab: root, valid, diagnostics }, null, 2)}\n`);
      return valid ? EXIT.ok : EXIT.badInput;
    }
    const shown = args.flags.quiet ? diagnostics.filter((d) => d.severity === 'error') : diagnostics;
    for (const d of shown) io.stdout.write(`${formatDiagnostic({ ...d, file: displayPath(d, root, io.cwd) })}\n`);
    const errors = diagnostics.filter((d) => d.severity === 'error').length;
    const warnings = diagnostics.filter((d) => d.severity === 'warning').length;
    const name = root === io.cwd ? '.' : shownPath(root, io.cwd);
    if (valid) io.stdout.write(`${name}: ok (${model!.machines.length} machines, ${model!.domains.length} collision domains, ${model!.checks.length} checks${warnings ? `, ${warnings} warning${warnings > 1 ? 's' : ''}` : ''})\n`);
    else io.stdout.write(`${name}: ${errors} error${errors === 1 ? '' : 's'}${warnings ? `, ${warnings} warning${warnings > 1 ? 's' : ''}` : ''}\n`);
    return valid ? EXIT.ok : EXIT.badInput;
  },
};

/** Diagnostics name files relative to the lab folder; the terminal wants them relative to where the user is. */
export function displayPath(d: Pick<Diagnostic, 'file'>, root: string, cwd: string): string {
  return shownPath(isAbsolute(d.file) ? d.file : join(root, d.file), cwd);
}

/** A path as the user can paste it: relative when below the current folder, absolute otherwise. */
export function shownPath(absolute: string, cwd: string): string {
  const rel = relative(cwd, absolute);
  return rel && !rel.startsWith('..') ? rel : absolute;
}

export default command;
