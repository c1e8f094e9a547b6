// Boots one real UML guest for the image tests, the way the runtime does (docs/ARCHITECTURE.md):
// FIFOs for the exec channel opened O_RDWR, a COW over the image, linux.uml spawned through node-pty
// with the sh wrapper that puts the FIFOs on fds 3 and 4. Everything it starts is killed by process
// group, and its temp folder removed, in stop().
import { execFileSync, spawn as spawnProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type IPty } from 'node-pty';
import { openExecChannel, type ExecChannel } from '../../src/main/guest/exec-channel.ts';
import type { AgentClient } from '../../src/main/guest/agent-client.ts';
import { GUEST_BOOT_ARGS } from '../../src/main/compiler/index.ts';
import { findKernel } from '../../src/main/images/kernel.ts';

export interface TestGuest {
  dir: string;
  pty: IPty;
  pid: number;
  channel: ExecChannel;
  client: AgentClient;
  mconsole: string;
  /** Everything the console printed so far. */
  console(): string;
  /** Waits for the readiness signal, then opens the console's shell; on failure the error carries the console's last lines. */
  waitReady(timeoutMs: number): Promise<number>;
  /** Resolves with the exit code when the UML process exits. */
  exited: Promise<number>;
  /** Sends an mconsole command (e.g. `cad`, `halt`). */
  mconsoleCommand(command: string): string;
  /** Kills whatever is left (process group), closes the channel, removes the temp folder. */
  stop(): Promise<void>;
}

export interface BootOptions {
  image: string;
  name?: string;
  memMiB?: number;
  /** An ext4 lab-fs image for ubd1 (read-only). */
  labFs?: string;
  /** The guest's COW disk; default: a new one in the guest's temp folder (deleted with it). */
  cow?: string;
  extraArgs?: string[];
}

/** Process groups of guests still running: killed if the test process exits without stop(). */
const liveGroups = new Set<number>();
/** Guests booted and not stopped yet: a test that fails half-way leaves its guest to stopAllGuests(). */
const unstopped = new Set<TestGuest>();

/** For a file's afterAll: stops every guest it booted, also those a failed test left behind. */
export async function stopAllGuests(): Promise<void> {
  for (const guest of [...unstopped]) await guest.stop();
}
process.on('exit', () => {
  for (const pgid of liveGroups) killGroup(pgid);
});

export function bootGuest(options: BootOptions): TestGuest {
  const kernel = findKernel();
  // Short: the mconsole socket path must stay under 108 bytes.
  const dir = mkdtempSync(join(tmpdir(), 'vnl-img-'));
  const umid = `t${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  mkdirSync(join(dir, 'uml'));
  const toGuest = join(dir, 'to-guest');
  const fromGuest = join(dir, 'from-guest');
  const channel = openExecChannel(toGuest, fromGuest);
  const argv = [
    kernel.path,
    `umid=${umid}`,
    `uml_dir=${join(dir, 'uml')}`,
    `mem=${options.memMiB ?? 64}M`,
    `ubd0=${options.cow ?? join(dir, 'disk.cow')},${options.image}`,
    ...(options.labFs ? [`ubd1r=${options.labFs}`] : []),
    ...GUEST_BOOT_ARGS,
    ...(options.name ? [`vnl_name=${options.name}`] : []),
    ...(options.extraArgs ?? []),
  ];
  const pty = spawn('/bin/sh', ['-c', 'exec "$@" 3<"$TO_GUEST" 4>"$FROM_GUEST"', 'vnetlab-guest', ...argv], {
    name: 'xterm',
    cols: 100,
    rows: 30,
    cwd: dir,
    env: { ...process.env, TO_GUEST: toGuest, FROM_GUEST: fromGuest, TERM: 'xterm' },
  });
  let output = '';
  pty.onData((d) => {
    output += d;
    if (output.length > 1_000_000) output = output.slice(-500_000);
  });
  liveGroups.add(pty.pid);
  const exited = new Promise<number>((resolve) => pty.onExit(({ exitCode }) => resolve(exitCode)));
  let done = false;
  const mconsole = join(dir, 'uml', umid, 'mconsole');
  const guest: TestGuest = {
    dir,
    pty,
    pid: pty.pid,
    channel,
    client: channel.client,
    mconsole,
    console: () => output,
    async waitReady(timeoutMs: number) {
      try {
        const code = await channel.client.waitReady(timeoutMs);
        // The console's shell starts on a key: the supervisor's console session sends Enter when a window
        // first shows a ready guest's console; these tests look at the console straight away.
        pty.write('\r');
        return code;
      } catch (err) {
        const tail = output.split('\n').slice(-25).join('\n');
        throw new Error(`${(err as Error).message}\n--- last console lines of ${options.name ?? 'the guest'} ---\n${tail}`);
      }
    },
    exited,
    mconsoleCommand(command: string) {
      return execFileSync('uml_mconsole', [mconsole, ...command.split(' ')], { encoding: 'utf8', timeout: 10_000 });
    },
    async stop() {
      if (done) return;
      done = true;
      unstopped.delete(guest);
      // node-pty made the wrapper a session leader: its pid is the process group of UML and its helpers.
      killGroup(pty.pid);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      liveGroups.delete(pty.pid);
      channel.close();
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    },
  };
  unstopped.add(guest);
  return guest;
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/** True while any process of that group is alive. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface TestSwitch {
  /** The control directory to give a guest: `ethN=vde,<dir>`. */
  dir: string;
  stop(): void;
}

/** A VDE switch (a collision domain) for test guests, killed by its process group in stop(). */
export function startSwitch(dir: string): TestSwitch {
  // vde_switch reads management commands from stdin and exits at its EOF: keep a pipe open.
  const child = spawnProcess('vde_switch', ['-s', dir], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  const pgid = child.pid!;
  liveGroups.add(pgid);
  return {
    dir,
    stop() {
      killGroup(pgid);
      liveGroups.delete(pgid);
    },
  };
}
