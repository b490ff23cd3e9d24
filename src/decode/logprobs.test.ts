import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../config/model-config.ts';
import { InputError } from '../errors.ts';
import type { CausalLM } from './causal-lm.ts';
import { generate } from './generate.ts';
import { stepLogprobs } from './logprobs.ts';

/** log_softmax in float64, the plain way. */
function logSoftmax(logits: ArrayLike<number>): number[] {
  const xs = Array.from(logits);
  const max = Math.max(...xs);
  const logZ = max + Math.log(xs.reduce((s, x) => s + Math.exp(x - max), 0));
  return xs.map((x) => x - logZ);
}

describe('stepLogprobs', () => {
  const logits = Float32Array.from([0.5, 3, -1, 3, 2.25, -7, 1]);
  const want = logSoftmax(logits);

  it("gives the chosen token's log-softmax and the N most likely, in order, ties to the lower id", () => {
    const r = stepLogprobs(logits, 4, 3);
    expect(r.token).toBe(4);
    expect(r.logprob).toBeCloseTo(want[4], 12);
    expect(r.top.map((t) => t.token)).toEqual([1, 3, 4]);
    r.top.forEach((t) => expect(t.logprob).toBeCloseTo(want[t.token], 12));
  });

  it('takes 0 alternatives, and at most the vocabulary', () => {
    expect(stepLogprobs(logits, 0, 0).top).toEqual([]);
    expect(stepLogprobs(logits, 0, 20).top.map((t) => t.token)).toEqual([1, 3, 4, 6, 0, 2, 5]);
  });

  it('is exact for large logits (no overflow) and sums to one', () => {
    const big = Float32Array.from({ length: 1000 }, (_, i) => 80 + Math.sin(i) * 20);
    const r = stepLogprobs(big, 7, 20);
    expect(r.logprob).toBeCloseTo(logSoftmax(big)[7], 10);
    const total = logSoftmax(big).reduce((s, l) => s + Math.exp(l), 0);
    expect(total).toBeCloseTo(1, 10);
  });
});

/** A model whose next-token logits are a fixed function of the position; it records how it was called. */
class TableLM implements CausalLM {
  length = 0;
  appended: { tokens: number[]; logits: boolean }[] = [];
  readonly config = { vocabSize: 8, eosTokenIds: [1] } as unknown as ModelConfig;
  readonly maxLength = 64;
  async idle() {}
  async append(tokens: readonly number[]) {
    this.length += tokens.length;
    this.appended.push({ tokens: [...tokens], logits: false });
    return null;
  }
  async appendLogits(tokens: readonly number[]) {
    this.length += tokens.length;
    this.appended.push({ tokens: [...tokens], logits: true });
    return TableLM.row(this.length);
  }
  static row(position: number): Float32Array {
    return Float32Array.from({ length: 8 }, (_, i) => (i === 1 ? -10 : Math.cos(i * position)));
  }
  truncate(length: number) {
    this.length = length;
  }
  dispose() {}
}

describe('generate with logprobs', () => {
  it('prefills without logits, reads one row per token, and each event carries its greedy token with log-softmax figures', async () => {
    const lm = new TableLM();
    const gen = generate(lm, [2, 3, 4, 5, 6], { maxNewTokens: 4, logprobs: 2 });
    const events = [];
    for await (const e of gen) events.push(e);
    // The prompt but its last token in one append (the model cuts its own prefill chunks), then one logits row per token.
    expect(lm.appended.map((a) => a.logits)).toEqual([false, true, true, true, true]);
    expect(lm.appended.slice(0, 2).flatMap((a) => a.tokens)).toEqual([2, 3, 4, 5, 6]);
    expect(events).toHaveLength(4);
    events.forEach((e, i) => {
      const row = TableLM.row(5 + i);
      const want = logSoftmax(row);
      const argmax = want.indexOf(Math.max(...want));
      expect(e.token).toBe(argmax);
      expect(e.logprobs!.logprob).toBeCloseTo(want[argmax], 10);
      expect(e.logprobs!.top[0].token).toBe(argmax);
      expect(e.logprobs!.top).toHaveLength(2);
    });
    expect((await gen.result).stats.speculative).toBe('none');
  });

  it('refuses a count outside 0..20 and explicit MTP drafting', () => {
    expect(() => generate(new TableLM(), [2], { logprobs: 21 })).toThrow(InputError);
    expect(() => generate(new TableLM(), [2], { logprobs: 1, speculative: 'mtp' })).toThrow(/logprobs/);
  });
});
