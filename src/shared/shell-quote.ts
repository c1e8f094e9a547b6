// Text that reaches a guest's shell as one literal word: what a check compares, a lab script's body.

/** Quotes `value` for a POSIX shell: `it's` → `'it'\''s'`. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
