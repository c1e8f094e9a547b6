// Console flow control, the one mechanism (runtime/console-session.ts): per viewer, delivery pauses
// above the high watermark of unacknowledged characters and resumes under the low one; the guest's
// pty is never paused (a ConsolePty has no pause); held output is bounded and the skip is reported.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConsoleSession, FLOW_HIGH_WATERMARK, FLOW_LOW_WATERMARK, HELD_LIMIT_CHARS, SETTLE_QUIET_MS, SETTLE_MAX_MS } from '../../src/main/runtime/console-session.ts';
import { CONSOLE_ACK_BATCH_CHARS } from '../../src/shared/service-api.ts';

function fakePty() {
  const listeners: ((d: string) => void)[] = [];
  const calls: string[] = [];
  return {
    calls,
    emit: (d: string) => listeners.forEach((l) => l(d)),
    pty: {
      onData: (l: (d: string) => void) => void listeners.push(l),
      write: (d: string) => void calls.push(`write ${d}`),
      resize: () => {},
    },
  };
}

/** What was written to a fake guest's pty (the wake key, typed keys), in order. */
const writes = (p: ReturnType<typeof fakePty>) => p.calls.filter((c) => c.startsWith('write '));

/** Numbered 50,000-character chunks, so order and losses are visible. */
const chunk = (i: number) => `<${i}>`.padEnd(50_000, '.');

