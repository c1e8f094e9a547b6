// `vnetlab compile` through the CLI entry point, as a user runs it: --json is exactly the plan,
// the summary names switches, guests and waves, and a broken lab exits 2 with file:line messages.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile, formatPlanJson } from '../../src/main/compiler/index.ts';
import { loadLab } from '../../src/main/lab/index.ts';
import { hostPaths, labIdFor, labRunDir, labStateDir } from '../../src/main/paths.ts';
import { runCli, type CliRun } from '../support/host.ts';

const repo = resolve(__dirname, '../..');

function vnetlab(args: string[], env: NodeJS.ProcessEnv, cwd = repo): Promise<CliRun> {
  return runCli(args, { env, cwd });
}

describe('vnetlab compile', () => {
  let work: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'vnetlab-compile-cli-'));
    env = {
      HOME: work,
      PATH: process.env.PATH,
      VNETLAB_RUNTIME_DIR: join(work, 'run'),
      VNETLAB_STATE_DIR: join(work, 'state'),
      VNETLAB_IMAGE_DIR: join(work, 'images'),
      VNETLAB_KERNEL: join(work, 'no-kernel-here'),
    };
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('--json prints exactly the plan for this host, without needing a kernel', async () => {
    const lab = join(repo, 'labs/two-hosts');
    const result = await vnetlab(['compile', 'labs/two-hosts', '--json'], env);
    expect(result.code).toBe(0);
    const { model } = await loadLab(lab);
    const labId = labIdFor(lab, model!.meta.name);
    const paths = hostPaths(env);
    const expected = compile(model!, { labId, runDir: labRunDir(paths, labId), stateDir: labStateDir(paths, labId), imageDir: paths.imageDir, kernel: env.VNETLAB_KERNEL! });
    expect(result.stdout).toBe(formatPlanJson(expected));
    expect(JSON.parse(result.stdout).guests[0].boot.kernel).toBe(env.VNETLAB_KERNEL);
  });

  it('summarises switches, guests with their interfaces, and waves', async () => {
    const result = await vnetlab(['compile'], env, join(repo, 'labs/two-hosts'));
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^kernel .*no-kernel-here \(not found: `vnetlab start` needs it/m);
    expect(result.stdout).toMatch(/^switches \(1\):\n {2}lan {2}switch/m);
    expect(result.stdout).toMatch(/^ {2}pc1 {2}tiny, 64 MiB {2}eth0→lan 02(:[0-9a-f]{2}){5}$/m);
    expect(result.stdout).toMatch(/^boot waves:\n {2}1\. pc1 pc2$/m);
  });

  it('exits 2 with file:line diagnostics on stderr when the lab has errors', async () => {
    const dir = mkdtempSync(join(work, 'broken-'));
    writeFileSync(join(dir, 'lab.yaml'), 'machines:\n  pc1:\n    interfaces: [{domain: A, ipv4: 10.0.0.300/24}]\n');
    const result = await vnetlab(['compile', dir, '--json'], env);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/lab\.yaml:3:\d+: error: .*10\.0\.0\.300/);
    expect(result.stderr).toMatch(/nothing compiled/);
  });

  it('says so when there is no lab, exit 2', async () => {
    const result = await vnetlab(['compile', join(work, 'nowhere')], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no lab here/);
  });
});
