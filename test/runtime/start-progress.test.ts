// `vnetlab start`'s progress for a big lab (issue 22): one "N of M ready" line instead of a line per
// machine, rewritten in place on a terminal, printed at most once a second (and at the end) otherwise.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ProgressView } from '../../src/main/cli/commands/start.ts';
import type { CommandIO } from '../../src/main/cli/command.ts';

function io(tty: boolean): { io: CommandIO; out: () => string } {
  const stdout = Object.assign(new PassThrough(), { isTTY: tty });
  let text = '';
  stdout.on('data', (d) => (text += d));
  return { io: { stdout, stderr: new PassThrough(), stdin: new PassThrough(), cwd: '/', env: {} }, out: () => text };
}

const names = (n: number) => Array.from({ length: n }, (_, i) => `h${i}`);

describe('start progress', () => {
  it('a big lab gets one summary line, not 500 lines per event', async () => {
    const { io: tty, out } = io(true);
    const view = new ProgressView(tty);
    view.begin(names(500));
    for (const m of names(500)) view.onEvent({ type: 'machine-state', machine: m, state: 'booting' });
    for (const m of names(500).slice(0, 120)) view.onEvent({ type: 'machine-state', machine: m, state: 'ready' });
    expect(view.summary()).toBe('120 of 500 ready, 380 booting');
    view.onEvent({ type: 'machine-state', machine: 'h499', state: 'failed', error: 'kernel panic' });
    view.end();
    await new Promise((r) => setImmediate(r));
    const lines = out().split('\r\x1b[2K');
    expect(lines.at(-1)).toBe('120 of 500 ready, 379 booting, 1 failed\n');
    expect(out()).not.toContain('h17'); // no line per machine
    expect(out().length).toBeLessThan(1021 * 60); // one short line per event
  });

  it('not on a terminal: the summary at most once a second, and the last one', async () => {
    const { io: pipe, out } = io(false);
    const view = new ProgressView(pipe);
    view.begin(names(30));
    for (const m of names(30)) view.onEvent({ type: 'machine-state', machine: m, state: 'ready' });
    view.end();
    await new Promise((r) => setImmediate(r));
    expect(out()).toBe('1 of 30 ready, 29 waiting\n30 of 30 ready\n');
  });

  it('a small lab keeps a line per machine', async () => {
    const { io: pipe, out } = io(false);
    const view = new ProgressView(pipe);
    view.begin(['pc1', 'pc2']);
    view.onEvent({ type: 'machine-state', machine: 'pc1', state: 'ready' });
    view.end();
    await new Promise((r) => setImmediate(r));
    expect(out()).toBe('pc1: ready\n');
  });
});
