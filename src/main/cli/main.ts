// Entry point of the `vnetlab` command: dispatches to a subcommand, turns UserErrors into a clear
// message and an exit code, and never shows a stack trace for bad input.
import { parseArgs, formatFlags } from './args.ts';
import { COMMANDS } from './commands/index.ts';
import { EXIT, UserError } from '../errors.ts';
import type { Command, CommandIO } from './command.ts';

export async function main(argv: string[], io: CommandIO): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const target = name === 'help' ? rest[0] : undefined;
    if (target && COMMANDS[target]) return main([target, '--help'], io);
    io.stdout.write(await globalHelp());
    return name ? EXIT.ok : EXIT.badInput;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write('vnetlab 0.1.0\n');
    return EXIT.ok;
  }
  const load = COMMANDS[name];
  if (!load) {
    const close = Object.keys(COMMANDS).find((c) => c.startsWith(name.slice(0, 2)));
    io.stderr.write(`vnetlab: unknown command '${name}'${close ? ` (did you mean '${close}'?)` : ''}\nRun 'vnetlab --help' for the list of commands.\n`);
    return EXIT.badInput;
  }
  const command = (await load()).default;
  try {
    const args = parseArgs(rest, command.flags);
    if (args.help) {
      io.stdout.write(commandHelp(command));
      return EXIT.ok;
    }
    return await command.run(args, io);
  } catch (err) {
    if (err instanceof UserError) {
      io.stderr.write(`vnetlab ${name}: ${err.message}\n${err.hint ? `  hint: ${err.hint}\n` : ''}`);
      return err.exitCode;
    }
    throw err;
  }
}

export function commandHelp(c: Command): string {
  return `Usage: vnetlab ${c.usage}\n\n${c.summary}\n${c.description ? `\n${c.description.trim()}\n` : ''}\nOptions:\n${formatFlags(c.flags)}\n`;
}

async function globalHelp(): Promise<string> {
  const lines: string[] = [];
  for (const [name, load] of Object.entries(COMMANDS)) {
    const c = (await load()).default;
    lines.push(`  ${name.padEnd(10)} ${c.summary}`);
  }
  return `Usage: vnetlab <command> [options]

vnetlab runs virtual network labs of User-Mode Linux guests and VDE switches.

Commands:
${lines.join('\n')}

Run 'vnetlab <command> --help' for the options of a command.
Exit codes: 0 ok, 1 the thing checked is false, 2 bad input or usage, 3 environment problem.
`;
}
