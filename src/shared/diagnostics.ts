// Diagnostics are the one way every layer (readers, validator, compiler, runtime, grader) reports
// problems in a lab. The CLI prints them as `file:line:col: severity: message`, the canvas pins them
// on the offending node or field (via `target`), `--json` emits them as is.

export type Severity = 'error' | 'warning' | 'info';

export interface Diagnostic {
  severity: Severity;
  /** Stable machine-readable code, e.g. `duplicate-machine`, `path-escapes-lab`, `yaml-syntax`. */
  code: string;
  /** One sentence a teacher can act on: what is wrong. */
  message: string;
  /** What to do about it, when there is something better than "fix it". */
  hint?: string;
  /** Path of the file relative to the lab folder (or absolute when outside it, e.g. a --checks file). */
  file: string;
  /** 1-based; 0 when the problem is about the file as a whole. */
  line: number;
  /** 1-based; 0 when unknown. */
  column: number;
  /** What the diagnostic is about, so the GUI can highlight it: e.g. `machine:pc1`, `machine:pc1/eth0`, `domain:A`, `check:ping-pc2`. */
  target?: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line > 0 ? `${d.file}:${d.line}:${d.column > 0 ? d.column : 1}` : d.file;
  return `${where}: ${d.severity}: ${d.message}${d.hint ? `\n  hint: ${d.hint}` : ''}`;
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}
