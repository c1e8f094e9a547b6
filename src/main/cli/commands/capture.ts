// `vnetlab capture [LAB] (MACHINE:IFACE | DOMAIN) [-w FILE | -w -] [-c COUNT] [--duration SECONDS]`:
// every frame on a cable or in a collision domain, written as it passes in classic pcap, which
// Wireshark, tshark and tcpdump read (`-w - | wireshark -k -i -` watches live). The network never
// waits for us: frames a slow reader cannot take are dropped and counted.
import { closeSync, openSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { UserError } from '../../errors.ts';
import { LAB_FLAG, parseSeconds } from '../lab-args.ts';
import { requireSupervisor } from '../../runtime/lab-target.ts';
import { pcapHeader, pcapRecord } from '../../runtime/network/pcap.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { labAndTarget } from './link.ts';

const DEFAULT_MAX_MB = 100;
/** Past this much unread output on stdout, frames are dropped and counted rather than kept in memory. */
const STDOUT_BACKLOG_BYTES = 8 * 1024 * 1024;

/** --max-size: a positive number of megabytes (fractions allowed). */
function parseMegabytes(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new UserError(`--max-size must be a positive number of megabytes (MB), not '${String(value)}'`);
  }
  return n;
}

const command: Command = {
  name: 'capture',
  summary: 'capture the frames of a cable or a collision domain as pcap (live, for Wireshark)',
  usage: 'capture [LAB] (MACHINE:IFACE | DOMAIN) [-w FILE | -w -] [-c COUNT] [--duration SECONDS] [--max-size MB]',
  description: `
Captures on a cable (pc1:eth0: everything pc1's eth0 sends and receives) or on a whole collision
domain (A: every frame a hub repeats; on a learning switch, only what it floods). Without -w, prints
one line per frame. Stops after COUNT frames, SECONDS, MB written, or Ctrl-C.

Examples:
  vnetlab capture pc1:eth0 -w arp.pcap -c 20
  vnetlab capture -l labs/ospf B -w - | wireshark -k -i -
  vnetlab capture A --duration 10 -w /tmp/a.pcap`,
  flags: {
    lab: LAB_FLAG,
    write: { type: 'string', short: 'w', description: "pcap file to write ('-' for standard output)", valueName: 'FILE' },
    count: { type: 'string', short: 'c', description: 'stop after this many frames', valueName: 'COUNT' },
    duration: { type: 'string', description: 'stop after this many seconds', valueName: 'SECONDS' },
    'max-size': { type: 'string', description: `stop when the file reaches this size (default ${DEFAULT_MAX_MB} MB)`, valueName: 'MB' },
  },
  async run(args, io) {
    const { labPath, target } = labAndTarget(args.positionals, args.flags.lab, io);
    if (!target) throw new UserError('capture on what? give a cable (pc1:eth0) or a collision domain', 2, 'vnetlab link lists the cables');
    const count = args.flags.count == null ? Infinity : Number(args.flags.count);
    if (count !== Infinity && (!Number.isInteger(count) || count <= 0)) throw new UserError(`-c must be a positive whole number of frames, not '${String(args.flags.count)}'`);
    const durationMs = args.flags.duration == null ? Infinity : parseSeconds(args.flags.duration, 'duration', 0) * 1000;
    const maxBytes = parseMegabytes(args.flags['max-size'], DEFAULT_MAX_MB) * 1024 * 1024;
    const out = typeof args.flags.write === 'string' ? args.flags.write : undefined;

    const sup = await requireSupervisor(labPath, io.env);
    // Node writes to a pipe on stdout synchronously on Linux: a reader that stops reading would freeze
    // this command (timers, Ctrl-C and all). Our own non-blocking writer keeps a bounded backlog instead.
    const pipe = out === '-' && io.stdout === process.stdout && !process.stdout.isTTY ? new NonBlockingPipe(1, STDOUT_BACKLOG_BYTES) : undefined;
    let fd: number | undefined;
    try {
      // Binary output: straight to the file descriptor, so nothing is re-encoded on the way.
      if (out !== undefined && out !== '-') fd = openSync(resolve(io.cwd, out), 'w', 0o644);
      let written = 0;
      let frames = 0;
      /** Frames a reader of our stdout was too slow for (never kept in memory without bound). */
      let droppedHere = 0;
      let stopReason = '';
      const write = (chunk: Buffer): boolean => {
        if (fd !== undefined) writeSync(fd, chunk);
        else if (pipe) {
          if (!pipe.write(chunk)) return false;
        } else io.stdout.write(chunk);
        written += chunk.length;
        return true;
      };
      if (out !== undefined) write(pcapHeader());
      let finish!: (reason: string) => void;
      const finished = new Promise<string>((r) => (finish = r));
      const capture = await sup.capture(target, {
        onFrame: (frame, timeUs) => {
          if (stopReason) return;
          if (out !== undefined) {
            const record = pcapRecord(frame, timeUs);
            if (written + record.length > maxBytes) return finish(`reached the size limit of ${maxBytes / 1024 / 1024} MB (--max-size)`);
            if (!write(record)) {
              droppedHere++;
              return;
            }
          } else {
            io.stdout.write(`${new Date(timeUs / 1000).toISOString().slice(11, 23)} ${summary(frame)}\n`);
          }
          if (++frames >= count) finish(`${frames} frame(s) captured`);
        },
        onEnd: (reason) => finish(reason),
      });
      const timer = Number.isFinite(durationMs) ? setTimeout(() => finish(`${durationMs / 1000} s elapsed`), durationMs) : undefined;
      const onSignal = () => finish('interrupted');
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      // A reader that went away (wireshark closed) ends the capture.
      if (out === '-' && !pipe) io.stdout.once('error', () => finish('the reader closed the pipe'));
      pipe?.onClosed(() => finish('the reader closed the pipe'));
      stopReason = await finished;
      if (timer) clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      const counts = await capture.stop().catch(() => ({ frames, dropped: 0 }));
      const lost = counts.dropped + droppedHere;
      const dropped = lost ? `, ${lost} dropped because the reader was too slow` : '';
      io.stderr.write(`capture on ${target}: ${frames} frame(s)${out && out !== '-' ? ` written to ${out}` : ''}${dropped} (${stopReason})\n`);
      // What the reader has not taken within a moment is given up, so the command can end.
      await pipe?.drain(2000);
      return EXIT.ok;
    } finally {
      pipe?.close();
      if (fd !== undefined) closeSync(fd);
      sup.close();
    }
  },
};