describe('console flow control', () => {
  let session: ConsoleSession;
  let pty: ReturnType<typeof fakePty>;

  beforeEach(() => {
    vi.useFakeTimers();
    session = new ConsoleSession('lab/pc1');
    pty = fakePty();
    session.bindPty(pty.pty);
  });

  afterEach(() => {
    session.dispose();
    vi.useRealTimers();
  });

  /** Guest output, flushed to viewers as the batcher would. */
  const emit = (data: string) => {
    pty.emit(data);
    vi.advanceTimersByTime(10);
  };
  const settle = () => new Promise<void>((r) => queueMicrotask(r));

  it('a slow viewer does not slow a fast one, and the guest is never paused', async () => {
    let fast = '';
    let slow = '';
    const fastViewer = session.attach({
      flowControl: true,
      onData: (d) => {
        fast += d;
        queueMicrotask(() => fastViewer.ack(d.length)); // renders at once
      },
    });
    session.attach({ flowControl: true, onData: (d) => (slow += d) }); // never acknowledges

    let all = '';
    for (let i = 0; i < 40; i++) {
      all += chunk(i);
      emit(chunk(i));
      await settle();
    }
    expect(fast).toBe(all);
    // The slow one got what it was sent before it crossed the high mark, and nothing after.
    expect(slow.length).toBeGreaterThan(FLOW_HIGH_WATERMARK);
    expect(slow.length).toBeLessThanOrEqual(FLOW_HIGH_WATERMARK + chunk(0).length);
    expect(all.startsWith(slow)).toBe(true);
    expect(pty.calls).toEqual([]);
  });

  it('holds a viewer above the high mark and releases only below the low mark, in order', () => {
    let seen = '';
    const viewer = session.attach({ flowControl: true, onData: (d) => (seen += d) });
    let all = '';
    for (let i = 0; i < 6; i++) {
      all += chunk(i);
      emit(chunk(i));
    }
    const delivered = seen.length; // 150,000: the third chunk crossed the mark
    expect(delivered).toBe(150_000);
    viewer.ack(delivered - FLOW_LOW_WATERMARK); // exactly at the low mark: still held
    expect(seen.length).toBe(delivered);
    viewer.ack(1);
    expect(seen).toBe(all); // everything held arrives, nothing skipped, no note
    // Delivery goes on normally once the viewer has caught up.
    viewer.ack(seen.length);
    emit('after');
    expect(seen).toBe(`${all}after`);
  });

  it('bounds what it holds for a viewer that stays behind, and says how much was skipped', () => {
    let seen = '';
    const viewer = session.attach({ flowControl: true, onData: (d) => (seen += d) });
    let all = '';
    const total = 120; // 6 MB of output, three times the bound
    for (let i = 0; i < total; i++) {
      all += chunk(i);
      emit(chunk(i));
    }
    const before = seen.length;
    viewer.ack(before);
    const released = seen.slice(before);
    const note = /^\r\n\x1b\[2m\[vnetlab: (\d+) KiB of output skipped to keep up\]\x1b\[0m\r\n/.exec(released);
    expect(note).not.toBeNull();
    const held = released.slice(note![0].length);
    expect(held.length).toBeLessThanOrEqual(HELD_LIMIT_CHARS);
    expect(held.length).toBeGreaterThan(HELD_LIMIT_CHARS - chunk(0).length);
    expect(all.endsWith(held)).toBe(true); // the newest output is kept, the oldest dropped
    const skipped = all.length - before - held.length;
    expect(Number(note![1])).toBe(Math.round(skipped / 1024));
    expect(pty.calls).toEqual([]);
  });

  it('counts the replay as unacknowledged and forgets held output on detach', () => {
    emit('x'.repeat(FLOW_HIGH_WATERMARK + 1));
    let seen = '';
    const viewer = session.attach({ flowControl: true, onData: (d) => (seen += d) });
    expect(seen.length).toBe(FLOW_HIGH_WATERMARK + 1); // the replay
    emit('held');
    expect(seen.endsWith('held')).toBe(false);
    viewer.detach();
    viewer.ack(seen.length);
    expect(seen.endsWith('held')).toBe(false);
  });

  it('gives everything to a viewer without flow control', () => {
    let seen = '';
    session.attach({ onData: (d) => (seen += d) });
    let all = '';
    for (let i = 0; i < 10; i++) {
      all += chunk(i);
      emit(chunk(i));
    }
    expect(seen).toBe(all);
  });

  it('the renderer acknowledges in batches smaller than the low mark', () => {
    expect(CONSOLE_ACK_BATCH_CHARS).toBeGreaterThan(0);
    expect(CONSOLE_ACK_BATCH_CHARS).toBeLessThan(FLOW_LOW_WATERMARK);
  });
});

// A guest console's shell starts on a key (the guest init, vnetlab-agent --init); the session sends it once per boot, when the
// guest is ready and someone looks — never during the boot, never twice.
describe('the wake key of a guest console', () => {

  it('is sent at the first attach after the boot, and only then', () => {
    const session = new ConsoleSession('lab/pc1');
    const pty = fakePty();
    session.bindPty(pty.pty, { booting: true, wakeKey: '\r' });
    session.bootDone();
    expect(writes(pty)).toEqual([]);
    const first = session.attach({ onData: () => {} });
    expect(writes(pty)).toEqual(['write \r']);
    session.attach({ onData: () => {} }).detach();
    first.detach();
    session.attach({ onData: () => {} });
    expect(writes(pty)).toEqual(['write \r']);
    session.dispose();
  });

  it('waits for the end of the boot when a viewer is already there, and comes again after a restart', () => {
    const session = new ConsoleSession('lab/pc1');
    const first = fakePty();
    session.attach({ onData: () => {} });
    session.bindPty(first.pty, { booting: true, wakeKey: '\r' });
    expect(writes(first)).toEqual([]);
    session.bootDone();
    expect(writes(first)).toEqual(['write \r']);
    const second = fakePty();
    session.unbindPty();
    session.bindPty(second.pty, { booting: true, wakeKey: '\r' });
    session.bootDone();
    expect(writes(second)).toEqual(['write \r']);
    session.dispose();
  });

  it('is not sent on a console bound without one (an extra console)', () => {
    const session = new ConsoleSession('lab/pc1');
    const pty = fakePty();
    session.bindPty(pty.pty);
    session.attach({ onData: () => {} });
    session.bootDone();
    expect(writes(pty)).toEqual([]);
    session.dispose();
  });
});

// The console's last boot lines can reach the host after the agent's ready (another channel): they are
// still boot log, and a reload must not show them above the shell's banner (seen in app-defects under load).
describe('late boot lines and the wake key', () => {
  const replayOf = (session: ConsoleSession) => {
    let text = '';
    session.attach({ onData: (d) => (text += d) }).detach();
    return text;
  };

  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('with a window open at ready, the key waits for the console to be quiet, and the late lines leave the replay', () => {
    const session = new ConsoleSession('lab/pc1');
    const pty = fakePty();
    let seen = '';
    session.attach({ onData: (d) => (seen += d) });
    session.bindPty(pty.pty, { booting: true, wakeKey: '\r' });
    pty.emit('Linux version 6.1\r\n');
    session.bootDone();
    pty.emit('NET: Registered PF_INET6 protocol family\r\n');
    vi.advanceTimersByTime(SETTLE_QUIET_MS / 2);
    pty.emit('EXT4-fs (ubdb): mounted filesystem\r\nvnetlab: no /etc/pc1.startup output\r\n');
    expect(writes(pty)).toEqual([]); // not quiet yet
    vi.advanceTimersByTime(SETTLE_QUIET_MS);
    expect(writes(pty)).toEqual(['write \r']);
    pty.emit('\r\nBusyBox v1.35.0 built-in shell (ash)\r\npc1:~# ');
    vi.advanceTimersByTime(20);
    expect(seen).toMatch(/EXT4-fs[\s\S]*BusyBox/); // the open window saw it all live
    const replay = replayOf(session);
    expect(replay).not.toMatch(/Linux version|PF_INET6|EXT4-fs/);
    expect(replay).toMatch(/vnetlab: no \/etc\/pc1.startup output[\s\S]*BusyBox[\s\S]*pc1:~# $/);
    session.dispose();
  });

  it('a console that never goes quiet still gets its key, SETTLE_MAX_MS after ready', () => {
    const session = new ConsoleSession('lab/pc1');
    const pty = fakePty();
    session.attach({ onData: () => {} });
    session.bindPty(pty.pty, { booting: true, wakeKey: '\r' });
    pty.emit('Linux version 6.1\r\n');
    session.bootDone();
    for (let t = 0; t < SETTLE_MAX_MS - 50; t += 50) {
      vi.advanceTimersByTime(50);
      pty.emit('noise\r\n');
    }
    expect(writes(pty)).toEqual([]);
    vi.advanceTimersByTime(SETTLE_QUIET_MS);
    expect(writes(pty)).toEqual(['write \r']);
    session.dispose();
  });

  it('late lines that came before the first look are not replayed to it', () => {
    const session = new ConsoleSession('lab/pc1');
    const pty = fakePty();
    session.bindPty(pty.pty, { booting: true, wakeKey: '\r' });
    pty.emit('Linux version 6.1\r\n');
    session.bootDone();
    pty.emit('NET: Registered PF_INET6 protocol family\r\n');
    vi.advanceTimersByTime(500);
    let seen = '';
    session.attach({ onData: (d) => (seen += d) });
    expect(writes(pty)).toEqual(['write \r']); // quiet for long: at once
    expect(seen).not.toMatch(/PF_INET6|Linux version/);
    session.dispose();
  });

  it('a key typed before the wake reaches the shell: the wake key goes first', () => {
    const session = new ConsoleSession('lab/pc1');
    const pty = fakePty();
    const viewer = session.attach({ onData: () => {} });
    session.bindPty(pty.pty, { booting: true, wakeKey: '\r' });
    pty.emit('Linux version 6.1\r\n');
    session.bootDone();
    pty.emit('late line\r\n');
    expect(writes(pty)).toEqual([]); // not settled yet
    viewer.write('l');
    expect(writes(pty)).toEqual(['write \r', 'write l']);
    vi.advanceTimersByTime(SETTLE_MAX_MS);
    expect(writes(pty)).toEqual(['write \r', 'write l']);
    session.dispose();
  });
});
