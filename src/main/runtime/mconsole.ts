// A guest's management console (UML's mconsole: halt, cad, config ethN=…, sysrq), through vnetlab's own
// client (kernels/host/vnetlab-mconsole.c): uml_mconsole's reply socket is abstract, and a guest in its
// sandbox (confinement.ts) may not answer there.
import { execFile } from 'node:child_process';
import { hostHelper } from '../images/host-helpers.ts';

/**
 * Send commands in order through one client; resolves with each reply (without `OK`), rejects naming
 * the first command the guest refused, or saying how many it answered before it stopped answering.
 */
export function mconsoleCommands(socket: string, commands: string[], timeoutMs = 10_000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = execFile(hostHelper('vnetlab-mconsole'), [socket], { timeout: timeoutMs }, (err, stdout, stderr) => {
      const replies = String(stdout)
        .split('\n')
        .filter((line) => /^(OK|ERR)\b/.test(line));
      const failed = replies.findIndex((r) => r.startsWith('ERR'));
      if (failed >= 0) reject(new Error(`mconsole ${commands[failed]}: ${replies[failed]!.replace(/^ERR\s*/, '') || 'refused'}`));
      else if (replies.length < commands.length) {
        const why = String(stderr).trim() || err?.message;
        reject(new Error(`mconsole answered ${replies.length} of ${commands.length} commands${why ? ` (${why})` : ''}`));
      } else resolve(replies.map((r) => r.replace(/^OK\s*/, '')));
    });
    child.stdin?.on('error', () => {}); // the client may be gone already; its exit says why
    child.stdin?.end(commands.map((c) => `${c}\n`).join(''));
  });
}

/** One command; resolves with the guest's reply. */
export async function mconsoleCommand(socket: string, command: string, timeoutMs = 5_000): Promise<string> {
  const [reply] = await mconsoleCommands(socket, [command], timeoutMs);
  return reply!;
}
