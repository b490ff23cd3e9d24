// The final answer of a generated text, for voting over several samples (src/decode/vote.ts). The answer is
// what follows the reasoning: the text after R1's `</think>` (src/tokenizer/think.ts), or the whole text when
// there is no `<think>` section. Within it, a caller's pattern picks the answer when given (its last match);
// otherwise the last `\boxed{...}` does, the convention of math benchmarks; otherwise the whole answer text.
// Answers are compared after trimming and collapsing whitespace, so layout does not split a vote.
import { InputError } from '../errors.ts';
import { THINK_CLOSE, THINK_OPEN } from '../tokenizer/think.ts';

export interface AnswerOptions {
  /**
   * Picks the answer out of the text after the reasoning: its last match, and of that match the first
   * capture group that took part (the whole match when the pattern has no group, or none took part).
   * A string is compiled as a JavaScript regular expression (no flags).
   */
  pattern?: RegExp | string;
  /** The prompt already opened the reasoning (R1's template ends with `<think>\n`): the text starts inside it. */
  startsInThinking?: boolean;
}

/**
 * The answer `text` gives, or null when it gives none: the reasoning never closed, the pattern did not
 * match, or what is left is empty.
 */
export function extractAnswer(text: string, options: AnswerOptions = {}): string | null {
  const pattern = options.pattern === undefined ? null : compileAnswerPattern(options.pattern);
  const after = answerText(text, options.startsInThinking ?? false);
  if (after === null) return null;
  const picked = pattern ? lastMatch(after, pattern) : (lastBoxed(after) ?? after);
  return picked === null ? null : normalizeAnswer(picked);
}

/**
 * The text after the reasoning: after the last `</think>`; null while a `<think>` section is still open (the
 * prompt opened it, or the text starts with it, and no `</think>` came: no answer was written).
 */
function answerText(text: string, startsInThinking: boolean): string | null {
  const close = text.lastIndexOf(THINK_CLOSE);
  if (close >= 0) return text.slice(close + THINK_CLOSE.length);
  if (startsInThinking || text.trimStart().startsWith(THINK_OPEN)) return null;
  return text;
}

/**
 * A pattern as a global RegExp (for matchAll). A string that is not a valid regular expression is an
 * InputError naming `argument` (the CLI's flag, the library's option).
 */
export function compileAnswerPattern(pattern: RegExp | string, argument = 'answer-pattern'): RegExp {
  if (pattern instanceof RegExp) return pattern.global ? pattern : new RegExp(pattern.source, `${pattern.flags}g`);
  if (typeof pattern !== 'string') throw new InputError(argument, `expected a regular expression (string or RegExp), got ${typeof pattern}`);
  if (pattern === '') throw new InputError(argument, 'is empty: give a regular expression that matches the answer, e.g. "answer is (\\d+)"');
  try {
    new RegExp(pattern); // checked without the flag matchAll needs, so the message shows the pattern as given
  } catch (e) {
    throw new InputError(argument, `'${pattern}' is not a valid regular expression: ${(e as Error).message}`);
  }
  return new RegExp(pattern, 'g');
}

/** The last match's first participating capture group, else the whole match; null without a match. */
function lastMatch(text: string, pattern: RegExp): string | null {
  let last: RegExpMatchArray | null = null;
  for (const m of text.matchAll(pattern)) last = m;
  if (!last) return null;
  return last.slice(1).find((g) => g !== undefined) ?? last[0];
}

const BOXED = '\\boxed{';

/**
 * The contents of the last complete `\boxed{...}` in `text` (braces inside balanced, as LaTeX nests them:
 * `\boxed{\frac{1}{2}}` gives `\frac{1}{2}`), or null when there is none. An unclosed one is ignored.
 */
export function lastBoxed(text: string): string | null {
  let found: string | null = null;
  for (let at = text.indexOf(BOXED); at >= 0; at = text.indexOf(BOXED, at + 1)) {
    const start = at + BOXED.length;
    const end = closingBrace(text, start);
    if (end >= 0) found = text.slice(start, end);
  }
  return found;
}

/** Index of the `}` that closes a group opened just before `start`, or -1; `\{` and `\}` are literal braces. */
function closingBrace(text: string, start: number): number {
  let depth = 1;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') i++; // an escaped character, \{ or \} included
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i;
  }
  return -1;
}

/** Trimmed, runs of whitespace as one space; an empty answer is no answer. */
export function normalizeAnswer(answer: string): string | null {
  const s = answer.trim().replace(/\s+/g, ' ');
  return s === '' ? null : s;
}
