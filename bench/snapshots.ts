// What saved states and hand-in packs cost, on real UML guests (issue 20's targets):
//   1. the pause per running guest (mconsole stop → disk copied → go), tiny and Debian+FRR: ≤ 300 ms
//   2. saving a state of labs/ospf (3 FRR routers, 2 tiny hosts, all running): ≤ 3 s
//   3. the disk a state adds (allocated bytes of its copies: sparse)
//   4. restore of labs/ospf to ready, against its cold start measured in the same run: ≤ 1.5×
//   5. a pack of a 10-machine tiny lab: its size (a few MB) and the time to write it
// Everything runs under a temp HOME/run/state dir; images come from the usual cache (debian must be built).
// Run: npx tsx bench/snapshots.ts [--runs N]
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { hostPaths } from '../src/main/paths.ts';
import { cleanAll } from '../src/main/runtime/clean.ts';
import { launchLab, stopLab } from '../src/main/runtime/launch.ts';
import { listStates, restoreState, saveState } from '../src/main/runtime/snapshots/store.ts';
import { writePack } from '../src/main/runtime/snapshots/pack.ts';

const flag = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const RUNS = flag('runs', 3);
const REPO = resolve(import.meta.dirname, '..');

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

const root = mkdtempSync(join(tmpdir(), 'vnl-bsnap-'));
// A private copy of the images (sparse): a rebuild of the shared cache by another run mid-bench would
// orphan every disk and saved state (their COW headers name the image file's mtime).
const images = join(root, 'images');
mkdirSync(images);
const shared = hostPaths(process.env).imageDir;
for (const f of ['tiny.ext4', 'tiny.json', 'debian.ext4', 'debian.json', 'host']) execFileSync('cp', ['-a', '--sparse=always', '--reflink=auto', join(shared, f), join(images, f)]);
const env: NodeJS.ProcessEnv = { ...process.env, HOME: join(root, 'home'), VNETLAB_RUNTIME_DIR: join(root, 'r'), VNETLAB_STATE_DIR: join(root, 'state'), VNETLAB_IMAGE_DIR: images };
mkdirSync(env.HOME!, { recursive: true });

async function main(): Promise<void> {
  console.log(`snapshots bench: ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}, ${RUNS} runs`);
  const ospf = join(root, 'ospf');
  cpSync(join(REPO, 'labs/ospf'), ospf, { recursive: true });

  // Cold start of labs/ospf (disks exist after the first, as after a restore): files → every machine ready.
  const cold: number[] = [];
  for (let i = 0; i <= RUNS; i++) {
    const t = performance.now();
    const { client } = await launchLab(ospf, { env, buildImages: false });
    client.close();
    if (i > 0) cold.push(performance.now() - t); // the first creates the disks: not what a restore does
    if (i === 0) {
      // OSPF configured the way a student does it, live: the state then holds a running config to re-apply.
      for (const [r, ifs] of Object.entries({ r1: ['eth1', 'eth2'], r2: ['eth0', 'eth1'], r3: ['eth1', 'eth2'] })) {
        const { client: c } = await launchLab(ospf, { env, machines: [r], buildImages: false });
        await c.exec(r, "sed -i 's/^ospfd=no/ospfd=yes/' /etc/frr/daemons && systemctl restart frr >/dev/null");
        await c.exec(r, `vtysh -c 'configure terminal' -c 'router ospf' -c 'network 10.0.0.0/8 area 0' -c exit ${ifs.map((x) => `-c 'interface ${x}' -c 'ip ospf network point-to-point' -c exit`).join(' ')}`);
        c.close();
      }
    }
    await stopLab(ospf, { env });
  }
  const { client } = await launchLab(ospf, { env, buildImages: false });
  client.close();

  const saves: number[] = [];
  const pauses: Record<'tiny' | 'debian', number[]> = { tiny: [], debian: [] };
  const added: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    const saved = await saveState(ospf, `bench-${i}`, { env });
    saves.push(performance.now() - t);
    for (const m of saved.machines) if (m.pauseMs !== undefined) pauses[m.machine.startsWith('pc') ? 'tiny' : 'debian'].push(m.pauseMs);
    const states = await listStates(ospf, { env });
    added.push(states.find((s) => s.name === `bench-${i}`)!.diskBytes);
  }
  const restores: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    const r = await restoreState(ospf, 'bench-0', { env });
    if (!r.start.ok) throw new Error(`restore failed: ${JSON.stringify(r.start.failed)}`);
    restores.push(performance.now() - t);
  }
  await stopLab(ospf, { env });

  // A 10-machine tiny lab, running, packed.
  const ten = join(root, 'ten');
  mkdirSync(ten);
  const machines = Array.from({ length: 10 }, (_, i) => `  h${i}: {image: tiny, memory: 64, interfaces: [{domain: lan, ipv4: 10.1.0.${i + 1}/24}]}\n`).join('');
  writeFileSync(join(ten, 'lab.yaml'), `lab:\n  name: ten\nmachines:\n${machines}domains:\n  lan: {kind: switch}\n`);
  (await launchLab(ten, { env, buildImages: false })).client.close();
  const t = performance.now();
  const pack = await writePack(ten, join(root, 'ten.vnlpack'), { env });
  const packMs = performance.now() - t;
  await stopLab(ten, { env });

  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
  const coldMs = median(cold);
  const restoreMs = median(restores);
  console.log(`pause per running guest, tiny:         median ${Math.round(median(pauses.tiny))} ms, max ${Math.max(...pauses.tiny)} ms   (target ≤ 300 ms)`);
  console.log(`pause per running guest, Debian+FRR:   median ${Math.round(median(pauses.debian))} ms, max ${Math.max(...pauses.debian)} ms   (target ≤ 300 ms)`);
  console.log(`save a state of labs/ospf (5 running): median ${fmt(median(saves))}   (target ≤ 3 s)`);
  console.log(`disk added per state (allocated):      median ${mb(median(added))} for 5 machines (apparent size of the copies: 5 × the image)`);
  console.log(`cold start of labs/ospf:               median ${fmt(coldMs)}`);
  console.log(`restore of labs/ospf to ready:         median ${fmt(restoreMs)} = ${(restoreMs / coldMs).toFixed(2)}× the cold start   (target ≤ 1.5×; includes saving before-restore-N)`);
  console.log(`pack of a 10-machine tiny lab:         ${mb(statSync(pack.file).size)} in ${fmt(packMs)} (saved on the spot, then written)`);
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanAll(hostPaths(env));
    rmSync(root, { recursive: true, force: true });
  });
