#!/usr/bin/env node
// The `vnetlab` command. It runs the TypeScript sources: bundled once with esbuild into
// node_modules/.cache (bin/bundle-cache.mjs; rebuilt when a source changes), or through tsx when that
// cannot be done, so `npx vnetlab` works from a fresh clone without a build step either way.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { bundleCommand, bundledEntry, REPO, requireWithCodeCache } from './bundle-cache.mjs';

const SOURCE = join(REPO, 'src/main/cli/main.ts');
// Packages the bundle leaves to node_modules: native (node-pty), tools with their own binaries or
// optional native parts, and Ajv (loaded only to compile the schemas, src/main/lab/schema.ts). The rest
// (yaml above all, ~35 ms of every command as CommonJS files parsed one by one) goes into the bundle.
const LEFT_IN_NODE_MODULES = ['node-pty', 'esbuild', 'tsx', 'electron', 'playwright-core', 'ws', 'ajv'];

/** One CommonJS bundle loaded with V8's code cache for this command (bin/bundle-cache.mjs). */
async function loadMain(command) {
  if (!process.env.VNETLAB_NO_BUNDLE) {
    try {
      return requireWithCodeCache(await bundledEntry('cli', SOURCE, { external: LEFT_IN_NODE_MODULES }), command ?? 'help').main;
    } catch {
      // No esbuild, a read-only checkout: tsx compiles the sources as they load (~0.3 s more a command).
    }
  }
  const { register } = await import('tsx/esm/api');
  register();
  return (await import(SOURCE)).main;
}

/**
 * `vnetlab start` needs the lab's supervisor, a node process of its own that takes ~0.1 s of a core to
 * come up. Started here, before this process loads its own code, it comes up on the other core while
 * the command loads and reads the lab; it then waits in standby for the lab it is to serve, or exits
 * when the command closes its stdin without one (src/main/runtime/supervisor-standby.ts).
 */
async function supervisorStandby(args) {
  if (args[0] !== 'start' || args.includes('-h') || args.includes('--help') || process.env.VNETLAB_NO_BUNDLE) return undefined;
  try {
    // As src/main/runtime/supervisor-entry.ts starts a supervisor, with '--standby' for its run dir.
    const argv = await bundleCommand('supervisor', join(REPO, 'src/main/runtime/supervisor-main.ts'), ['--standby']);
    // Without NODE_EXTRA_CA_CERTS, which node parses at start (~40 ms of a core for a system bundle) and a
    // supervisor never uses (src/main/runtime/node-env.ts); its order then gives it the command's environment.
    const { NODE_EXTRA_CA_CERTS: _unused, ...env } = process.env;
    const child = spawn(process.execPath, argv, { detached: true, stdio: ['pipe', 'ignore', 'ignore', 'pipe'], env });
    child.on('error', () => {});
    child.unref();
    return child;
  } catch {
    return undefined; // no bundle: the command spawns its supervisor as it always could
  }
}

/** Closes our ends of the standby's pipes: unused, it exits; used, it no longer needs them. */
function releaseStandby(child) {
  child?.stdin?.destroy();
  child?.stdio[3]?.destroy();
}

const args = process.argv.slice(2);
// Spawned before our own code loads, not merely begun: loadMain compiles for ~30 ms without yielding,
// and a spawn still waiting on a promise behind it came that much later.
const supervisorStandbyProcess = await supervisorStandby(args);
const main = await loadMain(args[0]);
try {
  const code = await main(args, {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    cwd: process.cwd(),
    env: process.env,
    supervisorStandby: supervisorStandbyProcess,
  });
  process.exitCode = code;
} catch (err) {
  // A bug of ours, not bad input: say so plainly and still avoid dumping a bare stack to a student.
  process.stderr.write(`vnetlab: internal error: ${err?.message ?? err}\n`);
  if (process.env.VNETLAB_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
  else process.stderr.write('Run again with VNETLAB_DEBUG=1 for details, and please report it.\n');
  process.exitCode = 70;
} finally {
  releaseStandby(supervisorStandbyProcess);
}
