// Several consoles of one machine (issue 23; Kathará's num_terms), on a real UML guest: console 1 and 2
// are login shells on ptys inside the guest, carried over the exec channel (runtime/extra-console.ts,
// `vnetlab-agent --pty`). Each shows its own output only, follows its window's size, starts a new
// shell after `exit`, has its own log, and nothing of them is left once the lab is stopped.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSupervisor, type SupervisorClient } from '../../src/main/runtime/client.ts';
import { findRunDir, listSockets } from '../../src/main/runtime/run-dir.ts';
import { hostPaths } from '../../src/main/paths.ts';
import { debianForTests } from '../support/debian.ts';
import { eventually, processesMentioning, testEnv, type TestEnv } from './helpers.ts';

const LAB_YAML = `lab:
  name: terms
machines:
  pc1:
    image: tiny
    memory: 64
`;

describe('extra consoles of one machine (real UML)', () => {
  let t: TestEnv;
  let lab: string;
  let runDir: string;
  let sup: SupervisorClient;

  beforeAll(async () => {
    t = testEnv();
    lab = t.lab('terms', { 'lab.yaml': LAB_YAML });
    const started = await t.cli(['start', lab]);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    runDir = findRunDir(lab, hostPaths(t.env))!;
    sup = (await connectSupervisor(lab, t.env))!;
  });

  afterAll(async () => {
    sup?.close();
    await t?.dispose();
  });

  it('the second and third consoles (index 1 and 2) are shells of their own: output stays in each, each has its size', async () => {
    const out = { 0: '', 1: '', 2: '' } as Record<number, string>;
    const main = await sup.attachConsole('pc1', { onData: (d) => (out[0] += d) });
    const one = await sup.attachConsole('pc1', { console: 1, onData: (d) => (out[1] += d), cols: 100, rows: 30 });
    const two = await sup.attachConsole('pc1', { console: 2, onData: (d) => (out[2] += d) });

    one.write('echo one-$((40+1)); tty\r');
    expect(await eventually(() => out[1]!, (s) => /one-41\r\n\/dev\/pts\/\d+/.test(s), 20_000)).toMatch(/one-41\r\n\/dev\/pts\/\d+/);
    two.write('echo two-$((40+2)); tty\r');
    expect(await eventually(() => out[2]!, (s) => /two-42\r\n\/dev\/pts\/\d+/.test(s), 20_000)).toMatch(/two-42\r\n\/dev\/pts\/\d+/);
    const pts1 = /one-41\r\n(\/dev\/pts\/\d+)/.exec(out[1]!)![1];
    const pts2 = /two-42\r\n(\/dev\/pts\/\d+)/.exec(out[2]!)![1];
    expect(pts1).not.toBe(pts2);
    // Output stays where it was typed: not in the other extra console, not on the guest's own console.
    expect(out[2]).not.toContain('one-41');
    expect(out[1]).not.toContain('two-42');
    expect(out[0]).not.toMatch(/one-41|two-42/);

    // Console 1 was attached at 100×30: its shell sees it.
    one.write('echo size-$(stty size | tr " " x)\r');
    expect(await eventually(() => out[1]!, (s) => s.includes('size-30x100'), 10_000)).toContain('size-30x100');
    // Resize console 2 (SIGWINCH through `vnetlab-agent --winsize`); its shell sees the new size.
    two.resize(132, 43);
    const seen = await eventually(
      () => {
        two.write('echo size-$(stty size | tr " " x)\r');
        return out[2]!;
      },
      (s) => s.includes('size-43x132'),
      10_000,
      500,
    );
    expect(seen).toContain('size-43x132');
    expect(out[1]).not.toContain('size-43x132');

    // A flood on one console (faster than the exec channel carries it) does not keep ^C from reaching
    // it, nor the other console from answering.
    two.write('yes flood-line\r');
    expect(await eventually(() => out[2]!, (s) => (s.match(/flood-line/g) ?? []).length > 200, 10_000)).toMatch(/flood-line/);
    one.write('echo beside-the-flood\r');
    expect(await eventually(() => out[1]!, (s) => s.includes('beside-the-flood\r\n'), 10_000)).toContain('beside-the-flood\r\n');
    two.write('\x03');
    two.write('echo flood-over-$((6*7))\r');
    expect(await eventually(() => out[2]!.slice(-200_000), (s) => s.includes('flood-over-42'), 20_000)).toContain('flood-over-42');

    // A viewer that comes later is shown what the console showed (the same session as console 0).
    let late = '';
    const lateViewer = await sup.attachConsole('pc1', { console: 1, onData: (d) => (late += d) });
    expect(await eventually(() => late, (s) => s.includes('one-41'), 5_000)).toContain('one-41');
    lateViewer.detach();

    // `exit` ends the shell; Enter starts a new one on the same console.
    one.write('exit\r');
    expect(await eventually(() => out[1]!, (s) => s.includes('press Enter for a new one'), 10_000)).toContain("[vnetlab: the shell of pc1's console 2 ended: press Enter for a new one]");
    one.write('\r');
    one.write('echo again-$((1+1))\r');
    const again = await eventually(
      () => {
        if (!out[1]!.includes('again-2')) one.write('echo again-$((1+1))\r');
        return out[1]!;
      },
      (s) => s.includes('again-2'),
      10_000,
      1_000,
    );
    expect(again).toContain('again-2');
    for (const v of [main, one, two]) v.detach();
  }, 90_000);

  it('`vnetlab connect --console 2` is the same console 2 (its replay), and the CLI checks the number', async () => {
    const second = await t.cli(['connect', '-l', lab, 'pc1', '--console', '2']);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('one-41');
    expect(second.stdout).not.toContain('two-42');
    const ninth = await t.cli(['connect', '-l', lab, 'pc1', '--console', '9']);
    expect(ninth.code).toBe(2);
    expect(ninth.stderr).toMatch(/--console 9: a machine has consoles 1 to 8/);
  });

  it('refuses a console past the limit, with what to do', async () => {
    await expect(sup.attachConsole('pc1', { console: 8, onData: () => {} })).rejects.toThrow(/pc1 has no console 9: a machine has at most 8 consoles/);
  });

  it('logs each console to its own file', async () => {
    // Beside the guest's own console.log, in the machine's folder of the lab's state.
    const logs = readdirSync(t.base, { recursive: true, encoding: 'utf8' }).filter((f) => /console(-\d+)?\.log$/.test(f));
    const dir = join(logs.find((f) => f.endsWith('console-1.log'))!, '..');
    expect(logs.filter((f) => f.startsWith(dir + '/')).map((f) => f.slice(dir.length + 1)).sort()).toEqual(['console-1.log', 'console-2.log', 'console.log']);
    expect(readFileSync(join(t.base, dir, 'console-1.log'), 'utf8')).toContain('one-41');
    expect(readFileSync(join(t.base, dir, 'console-2.log'), 'utf8')).toContain('two-42');
    expect(readFileSync(join(t.base, dir, 'console.log'), 'utf8')).not.toContain('one-41');
  });

  it('stop ends the consoles with the guest and leaves nothing behind', async () => {
    // The shells run inside the guest: the guest's process is the only one they have on the host.
    const before = processesMentioning(runDir);
    expect(before.length).toBeGreaterThan(0);
    // Viewers of both consoles are told, although the supervisor exits right after (the note is not batched).
    const said = { 0: '', 1: '' } as Record<number, string>;
    await sup.attachConsole('pc1', { onData: (d) => (said[0] += d) });
    await sup.attachConsole('pc1', { console: 1, onData: (d) => (said[1] += d) });
    const stopped = await t.cli(['stop', lab]);
    expect(stopped.code).toBe(0);
    expect(said[0]).toMatch(/\[vnetlab: pc1 stopped\]/);
    expect(said[1]).toMatch(/\[vnetlab: pc1 stopped: console 2 ended with it\]/);
    const left = await eventually(() => processesMentioning(runDir), (p) => p.length === 0, 5_000);
    expect(left).toEqual([]);
    expect(listSockets(runDir)).toEqual([]);
  });
});

