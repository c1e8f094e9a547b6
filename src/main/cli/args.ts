// A small, strict argument parser: unknown flags are usage errors (exit 2), `--help` anywhere prints
// the command's help. Kept in-house because every subcommand needs the same exit-code discipline.
import { UserError } from '../errors.ts';

export interface FlagSpec {
  /** `boolean` flags take no value; `string` flags take one (`--out x` or `--out=x`); `list` may repeat. */
  type: 'boolean' | 'string' | 'list';
  short?: string;
  description: string;
  valueName?: string;
}

export interface ParsedArgs {
  flags: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  /** Everything after a bare `--` (e.g. `vnetlab exec pc1 -- ping -c 1 x`). */
  rest: string[];
  help: boolean;
}

export function parseArgs(argv: string[], spec: Record<string, FlagSpec>): ParsedArgs {
  const flags: ParsedArgs['flags'] = {};
  const positionals: string[] = [];
  let rest: string[] = [];
  let help = false;
  const byShort = new Map(Object.entries(spec).filter(([, s]) => s.short).map(([n, s]) => [s.short!, n]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      rest = argv.slice(i + 1);
      break;
    }
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (arg.startsWith('-') && arg !== '-') {
      let name: string;
      let inline: string | undefined;
      if (arg.startsWith('--')) {
        const eq = arg.indexOf('=');
        name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
        inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
      } else {
        const s = byShort.get(arg.slice(1));
        if (!s) throw new UserError(`unknown option ${arg}`, 2, 'run with --help to see the options');
        name = s;
      }
      const s = spec[name];
      if (!s) {
        const close = Object.keys(spec).find((k) => k.startsWith(name.slice(0, 3)));
        throw new UserError(`unknown option --${name}`, 2, close ? `did you mean --${close}?` : 'run with --help to see the options');
      }
      if (s.type === 'boolean') {
        if (inline !== undefined) throw new UserError(`option --${name} takes no value`);
        flags[name] = true;
      } else {
        const value = inline ?? argv[++i];
        if (value === undefined) throw new UserError(`option --${name} needs a value (${s.valueName ?? 'VALUE'})`);
        if (s.type === 'list') flags[name] = [...((flags[name] as string[] | undefined) ?? []), value];
        else flags[name] = value;
      }
      continue;
    }
    positionals.push(arg);
  }
  return { flags, positionals, rest, help };
}

export function formatFlags(spec: Record<string, FlagSpec>): string {
  const rows = Object.entries(spec).map(([name, s]) => {
    const left = `${s.short ? `-${s.short}, ` : '    '}--${name}${s.type === 'boolean' ? '' : ` ${s.valueName ?? 'VALUE'}`}`;
    return [left, s.description] as const;
  });
  rows.push(['-h, --help', 'show this help']);
  const width = Math.max(...rows.map(([l]) => l.length));
  return rows.map(([l, d]) => `  ${l.padEnd(width)}  ${d}`).join('\n');
}
