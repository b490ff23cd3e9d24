// Engine.batcher(): generations stepped together give each the tokens and text it gets alone from
// engine.generate (greedy, seeded, stop strings, n choices with seed + i), join a running batch, and leave it
// (cancelled, aborted) without disturbing the others. The embedded tiny-v3-trained model.
import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { GenerateOptions, GenerateResult, Generation } from './decode/generate.ts';
import { InputError } from './errors.ts';
import { DEFAULT_MODEL_DIR, Engine, loadModel, nodeFolder } from './node.ts';

let engine: Engine;

beforeAll(async () => {
  engine = await loadModel();
});

afterAll(async () => {
  await engine?.dispose();
});

const PROMPTS = ['What is a river?', 'Who was Moses?', 'The sea is', 'Once upon a time there lived'];

/**
 * engine.generate's result. Sampled generations alone draft with MTP by default, which keeps the distribution
 * but not the tokens; a batch samples one token per step, so they compare with plain decoding.
 */
async function alone(prompt: string, options: GenerateOptions) {
  const sampled = options.temperature !== 0;
  return engine.generate(prompt, sampled ? { ...options, speculative: 'none' } : options).result;
}

async function events(gen: Generation) {
  const texts: string[] = [];
  for await (const e of gen) texts.push(e.text);
  return texts.join('');
}