// The debian image has the same agent: its extra console is bash (as its console 1 is), with job control.
const debian = debianForTests();
describe.runIf(debian.run)(`an extra console on the debian image (real UML)${debian.skipNote}`, () => {
  let t: TestEnv;
  let lab: string;

  beforeAll(async () => {
    t = testEnv();
    lab = t.lab('deb-terms', { 'lab.yaml': LAB_YAML.replace('image: tiny', 'image: debian').replace('memory: 64', 'memory: 128') });
    const started = await t.cli(['start', lab]);
    expect(started.code).toBe(0);
  }, 300_000);

  afterAll(async () => {
    await t?.dispose();
  });

  it('is a bash login shell with job control on its own pty', async () => {
    const sup = (await connectSupervisor(lab, t.env))!;
    try {
      let out = '';
      const two = await sup.attachConsole('pc1', { console: 1, onData: (d) => (out += d), cols: 90, rows: 33 });
      two.write('echo "shell-${BASH_VERSION%%.*}-$(stty size | tr " " x)-$(tty)"\r');
      expect(await eventually(() => out, (s) => /shell-5-33x90-\/dev\/pts\/\d+/.test(s), 30_000)).toMatch(/shell-5-33x90-\/dev\/pts\/\d+/);
      // Job control: a job in the background, listed, brought back and interrupted with ^C.
      two.write('sleep 300 &\r');
      two.write('jobs; echo jobs-$((1+1))\r');
      expect(await eventually(() => out, (s) => /Running\s+sleep 300 &[\s\S]*jobs-2/.test(s), 10_000)).toMatch(/Running\s+sleep 300/);
      two.write('fg\r');
      await new Promise((r) => setTimeout(r, 500));
      two.write('\x03');
      two.write('echo after-fg-$((3+4))\r');
      expect(await eventually(() => out, (s) => s.includes('after-fg-7'), 10_000)).toContain('after-fg-7');
      two.detach();
    } finally {
      sup.close();
    }
    expect((await t.cli(['stop', lab])).code).toBe(0);
  }, 120_000);
});
