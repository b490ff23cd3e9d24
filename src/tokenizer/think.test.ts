// The <think> splitter: every way a stream can cut the tags, with and without the prompt opening the
// reasoning, plus the non-streaming helpers.
import { describe, expect, it } from 'vitest';
import { promptOpensThinking, splitReasoning, stripReasoning, ThinkSplitter, type ThinkChunk, type ThinkSplitterOptions } from './think.ts';

// Feeds `pieces` one push each and returns the joined reasoning/content plus the raw chunks.
function run(pieces: string[], options: ThinkSplitterOptions = {}) {
  const splitter = new ThinkSplitter(options);
  const chunks: ThinkChunk[] = [];
  for (const p of pieces) chunks.push(...splitter.push(p));
  chunks.push(...splitter.end());
  const joined = { reasoning: '', content: '' };
  for (const c of chunks) joined[c.kind] += c.text;
  return { joined, chunks };
}

// All the ways to cut `text` into two pushes, and the one-character-per-push stream.
function cuts(text: string): string[][] {
  const out = [[...text]];
  for (let i = 0; i <= text.length; i++) out.push([text.slice(0, i), text.slice(i)]);
  return out;
}

describe('ThinkSplitter', () => {
  it('separates an R1 answer that opens with <think>, wherever the stream is cut', () => {
    const text = '<think>\nFirst, 2+2.\nThat is 4.\n</think>\n\nThe answer is 4.';
    for (const pieces of cuts(text)) {
      const { joined, chunks } = run(pieces);
      expect(joined, JSON.stringify(pieces)).toEqual({ reasoning: 'First, 2+2.\nThat is 4.', content: 'The answer is 4.' });
      expect(chunks.every((c) => c.text !== ''), JSON.stringify(chunks)).toBe(true);
    }
  });

  it('starts in the reasoning when the prompt opened it (no visible <think>)', () => {
    const text = 'Let me see: a < b and </thin is not a tag.\n</think>\n\nb is larger.';
    for (const pieces of cuts(text)) {
      expect(run(pieces, { startsInThinking: true }).joined, JSON.stringify(pieces)).toEqual({
        reasoning: 'Let me see: a < b and </thin is not a tag.',
        content: 'b is larger.',
      });
    }
  });

  it('emits reasoning as it streams, holding back only a possible tag and the whitespace before it', () => {
    const splitter = new ThinkSplitter({ startsInThinking: true });
    expect(splitter.push('Step one.\n')).toEqual([{ kind: 'reasoning', text: 'Step one.' }]);
    expect(splitter.push('Step two.</th')).toEqual([{ kind: 'reasoning', text: '\nStep two.' }]);
    expect(splitter.push('ink>\n\nDone')).toEqual([{ kind: 'content', text: 'Done' }]);
    expect(splitter.push(' </think> stays')).toEqual([{ kind: 'content', text: ' </think> stays' }]);
    expect(splitter.end()).toEqual([]);
  });

  it('passes text without tags through as content, unchanged', () => {
    for (const text of ['Plain answer.', '  indented <think> later is text', '<thinking> is not the tag', '<', '']) {
      for (const pieces of cuts(text)) expect(run(pieces).joined, JSON.stringify(pieces)).toEqual({ reasoning: '', content: text });
    }
  });

  it('ends an unfinished reasoning as reasoning, a partial tag included', () => {
    expect(run(['still thinking </thi'], { startsInThinking: true }).joined).toEqual({ reasoning: 'still thinking </thi', content: '' });
    expect(run(['<think>never closed  \n']).joined).toEqual({ reasoning: 'never closed', content: '' });
  });

  it('handles an empty reasoning and starts over after end()', () => {
    expect(run(['<think>\n\n</think>\n\nHi']).joined).toEqual({ reasoning: '', content: 'Hi' });
    const splitter = new ThinkSplitter({ startsInThinking: true });
    splitter.push('a</think>b');
    splitter.end();
    expect(splitter.push('c</think>d')).toEqual([
      { kind: 'reasoning', text: 'c' },
      { kind: 'content', text: 'd' },
    ]);
  });
});

describe('reasoning helpers', () => {
  it('splitReasoning splits a whole generation', () => {
    expect(splitReasoning('<think>x</think>y')).toEqual({ reasoning: 'x', content: 'y' });
    expect(splitReasoning('x\n</think>\ny', { startsInThinking: true })).toEqual({ reasoning: 'x', content: 'y' });
    expect(splitReasoning('just an answer')).toEqual({ reasoning: '', content: 'just an answer' });
  });

  it('stripReasoning keeps what follows the last </think>', () => {
    expect(stripReasoning('<think>\nr\n</think>\n\nAnswer')).toBe('Answer');
    expect(stripReasoning('r</think>a</think>Answer')).toBe('Answer');
    expect(stripReasoning('No reasoning here')).toBe('No reasoning here');
  });

  it('promptOpensThinking looks for an open <think> at the end of the prompt', () => {
    expect(promptOpensThinking('<｜Assistant｜><think>\n')).toBe(true);
    expect(promptOpensThinking('<｜Assistant｜><think>')).toBe(true);
    expect(promptOpensThinking('<｜Assistant｜>')).toBe(false);
    expect(promptOpensThinking('<think>x</think><｜Assistant｜>')).toBe(false);
  });
});
