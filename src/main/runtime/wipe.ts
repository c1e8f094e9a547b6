// Wipe: delete guest disks, so that the next start of those machines begins again from the lab files
// (the one place disks are deleted; `vnetlab wipe` is its command). Running machines are refused.
import { existsSync, rmSync } from 'node:fs';
import { UserError } from '../errors.ts';
import { keptLabFsDir } from '../guest/labfs.ts';
import { connectRunDir } from './client.ts';
import { runDirOf } from './lab-target.ts';
import { planLab } from './prepare.ts';

export interface WipeOptions {
  env?: NodeJS.ProcessEnv;
  /** Asked once the disks to delete are known (machine names); false keeps them all. */
  confirm?(machines: string[]): Promise<boolean>;
}

export type WipeOutcome = { wiped: string[] } | { wiped: []; reason: 'no-disk' | 'declined' };

/** Delete the disks of these machines of a lab (all by default). */
export async function wipeLab(labPath: string, machines: string[], options: WipeOptions = {}): Promise<WipeOutcome> {
  const env = options.env ?? process.env;
  const { plan } = await planLab(labPath, { env });
  const unknown = machines.filter((m) => !plan.guests.some((g) => g.name === m));
  if (unknown.length) throw new UserError(`no machine named ${unknown.join(', ')} in lab ${plan.lab.name}`, 2, `machines: ${plan.guests.map((g) => g.name).join(', ')}`);
  const targets = plan.guests.filter((g) => machines.length === 0 || machines.includes(g.name));

  const runDir = runDirOf(labPath, env);
  const sup = runDir ? await connectRunDir(runDir) : undefined;
  if (sup) {
    try {
      const status = await sup.status();
      const running = status.machines.filter((m) => targets.some((t) => t.name === m.name) && ['booting', 'ready', 'stopping'].includes(m.state));
      if (running.length) {
        const names = running.map((m) => m.name).join(' ');
        throw new UserError(`cannot wipe running machines: ${names.replace(/ /g, ', ')}`, 2, `stop them first: vnetlab stop ${names}`);
      }
    } finally {
      sup.close();
    }
  }
  const existing = targets.filter((g) => existsSync(g.cow));
  if (!existing.length) return { wiped: [], reason: 'no-disk' };
  if (options.confirm && !(await options.confirm(existing.map((g) => g.name)))) return { wiped: [], reason: 'declined' };
  for (const g of existing) rmSync(g.cow, { force: true });
  // The whole lab starts over: its kept lab-fs image (guest/labfs.ts, rebuilt at the next start) goes too.
  if (targets.length === plan.guests.length) rmSync(keptLabFsDir(plan.stateDir), { recursive: true, force: true });
  return { wiped: existing.map((g) => g.name) };
}