describe('Engine.batcher', () => {
  it('concurrent greedy and seeded generations equal engine.generate alone, text and finish reason included', async () => {
    const options: GenerateOptions[] = [
      { temperature: 0, maxNewTokens: 9 },
      { temperature: 0.8, seed: 7, maxNewTokens: 13 },
      { temperature: 0, maxNewTokens: 5, speculative: 'none' },
      { temperature: 1, topK: 5, seed: 3, maxNewTokens: 11 },
    ];
    const want: GenerateResult[] = [];
    for (let i = 0; i < PROMPTS.length; i++) want.push(await alone(PROMPTS[i], options[i]));
    const batcher = engine.batcher({ maxBatch: 3 }); // the fourth waits for a row
    const gens = PROMPTS.map((p, i) => batcher.generate(p, options[i]));
    const streamed = await Promise.all(gens.map(events));
    const got = await Promise.all(gens.map((g) => g.result));
    got.forEach((r, i) => {
      expect(r.tokens).toEqual(want[i].tokens);
      expect(r.text).toBe(want[i].text);
      expect(streamed[i]).toBe(want[i].text);
      expect(r.finishReason).toBe(want[i].finishReason);
    });
    expect(batcher.occupancy).toMatchObject({ sequences: 0, waiting: 0, pagesReserved: 0 });
  });

  it('a request joining mid-batch, a cancelled one and a stop string leave the others their own tokens', async () => {
    const long = { temperature: 0, maxNewTokens: 16 };
    const want = await alone(PROMPTS[0], long);
    const stopAt = want.text.slice(3, 6);
    const wantStop = await alone(PROMPTS[0], { ...long, stopStrings: [stopAt] });
    const wantLate = await alone(PROMPTS[1], { temperature: 0, maxNewTokens: 6 });
    const batcher = engine.batcher();
    const first = batcher.generate(PROMPTS[0], long);
    const leaving = new AbortController();
    const aborted = batcher.generate(PROMPTS[2], { temperature: 0, maxNewTokens: 16, signal: leaving.signal });
    const stopped = batcher.generate(PROMPTS[0], { ...long, stopStrings: [stopAt] });
    let late: Generation | null = null;
    let seen = 0;
    for await (const e of first) {
      if (e.token === null) continue;
      if (++seen === 3) {
        late = batcher.generate(PROMPTS[1], { temperature: 0, maxNewTokens: 6 }); // joins at the next step
        leaving.abort();
      }
    }
    const r = await first.result;
    expect(r.tokens).toEqual(want.tokens);
    expect((await late!.result).tokens).toEqual(wantLate.tokens);
    const s = await stopped.result;
    expect(s.finishReason).toBe('stop');
    expect(s.text).toBe(wantStop.text);
    const a = await aborted.result;
    expect(a.finishReason).toBe('aborted');
    expect(a.tokens.length).toBeLessThan(16);
    expect(batcher.occupancy.sequences).toBe(0);
  });

  it('n choices share one prefill and equal engine.generate with seed + i', async () => {
    const o = { temperature: 0.9, seed: 41, maxNewTokens: 7 };
    const want: GenerateResult[] = [];
    for (let i = 0; i < 3; i++) want.push(await alone(PROMPTS[3], { ...o, seed: o.seed + i }));
    const gens = engine.batcher().generateChoices(PROMPTS[3], o, 3);
    const got = await Promise.all(gens.map((g) => g.result));
    expect(got.map((g) => g.tokens)).toEqual(want.map((w) => w.tokens));
  });

  it("each request reports its own drafts and steps: a greedy one as generate() with one draft per step, a sampled one as plain decoding", async () => {
    const greedy: GenerateOptions = { temperature: 0, maxNewTokens: 19 };
    const sampled: GenerateOptions = { temperature: 0.8, seed: 3, maxNewTokens: 11 };
    const want = [await alone(PROMPTS[0], { ...greedy, draftTokens: 1 }), await alone(PROMPTS[1], greedy), await alone(PROMPTS[2], sampled)];
    const batcher = engine.batcher();
    const got = await Promise.all([batcher.generate(PROMPTS[0], greedy).result, batcher.generate(PROMPTS[1], greedy).result, batcher.generate(PROMPTS[2], sampled).result]);
    const counts = (r: GenerateResult) => {
      const { speculative, drafted, accepted, acceptanceRate, tokensPerStep } = r.stats;
      return { tokens: r.tokens, speculative, drafted, accepted, acceptanceRate, tokensPerStep };
    };
    expect(got.map(counts)).toEqual(want.map(counts));
    expect(want[0].stats.drafted).toBeGreaterThan(0);
    expect(want[0].stats.accepted).toBeGreaterThan(0); // so tokensPerStep is above 1
    expect(got[2].stats).toMatchObject({ speculative: 'none', drafted: 0, tokensPerStep: 1 });
  });

  it('a generation leaves no listener behind on the signal it was given once it has joined', async () => {
    const controller = new AbortController();
    const batcher = engine.batcher();
    await Promise.all(Array.from({ length: 12 }, (_, i) => batcher.generate(PROMPTS[i % 4], { temperature: 0, maxNewTokens: 2, signal: controller.signal }).result));
    await Promise.all(Array.from({ length: 12 }, (_, i) => batcher.generate(PROMPTS[i % 4], { temperature: 0, maxNewTokens: 2 }).result));
    // Without a signal of the caller's, generations listen on the engine's own (dispose() aborts it).
    const engineSignal = (engine as unknown as { stopAll: AbortController }).stopAll.signal;
    expect(getEventListeners(engineSignal, 'abort')).toHaveLength(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('refuses what a batch cannot take, naming the argument', () => {
    const batcher = engine.batcher();
    expect(() => batcher.generate('x', { logprobs: 2 })).toThrow(InputError);
    expect(() => batcher.generate('x', { logprobs: 2 })).toThrow(/logprobs/);
    expect(() => batcher.generateChoices('x', {}, 0)).toThrow(/n: must be a positive integer/);
    const pages = engine.model.cache.shape.pages;
    expect(() => batcher.generateChoices('x', { maxNewTokens: 1e9 }, 2)).toThrow(new RegExp(`need \\d+ cache pages of \\d+ rows; the cache has ${pages}`));
    expect(() => engine.batcher({ maxBatch: 0 })).toThrow(/max-batch/);
  });
});

describe("the engine's own sequence beside a batch", () => {
  it('a sequential generation (logprobs) between batch steps reserves its pages: at a 4-page cache all finish with their own tokens', async () => {
    // 4 pages of 16 rows. The two batched requests (prompts of 7 and 5 tokens) reserve 2 pages each (prompt + 24
    // + 1 rows) and fill them; the logprobs generation, which runs on the engine's own sequence between two batch
    // steps, fills 2 more: it must wait for pages instead of taking the batch's.
    const small = await Engine.load(engine.gpu, nodeFolder(DEFAULT_MODEL_DIR), { cacheTokens: 64 });
    try {
      const o: GenerateOptions = { temperature: 0, maxNewTokens: 24 };
      const want = [];
      for (const p of PROMPTS.slice(0, 3)) want.push(await small.generate(p, o).result);
      const batcher = small.batcher({ maxBatch: 2 });
      const batched = PROMPTS.slice(0, 2).map((p) => batcher.generate(p, o).result);
      const sequential = small.generate(PROMPTS[2], { ...o, logprobs: 1 }).result;
      const got = await Promise.all([...batched, sequential]);
      expect(got.map((g) => [g.tokens, g.finishReason])).toEqual(want.map((w) => [w.tokens, 'length']));
      expect(batcher.occupancy).toMatchObject({ sequences: 0, pagesReserved: 0 });
    } finally {
      await small.dispose();
    }
  });

  it("a chat's context left between turns gives way to a batched request that needs its pages; the next turn is as fresh", async () => {
    const small = await Engine.load(engine.gpu, nodeFolder(DEFAULT_MODEL_DIR), { cacheTokens: 64 });
    try {
      const o: GenerateOptions = { temperature: 0, maxNewTokens: 20 };
      const long: GenerateOptions = { temperature: 0, maxNewTokens: 40 };
      const wantBatched = await small.generate(PROMPTS[1], long).result;
      const chat = small.chat();
      await chat.send('What is a river?', o).result;
      expect(small.model.seq.pageCount, 'the turn left its context').toBeGreaterThan(1);
      // 3 of the 4 pages: more than the context leaves free. Before, it waited for good.
      const batched = await small.batcher().generate(PROMPTS[1], long).result;
      expect(batched.tokens).toEqual(wantBatched.tokens);
      expect(small.model.seq.pageCount, 'the context gave way').toBe(0);
      const second = await chat.send('And the sea?', o).result;
      const fresh = small.chat();
      await fresh.send('What is a river?', o).result;
      expect(second.tokens).toEqual((await fresh.send('And the sea?', o).result).tokens);
    } finally {
      await small.dispose();
    }
  });
});

describe('Engine.generateSamples in one batch', () => {
  it('steps the samples together; sample i is engine.generate with seed + i, and the vote counts their answers', async () => {
    const t0 = performance.now();
    const set = await engine.generateSamples('The sea is', { samples: 3, temperature: 0.9, seed: 21, maxNewTokens: 7, vote: true });
    const wall = performance.now() - t0;
    expect(set.batched).toBe(true);
    for (const s of set.samples) {
      // Speeds by the batch's clock, though the samples are read after the batch ended: the 6 decode steps took
      // more than a millisecond each and less than the whole call.
      const decodeMs = (1000 * (s.tokens.length - 1)) / s.stats.decodeTokensPerSecond;
      expect(decodeMs).toBeGreaterThan(s.tokens.length - 1);
      expect(decodeMs).toBeLessThan(wall);
      expect(s.stats.prefillTokensPerSecond).toBeGreaterThan(0);
    }
    const want = await Promise.all([21, 22, 23].map((seed) => alone('The sea is', { temperature: 0.9, seed, maxNewTokens: 7 })));
    expect(set.samples.map((s) => [s.seed, s.tokens])).toEqual(want.map((w, i) => [21 + i, w.tokens]));
    expect(set.vote!.total).toBe(3);
  });

  it('with a reasoning budget too: each sample forces </think> where engine.generate alone does', async () => {
    const prompt = 'In the beginning <think>\n'; // ends inside the section, as R1's template does
    const close = engine.tokenizer!.encode('</think>', { addBos: false });
    const o = { temperature: 0.9, maxNewTokens: 8, reasoningBudget: 2 };
    const set = await engine.generateSamples(prompt, { ...o, samples: 3, seed: 5 });
    expect(set.batched).toBe(true);
    const want = await Promise.all([5, 6, 7].map((seed) => alone(prompt, { ...o, seed })));
    expect(set.samples.map((s) => [s.tokens, s.text])).toEqual(want.map((w) => [w.tokens, w.text]));
    for (const s of set.samples) expect(s.tokens.slice(2, 2 + close.length), `sample ${s.index}`).toEqual(close);
  });
});

describe('the prefix cache under engine.generate and the batcher', () => {
  const LONG = 'The river runs from the hills to the sea, past the old mill and the church, and in the spring it is full of fish and the children swim in it all day long';

  it('a prompt takes the whole pages an earlier generation left, greedy (MTP) and seeded, and gives the same tokens', async () => {
    const prefix = engine.model.cache.prefix!;
    const P = engine.model.cache.pageSize;
    const L = engine.encode(LONG).length;
    expect(L, 'the prompt spans whole pages').toBeGreaterThan(2 * P);
    const whole = Math.floor((L - 1) / P) * P;
    for (const options of [{ temperature: 0, maxNewTokens: 8 }, { temperature: 0.8, seed: 5, maxNewTokens: 8, speculative: 'none' as const }]) {
      prefix.clear();
      const fresh = await engine.generate(LONG, options).result;
      expect(fresh.stats.cachedTokens).toBe(0);
      const again = await engine.generate(LONG, options).result;
      expect(again.stats.cachedTokens, JSON.stringify(options)).toBe(whole);
      expect(again.tokens).toEqual(fresh.tokens);
      // The batch finds the same pages (an engine.generate left them), and a batched one leaves them for generate.
      const batched = await engine.batcher().generate(LONG, options).result;
      expect(batched.stats.cachedTokens).toBe(whole);
      expect(batched.tokens).toEqual(fresh.tokens);
    }
    prefix.clear();
    const first = await engine.batcher().generate(LONG, { temperature: 0, maxNewTokens: 4 }).result;
    expect(first.stats.cachedTokens).toBe(0);
    expect((await engine.generate(LONG, { temperature: 0, maxNewTokens: 4 }).result).stats.cachedTokens).toBe(whole);
  });

  it('prefills the prompt once per group of choices, a group as large as the cache holds at the samples’ worst case', async () => {
    const prefill = vi.spyOn(engine.model, 'appendSequence');
    try {
      const everyId = Array.from({ length: engine.config.vocabSize }, (_, i) => i); // each sample ends at its first token
      const options = { temperature: 0.9, seed: 4, eosTokenIds: everyId };
      const three = await engine.generateSamples('The sea is', { ...options, samples: 3, maxNewTokens: 7 });
      expect(three.samples.map((s) => [s.seed, s.finishReason])).toEqual([4, 5, 6].map((seed) => [seed, 'eos']));
      expect(prefill).toHaveBeenCalledTimes(1); // one sample after another: 3
      prefill.mockClear();
      // 4 + 300 + 1 rows: 20 pages a sample, 3 samples in the 64-page cache: groups of 3 and 2.
      const five = await engine.generateSamples('The sea is', { ...options, samples: 5, maxNewTokens: 300 });
      expect(five.samples.map((s) => [s.seed, s.finishReason])).toEqual([4, 5, 6, 7, 8].map((seed) => [seed, 'eos']));
      expect(prefill).toHaveBeenCalledTimes(2);
    } finally {
      prefill.mockRestore();
    }
  });
});
