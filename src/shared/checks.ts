// Declarative grading checks. Parsed (with their own JSON Schema) by src/main/lab, executed by
// src/main/check against a running lab. Plain data.

import type { SourceRef } from './lab-model.ts';
import type { CableImpairments } from './plan.ts';

interface CheckBase {
  id: string;
  /** Shown to students. */
  description: string;
  points: number;
  hint?: string;
  /** Retry until it passes or this many seconds pass (routing protocols need time to converge). */
  timeoutSec: number;
  /** Hidden checks are graded but not shown to students by "check my work". */
  hidden: boolean;
  /**
   * Change the network while this check runs, and put it back after: graders test what a lab is
   * about (failover, behaviour under loss). Such checks run after all the others, one at a time.
   */
  during?: NetworkChange;
  source: SourceRef;
}

/** Cables to unplug (`r1:eth2`), and impairments to set, for the time of one check. */
export interface NetworkChange {
  unplug: string[];
  link: Record<string, CableImpairments>;
}

export type Check =
  | (CheckBase & { kind: 'reach'; from: string; to: string; expect: 'success' | 'failure'; count?: number })
  | (CheckBase & { kind: 'route'; on: string; prefix: string; via?: string; dev?: string; expect: 'present' | 'absent' })
  | (CheckBase & { kind: 'interface'; on: string; name: string; address?: string; state?: 'up' | 'down'; mac?: string })
  | (CheckBase & { kind: 'command'; on: string; run: string; exitCode?: number; stdoutContains?: string; stdoutMatches?: string })
  | (CheckBase & { kind: 'file'; on: string; path: string; exists?: boolean; contains?: string; matches?: string })
  | (CheckBase & { kind: 'listening'; on: string; port: number; protocol: 'tcp' | 'udp' })
  | (CheckBase & { kind: 'dns'; on: string; name: string; type: 'A' | 'AAAA' | 'CNAME' | 'MX' | 'NS' | 'PTR'; expect: string[]; server?: string })
  | (CheckBase & { kind: 'http'; on: string; url: string; status?: number; bodyContains?: string })
  | (CheckBase & { kind: 'frr'; on: string; command: string; contains?: string; matches?: string })
  /**
   * Frames seen on a cable by the host's capture, outside every guest: at least `count` frames that
   * match `match` (and the Wireshark display filter `filter`) within `timeoutSec` of the check's start,
   * after running `trigger` (with the lab-fs tool set) when given.
   */
  | (CheckBase & { kind: 'capture'; cable: string; match?: FrameMatch; filter?: string; count: number; trigger?: { on: string; run: string } });

/** What a captured frame must be: every field given must hold. `src`/`dst` are addresses or machine names. */
export interface FrameMatch {
  protocol?: 'any' | 'arp' | 'ipv4' | 'ipv6' | 'icmp' | 'echo-request' | 'echo-reply' | 'tcp' | 'udp';
  src?: string;
  dst?: string;
  port?: number;
}

export type CheckKind = Check['kind'];

export interface CheckResult {
  id: string;
  description: string;
  kind: CheckKind;
  passed: boolean;
  points: number;
  earned: number;
  /** For a failure: expected vs got, in words a student understands. */
  reason?: string;
  hint?: string;
  attempts: number;
  durationMs: number;
}

export interface CheckReport {
  lab: string;
  submission?: string;
  results: CheckResult[];
  score: number;
  maxScore: number;
  /** Set when the lab could not be graded at all (boot failure, bad file): score is 0. */
  error?: string;
  startedAt: string;
  durationMs: number;
}
