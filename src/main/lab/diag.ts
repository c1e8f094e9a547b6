// Small helpers to build Diagnostics from source positions, so every reader and check reports the
// same shape: file:line:col, a sentence saying what is wrong, a hint saying what to do.
import type { Diagnostic, Severity } from '../../shared/diagnostics.ts';
import type { SourceRef } from '../../shared/lab-model.ts';

export interface DiagnosticExtras {
  hint?: string;
  target?: string;
}

export function diagnostic(severity: Severity, code: string, message: string, at: SourceRef, extras: DiagnosticExtras = {}): Diagnostic {
  const d: Diagnostic = { severity, code, message, file: at.file, line: at.line, column: at.column };
  if (extras.hint) d.hint = extras.hint;
  if (extras.target) d.target = extras.target;
  return d;
}

export const error = (code: string, message: string, at: SourceRef, extras?: DiagnosticExtras) => diagnostic('error', code, message, at, extras);
export const warning = (code: string, message: string, at: SourceRef, extras?: DiagnosticExtras) => diagnostic('warning', code, message, at, extras);
export const info = (code: string, message: string, at: SourceRef, extras?: DiagnosticExtras) => diagnostic('info', code, message, at, extras);

/** A position meaning "the file as a whole". */
export function wholeFile(file: string): SourceRef {
  return { file, line: 0, column: 0 };
}

/** Sorts diagnostics by file, then position, keeping the order of equal ones (stable output for tests and CLI). */
export function sortDiagnostics(list: Diagnostic[]): Diagnostic[] {
  return list
    .map((d, i) => [d, i] as const)
    .sort(([a, ia], [b, ib]) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column || ia - ib)
    .map(([d]) => d);
}

/** The closest candidate by edit distance, if it is close enough to be a plausible typo. */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return prev[b.length]!;
}
