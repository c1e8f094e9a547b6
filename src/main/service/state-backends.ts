// The app's saved states and hand-in (docs/snapshots.md): the `runtime` service methods listStates,
// saveState, restoreState, deleteState, wipeMachine and packLab, on runtime/snapshots and runtime/wipe.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { SavedStateInfo } from '../../shared/service-api.ts';
import { UserError } from '../errors.ts';
import { writePack } from '../runtime/snapshots/pack.ts';
import { deleteState, listStates, restoreState, saveState, type StateSummary } from '../runtime/snapshots/store.ts';
import { wipeLab } from '../runtime/wipe.ts';
import type { Backends } from './backends.ts';

type StateBackends = Pick<Backends, 'listStates' | 'saveState' | 'restoreState' | 'deleteState' | 'wipeMachine' | 'packLab'>;

/** Packs larger than this are not sent through the app's channel (use vnetlab pack). */
const MAX_APP_PACK_BYTES = 64 * 1024 * 1024;

function info(s: StateSummary): SavedStateInfo {
  return {
    name: s.name,
    parent: s.parent,
    createdAt: s.createdAt,
    note: s.note,
    auto: s.auto,
    current: s.current,
    diskBytes: s.diskBytes,
    machines: Object.entries(s.machines).map(([name, m]) => ({ name, running: m.running, hasDisk: m.disk !== null })),
  };
}

export function stateBackends(env: NodeJS.ProcessEnv): StateBackends {
  return {
    listStates: async (labRoot) => (await listStates(labRoot, { env })).map(info),

    async saveState(labRoot, name, note) {
      const saved = await saveState(labRoot, String(name), { env, note: typeof note === 'string' ? note.slice(0, 500) : '' });
      const listed = (await listStates(labRoot, { env })).find((s) => s.name === saved.state.name)!;
      return info(listed);
    },

    async restoreState(labRoot, name, machines) {
      const r = await restoreState(labRoot, String(name), { env, machines: Array.isArray(machines) ? machines.map(String) : [] });
      const notes = r.restored.flatMap((m) => {
        const net = r.net[m];
        if (!net) return [];
        return [`${m}: ${net.changes.length} network change${net.changes.length === 1 ? '' : 's'} re-applied${net.remaining.length ? `; still different: ${net.remaining.join('; ')}` : ''}${net.error ? `; ${net.error}` : ''}`];
      });
      return { before: r.before, restored: r.restored, failed: r.start.failed, notes: [...r.differences.map((d) => `note: ${d}`), ...notes] };
    },

    deleteState: async (labRoot, name) => {
      await deleteState(labRoot, String(name), { env });
    },

    async wipeMachine(labRoot, machine) {
      const r = await wipeLab(labRoot, [String(machine)], { env });
      if (!r.wiped.length && 'reason' in r && r.reason === 'no-disk') throw new UserError(`${String(machine)} has no disk to wipe: it starts from the lab files already`, 1);
    },

    async packLab(labRoot) {
      const dir = await mkdtemp(join(tmpdir(), 'vnetlab-handin-'));
      try {
        const name = `${basename(labRoot).replace(/[^A-Za-z0-9._-]+/g, '_') || 'lab'}.vnlpack`;
        const r = await writePack(labRoot, join(dir, name), { env });
        if (r.bytes > MAX_APP_PACK_BYTES) throw new UserError(`the pack is ${Math.round(r.bytes / 2 ** 20)} MiB, too large to hand in from the app`, 1, `write it from a terminal: vnetlab pack -l ${labRoot} -o FILE.vnlpack`);
        const bytes = await readFile(join(dir, name));
        return { fileName: name, base64: bytes.toString('base64'), bytes: bytes.length };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
