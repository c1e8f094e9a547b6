// How to launch the supervisor process (and the warm pool's, pool/pool-main.ts, the same way). Through
// `node --import tsx` it takes ~0.6 s to start (tsx compiles its modules on every start); a bundle built
// once with esbuild starts in ~0.1 s. The bundle lives in node_modules/.cache (so `node-pty` still
// resolves from there) and is rebuilt whenever one of its source files changed (bin/bundle-cache.mjs,
// shared with the `vnetlab` command); it is one CommonJS file, run with V8's code cache by
// bin/run-bundle.mjs. Without esbuild or a writable cache we fall back to tsx.
import { join } from 'node:path';
import { bundleCommand, REPO } from '../../../bin/bundle-cache.mjs';

// From the repository root, not from this file: this module may itself run from the CLI's bundle.
const RUNTIME_DIR = join(REPO, 'src/main/runtime');

/** The argv (after the node binary) that starts a supervisor for `runDir`. */
export function supervisorCommand(runDir: string): Promise<string[]> {
  return daemonCommand('supervisor', join(RUNTIME_DIR, 'supervisor-main.ts'), runDir);
}

/** The argv (after the node binary) that starts the warm pool's process for the pool folder `dir`. */
export function poolCommand(dir: string): Promise<string[]> {
  return daemonCommand('pool', join(RUNTIME_DIR, 'pool', 'pool-main.ts'), dir);
}

async function daemonCommand(name: string, source: string, arg: string): Promise<string[]> {
  try {
    return await bundleCommand(name, source, [arg]);
  } catch {
    return ['--import', 'tsx', source, arg];
  }
}
