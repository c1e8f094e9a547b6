// A supervisor process started ahead of need. `vnetlab start` (bin/vnetlab.mjs) spawns one before it
// loads its own code: node's start and the supervisor's bundle (~0.1 s of a core) then run beside the
// command's loading and reading of the lab, on the core that was idle, instead of after them. The
// standby waits for one order on its stdin (the lab's run dir, the environment and the folder a spawn
// would have given it) and from then on is the very supervisor a spawn would have started
// (supervisor-main.ts). A command that does not need it closes that stdin; the standby then exits, as
// it does when the command dies or no order comes for STANDBY_WAIT_MS. It has no run dir and holds
// nothing before its order, so there is nothing of it for `vnetlab clean` to find.
import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';

/** The argument that starts supervisor-main.ts in standby (instead of a run dir). */
export const STANDBY_ARG = '--standby';

/** A standby that got no order by then gives up: the command hangs, or built an image for longer. */
export const STANDBY_WAIT_MS = 10 * 60_000;

/** What a standby needs to become a lab's supervisor. */
export interface StandbyOrder {
  runDir: string;
  /** Its whole environment, as a spawn would have had it (the command may have changed its own since). */
  env: Record<string, string>;
  cwd: string;
}

/**
 * Gives the standby its order: the process to use as the lab's supervisor, or undefined when there is
 * no standby or it is gone (then spawn one). A standby takes one order only.
 */
export function takeStandby(standby: ChildProcess | undefined, order: StandbyOrder): ChildProcess | undefined {
  if (!standby || standby.exitCode !== null || standby.signalCode !== null || !standby.stdin?.writable) return undefined;
  standby.stdin.on('error', () => {}); // it died just now: its exit says so to whoever waits for it
  standby.stdin.end(`${JSON.stringify(order)}\n`);
  return standby;
}

/** The order, read by the standby from its stdin; undefined when the command closed it without one, or it is not an order. */
export function readStandbyOrder(input: Readable, timeoutMs = STANDBY_WAIT_MS): Promise<StandbyOrder | undefined> {
  return new Promise((resolve) => {
    let text = '';
    const done = (order: StandbyOrder | undefined) => {
      clearTimeout(timer);
      input.off('data', onData).off('end', onEnd).off('error', onEnd);
      input.pause();
      resolve(order);
    };
    const onData = (chunk: Buffer | string) => {
      text += chunk.toString();
      const end = text.indexOf('\n');
      if (end >= 0) done(parseOrder(text.slice(0, end)));
      else if (text.length > 1024 * 1024) done(undefined);
    };
    const onEnd = () => done(undefined);
    const timer = setTimeout(onEnd, timeoutMs);
    timer.unref();
    input.on('data', onData).once('end', onEnd).once('error', onEnd);
  });
}

function parseOrder(line: string): StandbyOrder | undefined {
  try {
    const order = JSON.parse(line) as Partial<StandbyOrder>;
    const env = order.env;
    if (typeof order.runDir !== 'string' || !order.runDir.startsWith('/') || typeof order.cwd !== 'string' || !order.cwd.startsWith('/')) return undefined;
    if (!env || typeof env !== 'object' || Object.values(env).some((v) => typeof v !== 'string')) return undefined;
    return { runDir: order.runDir, env, cwd: order.cwd };
  } catch {
    return undefined;
  }
}

/** Makes this process's environment exactly `env` (a standby's was the command's at the time it was spawned). */
export function replaceEnvironment(env: Record<string, string>): void {
  for (const key of Object.keys(process.env)) if (!(key in env)) delete process.env[key];
  Object.assign(process.env, env);
}
