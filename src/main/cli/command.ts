import type { ChildProcess } from 'node:child_process';
import type { FlagSpec, ParsedArgs } from './args.ts';

/** One `vnetlab` subcommand. Each lives in src/main/cli/commands/<name>.ts and is listed in commands/index.ts. */
export interface Command {
  name: string;
  /** One line for `vnetlab --help`. */
  summary: string;
  /** Usage line(s) after `vnetlab `, e.g. `validate [LAB] [--json]`. */
  usage: string;
  /** Longer help: what it does, examples. */
  description?: string;
  flags: Record<string, FlagSpec>;
  /** Returns the exit code. Throw UserError for bad input / environment problems. */
  run(args: ParsedArgs, io: CommandIO): Promise<number>;
}

export interface CommandIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** `vnetlab start`'s supervisor, spawned by bin/vnetlab.mjs before it loaded the command (runtime/supervisor-standby.ts). */
  supervisorStandby?: ChildProcess;
}