export default command;

/**
 * Writes to a pipe without ever blocking: the fd is made non-blocking, what the reader does not take at
 * once waits in a bounded backlog (flushed as the reader reads), and frames beyond it are refused.
 */
class NonBlockingPipe {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private closed = false;
  private closedListener: (() => void) | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly fd: number,
    private readonly limit: number,
  ) {
    (process.stdout as unknown as { _handle?: { setBlocking?(blocking: boolean): void } })._handle?.setBlocking?.(false);
    this.timer = setInterval(() => this.flush(), 20);
  }

  onClosed(listener: () => void): void {
    this.closedListener = listener;
  }

  /** False when the frame does not fit in the backlog (dropped whole, so the pcap stream stays valid). */
  write(chunk: Buffer): boolean {
    this.flush();
    if (this.closed || this.pendingBytes + chunk.length > this.limit) return false;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.flush();
    return true;
  }

  async drain(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.pendingBytes > 0 && !this.closed && Date.now() < deadline) {
      this.flush();
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.pending = [];
    this.pendingBytes = 0;
  }

  private flush(): void {
    while (this.pending.length && !this.closed) {
      const head = this.pending[0]!;
      let n: number;
      try {
        n = writeSync(this.fd, head);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') return;
        this.closed = true; // EPIPE: the reader is gone
        this.pending = [];
        this.pendingBytes = 0;
        this.closedListener?.();
        return;
      }
      this.pendingBytes -= n;
      if (n < head.length) {
        this.pending[0] = head.subarray(n);
        return;
      }
      this.pending.shift();
    }
  }
}

/** Source, destination and EtherType: enough to see traffic flow; `-w` and Wireshark for the rest. */
function summary(frame: Buffer): string {
  if (frame.length < 14) return `${frame.length} bytes (runt)`;
  const mac = (o: number) => [...frame.subarray(o, o + 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
  const type = frame.readUInt16BE(12);
  const names: Record<number, string> = { 0x0800: 'IPv4', 0x0806: 'ARP', 0x86dd: 'IPv6', 0x8100: '802.1Q' };
  return `${mac(6)} > ${mac(0)} ${names[type] ?? `type 0x${type.toString(16).padStart(4, '0')}`} ${frame.length} bytes`;
}
