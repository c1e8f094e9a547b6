// Talking to a vde_switch through its management socket (`-M`): VLANs (`vlan/create`, `port/setvlan`,
// `vlan/addport`), pinned ports (`port/create`), spanning tree (`fstp/setedge`, `vlan/print` for the
// port states). One command per line; each answer is optional data (`0000 DATA END WITH '.'` … `.`),
// then a code line (`1000 Success`, or an error code and its text) and the `vde$ ` prompt.
import { createConnection } from 'node:net';
import type { PortVlans } from '../../../shared/plan.ts';

const REPLY_TIMEOUT_MS = 3_000;

/** The code of the error when the switch answers too slowly (its console is slow on a loaded host: worth another try). */
export const REPLY_TIMEOUT_CODE = 'ETIMEDOUT';

export interface SwitchReply {
  command: string;
  /** 1000 is success. */
  code: number;
  /** The code line's text (`Success`, `Resource temporarily unavailable`…). */
  text: string;
  /** The data lines of the answer, if any. */
  data: string;
}

/**
 * Sends commands one at a time and returns every answer, failed ones included (the caller decides).
 * It fails with the socket's error code when the switch cannot be reached, ECONNRESET when it hangs up
 * before the last answer, and REPLY_TIMEOUT_CODE when an answer is late (`replyTimeoutMs`, plus a little per command).
 */
export function switchCommands(mgmtSocket: string, commands: string[], replyTimeoutMs = REPLY_TIMEOUT_MS): Promise<SwitchReply[]> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(mgmtSocket);
    const replies: SwitchReply[] = [];
    let buffer = '';
    let greeted = false;
    let next = 0;
    let settled = false;
    const waitingFor = () => (greeted ? `'${commands[next - 1]}'` : 'with its prompt');
    const timer = setTimeout(
      () => finish(Object.assign(new Error(`the switch at ${mgmtSocket} did not answer ${waitingFor()} (got: ${JSON.stringify(buffer.slice(-200))})`), { code: REPLY_TIMEOUT_CODE })),
      replyTimeoutMs + 100 * commands.length,
    );
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(replies);
    };
    const sendNext = () => {
      if (next >= commands.length) return finish();
      socket.write(`${commands[next++]}\n`);
    };
    socket.on('error', (err: NodeJS.ErrnoException) => finish(Object.assign(new Error(`cannot reach the switch at ${mgmtSocket}: ${err.message}`), { code: err.code })));
    // Hung up without an error (else 'error' came first): without this, only the timeout would tell.
    socket.on('close', () => finish(Object.assign(new Error(`the switch at ${mgmtSocket} closed its management connection before it answered ${waitingFor()}`), { code: 'ECONNRESET' })));
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      if (!greeted) {
        if (!/vde\$ $/.test(buffer)) return; // the banner ends with the first prompt
        greeted = true;
        buffer = '';
        return sendNext();
      }
      // Complete once the code line and the next prompt are in (chunks may cut an answer anywhere).
      const done = /(?:^|\n)(1\d{3}) ([^\n]*)\n+vde\$ $/.exec(buffer);
      if (!done) return;
      const data = /0000 DATA END WITH '\.'\n([\s\S]*?)\n\.\n/.exec(buffer)?.[1] ?? '';
      replies.push({ command: commands[next - 1]!, code: Number(done[1]), text: done[2]!.trim(), data });
      buffer = '';
      sendNext();
    });
  });
}

/** How long a new switch may take to answer on its management socket (as long as a daemon may take to start). */
const CONSOLE_READY_TIMEOUT_MS = 5_000;

/**
 * Resolves once a switch just started answers on its management socket with its prompt. Its control
 * socket (the daemon's readiness) is no sign of it: vde_switch makes the two one after the other, and
 * binds the management socket before it listens, so for a while it is missing (ENOENT), then refuses
 * (ECONNREFUSED). A command sent then failed, and a cable or switch link configured through it stayed
 * unwired. Stops waiting when `exited` settles (the switch died) or after the timeout.
 */
