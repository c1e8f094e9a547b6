// Values in checks come from lab files and are run only inside guests, but they still must reach the
// guest's shell as the literal text the teacher wrote: every value is single-quoted.

import { shellQuote } from '../../shared/shell-quote.ts';

export { shellQuote };

/**
 * Runs `primary` and prints its output when it looks like `ip -j` JSON; otherwise runs `fallback`.
 * The tiny image's busybox `ip` prints its usage and fails on `-j`, iproute2 prints JSON.
 */
export function jsonOrFallback(primary: string, fallback: string): string {
  return `out=$(${primary} 2>/dev/null); case "$out" in '['*) printf '%s\\n' "$out";; *) ${fallback};; esac`;
}

/** Runs `preferred` when `tool` is installed in the guest, else `fallback`; prints `#<tool>` or `#fallback` first so parsers know which output they read. */
export function withTool(tool: string, preferred: string, fallback: string): string {
  return `if command -v ${tool} >/dev/null 2>&1; then echo '#${tool}'; ${preferred}; else echo '#fallback'; ${fallback}; fi`;
}
