// The backend seam: ModelEngine drives any CausalLM. A pure-TypeScript stand-in that always predicts
// (t + 1) mod V goes through generate, logits, perplexity and dispose exactly as the WebGPU model does.
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from './config/model-config.ts';
import type { CausalLM, SampleRequest } from './decode/causal-lm.ts';
import { ModelEngine } from './engine.ts';

const V = 8;

/** Always predicts the token after the last one, mod V; logits are one-hot-ish so perplexity is near 1. */
class CountingLM implements CausalLM {
  readonly config = { vocabSize: V, hiddenSize: 4, eosTokenIds: [], bosTokenId: null } as unknown as ModelConfig;
  readonly maxLength = 64;
  length = 0;
  requests: SampleRequest[] = [];
  idled = 0;
  disposed = false;

  async append(tokens: readonly number[], sample: SampleRequest | null): Promise<number | null> {
    this.length += tokens.length;
    if (!sample) return null;
    this.requests.push(sample);
    return (tokens[tokens.length - 1] + 1) % V;
  }

  async appendLogits(tokens: readonly number[]): Promise<Float32Array> {
    this.length += tokens.length;
    const out = new Float32Array(tokens.length * V);
    tokens.forEach((t, i) => (out[i * V + ((t + 1) % V)] = 30));
    return out;
  }

  truncate(length: number): void {
    this.length = length;
  }

  async idle(): Promise<void> {
    this.idled++;
  }

  dispose(): void {
    this.disposed = true;
  }
}

describe('ModelEngine over a CausalLM that is not DeepseekModel', () => {
  it('generates, reads logits and scores perplexity through the interface, and disposes it', async () => {
    const model = new CountingLM();
    let closed = false;
    const engine = new ModelEngine({ model, tokenizer: null, name: 'counting', close: async () => void (closed = true) });

    const gen = engine.generate({ tokens: [3, 4] }, { maxNewTokens: 6, temperature: 0 });
    const streamed: (number | null)[] = [];
    for await (const e of gen) streamed.push(e.token);
    const r = await gen.result;
    expect(streamed).toEqual([5, 6, 7, 0, 1, 2]);
    expect(r.tokens).toEqual([5, 6, 7, 0, 1, 2]);
    expect(r.finishReason).toBe('length');
    expect(r.stats.speculative).toBe('none'); // no speculator offered
    expect(model.requests.every((q) => q.temperature === 0)).toBe(true);

    // A second generation starts from an empty context.
    expect((await engine.generate({ tokens: [7] }, { maxNewTokens: 2, temperature: 0 }).result).tokens).toEqual([0, 1]);

    const logits = await engine.logits([1, 2]);
    expect(Array.from(logits.subarray(0, V)).indexOf(30)).toBe(2);

    const stream = Array.from({ length: 17 }, (_, i) => i % V);
    const ppl = await engine.perplexity({ tokens: stream }, { window: 8 });
    expect(ppl.windows).toBe(2);
    expect(ppl.perplexity).toBeLessThan(1.0001);
    await expect(engine.perplexity({ tokens: stream }, { window: 8, mtp: true })).rejects.toThrow(/MTP/);

    expect(() => engine.encode('text')).toThrow(/counting has no tokenizer/);

    await engine.dispose();
    expect(model.idled).toBe(1);
    expect(model.disposed).toBe(true);
    expect(closed).toBe(true);
    expect(() => engine.generate({ tokens: [1] })).toThrow(/disposed/);
  });
});
