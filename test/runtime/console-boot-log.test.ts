// The kernel's boot log leaves a console's replay once the guest is ready (issue 23, 1.10): a window
// that attaches later (a reload) shows what the student did, not 100 lines of kernel messages. What the
// guest init says about the lab's files (`vnetlab: …`), output from an earlier run and what follows stay.
import { describe, expect, it, vi } from 'vitest';
import { ConsoleSession, SETTLE_QUIET_MS } from '../../src/main/runtime/console-session.ts';

function pty() {
  const listeners: ((d: string) => void)[] = [];
  return { emit: (d: string) => listeners.forEach((l) => l(d)), pty: { onData: (l: (d: string) => void) => void listeners.push(l), write: () => {}, resize: () => {} } };
}

function replayOf(session: ConsoleSession): string {
  let text = '';
  session.attach({ onData: (d) => (text += d) }).detach();
  return text;
}

describe('console replay after boot', () => {
  it('drops the boot log at ready, keeps the init\'s own lines and what came before and after', () => {
    vi.useFakeTimers();
    try {
      const session = new ConsoleSession('lab/pc1');
      const first = pty();
      session.bindPty(first.pty);
      first.emit('Linux version 6.1.176\r\nCalibrating delay loop... 3431 BogoMIPS\r\n');
      session.bootDone();
      vi.advanceTimersByTime(SETTLE_QUIET_MS);
      first.emit('pc1:~# echo earlier-work\r\nearlier-work\r\n');
      session.unbindPty();
      session.push('\r\n[vnetlab: pc1 stopped]\r\n');
      // A restart: the next boot's log goes too, the earlier work stays.
      const second = pty();
      session.bindPty(second.pty);
      second.emit('Linux version 6.1.176\r\nNET: Registered PF_INET protocol family\r\nvnetlab: cannot add 10.0.0.300/24 to eth0 (see /var/log/vnetlab-startup.log)\r\n');
      expect(replayOf(session)).toMatch(/NET: Registered/); // still booting: all of it
      session.bootDone();
      vi.advanceTimersByTime(SETTLE_QUIET_MS);
      second.emit('\r\nBusyBox v1.35.0 built-in shell (ash)\r\npc1:~# ');
      const replay = replayOf(session);
      expect(replay).not.toMatch(/Linux version|BogoMIPS|NET: Registered/);
      expect(replay).toMatch(/earlier-work[\s\S]*\[vnetlab: pc1 stopped\][\s\S]*vnetlab: cannot add 10\.0\.0\.300\/24[\s\S]*BusyBox[\s\S]*pc1:~# $/);
      session.dispose();
    } finally {
      vi.useRealTimers();
    }
  });

  it('a boot that never gets ready keeps its whole log (it says why it failed)', () => {
    const session = new ConsoleSession('lab/pc2');
    const p = pty();
    session.bindPty(p.pty);
    p.emit('Linux version 6.1.176\r\nKernel panic - not syncing: VFS\r\n');
    expect(replayOf(session)).toMatch(/Linux version[\s\S]*Kernel panic/);
    session.dispose();
  });
});

describe('a booting guest\'s console size', () => {
  it('stays as spawned until the guest is ready, then takes the latest size a viewer asked for (a SIGWINCH in early boot panics UML)', () => {
    const session = new ConsoleSession('lab/pc1');
    const sizes: string[] = [];
    const guest = { onData: () => {}, write: () => {}, resize: (c: number, r: number) => void sizes.push(`${c}x${r}`) };
    session.bindPty(guest, { booting: true });
    const viewer = session.attach({ onData: () => {} });
    viewer.resize(100, 30);
    viewer.resize(120, 40);
    expect(sizes).toEqual([]);
    expect(session.dimensions).toEqual({ cols: 120, rows: 40 });
    session.bootDone();
    expect(sizes).toEqual(['120x40']);
    viewer.resize(90, 20);
    expect(sizes).toEqual(['120x40', '90x20']);
  });

  it('a console that is not a booting guest (an extra console\'s shell) resizes at once', () => {
    const session = new ConsoleSession('lab/pc1/1');
    const sizes: string[] = [];
    session.bindPty({ onData: () => {}, write: () => {}, resize: (c: number, r: number) => void sizes.push(`${c}x${r}`) });
    session.attach({ onData: () => {} }).resize(100, 30);
    expect(sizes).toEqual(['100x30']);
  });
});
