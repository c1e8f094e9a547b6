// Helpers of the real-UML runtime tests: a private runtime/state/home per test file (images stay
// shared), the `vnetlab` CLI run in-process, and /proc inspection to prove nothing is left behind.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostPaths } from '../../src/main/paths.ts';
import { cleanAll } from '../../src/main/runtime/clean.ts';
import { isolatedHost, runCli } from '../support/host.ts';

export interface TestEnv {
  base: string;
  env: NodeJS.ProcessEnv;
  /** Write a lab folder with these files (name → content) and return its path. */
  lab(name: string, files: Record<string, string>): string;
  /** Run `vnetlab <args>`; returns exit code and output. */
  cli(args: string[], options?: { cwd?: string }): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Kill whatever the labs of this env left (from their records) and delete the temp folders. */
  dispose(): Promise<void>;
}

export function testEnv(): TestEnv {
  // The image cache is shared with the user's (built once); everything else is private to this file.
  const { root: base, env } = isolatedHost('vrt');
  return {
    base,
    env,
    lab(name, files) {
      const dir = join(base, name);
      for (const [file, content] of Object.entries(files)) {
        mkdirSync(join(dir, file, '..'), { recursive: true });
        writeFileSync(join(dir, file), content);
      }
      return dir;
    },
    cli(args, options = {}) {
      return runCli(args, { env, cwd: options.cwd ?? base });
    },
    async dispose() {
      // Every lab and the warm pool of this env, from their records, before their folders go.
      await cleanAll(hostPaths(env));
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** Pids of live processes whose command line mentions `text` (a run dir): for assertions only, never for killing. */
export function processesMentioning(text: string): { pid: number; cmdline: string }[] {
  const found: { pid: number; cmdline: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${name}/status`, 'utf8'))?.[1];
      if (state !== 'Z' && cmdline.includes(text)) found.push({ pid: Number(name), cmdline });
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

export { eventually, waitUntil } from '../support/poll.ts';

export const TWO_HOSTS_YAML = `lab:
  name: pair
machines:
  pc1:
    image: tiny
    memory: 64
    interfaces:
      - {domain: lan, ipv4: 10.0.0.1/24}
  pc2:
    image: tiny
    memory: 64
    interfaces:
      - {domain: lan, ipv4: 10.0.0.2/24}
domains:
  lan: {kind: switch}
`;
