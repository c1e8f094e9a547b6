#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, so `npx vnetlab` works from a fresh clone
// without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main/cli/main.ts');
try {
  const code = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    cwd: process.cwd(),
    env: process.env,
  });
  process.exitCode = code;
} catch (err) {
  // A bug of ours, not bad input: say so plainly and still avoid dumping a bare stack to a student.
  process.stderr.write(`vnetlab: internal error: ${err?.message ?? err}\n`);
  if (process.env.VNETLAB_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
  else process.stderr.write('Run again with VNETLAB_DEBUG=1 for details, and please report it.\n');
  process.exitCode = 70;
}
