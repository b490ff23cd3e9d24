// DecodeBatch's scheduling on a CPU stand-in model (the GPU model's equality with single-sequence decoding
// is kernels-test/batch.test.ts): steps split at maxBatch rows, stop conditions per sequence, cancel, a
// failing step, forks, reasoning budgets (token for token generate()'s), and every sequence released exactly once.
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../config/model-config.ts';
import { InputError } from '../errors.ts';
import { isGreedy, type SampleRequest } from '../sampling/rules.ts';
import type { BatchLM, BatchRow, BatchSpeculator, SpeculativeRow } from './batch-lm.ts';
import { DecodeBatch, type BatchRequest } from './batch.ts';
import { generate } from './generate.ts';
import { TestLM } from './test-lm.ts';

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

/** The stand-in's choice under `sample`: nextOf, moved by the random number when sampled (a seed shows). */
const pick = (tokens: readonly number[], sample: SampleRequest) => (isGreedy(sample) ? nextOf(tokens) : ((nextOf(tokens) + Math.floor(sample.random * 7)) % (V - 1)) + 1);

class StandIn implements BatchLM<Seq> {
  readonly config = config;
  readonly maxLength = 40;
  readonly steps: number[] = [];
  open = new Set<Seq>();
  released = 0;
  failAt = -1;
  private ids = 0;
  private spec: StandInSpeculator | null;

  constructor(
    readonly maxBatch: number,
    withDraftHead = false,
  ) {
    this.spec = withDraftHead ? new StandInSpeculator() : null;
  }

  batchSpeculator(): StandInSpeculator | null {
    return this.spec;
  }

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
  async appendSequence(s: Seq, tokens: readonly number[], sample: SampleRequest | null): Promise<number | null> {
    s.tokens.push(...tokens);
    return sample ? pick(s.tokens, sample) : null;
  }
  async decodeStep(rows: readonly BatchRow<Seq>[]): Promise<number[]> {
    if (this.steps.length === this.failAt) throw new InputError('batch', 'the device failed');
    this.steps.push(rows.length);
    return rows.map((r) => {
      r.seq.tokens.push(r.token);
      return pick(r.seq.tokens, r.sample);
    });
  }
}

/**
 * Greedy drafting over the stand-in's sequences, its drafts right unless the main choice is a multiple of 5, so
 * most are kept; the rows' `keep: false` drafts are rejected. Counts the drafts it kept.
 */
class StandInSpeculator implements BatchSpeculator<Seq> {
  readonly maxBatch = 2;
  kept = 0;
  private readonly pending = new Map<Seq, number>();

  async prefill(seq: Seq, prompt: readonly number[]): Promise<number> {
    seq.tokens.push(...prompt);
    const first = nextOf(seq.tokens);
    this.pending.set(seq, first);
    return first;
  }
  async step(rows: readonly SpeculativeRow<Seq>[]): Promise<number[][]> {
    return rows.map(({ seq, token, draft, keep }) => {
      if (this.pending.get(seq) !== token) throw new Error(`sequence ${seq.id} steps from ${token}, but ${this.pending.get(seq)} was chosen`);
      seq.tokens.push(token);
      const choice = nextOf(seq.tokens);
      if (!draft) {
        this.pending.delete(seq);
        return [choice];
      }
      const d = choice % 5 === 0 ? (choice % (V - 1)) + 1 : choice;
      if (keep === false || d !== choice) {
        this.pending.set(seq, choice);
        return [choice];
      }
      seq.tokens.push(d);
      this.kept++;
      const next = nextOf(seq.tokens);
      this.pending.set(seq, next);
      return [d, next];
    });
  }
  forget(seq: Seq): void {
    this.pending.delete(seq);
  }
  replaceNext(seq: Seq, t: number): void {
    if (!this.pending.has(seq)) throw new Error(`sequence ${seq.id} has no chosen token to replace`);
    this.pending.set(seq, t);
  }
}

/** The same model as a CausalLM, for generate() alone. */
class StandInAlone extends TestLM {
  private tokens: number[] = [];
  constructor() {
    super(V, 40);
  }
  async append(tokens: readonly number[], sample: SampleRequest | null): Promise<number | null> {
    this.tokens.push(...tokens);
    this.length = this.tokens.length;
    return sample ? pick(this.tokens, sample) : null;
  }
  override truncate(length: number): void {
    this.tokens.length = this.length = length;
  }
}

// '</think>' written in two pieces (as by a vocabulary without the tag as one token); every other id a word.
const CLOSE = [41, 42];
const PIECES: Record<number, string> = { 41: '</th', 42: 'ink>' };
const textDecoder = () => ({ push: (id: number) => PIECES[id] ?? ` w${id}` });

