// The `capture` check: frames seen on a cable by the host's capture (the same tap as `vnetlab capture`),
// so nothing inside a guest can forge the answer. A guest's root can print any ping output it likes;
// it cannot make an ICMP echo request appear on the wire without sending one.
//
// The check opens a capture on its cable, runs its `trigger` (with the lab-fs tool set) when it has
// one, and watches for `count` frames that match `match` (parsed here: Ethernet, 802.1Q, ARP, IPv4,
// IPv6, ICMP/ICMPv6, TCP, UDP) and, when given, the Wireshark display filter `filter` (tshark -Y on the
// host, over the frames captured so far). The window is the check's `timeout`, from its own start.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Check, FrameMatch } from '../../shared/checks.ts';
import { whichTool } from '../images/kernel.ts';
import { pcapHeader, pcapRecord } from '../runtime/network/pcap.ts';
import { sandboxedTshark, tsharkConfinement } from '../runtime/confinement.ts';
import { canonicalAddress } from './ip.ts';
import type { LabExecutor } from './engine.ts';
import { excerpt, type Verdict } from './probes.ts';

type CaptureCheck = Extract<Check, { kind: 'capture' }>;

/** What the engine gives a capture check. */
export interface CaptureRun {
  hosts: Record<string, string>;
  clock: { now(): number; sleep(ms: number): Promise<void> };
  signal?: AbortSignal;
}

/** A frame, as far as a check can tell it apart. */
export interface FrameSummary {
  family?: 'arp' | 'ipv4' | 'ipv6';
  l4?: 'icmp' | 'tcp' | 'udp';
  icmpType?: number;
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
}

/** Frames kept for a display filter: enough for any check, bounded so a flood cannot fill the grader's memory. */
const MAX_KEPT_FRAMES = 20_000;
const MAX_KEPT_BYTES = 32 * 1024 * 1024;
const TRIGGER_CAP_MS = 60_000;
/** Frames of the last moment may still be on their way from the capture when the trigger ends. */
const AFTER_TRIGGER_MS = 1_000;
const POLL_MS = 200;
const FILTER_EVERY_MS = 1_000;
const TSHARK_TIMEOUT_MS = 20_000;

export function summarizeFrame(frame: Buffer): FrameSummary {
  let offset = 12;
  if (frame.length < 14) return {};
  let type = frame.readUInt16BE(offset);
  while ((type === 0x8100 || type === 0x88a8) && frame.length >= offset + 6) {
    offset += 4;
    type = frame.readUInt16BE(offset);
  }
  offset += 2;
  if (type === 0x0806) {
    if (frame.length < offset + 28) return { family: 'arp' };
    return { family: 'arp', src: [...frame.subarray(offset + 14, offset + 18)].join('.'), dst: [...frame.subarray(offset + 24, offset + 28)].join('.') };
  }
  if (type === 0x0800) {
    if (frame.length < offset + 20) return { family: 'ipv4' };
    const ihl = (frame[offset]! & 0x0f) * 4;
    const proto = frame[offset + 9]!;
    const out: FrameSummary = { family: 'ipv4', src: [...frame.subarray(offset + 12, offset + 16)].join('.'), dst: [...frame.subarray(offset + 16, offset + 20)].join('.') };
    // Only the first fragment carries the transport header.
    const fragmentOffset = frame.readUInt16BE(offset + 6) & 0x1fff;
    return fragmentOffset === 0 ? { ...out, ...transport(frame, offset + ihl, proto, 1) } : out;
  }
  if (type === 0x86dd) {
    if (frame.length < offset + 40) return { family: 'ipv6' };
    const out: FrameSummary = { family: 'ipv6', src: ipv6Text(frame.subarray(offset + 8, offset + 24)), dst: ipv6Text(frame.subarray(offset + 24, offset + 40)) };
    return { ...out, ...transport(frame, offset + 40, frame[offset + 6]!, 58) };
  }
  return {};
}

