// Regular expressions that come from lab files (a check's `matches` / `stdout_matches`) are matched
// by the grader, which in a classroom is the worker process every student on it shares. JavaScript's
// RegExp backtracks: `^(a+)+$` against 40 a's and a '!' runs for longer than anyone waits, and with
// it the event loop of every other student. These are matched by RE2 instead (the `re2js` package, a
// pure-JavaScript port of Go's regexp): time linear in the text, whatever the pattern.
//
// The syntax is JavaScript's, as the lab format says: it is translated to RE2's where the two spell
// the same thing differently (\uXXXX, \cX, \0, [\b], [], [^], identity escapes such as \_ or \z, which
// JavaScript reads as the letter and RE2 as something else). What RE2 cannot do at all is what needs
// backtracking: backreferences (\1, \k<name>) and lookaround ((?=, (?!, (?<=, (?<!); such a pattern is
// refused with a message that says so (a lab diagnostic when the lab is read, a failed check when it
// runs). Differences left: \s is [\t\n\f\r ] (no \v or Unicode spaces), `.` and `$` treat only \n as
// a line end, counted repeats go up to {1000}, and a pattern is at most MAX_REGEX_LENGTH characters.
import { RE2JS } from 're2js';

/** Longer patterns are refused: compiling costs time linear in the pattern (about 1 s per MB). */
export const MAX_REGEX_LENGTH = 10_000;

export class RegexProblem extends Error {
  constructor(
    message: string,
    /** Valid JavaScript, but something the linear-time engine does not do (lookaround, backreferences). */
    readonly unsupported: boolean,
  ) {
    super(message);
  }
}

export interface LabRegex {
  readonly source: string;
  /** Whether the pattern matches somewhere in `text` (like RegExp.prototype.test). */
  test(text: string): boolean;
}

const hex = (code: number) => `\\x{${code.toString(16)}}`;
/** The escapes JavaScript gives a meaning to (outside \u, \c, \k, digits: handled on their own). */
const JS_ESCAPES = new Set([...'dDwWsSbBfnrtvx']);

/**
 * Translates a JavaScript pattern to RE2 syntax, or throws RegexProblem for what RE2 cannot do. One
 * pass over the pattern (it tracks only whether it is inside a character class).
 */
export function toRe2Syntax(pattern: string): string {
  let out = '';
  let inClass = false;
  const n = pattern.length;
  for (let i = 0; i < n; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const d = pattern[i + 1];
      if (d === undefined) throw new RegexProblem('\\ at end of pattern', false);
      i++;
      if (d >= '1' && d <= '9' && !inClass) throw new RegexProblem(`backreference \\${d} is not supported (checks use a linear-time regex engine)`, true);
      if (d === 'k' && pattern[i + 1] === '<') throw new RegexProblem('the named backreference \\k<…> is not supported (checks use a linear-time regex engine)', true);
      if (d === 'u') {
        const four = /^[0-9a-fA-F]{4}/.exec(pattern.slice(i + 1, i + 5));
        const braced = /^\{([0-9a-fA-F]{1,6})\}/.exec(pattern.slice(i + 1, i + 9));
        if (four) {
          out += hex(parseInt(four[0], 16));
          i += 4;
        } else if (braced) {
          out += hex(parseInt(braced[1]!, 16));
          i += braced[0].length;
        } else out += 'u';
        continue;
      }
      if (d === 'c' && /[A-Za-z]/.test(pattern[i + 1] ?? '')) {
        out += hex(pattern.charCodeAt(i + 1) % 32);
        i++;
        continue;
      }
      if (d === '0' && !/[0-9]/.test(pattern[i + 1] ?? '')) {
        out += '\\x00';
        continue;
      }
      if (inClass && d >= '1' && d <= '9') {
        // In a class JavaScript reads \1…\377 as an octal character code, \8 and \9 as the digit.
        const octal = /^[0-3]?[0-7]{1,2}|^[0-7]/.exec(pattern.slice(i, i + 3));
        if (d <= '7' && octal) {
          out += hex(parseInt(octal[0], 8));
          i += octal[0].length - 1;
        } else out += d;
        continue;
      }
      if (d === 'b' && inClass) {
        out += '\\x08'; // backspace, in a class
        continue;
      }
      if (JS_ESCAPES.has(d) || (d >= '0' && d <= '9')) {
        out += `\\${d}`;
        continue;
      }
      // An identity escape: JavaScript reads `\z`, `\_`, `\é` as the character itself.
      const code = pattern.codePointAt(i)!;
      if (code > 0xffff) i++;
      out += /[A-Za-z0-9]/.test(d) || code > 0x7f ? hex(code) : `\\${d}`;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      else if (c === '[') {
        out += '\\[';
        continue;
      }
      out += c;
      continue;
    }
    if (c === '[') {
      // JavaScript's [] matches nothing and [^] any character; RE2 would read the ] as a member.
      if (pattern.startsWith('[]', i)) {
        out += '[^\\x00-\\x{10FFFF}]';
        i += 1;
        continue;
      }
      if (pattern.startsWith('[^]', i)) {
        out += '[\\x00-\\x{10FFFF}]';
        i += 2;
        continue;
      }
      inClass = true;
      out += c;
      if (pattern[i + 1] === '^') {
        out += '^';
        i++;
      }
      continue;
    }
    if (c === '(' && pattern[i + 1] === '?') {
      const look = /^\(\?(=|!|<=|<!)/.exec(pattern.slice(i, i + 4));
      if (look) {
        const name = look[1] === '=' ? 'lookahead (?=' : look[1] === '!' ? 'negative lookahead (?!' : look[1] === '<=' ? 'lookbehind (?<=' : 'negative lookbehind (?<!';
        throw new RegexProblem(`the ${name}…) is not supported (checks use a linear-time regex engine)`, true);
      }
    }
    out += c;
  }
  return out;
}

/**
 * Compiles a pattern from a lab file for the linear-time engine; `multiline` as RegExp's `m` flag.
 * Throws RegexProblem with a message fit for a diagnostic or a check's reason.
 */
export function compileLabRegex(pattern: string, options: { multiline?: boolean } = {}): LabRegex {
  if (typeof pattern !== 'string') throw new RegexProblem('the pattern is not a string', false);
  if (pattern.length > MAX_REGEX_LENGTH) throw new RegexProblem(`the pattern has ${pattern.length} characters; at most ${MAX_REGEX_LENGTH}`, false);
  const translated = toRe2Syntax(pattern);
  let re: RE2JS;
  try {
    re = RE2JS.compile(translated, options.multiline ? RE2JS.MULTILINE : 0);
  } catch (err) {
    const message = (err as Error).message.replace(/^error parsing regexp: /, '');
    throw new RegexProblem(message, false);
  }
  return { source: pattern, test: (text) => re.test(text) };
}

/** What is wrong with a pattern for the linear-time engine, or undefined when it compiles. */
export function labRegexProblem(pattern: string, options: { multiline?: boolean } = {}): RegexProblem | undefined {
  try {
    compileLabRegex(pattern, options);
    return undefined;
  } catch (err) {
    if (err instanceof RegexProblem) return err;
    return new RegexProblem((err as Error).message, false);
  }
}
