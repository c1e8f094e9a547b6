// `vnetlab link [LAB] [MACHINE:IFACE] [changes…]`: list the cables of a running lab, or change one
// live: unplug/replug, move to another collision domain, impair per direction. Nothing in the guest
// changes: the cable between its NIC and the domain does (src/main/runtime/network).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Impairment } from '../../../shared/plan.ts';
import type { CableStatus } from '../../../shared/runtime-api.ts';
import { UserError } from '../../errors.ts';
import { LAB_FLAG, resolveLab } from '../lab-args.ts';
import { requireSupervisor } from '../../runtime/lab-target.ts';
import { describeImpairment, ImpairmentError, parseDelay, parsePercent, parseRate } from '../../../shared/impairments.ts';
import type { CableChange } from '../../runtime/network/network.ts';
import type { Command, CommandIO } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

const command: Command = {
  name: 'link',
  summary: 'list the cables of a running lab, or unplug, move or impair one live',
  usage: 'link [LAB] [MACHINE:IFACE] [--down|--up] [--connect DOMAIN] [--loss PCT] [--delay MS[:JITTER_MS]] [--dup PCT] [--rate RATE] [--corrupt PCT] [--direction in|out|both] [--reset] [--json]',
  description: `
Without a cable, lists every cable: machine, interface, collision domain, plugged or not, impairments;
and every switch link (SW1--SW2: the two switches it joins; a port spanning tree blocks is said).
A switch link can be unplugged, plugged in and impaired ('out' is from the first switch to the second).
With one, changes it while the lab runs; the guest keeps its addresses and routes.

Directions: 'out' is from the machine into its collision domain, 'in' towards the machine; the default
is both, so delays add up over a round trip (--delay 100 gives a ping ~200 ms more).
Corruption flips one bit in PCT % of full-size (1500-byte) frames, proportionally fewer in smaller ones.

Examples:
  vnetlab link                                   every cable of the lab in this folder
  vnetlab link r1:eth1 --down                    pull r1's eth1 cable; --up plugs it back
  vnetlab link pc1:eth0 --connect B              move pc1's cable to collision domain B
  vnetlab link pc1:eth0 --loss 30 --direction out
  vnetlab link pc1:eth0 --delay 200:20 --rate 1mbit
  vnetlab link pc1:eth0 --reset                  a perfect cable again`,
  flags: {
    lab: LAB_FLAG,
    down: { type: 'boolean', description: 'unplug the cable' },
    up: { type: 'boolean', description: 'plug it back in' },
    connect: { type: 'string', description: 'plug it into this collision domain instead', valueName: 'DOMAIN' },
    loss: { type: 'string', description: 'drop this percentage of frames (0–100)', valueName: 'PCT' },
    delay: { type: 'string', description: 'add this delay, ms, with an optional uniform jitter (200 or 200:20)', valueName: 'MS[:JITTER_MS]' },
    dup: { type: 'string', description: 'duplicate this percentage of frames (0–100)', valueName: 'PCT' },
    rate: { type: 'string', description: 'limit the bandwidth (e.g. 10mbit, 512kbit, 64000 bit/s)', valueName: 'RATE' },
    corrupt: { type: 'string', description: 'flip a bit in this percentage of full-size frames (0–100)', valueName: 'PCT' },
    direction: { type: 'string', description: 'in, out or both (default both)', valueName: 'DIR' },
    reset: { type: 'boolean', description: 'remove every impairment first' },
    json: { type: 'boolean', description: 'print JSON' },
  },
  async run(args, io) {
    const { labPath, target } = labAndTarget(args.positionals, args.flags.lab, io);
    const change = target ? parseChange(args.flags) : undefined;
    const sup = await requireSupervisor(labPath, io.env);
    try {
      if (!target) {
        const links = await sup.links();
        io.stdout.write(args.flags.json ? `${JSON.stringify(links, null, 2)}\n` : formatLinks(links));
        return EXIT.ok;
      }
      if (!change || Object.keys(change).length === 0) {
        const one = (await sup.links()).find((l) => l.id === target);
        if (!one) throw new UserError(`no cable '${target}' in this lab`, 2, 'vnetlab link lists them');
        io.stdout.write(args.flags.json ? `${JSON.stringify(one, null, 2)}\n` : formatLinks([one]));
        return EXIT.ok;
      }
      const status = await sup.changeLink(target, change);
      io.stdout.write(args.flags.json ? `${JSON.stringify(status, null, 2)}\n` : formatLinks([status]));
      return EXIT.ok;
    } finally {
      sup.close();
    }
  },
};

export default command;

/** `[LAB] [TARGET]`: a lone positional is the lab only when it is a path that exists. */
export function labAndTarget(positionals: string[], labFlag: unknown, io: CommandIO): { labPath: string; target?: string } {
  if (positionals.length > 2) throw new UserError(`too many arguments: ${positionals.join(' ')}`, 2, 'usage: vnetlab link [LAB] [MACHINE:IFACE] [flags]');
  const labGiven = positionals.length === 2 || (positionals.length === 1 && typeof labFlag !== 'string' && existsSync(resolve(io.cwd, positionals[0]!)));
  const { labPath } = resolveLab(labGiven ? [positionals[0]!] : [], labFlag, io.cwd, io.env);
  return { labPath, target: labGiven ? positionals[1] : positionals[0] };
}

function parseChange(flags: Record<string, unknown>): CableChange {
  const change: CableChange = {};
  try {
    if (flags.down && flags.up) throw new ImpairmentError('--down and --up contradict each other');
    if (flags.down) change.plugged = false;
    if (flags.up) change.plugged = true;
    if (typeof flags.connect === 'string') change.domain = flags.connect;
    if (flags.reset) change.reset = true;
    const values: Impairment = {};
    if (flags.loss !== undefined) values.lossPct = parsePercent(flags.loss, '--loss');
    if (flags.dup !== undefined) values.dupPct = parsePercent(flags.dup, '--dup');
    if (flags.corrupt !== undefined) values.corruptPct = parsePercent(flags.corrupt, '--corrupt');
    if (flags.delay !== undefined) Object.assign(values, { jitterMs: 0 }, parseDelay(flags.delay));
    if (flags.rate !== undefined) values.rateBps = parseRate(flags.rate);
    const direction = flags.direction ?? 'both';
    if (direction !== 'in' && direction !== 'out' && direction !== 'both') throw new ImpairmentError(`--direction must be in, out or both, not '${String(direction)}'`);
    if (Object.keys(values).length) change.impair = { direction, values };
    else if (flags.direction !== undefined) throw new ImpairmentError('--direction says where an impairment applies: give one too (--loss, --delay, --dup, --rate, --corrupt)');
  } catch (err) {
    if (err instanceof ImpairmentError) throw new UserError(err.message, 2, 'vnetlab link --help lists the flags and their ranges');
    throw err;
  }
  return change;
}

export function formatLinks(links: CableStatus[]): string {
  const rows = links.map((l) => [
    l.id,
    l.between ? l.between.join(' ⇄ ') : l.domain,
    `${l.state}${l.blocked?.length ? ` (spanning tree blocks it at ${l.blocked.map((b) => b.domain).join(', ')})` : ''}`,
    [l.impairments.out && `out: ${describeImpairment(l.impairments.out)}`, l.impairments.in && `in: ${describeImpairment(l.impairments.in)}`].filter(Boolean).join('; ') || '-',
  ]);
  const head = ['CABLE', 'DOMAIN', 'STATE', 'IMPAIRMENTS'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return `${[head, ...rows].map(line).join('\n')}\n`;
}