function transport(frame: Buffer, at: number, proto: number, icmpProto: number): FrameSummary {
  if (proto === icmpProto && frame.length > at) return { l4: 'icmp', icmpType: frame[at]! };
  if ((proto === 6 || proto === 17) && frame.length >= at + 4) return { l4: proto === 6 ? 'tcp' : 'udp', sport: frame.readUInt16BE(at), dport: frame.readUInt16BE(at + 2) };
  return {};
}

function ipv6Text(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return canonicalAddress(groups.join(':')) ?? groups.join(':');
}

/** The addresses a `src`/`dst` of a match stands for: an address, or every lab address of a machine. */
function addressSet(value: string | undefined, addresses: Record<string, string[]>, hosts: Record<string, string>): Set<string> | undefined {
  if (value === undefined) return undefined;
  const own = canonicalAddress(value);
  if (own) return new Set([own]);
  const list = addresses[value] ?? (hosts[value] ? [hosts[value]!] : []);
  return new Set(list.map((a) => canonicalAddress(a.split('/')[0]!) ?? a));
}

/** A predicate for frames, from a check's `match`. */
export function frameMatcher(match: FrameMatch | undefined, addresses: Record<string, string[]>, hosts: Record<string, string>): (f: FrameSummary) => boolean {
  if (!match) return () => true;
  const src = addressSet(match.src, addresses, hosts);
  const dst = addressSet(match.dst, addresses, hosts);
  return (f) => {
    switch (match.protocol ?? 'any') {
      case 'any':
        break;
      case 'arp':
      case 'ipv4':
      case 'ipv6':
        if (f.family !== match.protocol) return false;
        break;
      case 'icmp':
      case 'tcp':
      case 'udp':
        if (f.l4 !== match.protocol) return false;
        break;
      case 'echo-request':
        if (f.l4 !== 'icmp' || f.icmpType !== (f.family === 'ipv6' ? 128 : 8)) return false;
        break;
      case 'echo-reply':
        if (f.l4 !== 'icmp' || f.icmpType !== (f.family === 'ipv6' ? 129 : 0)) return false;
        break;
    }
    if (src && !(f.src && src.has(f.src))) return false;
    if (dst && !(f.dst && dst.has(f.dst))) return false;
    if (match.port !== undefined && f.sport !== match.port && f.dport !== match.port) return false;
    return true;
  };
}

/** The match in words: `ICMP echo request 10.0.1.10 → pc2`. */
export function describeMatch(check: CaptureCheck): string {
  const m = check.match ?? {};
  const what = { any: 'frame', arp: 'ARP frame', ipv4: 'IPv4 packet', ipv6: 'IPv6 packet', icmp: 'ICMP packet', 'echo-request': 'ICMP echo request', 'echo-reply': 'ICMP echo reply', tcp: 'TCP segment', udp: 'UDP datagram' }[m.protocol ?? 'any'];
  const parts = [what];
  if (m.src) parts.push(`from ${m.src}`);
  if (m.dst) parts.push(`to ${m.dst}`);
  if (m.port) parts.push(`port ${m.port}`);
  if (check.filter) parts.push(`matching \`${check.filter}\``);
  return parts.join(' ');
}

function tally(summaries: FrameSummary[]): string {
  const counts = new Map<string, number>();
  for (const f of summaries) {
    const name = f.l4 === 'icmp' ? (f.family === 'ipv6' ? 'ICMPv6' : 'ICMP') : f.l4 ? f.l4.toUpperCase() : f.family ? f.family.toUpperCase().replace('V', 'v') : 'other';
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts].map(([n, c]) => `${c} ${n}`).join(', ');
}

