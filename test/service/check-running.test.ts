// "Check my work" through the real service and real UML guests: it grades the lab the student has
// running, as it is. A machine the student stopped stays stopped (its checks fail and say why), the
// others keep their processes, and a lab that is not running gets "start the lab first".
import { cpSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostPaths } from '../../src/main/paths.ts';
import { cleanRunDir } from '../../src/main/runtime/clean.ts';
import { listRunDirs } from '../../src/main/runtime/run-dir.ts';
import { realBackends } from '../../src/main/service/real-backends.ts';
import { Service, type ClientSession } from '../../src/main/service/service.ts';
import { isolatedHost, type IsolatedHost } from '../support/host.ts';

const repo = resolve(__dirname, '..', '..');

describe('check my work grades the running lab (real UML)', () => {
  let host: IsolatedHost;
  let session: ClientSession;
  let lab: string;

  beforeAll(() => {
    host = isolatedHost('vck');
    lab = join(host.env.HOME!, 'two-hosts');
    cpSync(join(repo, 'labs', 'two-hosts'), lab, { recursive: true });
    const service = new Service({ backends: realBackends({ env: host.env }), labsDir: join(repo, 'labs'), home: host.env.HOME! });
    session = service.connect(() => {});
  });

  afterAll(async () => {
    session?.close();
    if (!host) return;
    const paths = hostPaths(host.env);
    for (const runDir of listRunDirs(paths)) await cleanRunDir(runDir, paths);
  });

  it('refuses to grade a lab that is not running, and boots nothing', async () => {
    await expect(session.runChecks(lab)).rejects.toThrow(/start the lab first/);
    expect(await session.status(lab)).toBeNull();
  });

  it('leaves a stopped machine stopped and a running one untouched', async () => {
    const started = await session.startLab(lab);
    expect(started.machines.map((m) => [m.name, m.state])).toEqual([['pc1', 'ready'], ['pc2', 'ready']]);
    await session.machine(lab, 'pc2', 'stop');
    const before = (await session.status(lab))!;
    const pc1Pid = before.machines.find((m) => m.name === 'pc1')!.pid;
    expect(pc1Pid).toBeGreaterThan(0);
    expect(before.machines.find((m) => m.name === 'pc2')!.state).toBe('stopped');

    const report = await session.runChecks(lab);
    const byId = Object.fromEntries(report.results.map((r) => [r.id, r]));
    // pc2 was not booted for the check: its own check could not run, and pc1 could not reach it.
    expect(byId['pc2-reaches-pc1']!.passed).toBe(false);
    expect(byId['pc2-reaches-pc1']!.reason).toMatch(/pc2 is stopped/);
    expect(byId['pc1-reaches-pc2']!.passed).toBe(false);
    expect(byId['pc1-address']!.passed).toBe(true);

    const after = (await session.status(lab))!;
    expect(after.machines.map((m) => [m.name, m.state])).toEqual([['pc1', 'ready'], ['pc2', 'stopped']]);
    expect(after.machines.find((m) => m.name === 'pc1')!.pid).toBe(pc1Pid);
    await session.stopLab(lab);
  }, 120_000);
});
