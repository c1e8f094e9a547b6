// A fake vde_switch management console on a Unix socket, and the plans of switches that have one: the
// network's configuration over a switch's console, tested without a switch (test/runtime/switch-console.
// test.ts, switch-retry.test.ts).
import { mkdirSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Plan, SwitchPlan } from '../../src/shared/plan.ts';

/** What the console does with the n-th command it is sent (0-based, over all connections). */
export type Answer = 'ok' | 'hang-up' | 'silent' | { code: number; text: string };

/**
 * vde_switch's console as far as we talk to it: banner, prompt, then per command what `answer` says;
 * `vlan/print` answered `ok` prints `vlanPrint()` as its data.
 */
export function fakeConsole(path: string, answer: (command: string, n: number) => Answer = () => 'ok', vlanPrint: () => string = () => 'VLAN 0000') {
  const commands: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.write('VDE switch V.2.3.2\n(C) Virtual Square Team (coord. R. Davoli) 2005,2006,2007 - GPLv2\n\nvde$ ');
    let buffer = '';
    let silent = false;
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      for (let nl = buffer.indexOf('\n'); nl >= 0 && !silent; nl = buffer.indexOf('\n')) {
        const command = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const a = answer(command, commands.length);
        commands.push(command);
        if (a === 'hang-up') return void socket.destroy();
        if (a === 'silent') return void (silent = true); // it reads on, and never answers
        if (a !== 'ok') socket.write(`${a.code} ${a.text}\n\nvde$ `);
        else socket.write(`${command === 'vlan/print' ? `0000 DATA END WITH '.'\n${vlanPrint()}\n.\n` : ''}1000 Success\n\nvde$ `);
      }
    });
  });
  return {
    commands,
    listen: () => new Promise<void>((resolve) => server.listen(path, resolve)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A switch with VLANs (and spanning tree when `stp`), its sockets in `dir`/sw. */
export function switchPlan(dir: string, domain: string, options: { vlans?: number[]; stp?: boolean; priority?: number } = {}): SwitchPlan {
  mkdirSync(join(dir, 'sw'), { recursive: true });
  const ctlDir = join(dir, 'sw', domain);
  const { vlans = [10], stp = false, priority } = options;
  return { domain, kind: 'switch', ctlDir, mgmtSocket: `${ctlDir}.mgmt`, argv: ['vde_switch', '-F', ...(priority ? ['--priority', String(priority)] : [])], ports: { count: 32, vlans, stp } };
}

/** A plan of these switches and nothing else unless `more` says, its folders in `dir`. */
export function switchesPlan(dir: string, switches: SwitchPlan[], more: Partial<Plan> = {}): Plan {
  return {
    planVersion: 3,
    lab: { name: 'fake', id: 'fake-00000000', root: dir, format: 'yaml' },
    runDir: join(dir, 'run'),
    stateDir: join(dir, 'state'),
    labFs: { image: join(dir, 'labfs.ext4'), entries: [] },
    switches,
    cables: [],
    switchLinks: [],
    guests: [],
    waves: [],
    ...more,
  };
}
