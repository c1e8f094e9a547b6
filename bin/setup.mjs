#!/usr/bin/env node
// First-run set-up shared by `npm start` and `npm test`: make a fresh clone runnable.
// Plain JavaScript with no dependencies, because it runs before node_modules exists.
//
//   node bin/setup.mjs start   → npm deps, host packages (or the exact command to run), then `vnetlab app`
//   node bin/setup.mjs test    → npm deps, host packages, guest images, then `vitest run`
//
// Host packages: as root, what is missing is installed; otherwise setup prints ONE `sudo apt-get install -y …`
// line naming every missing package the mode needs (for `test`: every package any test needs, so that no
// test skips for want of one) and stops with exit code 3.
import { spawn, spawnSync } from 'node:child_process';
import { constants } from 'node:os';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const mode = process.argv[2] ?? 'test';
const passThrough = process.argv.slice(3);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

// Debian packages and the commands that prove they are installed.
const HOST_PACKAGES = [
  { pkg: 'user-mode-linux', cmd: 'linux.uml', why: 'the guest kernel' },
  { pkg: 'vde2', cmd: 'vde_switch', why: 'hubs and switches' },
  { pkg: 'uml-utilities', cmd: 'uml_mconsole', why: 'graceful stop of guests' },
  { pkg: 'busybox-static', file: '/bin/busybox', why: 'the tiny guest image' },
  { pkg: 'e2fsprogs', cmd: 'mkfs.ext4', why: 'building guest disks' },
  { pkg: 'debootstrap', cmd: 'debootstrap', why: 'building the debian guest image' },
  { pkg: 'gcc', cmd: 'cc', why: 'compiling the guest exec agent' },
  { pkg: 'libc6-dev', file: '/usr/lib/x86_64-linux-gnu/libc.a', why: 'linking the guest exec agent statically' },
  ...(mode === 'test'
    ? [
        { pkg: 'chromium', cmd: 'chromium', why: 'the browser UI tests' },
        { pkg: 'tshark', cmd: 'tshark', why: 'the packet view and the capture tests' },
        // The debian image without root (a normal user's `npm test` builds it so; as root a test builds it so as a throwaway user).
        { pkg: 'mmdebstrap', cmd: 'mmdebstrap', why: "building the 'debian' guest image without root" },
        { pkg: 'uidmap', cmd: 'newuidmap', why: 'the user namespace mmdebstrap builds in' },
      ]
    : []),
];

function say(msg) {
  process.stderr.write(`vnetlab setup: ${msg}\n`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: repo, ...opts });
  return r.status ?? 1;
}

/**
 * The last step (the app, or vitest), ended with us. A child run with spawnSync outlived a `kill` or a
 * `timeout` of `npm start`: `vnetlab app` kept serving with nobody to stop it. So SIGTERM and SIGHUP are
 * passed on, and the child is ended when our parent goes: npm hands SIGTERM to its `sh -c`, which dies
 * without passing it to us. Ctrl-C reaches the child from the terminal itself: a SIGINT is passed on only
 * if the child still runs a second later (sent to us alone, say by `kill -INT`), so it never gets two.
 */
function runLast(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'inherit', cwd: repo });
    const pass = (signal) => () => child.exitCode === null && child.signalCode === null && child.kill(signal);
    process.on('SIGTERM', pass('SIGTERM'));
    process.on('SIGHUP', pass('SIGHUP'));
    process.on('SIGINT', () => setTimeout(pass('SIGINT'), 1000).unref());
    const parent = process.ppid;
    const orphaned = setInterval(() => process.ppid !== parent && pass('SIGTERM')(), 500);
    child.on('error', () => resolve(1));
    child.on('exit', (code, signal) => {
      clearInterval(orphaned);
      resolve(code ?? 128 + (constants.signals[signal] ?? 0));
    });
  });
}

function onPath(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore', env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } }).status === 0;
}

// 1. npm dependencies (the lockfile pins them).
if (!existsSync(join(repo, 'node_modules', 'tsx')) || !existsSync(join(repo, 'node_modules', 'node-pty'))) {
  say('installing npm dependencies (npm ci)…');
  const env = { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: '1' };
  // node-pty is a native addon: build it against the headers of the Node that is installed (Debian ships
  // them in /usr/include/node) instead of letting node-gyp download them, which fails offline.
  if (!env.npm_config_nodedir && existsSync('/usr/include/node/node.h')) env.npm_config_nodedir = '/usr';
  if (run('npm', ['ci', '--no-fund', '--no-audit'], { env }) !== 0) {
    say('npm ci failed; fix the error above, then run the command again.');
    process.exit(3);
  }
}

// 2. Host packages: install them when we are root, otherwise say exactly what to run.
const missing = HOST_PACKAGES.filter((p) => (p.cmd ? !onPath(p.cmd) : !existsSync(p.file)));
if (missing.length > 0) {
  const list = missing.map((p) => p.pkg).join(' ');
  if (isRoot) {
    say(`installing Debian packages: ${list}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    if (run('apt-get', ['update', '-q'], { env }) !== 0 || run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing.map((p) => p.pkg)], { env }) !== 0) {
      say(`could not install ${list}; run: apt-get update && apt-get install -y ${list}`);
      process.exit(3);
    }
  } else {
    say(`missing Debian packages: ${missing.map((p) => `${p.pkg} (${p.why})`).join(', ')}`);
    say(`install them with this one command, then run 'npm ${mode}' again:`);
    process.stderr.write(`sudo apt-get install -y ${list}\n`);
    process.exit(3);
  }
}

const VNETLAB = join(repo, 'bin', 'vnetlab.mjs');
const vnetlab = (args) => run(process.execPath, [VNETLAB, ...args]);

if (mode === 'start' && !onPath('tshark')) {
  // Optional: captures work without it (pcap files, Wireshark); the app's packet view needs it for details.
  say('tip: install tshark for protocol details in the packet view (sudo apt-get install tshark)');
}

if (mode === 'start') {
  process.exit(await runLast(process.execPath, [VNETLAB, 'app', ...passThrough]));
}

// 3. Guest images for the tests. `tiny` builds in seconds; `debian` a few minutes the first time (cached
//    in ~/.cache/vnetlab/images afterwards): debootstrap as root, mmdebstrap in a user namespace otherwise
//    (both installed by now). A build that fails stops here: the tests that need the image would only skip.
for (const image of ['tiny', 'debian']) {
  if (vnetlab(['image', 'build', image]) !== 0) {
    say(`building the '${image}' image${isRoot ? '' : ' without root'} failed; see above, fix it, then run 'npm test' again.`);
    say("(to run the tests without it, those that need it skipped: npm run test:only)");
    process.exit(3);
  }
}
process.exit(await runLast(join(repo, 'node_modules', '.bin', 'vitest'), ['run', ...passThrough]));