export async function waitForConsole(mgmtSocket: string, exited: Promise<unknown>, timeoutMs = CONSOLE_READY_TIMEOUT_MS): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await switchCommands(mgmtSocket, []);
      return;
    } catch (err) {
      const notYet = ['ENOENT', 'ECONNREFUSED'].includes((err as NodeJS.ErrnoException).code ?? '');
      if (!notYet || gone || Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, 5));
    if (gone) throw new Error(`the switch at ${mgmtSocket} exited before it answered on its management socket`);
  }
}

/**
 * Errors of a switch's management console that a later try may well not meet: the socket missing, refusing
 * or hung up (the switch is starting, or busy), or an answer too late (a slow console on a loaded host).
 * A refusal in the switch's own words (configureSwitch: an unknown command, a bad port) has no code, and
 * is no better on a second try.
 */
const TRANSIENT_CODES = new Set(['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', REPLY_TIMEOUT_CODE]);

export function isTransient(err: unknown): boolean {
  return TRANSIENT_CODES.has((err as NodeJS.ErrnoException | undefined)?.code ?? '');
}

/** How a switch's configuration is tried again after a transient error: 4 tries in all, 100 ms between the first two, twice that each time after (800 ms at most). */
export const CONFIGURE_RETRY = { attempts: 4, firstDelayMs: 100, maxDelayMs: 800 };

/**
 * `attempt()` (configuring a switch's port), tried again after a transient error (isTransient) while
 * `keepTrying()` (the network still wanted, the same switch process running), at most `retry.attempts`
 * times in all. Any other error is thrown at once; the last one once it gives up, saying how many tries it took.
 */
export async function retryTransient<T>(attempt: () => Promise<T>, keepTrying: () => boolean, retry = CONFIGURE_RETRY): Promise<T> {
  const giveUp = (err: unknown, tries: number) =>
    tries === 1 ? err : Object.assign(new Error(`${(err as Error).message} (after ${tries} tries)`, { cause: err }), { code: (err as NodeJS.ErrnoException).code });
  let delay = retry.firstDelayMs;
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (n >= retry.attempts || !isTransient(err) || !keepTrying()) throw giveUp(err, n);
      await new Promise((r) => setTimeout(r, delay));
      if (!keepTrying()) throw giveUp(err, n);
    }
    delay = Math.min(delay * 2, retry.maxDelayMs);
  }
}

/** vde_switch's answer to creating what exists (a VLAN, a port): done already. */
const EXISTS = 1017;

/** Like switchCommands, but every command must succeed; creating a VLAN or a port that exists counts as done. */
export async function configureSwitch(mgmtSocket: string, commands: string[]): Promise<void> {
  if (commands.length === 0) return;
  for (const r of await switchCommands(mgmtSocket, commands)) {
    if (r.code === EXISTS && /^(vlan|port)\/create /.test(r.command)) continue;
    if (r.code !== 1000) throw new Error(`the switch refused '${r.command}': ${r.text} (${r.code})`);
  }
}

/** Commands that make port `port` a port of its own (kept across reconnections) carrying `vlans`; `edge`: a machine's port (STP lets it forward at once). */
export function portCommands(port: number, vlans: PortVlans | undefined, options: { stp: boolean; edge: boolean }): string[] {
  const commands = [`port/create ${port}`];
  if (vlans?.untagged !== undefined) commands.push(`port/setvlan ${port} ${vlans.untagged}`);
  for (const v of vlans?.tagged ?? []) commands.push(`vlan/addport ${v} ${port}`);
  if (options.stp && options.edge) for (const v of [vlans?.untagged ?? 0, ...(vlans?.tagged ?? [])]) commands.push(`fstp/setedge ${v} ${port} 1`);
  return commands;
}

/** Per VLAN, the ports spanning tree keeps from forwarding: `vlan/print`'s `status=Discarding` (or Blocking). */
export function blockedPorts(vlanPrint: string): Map<number, number[]> {
  const blocked = new Map<number, number[]>();
  let vlan = -1;
  for (const line of vlanPrint.split('\n')) {
    const v = /^VLAN (\d+)/.exec(line);
    if (v) {
      vlan = Number(v[1]);
      continue;
    }
    const p = /Port (\d+) .*status=(\w+)/.exec(line);
    if (p && vlan >= 0 && /^(Discarding|Blocking)$/i.test(p[2]!)) blocked.set(Number(p[1]), [...(blocked.get(Number(p[1])) ?? []), vlan]);
  }
  return blocked;
}
