// Listening to a cable or a collision domain: one `vde_plug` per tap, its frames read off its stdout
// (pcap.ts). A cable's tap is its port hub; a hub's is the hub; a learning switch shows a port only
// what it sends there, so a switch is tapped on the port of every cable plugged into it, and a frame
// that crosses two tapped ports is kept once.
import { dirname } from 'node:path';
import { describeExit, type DaemonHandle, type Launcher } from '../launcher.ts';
import type { ProcessBook } from '../process-book.ts';
import { vdeFrameReader } from './pcap.ts';

export interface Capture {
  id: string;
  stop(): Promise<void>;
}

export interface CaptureContext {
  launcher: Launcher;
  book: ProcessBook;
  /** The lab's daemons' stdin FIFO and the folders their sandbox may write to. */
  stdinFifo: string;
  folders: string[];
  /** Running capture processes by name (the network ends them all on down()). */
  running: Map<string, DaemonHandle>;
  end(proc: DaemonHandle, name: string): Promise<void>;
}

/** Starts one vde_plug per tap; `onFrame` must not block; `onEnd` says why a capture ended by itself. */
export async function startCapture(
  ctx: CaptureContext,
  id: string,
  target: string,
  taps: string[],
  onFrame: (frame: Buffer, timeUs: number) => void,
  onEnd: (reason: string) => void,
): Promise<Capture> {
  const seen = taps.length > 1 ? new RecentFrames() : undefined;
  const procs: DaemonHandle[] = [];
  let ended = false;
  const stopAll = async () => {
    ended = true;
    await Promise.all(procs.map((p, n) => ctx.running.get(`${id}.${n}`) === p && (ctx.running.delete(`${id}.${n}`), ctx.end(p, `${id}.${n}`))));
  };
  try {
    for (const [n, ctlDir] of taps.entries()) {
      const name = `${id}.${n}`;
      const base = `${dirname(ctlDir)}/${name}`;
      const proc = await ctx.launcher.spawnDaemon(
        { what: `the capture on ${target}`, argv: ['vde_plug', ctlDir], logFile: `${base}.log`, stdinFifo: ctx.stdinFifo, sockets: [`${base}.log`], pipeStdout: true, folders: ctx.folders },
        ctx.book.register('capture', name),
      );
      procs.push(proc);
      ctx.running.set(name, proc);
      const read = vdeFrameReader((frame) => {
        const now = Date.now() * 1000;
        if (!seen || seen.firstTime(frame, now)) onFrame(frame, now);
      });
      proc.stdout?.on('data', (chunk: Buffer) => read(chunk));
      void proc.exited.then((exit) => {
        const ours = ctx.running.get(name) === proc;
        ctx.running.delete(name);
        ctx.book.forget('capture', name);
        if (ended) return;
        void stopAll();
        onEnd(ours ? `the capture on ${target} ended (${describeExit(exit)})` : 'stopped');
      });
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  return { id, stop: stopAll };
}

/** Frames seen in the last moment, so one crossing two listened ports is kept once. */
class RecentFrames {
  private readonly seen = new Map<string, number>();

  firstTime(frame: Buffer, nowUs: number): boolean {
    for (const [key, at] of this.seen) {
      if (nowUs - at < 500_000) break; // insertion order: the rest are newer
      this.seen.delete(key);
    }
    const key = frame.toString('base64');
    if (this.seen.has(key)) return false;
    this.seen.set(key, nowUs);
    return true;
  }
}
