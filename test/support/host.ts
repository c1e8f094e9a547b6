// What tests need to act as a user of their own: a private HOME, run dir and state dir (so parallel
// test files never share labs or sockets), the user's image cache (built once, read-only to guests),
// and the `vnetlab` command run in-process with its output captured.
import { chmodSync, cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { main } from '../../src/main/cli/main.ts';
import { hostPaths } from '../../src/main/paths.ts';

export interface IsolatedHost {
  root: string;
  env: NodeJS.ProcessEnv;
}

/** A temp folder with HOME, run and state dirs of its own. `prefix` stays short: Unix socket paths under the run dir must stay under 108 bytes. */
export function isolatedHost(prefix: string): IsolatedHost {
  const root = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: join(root, 'home'),
    VNETLAB_RUNTIME_DIR: join(root, 'r'),
    VNETLAB_STATE_DIR: join(root, 'state'),
    VNETLAB_IMAGE_DIR: hostPaths(process.env).imageDir,
  };
  // The VNETLAB_* folders win over these anyway; dropping them keeps a stray one from mattering.
  delete env.XDG_RUNTIME_DIR;
  delete env.XDG_STATE_HOME;
  mkdirSync(env.HOME!, { recursive: true });
  return { root, env };
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `vnetlab <args>` in this process, as bin/vnetlab.mjs would, and captures what it prints. */
export async function runCli(args: string[], options: { env: NodeJS.ProcessEnv; cwd: string }): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk) => (out += chunk));
  stderr.on('data', (chunk) => (err += chunk));
  // A copy: a flag such as --unconfined sets a variable for the supervisor it spawns, not for later commands.
  const code = await main(args, { stdout, stderr, stdin: Readable.from([]), cwd: options.cwd, env: { ...options.env } });
  return { code, stdout: out, stderr: err };
}

/**
 * Copies a lab (often from the read-only corpus) into a test's temp folder, owner-writable, as a user's
 * own copy would be: a normal user could neither change nor delete a copy that kept read-only modes.
 */
export function copyWritable(from: string, to: string): void {
  cpSync(from, to, { recursive: true });
  const fix = (path: string) => {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return;
    chmodSync(path, (st.mode & 0o7777) | (st.isDirectory() ? 0o700 : 0o200));
    if (st.isDirectory()) for (const name of readdirSync(path)) fix(join(path, name));
  };
  fix(to);
}
