// The service with the real lab readers/writers and compiler (no transport, no guest boots): the
// folders the dialogs may use, open/save round trips in both formats, compile and validation.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realBackends } from '../../src/main/service/real-backends.ts';
import { Service, type ClientSession } from '../../src/main/service/service.ts';
import { dispatch } from '../../src/main/service/dispatch.ts';
import { serviceProxy } from '../../src/renderer/api.ts';
import { SERVICE_METHODS, serviceMethods, type ServiceBridge } from '../../src/shared/service-api.ts';
import { FIXTURES, fixtureLab } from '../support/fixtures.ts';

const repo = resolve(__dirname, '..', '..');
let dir: string;
let home: string;
let session: ClientSession;
const pushed: unknown[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vnl-service-'));
  home = join(dir, 'home');
  mkdirSync(join(home, 'course', 'lab1'), { recursive: true });
  writeFileSync(join(home, 'course', 'lab1', 'lab.conf'), 'pc1[0]=A\npc2[0]=A\n');
  mkdirSync(join(home, 'course', 'notes'));
  symlinkSync('/etc', join(home, 'etc-link'));
  const env = { ...process.env, HOME: home, VNETLAB_RUNTIME_DIR: join(dir, 'run'), VNETLAB_STATE_DIR: join(dir, 'state') };
  const service = new Service({ backends: realBackends({ env }), labsDir: join(repo, 'labs'), home, extraRoots: [FIXTURES] });
  session = service.connect((m) => pushed.push(m));
});

