import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.ts';
import { compileAnswerPattern, extractAnswer, lastBoxed, normalizeAnswer } from './answers.ts';
import { majorityVote, voteShare } from './vote.ts';

describe('extractAnswer', () => {
  it('takes what follows </think>, the whole text without reasoning, nothing while reasoning is open', () => {
    expect(extractAnswer('<think>\nmaybe 3? no, 4\n</think>\n\n4')).toBe('4');
    expect(extractAnswer('just 7 ')).toBe('just 7');
    expect(extractAnswer('<think>\nstill thinking about \\boxed{9}')).toBeNull();
    // R1's template opens the section in the prompt: the text starts inside it.
    expect(extractAnswer('thinking... \\boxed{2}', { startsInThinking: true })).toBeNull();
    expect(extractAnswer('thinking...</think>The answer is 12.', { startsInThinking: true })).toBe('The answer is 12.');
    // The last </think> counts (a model that closes twice).
    expect(extractAnswer('<think>a</think>b</think> c')).toBe('c');
  });

  it('prefers the last complete \\boxed{...} after the reasoning, nested braces kept', () => {
    expect(extractAnswer('<think>\\boxed{1}</think>first \\boxed{2}, then \\boxed{\\frac{1}{2}}')).toBe('\\frac{1}{2}');
    expect(extractAnswer('\\boxed{x^{2}+\\{y\\}} and \\boxed{unclosed')).toBe('x^{2}+\\{y\\}');
    expect(lastBoxed('no box here')).toBeNull();
    expect(lastBoxed('\\boxed{a{b}c}\\boxed{{d}}')).toBe('{d}');
    expect(extractAnswer('so \\boxed{ }')).toBeNull(); // an empty box is no answer
  });

  it("a caller's pattern picks its last match: the first group that took part, or the whole match", () => {
    const text = '<think>answer: 1</think>answer: 41. Correction, answer: 42.';
    expect(extractAnswer(text, { pattern: 'answer: (\\d+)' })).toBe('42');
    expect(extractAnswer(text, { pattern: /\d+/ })).toBe('42');
    expect(extractAnswer('x = 5 or y = 6', { pattern: '(?:x = (\\d))|(?:y = (\\d))' })).toBe('6');
    expect(extractAnswer(text, { pattern: 'answer is (\\d+)' })).toBeNull();
    // The pattern replaces the \boxed rule.
    expect(extractAnswer('\\boxed{3} final: 4', { pattern: 'final: (\\d)' })).toBe('4');
    // A pattern that matches the empty string finds no answer rather than looping.
    expect(extractAnswer('abc', { pattern: 'z*' })).toBeNull();
  });

  it('refuses a bad pattern naming the argument', () => {
    expect(() => compileAnswerPattern('(unclosed', '--answer-pattern')).toThrow(InputError);
    expect(() => compileAnswerPattern('(unclosed', '--answer-pattern')).toThrow(/--answer-pattern: '\(unclosed' is not a valid regular expression/);
    expect(() => compileAnswerPattern('')).toThrow(/answer-pattern: is empty/);
    expect(compileAnswerPattern(/a/i).flags).toBe('gi');
  });

  it('normalizes whitespace; empty answers are none', () => {
    expect(normalizeAnswer('  x \n  =\t1 ')).toBe('x = 1');
    expect(normalizeAnswer(' \n')).toBeNull();
    expect(extractAnswer('<think>hm</think>\n\n')).toBeNull();
  });
});

describe('majorityVote', () => {
  it('the most frequent answer wins; the share counts abstentions', () => {
    const v = majorityVote(['4', null, '5', '4', '4']);
    expect(v.answer).toBe('4');
    expect(voteShare(v)).toBe('3/5');
    expect(v.abstained).toBe(1);
    expect(v.tally).toEqual([
      { answer: '4', votes: 3, first: 0 },
      { answer: '5', votes: 1, first: 2 },
    ]);
  });

  it('a tie goes to the answer given first', () => {
    expect(majorityVote(['b', 'a', 'a', 'b', 'c']).answer).toBe('b');
    expect(majorityVote([null, 'a', 'b']).tally.map((c) => c.answer)).toEqual(['a', 'b']);
  });

  it('no answers: no winner', () => {
    const v = majorityVote([null, null]);
    expect([v.answer, voteShare(v), v.tally]).toEqual([null, '0/2', []]);
    expect(majorityVote([]).answer).toBeNull();
  });
});
