// The app's packet view of one capture: frames from the lab's supervisor are kept in a pcap file and
// dissected by Wireshark's own tshark (never by parsers of ours): a streaming tshark gives the packet
// list (Wireshark's columns, through the display filter), and a one-shot `tshark -T pdml` gives the
// protocol tree of a packet when the student opens it. Without tshark the list shows addresses and
// EtherTypes only and says what to install; saving the capture still works.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, constants, fstatSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PacketDetail, PacketSummary, PacketTreeNode } from '../../shared/service-api.ts';
import { UserError } from '../errors.ts';
import { whichTool } from '../images/kernel.ts';
import { pcapHeader, pcapRecord } from '../runtime/network/pcap.ts';
import { sandboxedTshark, tsharkConfinement } from '../runtime/confinement.ts';

/** A capture in the app keeps at most this much (a student reads packets; a flood is for `vnetlab capture`). */
const MAX_FRAMES = 200_000;
const MAX_BYTES = 256 * 1024 * 1024;
const FLUSH_MS = 100;
/** The PDML of one packet is a few KB to a few hundred; past this tshark is stopped. */
const MAX_PDML_BYTES = 16 * 1024 * 1024;
/** One-shot tshark runs at once in this process (each is a process of its own, ~50 MB). */
const MAX_TSHARK_RUNS = 4;
const COLUMNS = ['frame.number', 'frame.time_relative', '_ws.col.Source', '_ws.col.Destination', '_ws.col.Protocol', 'frame.len', '_ws.col.Info'];

export const TSHARK_MISSING = 'tshark is not installed, so packets are not dissected: sudo apt-get install tshark (capturing and saving work without it)';

export function tsharkPath(): string | undefined {
  return whichTool('tshark');
}

/** Wireshark, when it is installed and there is a display to show it on. */
export function wiresharkPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.DISPLAY || env.WAYLAND_DISPLAY ? whichTool('wireshark', env) : undefined;
}