afterAll(() => {
  session?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('dialog folders', () => {
  it('lists labs first, then folders, and marks Netkit labs', async () => {
    const listing = await session.listFolder(join(home, 'course'));
    expect(listing.entries.map((e) => [e.name, e.kind, e.format])).toEqual([['lab1', 'lab', 'netkit'], ['notes', 'folder', undefined]]);
    expect(listing.parent).toBe(home);
    expect((await session.listFolder()).path).toBe(home);
    expect((await session.listFolder(home)).parent).toBeUndefined();
  });

  it('refuses folders outside home and the lab roots, also through .. and symlinks', async () => {
    await expect(session.listFolder('/etc')).rejects.toThrow(/outside the folders the app may use/);
    await expect(session.listFolder(join(home, '..', '..'))).rejects.toThrow(/outside/);
    await expect(session.listFolder(join(home, 'etc-link'))).rejects.toThrow(/outside/);
    await expect(session.openLab(join(home, 'etc-link', 'passwd'))).rejects.toThrow(/outside/);
    await expect(session.saveLab('/tmp/elsewhere', await session.newLab(join(home, 'x')), 'yaml')).rejects.toThrow(/outside/);
    // A model claiming to live in /etc cannot make save-as copy files from there.
    const model = { ...(await session.newLab(join(home, 'x'))), root: '/etc' };
    await expect(session.saveLab(join(home, 'copy'), model, 'yaml')).rejects.toThrow(/outside/);
    expect(existsSync(join(home, 'copy'))).toBe(false);
  });

  it('lists the shipped labs with two-hosts among them', async () => {
    const labs = await session.listLabs();
    expect(labs.map((l) => l.name)).toContain('two-hosts');
    expect(labs.every((l) => l.format === 'vnetlab')).toBe(true);
  });
});

describe('open, save, compile', () => {
  it('opens a Kathará lab from a folder it may use', async () => {
    const { model, diagnostics } = await session.openLab(fixtureLab('kathara-options'));
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(diagnostics.filter((d) => d.severity === 'warning').map((d) => d.code).sort()).toEqual(['option-ignored', 'unknown-image']);
    expect(model!.format).toBe('kathara');
    expect(model!.machines.map((m) => m.name).sort()).toEqual(['pc1', 'pc2', 'r1', 'sniffer']);
  });

  it('saves a Netkit lab as lab.yaml and back to lab.conf, keeping machines, cables and addresses', async () => {
    const opened = (await session.openLab(join(home, 'course', 'lab1'))).model!;
    opened.machines[0]!.interfaces[0]!.ipv4 = ['10.1.0.1/24'];
    const asYaml = await session.saveLab(join(home, 'out-yaml'), opened, 'yaml');
    expect(asYaml.file).toBe(join(home, 'out-yaml', 'lab.yaml'));
    expect(readFileSync(asYaml.file, 'utf8')).toMatch(/10\.1\.0\.1\/24/);
    const back = (await session.openLab(join(home, 'out-yaml'))).model!;
    const shape = (m: typeof back) => m.machines.map((x) => [x.name, x.interfaces.map((i) => [i.index, i.domain, i.ipv4])]);
    expect(shape(back)).toEqual(shape(opened));

    const asNetkit = await session.saveLab(join(home, 'out-netkit'), back, 'netkit');
    expect(asNetkit.file).toBe(join(home, 'out-netkit', 'lab.conf'));
    expect(readFileSync(asNetkit.file, 'utf8')).toMatch(/pc1\[0\]="?A"?/);
    const again = (await session.openLab(join(home, 'out-netkit'))).model!;
    expect(shape(again)).toEqual(shape(opened));
  });

  it('compiles a valid lab and explains an invalid one instead', async () => {
    const { model } = await session.openLab(join(repo, 'labs', 'two-hosts'));
    const ok = await session.compile(model!);
    expect(ok.plan!.guests.map((g) => g.name)).toEqual(['pc1', 'pc2']);
    const broken = structuredClone(model!);
    broken.machines[1]!.name = 'pc1';
    const bad = await session.compile(broken);
    expect(bad.plan).toBeUndefined();
    expect(bad.diagnostics.some((d) => d.severity === 'error' && /pc1/.test(d.message))).toBe(true);
    await expect(session.compile({ nope: true } as never)).rejects.toThrow(/malformed/);
  });

  it('says the lab is not running instead of failing obscurely', async () => {
    expect(await session.status(join(repo, 'labs', 'two-hosts'))).toBeNull();
    await expect(session.attachConsole(join(repo, 'labs', 'two-hosts'), 'pc1')).rejects.toThrow(/not running/);
  });
});

describe('the table of service methods', () => {
  it('every runtime method refuses a lab outside the folders the app may use', async () => {
    const runtime = SERVICE_METHODS.filter((m) => serviceMethods[m].kind === 'runtime');
    expect(runtime.sort()).toEqual(['applyLab', 'changeLink', 'deleteState', 'links', 'listStates', 'machine', 'packLab', 'restoreState', 'runChecks', 'saveState', 'startLab', 'status', 'stopLab', 'wipeMachine']);
    for (const method of runtime) {
      const fn = session[method] as (...args: unknown[]) => Promise<unknown>;
      await expect(fn.call(session, '/etc', 'pc1', 'stop'), method).rejects.toThrow(/outside the folders the app may use/);
    }
    await expect(session.machine(join(repo, 'labs', 'two-hosts'), 'pc1', 'explode' as never)).rejects.toThrow(/unknown machine action/);
  });

  it('the wire reaches only the methods of the table (not close, constructor or __proto__), with arrays of parameters', async () => {
    for (const method of ['close', 'constructor', '__proto__', 'toString', 'connect', 42]) {
      expect(await dispatch(() => session, method, [])).toEqual({ error: { code: 'bad-input', message: `unknown method ${String(method)}` } });
    }
    expect(await dispatch(() => session, 'listLabs', 'nope')).toMatchObject({ error: { code: 'bad-input' } });
    const listed = await dispatch(() => session, 'listLabs', []);
    expect((listed as { result: { name: string }[] }).result.map((l) => l.name)).toContain('two-hosts');
    expect(await dispatch(() => session, 'openLab', ['/etc'])).toMatchObject({ error: { code: 'bad-input', message: expect.stringMatching(/outside/) } });
  });

  it('the renderer adapter has one function per method of the table, and nothing else', async () => {
    // A bridge whose call() needs its `this`, like the WebSocket bridge.
    class RecordingBridge {
      readonly calls: unknown[][] = [];
      call(method: string, ...params: unknown[]) {
        this.calls.push([method, ...params]);
        return Promise.resolve(null);
      }
      onPush() {
        return () => {};
      }
    }
    const bridge = new RecordingBridge();
    const api = serviceProxy(bridge as unknown as ServiceBridge);
    const calls = bridge.calls;
    expect(Object.keys(api).sort()).toEqual([...SERVICE_METHODS].sort());
    await api.consoleAck('c1', 10);
    expect(calls).toEqual([['consoleAck', 'c1', 10]]);
    expect((api as unknown as Record<string, unknown>).then).toBeUndefined(); // not a thenable: `await api` is safe
  });
});

describe('one set of diagnostics for the CLI and the editor', () => {
  it('flags an image name vnetlab does not build in a model edited in the app, as the reader does on disk', async () => {
    const opened = await session.openLab(join(repo, 'labs', 'two-hosts'));
    const model = opened.model!;
    expect((await session.validate(model)).filter((d) => d.code === 'unknown-image')).toEqual([]);
    const typo = { ...model, machines: model.machines.map((m) => (m.name === 'pc1' ? { ...m, image: 'debain' } : m)) };
    const found = (await session.validate(typo)).filter((d) => d.code === 'unknown-image');
    expect(found.map((d) => [d.severity, d.target, d.message])).toEqual([['warning', 'machine:pc1', "machine 'pc1' uses image 'debain', which vnetlab does not build (known: tiny, debian)"]]);
    // The CLI's reader says the same about the same file.
    const folder = join(home, 'typo');
    await session.saveLab(folder, { ...typo, root: join(repo, 'labs', 'two-hosts') }, 'yaml');
    const reread = await session.openLab(folder);
    expect(reread.diagnostics.filter((d) => d.code === 'unknown-image').map((d) => d.message)).toEqual(found.map((d) => d.message));
  });
});
