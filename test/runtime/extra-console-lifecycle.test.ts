// When extra consoles (runtime/extra-console.ts) get a shell and lose it, against the fake launcher:
// opened before the machine is ready they wait for it; a stop ends their shells and says so; the next
// boot gives them a new one; Enter after `exit` starts another; the limit and a grader refuse.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { GuestPlan, Plan } from '../../src/shared/plan.ts';
import { FakeLauncher } from '../../src/main/runtime/fake-launcher.ts';
import { Supervisor } from '../../src/main/runtime/supervisor.ts';
import { extraConsoleCommand, startShellPty } from '../../src/main/runtime/extra-console.ts';
import { connectAgent } from '../../src/main/runtime/agent.ts';
import { fakeGuestPlan } from '../support/fake-plan.ts';

function guest(name: string, grader = false): GuestPlan {
  return fakeGuestPlan(name, { consoles: 2, ...(grader ? { grader: true } : {}) });
}

function supervisor(recordDir?: string) {
  const p: Plan = {
    planVersion: 3,
    lab: { name: 'fake', id: 'fake-00000000', root: '/nonexistent', format: 'yaml' },
    runDir: '/nonexistent/run',
    stateDir: '/nonexistent/state',
    labFs: { image: '/nonexistent/labfs.ext4', entries: [] },
    switches: [],
    cables: [],
    guests: [guest('pc1'), guest('grader', true)],
    waves: [['pc1', 'grader']],
  };
  const launcher = new FakeLauncher({ pc1: { bootMs: 20 } });
  const sup = new Supervisor(p, launcher, { consoleLogs: false, cadTimeoutMs: 50, haltTimeoutMs: 50, syncTimeoutMs: 50, ...(recordDir ? { recordConsoles: { dir: recordDir } } : {}) });
  return { launcher, sup };
}

const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

describe('extra consoles: their shells follow the machine', () => {
  it('waits for the machine, ends with it, and comes back with the next boot', async () => {
    const { launcher, sup } = supervisor();
    let seen = '';
    const viewer = sup.console('pc1', 1).attach({ onData: (d) => (seen += d) });
    await tick();
    expect(seen).toContain('[vnetlab: pc1 is not ready: console 2 opens when it is]');
    expect(launcher.log.filter((l) => l.startsWith('interactive pc1'))).toEqual([]);

    await sup.start(['pc1']);
    expect(launcher.log).toContain(`interactive pc1 ${extraConsoleCommand(80, 24)}`);
    viewer.write('typed-in-console-2');
    await tick();
    expect(seen).toContain('typed-in-console-2'); // the fake shell echoes
    // Console 0 is the guest's own and sees none of it.
    let main = '';
    sup.console('pc1').attach({ onData: (d) => (main += d) });
    expect(main).not.toContain('typed-in-console-2');

    await sup.stop(['pc1']);
    await tick();
    expect(seen).toContain('[vnetlab: pc1 stopped: console 2 ended with it]');
    viewer.write('lost\r'); // no shell: nothing starts while the machine is down
    await tick();
    expect(launcher.log.filter((l) => l.startsWith('interactive pc1'))).toHaveLength(1);

    await sup.start(['pc1']);
    expect(launcher.log.filter((l) => l.startsWith('interactive pc1'))).toHaveLength(2);
    viewer.write('after-restart');
    await tick();
    expect(seen).toContain('after-restart');
    await sup.shutdown();
  });

  it("a recorded lab (an exam) records each extra console in a file of its own", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vnl-extra-rec-'));
    try {
      const { sup } = supervisor(dir);
      await sup.start(['pc1']);
      const viewer = sup.console('pc1', 1).attach({ onData: () => {} });
      viewer.write('typed-in-the-second-console\r');
      await tick();
      await sup.shutdown();
      const cast = readFileSync(join(dir, 'pc1.console2.cast'), 'utf8');
      expect(JSON.parse(cast.split('\n')[0]!)).toMatchObject({ title: 'fake/pc1 (2)' });
      expect(cast).toMatch(/"i","typed-in-the-second-console\\r"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the console number is checked, and a grader machine takes none', async () => {
    const { sup } = supervisor();
    expect(() => sup.console('pc1', 8)).toThrow(/pc1 has no console 9: a machine has at most 8 consoles/);
    expect(() => sup.console('pc1', -1)).toThrow(/pc1 has no console 0/);
    expect(() => sup.console('pc1', 1.5)).toThrow(/pc1 has no console '1.5'/);
    expect(() => sup.console('grader', 1)).toThrow(/grader's machine/);
  });
});

describe('an extra console over the exec channel (the host end, against a scripted guest)', () => {
  it('streams output without keeping it, resizes only the pts the guest named, one resize at a time', async () => {
    const fromGuest = new PassThrough();
    const toGuest = new PassThrough();
    const sent: string[] = [];
    toGuest.on('data', (d: Buffer) => sent.push(...d.toString().split('\n').filter(Boolean)));
    const agent = await connectAgent(fromGuest, toGuest);
    const say = (line: string) => fromGuest.write(`${line}\n`);
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    const shell = startShellPty(agent, { cols: 100, rows: 30 });
    let shown = '';
    shell.onData((d) => (shown += d));
    await tick();
    const start = sent.find((l) => l.startsWith('X 1 '))!;
    expect(Buffer.from(start.split(' ')[3]!, 'base64').toString()).toBe(extraConsoleCommand(100, 30));
    expect(sent).not.toContain('C 1'); // stdin stays open

    // Before the guest names its pty, a resize waits; a line that is not `pts /dev/pts/N` is shown, never used.
    shell.resize(120, 40);
    say(`E 1 ${b64('pts /dev/pts/1; reboot\n')}`);
    await tick();
    expect(sent.filter((l) => l.startsWith('X 2 '))).toEqual([]);
    expect(shown).toContain('pts /dev/pts/1; reboot');
    say(`E 1 ${b64('pts /dev/pts/7\n')}`);
    await tick();
    const resize = sent.find((l) => l.startsWith('X 2 '))!;
    expect(Buffer.from(resize.split(' ')[3]!, 'base64').toString()).toBe('/usr/sbin/vnetlab-agent --winsize /dev/pts/7 40 120');
    // More resizes while that one runs: only the latest follows, once it is done.
    shell.resize(130, 41);
    shell.resize(140, 42);
    await tick();
    expect(sent.filter((l) => / 3 /.test(l) && l.startsWith('X'))).toEqual([]);
    say('D 2 0');
    await tick();
    expect(Buffer.from(sent.find((l) => l.startsWith('X 3 '))!.split(' ')[3]!, 'base64').toString()).toBe('/usr/sbin/vnetlab-agent --winsize /dev/pts/7 42 140');

    shell.write('ls\r');
    await tick();
    expect(sent).toContain(`I 1 ${b64('ls\r')}`);
    say(`O 1 ${b64('file-a  file-b\r\n')}`);
    await tick();
    expect(shown).toContain('file-a  file-b');
    say('D 1 0');
    await shell.ended;

    // An interactive exec passes its output on and keeps none of it (a console runs for hours).
    let streamed = '';
    const cat = agent.interactive('cat', { onStdout: (d) => (streamed += d), onStderr: () => {} });
    await tick();
    const id = sent.filter((l) => l.startsWith('X ')).at(-1)!.split(' ')[1];
    say(`O ${id} ${b64('x'.repeat(3000))}`);
    say(`D ${id} 0`);
    expect((await cat.done).stdout).toBe('');
    expect(streamed).toBe('x'.repeat(3000));
    agent.close();
  });
});
