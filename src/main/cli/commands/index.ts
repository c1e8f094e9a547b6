// Every `vnetlab` subcommand, in the order `vnetlab --help` lists them.
// Each module default-exports a Command; loading is lazy so `vnetlab validate` does not load node-pty.
import type { Command } from '../command.ts';

export const COMMANDS: Record<string, () => Promise<{ default: Command }>> = {
};
