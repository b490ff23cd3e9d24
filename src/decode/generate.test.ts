import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../config/model-config.ts';
import { InputError } from '../errors.ts';
import type { CausalLM, SampleRequest } from './causal-lm.ts';
import { generate, type GenerateEvent } from './generate.ts';

/** A model that emits a fixed script of tokens and records how it was called. */
class ScriptedLM implements CausalLM {
  length = 0;
  calls: { tokens: number[]; sampled: boolean }[] = [];
  requests: SampleRequest[] = [];
  constructor(
    private readonly script: number[],
    readonly maxLength = 100,
    readonly config = { vocabSize: 50, eosTokenIds: [1] } as unknown as ModelConfig,
  ) {}
  async append(tokens: readonly number[], sample: SampleRequest | null) {
    this.length += tokens.length;
    this.calls.push({ tokens: [...tokens], sampled: sample !== null });
    if (!sample) return null;
    this.requests.push(sample);
    return this.script[this.requests.length - 1] ?? 1;
  }
  async appendLogits(): Promise<Float32Array> {
    throw new Error('unused');
  }
  truncate(length: number) {
    this.length = length;
  }
  async idle() {}
  dispose() {}
}

/** Each token decodes to one letter: id 10 -> 'a', 11 -> 'b', ... */
const letters = () => ({ push: (id: number) => String.fromCharCode(97 + id - 10) });

async function collect(gen: AsyncIterable<GenerateEvent>) {
  const events: GenerateEvent[] = [];
  for await (const e of gen) events.push(e);
  return events;
}

describe('generate', () => {
  it('prefills the prompt in one call (the model chunks it), sampling after it, then one token per step', async () => {
    const lm = new ScriptedLM([10, 11, 12, 13]);
    const gen = generate(lm, [2, 3, 4, 5, 6], { maxNewTokens: 3 });
    const events = await collect(gen);
    expect(events.map((e) => e.token)).toEqual([10, 11, 12]);
    expect(lm.calls).toEqual([
      { tokens: [2, 3, 4, 5, 6], sampled: true },
      { tokens: [10], sampled: true },
      { tokens: [11], sampled: true },
    ]);
    const r = await gen.result;
    expect(r.finishReason).toBe('length');
    expect(r.stats.promptTokens).toBe(5);
    expect(r.stats.generatedTokens).toBe(3);
  });

  it('stops at EOS without emitting it', async () => {
    const gen = generate(new ScriptedLM([10, 11, 1, 12]), [2], { maxNewTokens: 10 });
    expect((await collect(gen)).map((e) => e.token)).toEqual([10, 11]);
    expect((await gen.result).finishReason).toBe('eos');
  });

  it('holds back text that may begin a stop string and cuts the output at it', async () => {
    // a b c d e: stop string "cd" -> output "ab"; "b" alone could not start "cd" so it streams at once
    const gen = generate(new ScriptedLM([10, 11, 12, 13, 14]), [2], { decoder: letters(), stopStrings: ['cd'], maxNewTokens: 10 });
    const events = await collect(gen);
    expect(events.map((e) => e.text).join('')).toBe('ab');
    const r = await gen.result;
    expect(r.finishReason).toBe('stop');
    expect(r.text).toBe('ab');
    expect(r.tokens).toEqual([10, 11, 12, 13]);
  });

  it('releases the held-back tail when no stop string comes', async () => {
    const gen = generate(new ScriptedLM([10, 11, 12]), [2], { decoder: letters(), stopStrings: ['xyz'], maxNewTokens: 3 });
    const events = await collect(gen);
    expect(events.map((e) => e.text).join('')).toBe('abc');
    expect(events.at(-1)).toEqual({ token: null, text: 'bc' });
  });

  it('stops at the context limit with the tokens so far', async () => {
    const lm = new ScriptedLM([10, 11, 12, 13, 14], 4);
    const gen = generate(lm, [2, 3], { maxNewTokens: 10 });
    expect((await collect(gen)).map((e) => e.token)).toEqual([10, 11, 12]);
    expect((await gen.result).finishReason).toBe('context');
    expect(lm.length).toBe(4);
  });

  it('refuses bad prompts naming the problem', () => {
    const lm = new ScriptedLM([], 4);
    expect(() => generate(lm, [])).toThrow(InputError);
    expect(() => generate(lm, [2, 50])).toThrow(/token id 50 at index 1 is outside the vocabulary \[0, 50\)/);
    expect(() => generate(lm, [2, 3, 4, 5, 6])).toThrow(/5 tokens do not fit the context: 4 of 4 positions are free/);
    expect(() => generate(lm, [2], { temperature: -1 })).toThrow(/temperature/);
  });

  it('draws one seeded random number per token; the same seed repeats them', async () => {
    const run = async (seed: number) => {
      const lm = new ScriptedLM([10, 11, 12]);
      await collect(generate(lm, [2], { seed, temperature: 1, maxNewTokens: 3 }));
      return lm.requests.map((r) => r.random);
    };
    const a = await run(7);
    expect(a).toHaveLength(3);
    expect(await run(7)).toEqual(a);
    expect(await run(8)).not.toEqual(a);
  });

  it('passes recent tokens for the repetition penalty', async () => {
    const lm = new ScriptedLM([10, 11]);
    await collect(generate(lm, [2, 3, 3], { repetitionPenalty: 1.3, repetitionWindow: 3, maxNewTokens: 2 }));
    expect(lm.requests[0].penalizedTokens).toEqual([2, 3]);
    expect(lm.requests[1].penalizedTokens).toEqual([3, 10]);
  });

  it('counts generated tokens (not the prompt) for the frequency and presence penalties', async () => {
    const lm = new ScriptedLM([10, 10, 11, 12]);
    await collect(generate(lm, [10, 3], { frequencyPenalty: 0.5, presencePenalty: 0.25, maxNewTokens: 4 }));
    expect(lm.requests.map((r) => [...(r.additivePenalties ?? [])])).toEqual([
      [],
      [[10, 0.75]],
      [[10, 1.25]],
      [[10, 1.25], [11, 0.75]],
    ]);
    const plain = new ScriptedLM([10]);
    await collect(generate(plain, [2], { maxNewTokens: 1 }));
    expect(plain.requests[0].additivePenalties).toBeUndefined();
    expect(() => generate(plain, [2], { frequencyPenalty: 2.5 })).toThrow(InputError);
  });

  it('settles the result when the consumer stops early', async () => {
    const gen = generate(new ScriptedLM([10, 11, 12]), [2], { maxNewTokens: 3 });
    for await (const e of gen) if (e.token === 10) break;
    const r = await gen.result;
    expect(r.finishReason).toBe('aborted');
    expect(r.tokens).toEqual([10]);
  });
});