export class PacketView {
  private readonly dir = mkdtempSync(join(tmpdir(), 'vnetlab-capture-')); // 0700: ours alone
  readonly file = join(this.dir, 'capture.pcap');
  /** The streaming tshark's TMPDIR (dumpcap's file): the one folder its sandbox lets it write in. */
  private readonly tsharkTmp = join(this.dir, 'tshark');
  private readonly frames: { bytes: Buffer; timeUs: number }[] = [];
  private bytes = 0;
  private firstUs: number | undefined;
  private tshark: ChildProcess | undefined;
  private filter = '';
  private pending: PacketSummary[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private resetNext = false;
  /** Wireshark windows following this capture (pcap on their stdin). */
  private readonly followers = new Set<ChildProcess>();
  truncated = false;
  private closed = false;
  private filterGeneration = 0;

  constructor(
    private readonly tsharkBin: string | undefined,
    private readonly onPackets: (packets: PacketSummary[], reset: boolean) => void,
  ) {
    writeFileSync(this.file, pcapHeader(), { mode: 0o600 });
    mkdirSync(this.tsharkTmp, { mode: 0o700 });
    this.startDissector();
  }

  get frameCount(): number {
    return this.frames.length;
  }

  addFrame(frame: Buffer, timeUs: number): void {
    if (this.frames.length >= MAX_FRAMES || this.bytes + frame.length > MAX_BYTES) {
      this.truncated = true;
      return;
    }
    this.firstUs ??= timeUs;
    const record = pcapRecord(frame, timeUs);
    this.frames.push({ bytes: Buffer.from(frame), timeUs });
    this.bytes += frame.length;
    appendFileSync(this.file, record);
    for (const w of this.followers) if (w.stdin?.writable && w.stdin.writableLength < 4 * 1024 * 1024) w.stdin.write(record);
    if (this.tshark?.stdin?.writable) this.tshark.stdin.write(record);
    else if (!this.tsharkBin) this.queue(basicSummary(this.frames.length, frame, (timeUs - this.firstUs) / 1e6));
  }

  /**
   * A Wireshark display filter; a wrong one is refused with tshark's own words. tshark runs
   * asynchronously (the process may be serving other people's calls meanwhile), bounded in time and
   * output. When filters are set faster than tshark checks them, the last one set wins.
   */
  async setFilter(filter: string): Promise<void> {
    const f = String(filter ?? '').trim();
    if (f && !this.tsharkBin) throw new UserError('display filters need tshark', 3, 'sudo apt-get install tshark');
    const generation = ++this.filterGeneration;
    if (f) {
      const check = await runTshark(this.tsharkBin!, ['-Y', f, '-r', this.file, '-c', '1'], this.file, 10_000, 1024 * 1024);
      const problem = check.stderr.split('\n').find((l) => /^tshark: /.test(l));
      if (check.code !== 0 && problem) throw new UserError(`display filter '${f}': ${problem.replace(/^tshark: /, '')}`, 2, 'use Wireshark display filter syntax, e.g. arp, icmp, ip.addr == 10.0.0.1, ospf');
      if (check.timedOut) throw new UserError(`display filter '${f}': tshark took too long to check it`, 2, 'try again, or a simpler filter');
    }
    if (generation !== this.filterGeneration || this.closed) return;
    this.filter = f;
    this.stopDissector();
    this.pending = [];
    this.resetNext = true;
    this.startDissector(true);
  }

  /** The protocol tree (PDML shownames) and hex bytes of packet `number` (1-based, capture order). */
  async detail(number: number): Promise<PacketDetail> {
    const frame = this.frames[number - 1];
    if (!Number.isInteger(number) || !frame) throw new UserError(`no packet ${number} in this capture`, 2);
    const hex = frame.bytes.toString('hex');
    if (!this.tsharkBin) return { number, tree: [{ label: TSHARK_MISSING, children: [] }], hex };
    const out = await runTshark(this.tsharkBin, ['-n', '-r', this.file, '-Y', `frame.number == ${number}`, '-T', 'pdml'], this.file, 20_000, MAX_PDML_BYTES);
    if (out.tooLarge) throw new UserError(`packet ${number} is too large to show here (its dissection is over ${MAX_PDML_BYTES / 1024 / 1024} MiB)`, 2, 'save the capture and open it in Wireshark');
    if (out.timedOut) throw new UserError(`tshark took too long to dissect packet ${number}`, 3, 'try again in a moment');
    return { number, tree: parsePdml(out.stdout), hex };
  }

  /**
   * Wireshark reading the capture from its stdin (`wireshark -k -i -`): the packets so far, then each
   * new one. It is the user's own window: it stays open when the capture stops or the app closes.
   */
  openInWireshark(bin: string): void {
    const proc = spawn(bin, ['-k', '-i', '-'], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    proc.unref();
    proc.stdin!.on('error', () => this.followers.delete(proc)); // the window was closed
    proc.on('exit', () => this.followers.delete(proc));
    proc.stdin!.write(pcapHeader());
    for (const f of this.frames) proc.stdin!.write(pcapRecord(f.bytes, f.timeUs));
    this.followers.add(proc);
  }

  /**
   * Writes the capture to `path` (already checked by the service), never through a symbolic link:
   * O_NOFOLLOW refuses a link in place of the file, and only a regular file is written.
   */
  saveAs(path: string): void {
    let out: number;
    try {
      out = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o644);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw new UserError(`${path} is a symbolic link: the capture is not written through it`, 2, 'choose another file name');
      throw new UserError(`cannot save the capture as ${path}: ${code ?? (err as Error).message}`, 2, 'choose a file in a folder you can write to');
    }
    try {
      if (!fstatSync(out).isFile()) throw new UserError(`${path} is not a regular file: the capture is not written there`, 2, 'choose another file name');
      ftruncateSync(out, 0);
      const from = openSync(this.file, 'r');
      try {
        const buf = Buffer.allocUnsafe(1 << 20);
        for (let n; (n = readSync(from, buf, 0, buf.length, null)) > 0; ) {
          for (let done = 0; done < n; ) done += writeSync(out, buf, done, n - done);
        }
      } finally {
        closeSync(from);
      }
    } finally {
      closeSync(out);
    }
  }

  close(): void {
    this.closed = true;
    for (const w of this.followers) w.stdin?.end(); // Wireshark keeps what it has
    this.followers.clear();
    this.stopDissector();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The streaming tshark: pcap in on stdin, one tab-separated line per shown packet out. */
  private startDissector(replay = false): void {
    if (!this.tsharkBin) return;
    const args = ['-l', '-n', '-Q', '-i', '-', ...(this.filter ? ['-Y', this.filter] : []), '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=f', ...COLUMNS.flatMap((c) => ['-e', c])];
    const [program, ...argv] = sandboxedTshark(tsharkConfinement(), this.tsharkBin, args, { tmpDir: this.tsharkTmp });
    const proc = spawn(program!, argv, { stdio: ['pipe', 'pipe', 'ignore'], env: { ...process.env, TMPDIR: this.tsharkTmp } });
    this.tshark = proc;
    proc.stdin!.on('error', () => {}); // it may exit first (its exit is what we report)
    let partial = '';
    proc.stdout!.on('data', (chunk: Buffer) => {
      if (this.tshark !== proc) return;
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const summary = parseColumns(line);
        if (summary) this.queue(this.withMacs(summary));
      }
    });
    proc.stdin!.write(pcapHeader());
    // A new filter: the packets so far go through again, in order (frame numbers stay the same).
    if (replay) for (const f of this.frames) proc.stdin!.write(pcapRecord(f.bytes, f.timeUs));
  }

  private stopDissector(): void {
    const proc = this.tshark;
    this.tshark = undefined;
    if (proc) {
      proc.stdin?.end();
      proc.kill('SIGTERM');
    }
  }

  /** The frame's own MACs beside tshark's columns (which show IP addresses when there are some). */
  private withMacs(summary: PacketSummary): PacketSummary {
    const frame = this.frames[summary.number - 1]?.bytes;
    return frame && frame.length >= 12 ? { ...summary, ethDst: macAt(frame, 0), ethSrc: macAt(frame, 6) } : summary;
  }

  private queue(summary: PacketSummary): void {
    this.pending.push(summary);
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      const packets = this.pending;
      this.pending = [];
      const reset = this.resetNext;
      this.resetNext = false;
      this.onPackets(packets, reset);
    }, FLUSH_MS);
  }
}