/** generate()'s tokens for `r` alone (choice `i`: seed + i), with the batch's stop ids and a decoder of its own. */
async function generated(r: BatchRequest, i = 0): Promise<number[]> {
  const seed = r.seed === undefined ? undefined : r.seed + i;
  return (await generate(new StandInAlone(), r.prompt, { ...r, seed, eosTokenIds: [0], decoder: textDecoder() }).result).tokens;
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

  it('a reasoning budget forces </think> exactly where generate() does (greedy, seeded, n choices); other rows are unaffected', async () => {
    const lm = new StandIn(3);
    const batch = new DecodeBatch(lm);
    const thinking = { closeTokens: CLOSE, startsInThinking: true };
    const budgeted: BatchRequest[] = [
      { prompt: [5, 6, 7], maxNewTokens: 10, reasoningBudget: 3, thinking },
      { prompt: [4], maxNewTokens: 5, reasoningBudget: 0, thinking }, // forced from the first token on
      { prompt: [9], maxNewTokens: 6, reasoningBudget: 1, thinking: { ...thinking, startsInThinking: false } }, // no section: never forced
    ].map((r) => ({ ...r, textDecoder }));
    const sampled: BatchRequest = { prompt: [8, 9], maxNewTokens: 9, temperature: 1, seed: 11, reasoningBudget: 2, thinking, textDecoder };
    const free: BatchRequest[] = [{ prompt: [1, 2], maxNewTokens: 8 }, { prompt: [3], maxNewTokens: 8, temperature: 1, seed: 4 }];
    const streams = [...budgeted, ...free].map((r) => batch.add(r));
    const choices = batch.addChoices(sampled, 2);
    await batch.run();
    const results = await Promise.all(streams.map((s) => s.result));
    for (const [i, r] of [...budgeted, ...free].entries()) expect(results[i].tokens, `sequence ${i}`).toEqual(await generated(r));
    for (const [i, c] of choices.entries()) expect((await c.result).tokens, `choice ${i}`).toEqual(await generated(sampled, i));
    // The forcing happened: </think> after the budget's tokens, where the model chose otherwise.
    expect(results[0].tokens.slice(3, 5)).toEqual(CLOSE);
    expect(await generated({ ...budgeted[0], reasoningBudget: undefined })).not.toEqual(results[0].tokens);
    expect(results[1].tokens.slice(0, 2)).toEqual(CLOSE);
    for (const c of choices) expect((await c.result).tokens.slice(2, 4)).toEqual(CLOSE);
    expect(results[2].tokens).toEqual(await generated({ ...budgeted[2], reasoningBudget: undefined }));
    expect(lm.open.size).toBe(0);
  });

  it('with a draft head: budgeted greedy sequences draft, and </think> still comes where generate() puts it', async () => {
    const lm = new StandIn(4, true);
    const batch = new DecodeBatch(lm);
    const thinking = { closeTokens: CLOSE, startsInThinking: true };
    const requests: BatchRequest[] = [0, 1, 2, 5].map((budget, i) => ({ prompt: [i + 3, 7], maxNewTokens: 12, reasoningBudget: budget, thinking, textDecoder }));
    requests.push({ prompt: [6], maxNewTokens: 12 });
    requests.push({ ...requests[3], maxNewTokens: 6 }); // the first forced token is its last: a plain row, no draft state left
    const streams = requests.map((r) => batch.add(r));
    let drafted = 0;
    while (batch.size > 0) drafted += (await batch.step()).drafted;
    for (const [i, r] of requests.entries()) expect((await streams[i].result).tokens, `sequence ${i}`).toEqual(await generated(r));
    for (const [i, budget] of [0, 1, 2, 5].entries()) expect((await streams[i].result).tokens.slice(budget, budget + 2), `budget ${budget}`).toEqual(CLOSE);
    expect(drafted).toBeGreaterThan(10);
    expect(lm.batchSpeculator()!.kept).toBeGreaterThan(10);
    expect(lm.open.size).toBe(0);
  });

  it('refuses bad requests by name before anything runs', () => {
    const batch = new DecodeBatch(new StandIn(2));
    expect(() => batch.add({ prompt: [] })).toThrow(/prompt/);
    expect(() => batch.add({ prompt: [V] })).toThrow(/outside the vocabulary/);
    expect(() => batch.add({ prompt: [1], maxNewTokens: 0 })).toThrow(/max-new-tokens/);
    expect(() => batch.addChoices({ prompt: [1] }, 0)).toThrow(/\bn\b/);
    expect(() => batch.add({ prompt: [1], temperature: -1 })).toThrow(/temperature/);
    expect(() => batch.add({ prompt: [1], reasoningBudget: 2 })).toThrow(/reasoning-budget: needs a tokenizer/);
    const thinking = { closeTokens: CLOSE, startsInThinking: true };
    expect(() => batch.add({ prompt: [1], reasoningBudget: -1, thinking, textDecoder })).toThrow(/reasoning-budget: must be an integer >= 0/);
    expect(batch.size).toBe(0);
  });
});
