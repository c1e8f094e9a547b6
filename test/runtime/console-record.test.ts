// Console recordings (runtime/console-record.ts) through the console session's tap: asciicast v2 from
// the first byte, keystrokes of every viewer, appended across a new recorder (a restarted supervisor),
// a torn last line, the bound per machine and what happens there, a tap that fails.
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConsoleRecorder, OUTPUT_SHARE, parseCast } from '../../src/main/runtime/console-record.ts';
import { ConsoleSession } from '../../src/main/runtime/console-session.ts';

function fakePty() {
  const listeners: ((d: string) => void)[] = [];
  const written: string[] = [];
  return {
    written,
    emit: (d: string) => listeners.forEach((l) => l(d)),
    pty: { onData: (l: (d: string) => void) => void listeners.push(l), write: (d: string) => void written.push(d), resize: () => {} },
  };
}

describe('console recordings (asciicast v2)', () => {
  let dir: string;
  let clock: number;
  const now = () => clock;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vrec-'));
    clock = 1_800_000_000_000;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('records output from the first byte, every viewer\'s keystrokes and resizes, with times', () => {
    const file = join(dir, 'rec', 'pc1.cast');
    const rec = new ConsoleRecorder({ file, title: 'lab/pc1', now });
    const session = new ConsoleSession('lab/pc1', undefined, rec);
    const pty = fakePty();
    session.bindPty(pty.pty);
    pty.emit('Linux version 6.1\r\n'); // nobody watches yet
    clock += 1500;
    const a = session.attach({ onData: () => {} });
    const b = session.attach({ onData: () => {} });
    a.write('ls\r');
    clock += 250;
    b.write('\x03');
    a.resize(120, 40);
    pty.emit('pc1:~# ');
    session.dispose();
    rec.close();

    expect(pty.written).toEqual(['ls\r', '\x03']); // the guest got them unchanged
    const { header, events } = parseCast(readFileSync(file, 'utf8'));
    expect(header).toMatchObject({ version: 2, width: 80, height: 24, timestamp: 1_800_000_000, title: 'lab/pc1' });
    expect(events).toEqual([
      [0, 'o', 'Linux version 6.1\r\n'],
      [1.5, 'i', 'ls\r'],
      [1.75, 'i', '\x03'],
      [1.75, 'r', '120x40'],
      [1.75, 'o', 'pc1:~# '],
    ]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'rec')).mode & 0o777).toBe(0o700);
  });

  it('a new recorder (the lab started again) appends to the same file and its times go on', () => {
    const file = join(dir, 'pc1.cast');
    const first = new ConsoleRecorder({ file, now });
    first.output('one');
    first.close();
    clock += 60_000;
    // A crash mid-write left half a line: the next event still starts a line of its own.
    appendFileSync(file, '[12.5, "o", "torn');
    const second = new ConsoleRecorder({ file, now });
    second.input('two');
    second.close();
    const text = readFileSync(file, 'utf8');
    expect(text.split('\n').filter((l) => l.startsWith('{'))).toHaveLength(1); // one header
    expect(parseCast(text).events).toEqual([
      [0, 'o', 'one'],
      [60, 'i', 'two'],
    ]);
  });

  it('is bounded per machine: output stops at its share with a marker, keystrokes go on, then nothing', () => {
    const file = join(dir, 'pc1.cast');
    const max = 8192;
    const rec = new ConsoleRecorder({ file, maxBytes: max, now });
    for (let i = 0; i < 100; i++) rec.output(`${'x'.repeat(200)}\r\n`);
    expect(rec.size).toBeLessThanOrEqual(max * OUTPUT_SHARE + 200);
    rec.input('after the output bound\r');
    for (let i = 0; i < 100; i++) rec.input('y'.repeat(50));
    rec.output('never recorded');
    rec.close();
    const size = statSync(file).size;
    expect(size).toBeLessThanOrEqual(max + 200);
    const { events } = parseCast(readFileSync(file, 'utf8'));
    const markers = events.filter((e) => e[1] === 'm').map((e) => e[2]);
    expect(markers).toEqual([expect.stringMatching(/^output recording limit reached .*keystrokes are still recorded/), expect.stringMatching(/^recording limit reached .*nothing more is recorded/)]);
    expect(events.some((e) => e[1] === 'i' && e[2] === 'after the output bound\r')).toBe(true);
    expect(events.some((e) => e[2] === 'never recorded')).toBe(false);
    // A new recorder of a file at its bound records nothing either.
    const again = new ConsoleRecorder({ file, maxBytes: max, now });
    again.input('more');
    again.close();
    expect(statSync(file).size).toBe(size);
  });

  it('a recording that cannot be written ends; the console goes on', () => {
    const rec = new ConsoleRecorder({ file: join(dir, 'missing', '\0bad', 'pc1.cast'), now });
    const session = new ConsoleSession('lab/pc1', undefined, rec);
    const pty = fakePty();
    session.bindPty(pty.pty);
    const seen: string[] = [];
    const v = session.attach({ onData: (d) => seen.push(d) });
    pty.emit('still here');
    v.write('typed');
    session.dispose();
    expect(seen.join('')).toContain('still here');
    expect(pty.written).toEqual(['typed']);
  });

  it('a tap that throws is dropped, never the console', () => {
    let calls = 0;
    const session = new ConsoleSession('lab/pc1', undefined, {
      output: () => {
        calls++;
        throw new Error('boom');
      },
    });
    const pty = fakePty();
    session.bindPty(pty.pty);
    const seen: string[] = [];
    session.attach({ onData: (d) => seen.push(d) });
    pty.emit('a');
    pty.emit('b');
    session.dispose();
    expect(calls).toBe(1);
    expect(seen.join('')).toBe('ab');
  });
});