interface TsharkRun {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  tooLarge: boolean;
}

let running = 0;
const waiting: (() => void)[] = [];

/**
 * One tshark run on the capture `file`, in its sandbox, asynchronous: never spawnSync, which would hold
 * the whole process (in a classroom worker, every student on it) for as long as tshark takes. Killed
 * after timeoutMs or past maxBytes of output; at most MAX_TSHARK_RUNS at once, the others wait their turn.
 */
async function runTshark(bin: string, args: string[], file: string, timeoutMs: number, maxBytes: number): Promise<TsharkRun> {
  // A finished run hands its slot to the next waiting one.
  if (running < MAX_TSHARK_RUNS) running++;
  else await new Promise<void>((r) => waiting.push(r));
  try {
    return await new Promise<TsharkRun>((resolve) => {
      const [program, ...argv] = sandboxedTshark(tsharkConfinement(), bin, args, { read: [file] });
      execFile(program!, argv, { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: maxBytes }, (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: string | number; killed?: boolean }) | null;
        const tooLarge = e?.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER';
        const timedOut = !!e?.killed && !tooLarge;
        resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, stdout: String(stdout ?? ''), stderr: String(stderr ?? ''), timedOut, tooLarge });
      });
    });
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

function parseColumns(line: string): PacketSummary | undefined {
  const [number, time, source, destination, protocol, length, ...info] = line.split('\t');
  const n = Number(number);
  if (!Number.isInteger(n) || n <= 0) return undefined;
  return { number: n, time: Number(time) || 0, source: source ?? '', destination: destination ?? '', protocol: protocol ?? '', length: Number(length) || 0, info: info.join('\t') };
}

/** Without a dissector: what the Ethernet header says, and no more. */
function basicSummary(number: number, frame: Buffer, time: number): PacketSummary {
  const type = frame.length >= 14 ? frame.readUInt16BE(12) : 0;
  const names: Record<number, string> = { 0x0800: 'IPv4', 0x0806: 'ARP', 0x86dd: 'IPv6' };
  const [src, dst] = [macAt(frame, 6), macAt(frame, 0)];
  return { number, time, source: src, destination: dst, protocol: names[type] ?? `0x${type.toString(16).padStart(4, '0')}`, length: frame.length, info: 'install tshark for details', ethSrc: src, ethDst: dst };
}

function macAt(frame: Buffer, offset: number): string {
  return [...frame.subarray(offset, offset + 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/**
 * tshark's PDML → a tree of `showname`s. PDML is regular (proto and field elements with attributes,
 * nested), so a small tokenizer is enough; `geninfo` (capture bookkeeping) is left out.
 */
export function parsePdml(xml: string): PacketTreeNode[] {
  const root: PacketTreeNode = { label: '', children: [] };
  const stack: PacketTreeNode[] = [root];
  const tag = /<(\/?)(proto|field)\b([^>]*?)(\/?)>/g;
  for (let m = tag.exec(xml); m; m = tag.exec(xml)) {
    const [, closing, , attrText, selfClosing] = m;
    if (closing) {
      if (stack.length > 1) stack.pop();
      continue;
    }
    const attrs = attributes(attrText ?? '');
    if (attrs.name === 'geninfo' || attrs.hide === 'yes') {
      if (!selfClosing) skipElement(tag, xml);
      continue;
    }
    const node: PacketTreeNode = { label: attrs.showname || attrs.show || attrs.name || '', children: [] };
    if (attrs.name && !attrs.name.startsWith('_')) node.field = attrs.name;
    stack[stack.length - 1]!.children.push(node);
    if (!selfClosing) stack.push(node);
  }
  return root.children;
}

function skipElement(tag: RegExp, xml: string): void {
  let depth = 1;
  for (let m = tag.exec(xml); m && depth > 0; m = depth > 0 ? tag.exec(xml) : null) {
    if (m[1]) depth--;
    else if (!m[4]) depth++;
  }
}

function attributes(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/(\w+)="([^"]*)"/g)) out[m[1]!] = unescapeXml(m[2]!);
  return out;
}

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp|#x[0-9a-f]+|#\d+);/gi, (_, e: string) => {
    const named: Record<string, string> = { lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' };
    if (named[e.toLowerCase()]) return named[e.toLowerCase()]!;
    return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
  });
}
