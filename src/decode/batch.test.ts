// DecodeBatch's scheduling on a CPU stand-in model (the GPU model's equality with single-sequence decoding
// is kernels-test/batch.test.ts): steps split at maxBatch rows, stop conditions per sequence, cancel, a
// failing step, forks, and every sequence released exactly once.
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../config/model-config.ts';
import { InputError } from '../errors.ts';
import type { BatchLM, BatchRow } from './batch-lm.ts';
import { DecodeBatch } from './batch.ts';

const V = 50;
const config = parseModelConfig(
  {
    architectures: ['DeepseekV3ForCausalLM'], vocab_size: V, hidden_size: 8, num_hidden_layers: 1, intermediate_size: 8,
    num_attention_heads: 1, kv_lora_rank: 4, qk_nope_head_dim: 4, qk_rope_head_dim: 4, v_head_dim: 4, max_position_embeddings: 64,
    eos_token_id: 0,
  },
  'stand-in config.json',
);

interface Seq {
  id: number;
  tokens: number[];
  get length(): number;
}

/** Next token: a function of the whole sequence, so a batched row is right only with its own history. */
const nextOf = (tokens: readonly number[]) => (tokens.reduce((a, t, i) => a * 31 + t * (i + 7), 17) % (V - 1)) + 1;

class StandIn implements BatchLM<Seq> {
  readonly config = config;
  readonly maxLength = 40;
  readonly steps: number[] = [];
  open = new Set<Seq>();
  released = 0;
  failAt = -1;
  private ids = 0;

  constructor(readonly maxBatch: number) {}

  openSequence(): Seq {
    const tokens: number[] = [];
    const seq = { id: this.ids++, tokens, get length() { return tokens.length; } };
    this.open.add(seq);
    return seq;
  }
  async forkSequence(s: Seq): Promise<Seq> {
    const f = this.openSequence();
    f.tokens.push(...s.tokens);
    return f;
  }
  releaseSequence(s: Seq): void {
    if (!this.open.delete(s)) throw new Error(`sequence ${s.id} released twice`);
    this.released++;
  }
  async appendSequence(s: Seq, tokens: readonly number[], sample: unknown): Promise<number | null> {
    s.tokens.push(...tokens);
    return sample ? nextOf(s.tokens) : null;
  }
  async decodeStep(rows: readonly BatchRow<Seq>[]): Promise<number[]> {
    if (this.steps.length === this.failAt) throw new InputError('batch', 'the device failed');
    this.steps.push(rows.length);
    return rows.map((r) => {
      r.seq.tokens.push(r.token);
      return nextOf(r.seq.tokens);
    });
  }
}

/** What one sequence produces alone: greedy continuation until eos (0), the budget or the context. */
function alone(prompt: number[], maxNew: number, maxLength = 40): number[] {
  const seq = [...prompt];
  const out: number[] = [];
  for (;;) {
    const t = nextOf(seq);
    if (t === 0) return out;
    out.push(t);
    if (out.length >= maxNew || seq.length >= maxLength) return out;
    seq.push(t);
  }
}

describe('DecodeBatch (CPU stand-in)', () => {
  it('more sequences than a step holds: split into steps of at most maxBatch rows, each as alone', async () => {
    const lm = new StandIn(3);
    const batch = new DecodeBatch(lm);
    const prompts = [[1], [2, 3], [4, 5, 6], [7], [8, 9], [10, 11, 12, 13], [14]];
    const streams = prompts.map((p, i) => batch.add({ prompt: p, maxNewTokens: 3 + i }));
    await batch.run();
    expect(Math.max(...lm.steps)).toBe(3);
    for (const [i, s] of streams.entries()) expect((await s.result).tokens).toEqual(alone(prompts[i], 3 + i));
    expect(lm.open.size).toBe(0);
    expect(lm.released).toBe(prompts.length);
  });

  it('the context bounds a sequence; cancel ends one before the next step; n choices fork once', async () => {
    const lm = new StandIn(8);
    const batch = new DecodeBatch(lm);
    const long = batch.add({ prompt: Array.from({ length: 36 }, (_, i) => i + 1), maxNewTokens: 100 });
    const cancelled = batch.add({ prompt: [5], maxNewTokens: 100 });
    const choices = batch.addChoices({ prompt: [3, 4], maxNewTokens: 4 }, 3);
    await batch.step();
    await batch.step();
    cancelled.cancel();
    await batch.run();
    const r = await long.result;
    expect(r.finishReason).toBe('context');
    expect(r.tokens).toEqual(alone(Array.from({ length: 36 }, (_, i) => i + 1), 100));
    expect((await cancelled.result).finishReason).toBe('cancelled');
    expect((await cancelled.result).tokens.length).toBe(2);
    for (const c of choices) expect((await c.result).tokens).toEqual(alone([3, 4], 4));
    expect(lm.open.size).toBe(0);
  });

  it('a failing step rejects its sequences (the error named) and releases them; the stream iterator throws it', async () => {
    const lm = new StandIn(4);
    lm.failAt = 1;
    const batch = new DecodeBatch(lm);
    const streams = [batch.add({ prompt: [1], maxNewTokens: 10 }), batch.add({ prompt: [2], maxNewTokens: 10 })];
    await batch.step();
    await batch.step();
    await expect(batch.step()).rejects.toThrow(/device failed/);
    for (const s of streams) await expect(s.result).rejects.toThrow(InputError);
    const seen: number[] = [];
    await expect((async () => {
      for await (const t of streams[0]) seen.push(t);
    })()).rejects.toThrow(/device failed/);
    expect(seen.length).toBe(2);
    expect(lm.open.size).toBe(0);
    expect(batch.size).toBe(0);
  });

  it('refuses bad requests by name before anything runs', () => {
    const batch = new DecodeBatch(new StandIn(2));
    expect(() => batch.add({ prompt: [] })).toThrow(/prompt/);
    expect(() => batch.add({ prompt: [V] })).toThrow(/outside the vocabulary/);
    expect(() => batch.add({ prompt: [1], maxNewTokens: 0 })).toThrow(/max-new-tokens/);
    expect(() => batch.addChoices({ prompt: [1] }, 0)).toThrow(/\bn\b/);
    expect(() => batch.add({ prompt: [1], temperature: -1 })).toThrow(/temperature/);
  });
});