/** Runs one capture check to its verdict. */
export async function runCaptureCheck(check: CaptureCheck, executor: LabExecutor, run: CaptureRun): Promise<Verdict> {
  if (!executor.capture) return { passed: false, final: true, reason: 'this check watches a cable, which cannot be done here (grade a lab run by vnetlab)' };
  const tshark = check.filter ? whichTool('tshark') : undefined;
  if (check.filter && !tshark) return { passed: false, final: true, reason: 'this check uses a display filter, and tshark is not installed on the grading host (apt-get install tshark)' };
  const matches = frameMatcher(check.match, executor.addresses ?? {}, run.hosts);
  const seen: FrameSummary[] = [];
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let matched = 0;
  let overflow = false;
  let tap: Awaited<ReturnType<NonNullable<LabExecutor['capture']>>>;
  try {
    tap = await executor.capture(check.cable, (frame, timeUs) => {
      const summary = summarizeFrame(frame);
      if (seen.length < MAX_KEPT_FRAMES) seen.push(summary);
      if (!matches(summary)) return;
      matched++;
      if (!check.filter) return;
      if (kept.length >= MAX_KEPT_FRAMES || keptBytes + frame.length > MAX_KEPT_BYTES) overflow = true;
      else {
        const record = pcapRecord(frame, timeUs);
        kept.push(record);
        keptBytes += record.length;
      }
    });
  } catch (err) {
    return { passed: false, final: true, reason: `cannot watch cable ${check.cable}: ${(err as Error).message}` };
  }
  const { clock } = run;
  const windowMs = Math.max(1, check.timeoutSec) * 1000;
  let deadline = clock.now() + windowMs;
  let triggerNote = '';
  let filterMatched = 0;
  let filterAt = 0;
  let filterFrames = -1;
  try {
    if (check.trigger) {
      const { on, run: command } = check.trigger;
      try {
        const result = await executor.exec(on, command, { timeoutMs: Math.min(TRIGGER_CAP_MS, windowMs) });
        triggerNote = ` (after \`${command}\` on ${on}: ${result.timedOut ? 'it timed out' : `exit code ${result.exitCode}`}, output: ${excerpt(result.stdout + result.stderr, 120)})`;
      } catch (err) {
        triggerNote = ` (\`${command}\` could not run on ${on}: ${(err as Error).message})`;
      }
      deadline = Math.max(deadline, clock.now() + AFTER_TRIGGER_MS);
    }
    for (;;) {
      if (run.signal?.aborted) return { passed: false, reason: 'not checked: the check was cancelled' };
      const now = clock.now();
      if (!check.filter) {
        if (matched >= check.count) return { passed: true };
      } else if (kept.length !== filterFrames && (now - filterAt >= FILTER_EVERY_MS || now >= deadline)) {
        filterAt = now;
        filterFrames = kept.length;
        const counted = await countWithFilter(tshark!, check.filter, kept);
        if ('error' in counted) return { passed: false, final: true, reason: `the check's display filter ${JSON.stringify(check.filter)} cannot be used: ${counted.error}` };
        filterMatched = counted.count;
        if (filterMatched >= check.count) return { passed: true };
      }
      if (now >= deadline) break;
      await clock.sleep(Math.min(POLL_MS, deadline - now));
    }
  } finally {
    await tap.stop().catch(() => undefined);
  }
  const got = check.filter ? filterMatched : matched;
  const frames = seen.length ? `${seen.length} frame(s) seen: ${tally(seen)}` : 'no frames seen at all';
  return {
    passed: false,
    reason: `on cable ${check.cable}, ${got} of ${check.count} ${describeMatch(check)} in ${Math.round(windowMs / 1000)} s (${frames}${overflow ? '; only the first frames were kept for the filter' : ''})${triggerNote}`,
  };
}

/** How many of the frames tshark's display filter keeps (tshark reads a file: not a pipe or socket). */
async function countWithFilter(tshark: string, filter: string, records: Buffer[]): Promise<{ count: number } | { error: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'vnetlab-capture-check-'));
  const file = join(dir, 'frames.pcap');
  try {
    await writeFile(file, Buffer.concat([pcapHeader(), ...records]), { mode: 0o600 });
    return await new Promise((resolve) => {
      // In its sandbox: the frames are what guests sent (src/main/runtime/confinement.ts).
      const [program, ...argv] = sandboxedTshark(tsharkConfinement(), tshark, ['-n', '-r', file, '-Y', filter, '-T', 'fields', '-e', 'frame.number'], { read: [file] });
      execFile(program!, argv, { timeout: TSHARK_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) {
          const why = String(stderr).split('\n').filter((l) => l.trim() && !/running as user/i.test(l)).slice(0, 3).join(' ').trim();
          return resolve({ error: why || err.message });
        }
        resolve({ count: String(stdout).split('\n').filter((l) => l.trim()).length });
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
