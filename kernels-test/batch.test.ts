// Batched decoding (src/decode/batch.ts over DeepseekModel.decodeStep and the paged latent cache) is the same
// decoding: every sequence of a batch produces exactly the tokens it produces alone, with prompts of different
// lengths (page size 4 dividing none of them), sequences joining and leaving between steps, n choices forked
// from one prompt, penalties and seeded sampling per row, reasoning budgets forcing `</think>`, prompts that
// take whole pages from the prefix cache; and every page is back in the pool at the end. Both launch profiles
// (vitest.config.ts).
// tiny-v3 (4 heads) and tiny-v2lite (3 heads: a block of 4 query vectors would straddle two sequences).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModelFolder, type ModelFolder } from '../src/checkpoint/model-folder.ts';
import { nodeFolder } from '../src/checkpoint/sources/node-file.ts';
import { DecodeBatch, type BatchRequest } from '../src/decode/batch.ts';
import { generate } from '../src/decode/generate.ts';
import { DeepseekModel } from '../src/model/deepseek-model.ts';
import { getTestGpu } from './helpers/gpu.ts';
import { testProfile, testProfileName } from './helpers/profile.ts';

const gpu = await getTestGpu();

const aloneTokens = new Map<string, number[]>();

/** The tokens `request` gives alone: generate() on the model's own sequence, one token per step (memoized). */
async function alone(model: DeepseekModel, r: BatchRequest): Promise<number[]> {
  const key = JSON.stringify([model.config.numAttentionHeads, r]);
  const known = aloneTokens.get(key);
  if (known) return known;
  model.truncate(0);
  const gen = generate(model, r.prompt, { ...r, eosTokenIds: r.eosTokenIds ?? [], speculative: 'none', decoder: r.textDecoder?.() });
  for await (const _ of gen);
  const tokens = (await gen.result).tokens;
  aloneTokens.set(key, tokens);
  return tokens;
}

const prompt = (length: number, salt: number) => Array.from({ length }, (_, i) => (i * 37 + salt * 11 + 1) % 200);

// The fixtures have no tokenizer: ids 201 + 202 write '</think>' (in two pieces), every other id a word.
const CLOSE = [201, 202];
const textDecoder = () => ({ push: (id: number) => (id === 201 ? '</th' : id === 202 ? 'ink>' : ` w${id}`) });

// Under the GPU launch profile (slow on SwiftShader: its workgroups are sized for a GPU) the fixture with the MTP
// module; the 3-head one runs under the CPU profile.
const FIXTURES = testProfileName() === 'gpu' ? ['kernels-test/fixtures/tiny-v3'] : ['kernels-test/fixtures/tiny-v3', 'kernels-test/fixtures/tiny-v2lite'];

describe.skipIf(!gpu).each(FIXTURES)(`batched decoding (${testProfileName()} profile) on %s`, (dir) => {
  let folder: ModelFolder;
  let model: DeepseekModel;
  beforeAll(async () => {
    folder = await openModelFolder(nodeFolder(dir));
    model = await DeepseekModel.load(gpu!, folder, { prefillChunk: 16, contextLength: 48, cacheTokens: 256, pageSize: 4, maxSequences: 12, profile: testProfile(gpu!.device) });
  });
  afterAll(async () => {
    model?.dispose();
    await folder?.checkpoint.close();
  });

  it.each(['none', 'mtp'] as const)('greedy, speculative %s: each sequence as alone, with sequences joining and leaving between steps', async (speculative) => {
    if (speculative === 'mtp' && !model.batchSpeculator()) return; // no MTP module: the same as 'none'
    const free = model.cache.freePageCount;
    const requests: BatchRequest[] = [
      { prompt: prompt(1, 1), maxNewTokens: 9, eosTokenIds: [] },
      { prompt: prompt(5, 2), maxNewTokens: 4, eosTokenIds: [] }, // leaves early
      { prompt: prompt(17, 3), maxNewTokens: 8, eosTokenIds: [] },
      { prompt: prompt(42, 4), maxNewTokens: 20, eosTokenIds: [] }, // reaches the 48-token context: 'context'
    ];
    const batch = new DecodeBatch(model, { speculative });
    const streams = [batch.add(requests[0]), batch.add(requests[1])];
    await batch.step(); // the first two join
    await batch.step();
    streams.push(batch.add(requests[2]), batch.add(requests[3])); // two more join mid-batch
    const steps = [];
    while (batch.size > 0) steps.push(await batch.step());
    // Plain: the early one leaves after the first step of 4; speculative: it may be done a step sooner.
    const most = Math.max(...steps.map((s) => s.rows));
    const drafting = speculative === 'mtp';
    if (drafting) expect(most, 'steps of several sequences at once').toBeGreaterThanOrEqual(3);
    else expect(most, 'a step of 4 sequences at once').toBe(4);
    const drafted = steps.reduce((n, s) => n + s.drafted, 0);
    if (drafting) expect(drafted, 'speculative steps drafted').toBeGreaterThan(10);
    else expect(drafted).toBe(0);
    expect(model.cache.freePageCount, 'every page back in the pool').toBe(free);
    const results = await Promise.all(streams.map((s) => s.result));
    expect(results.map((r) => r.finishReason)).toEqual(['length', 'length', 'length', 'context']);
    for (const [i, r] of requests.entries()) expect(results[i].tokens, `sequence ${i}`).toEqual(await alone(model, r));
  });

  it('n choices forked from one prompt: greedy ones equal, seeded ones each as alone with seed + i; pages shared', async () => {
    const free = model.cache.freePageCount;
    const p = prompt(10, 5);
    const batch = new DecodeBatch(model);
    const greedy = batch.addChoices({ prompt: p, maxNewTokens: 6, eosTokenIds: [] }, 3);
    const sampled = batch.addChoices({ prompt: p, maxNewTokens: 6, eosTokenIds: [], temperature: 0.9, topK: 40, seed: 17 }, 2);
    await batch.step(); // prefill: the prompt but its last token once per request, forks share its pages
    // The second request takes the first's 2 whole pages from the prefix cache and prefills its 9th row only.
    expect(free - model.cache.freePageCount, 'two prompts of 9 rows in 4-row pages, shared by their forks').toBe(3 + 1);
    expect([...greedy, ...sampled].map((s) => s.cachedTokens)).toEqual([0, 0, 0, 8, 8]);
    await batch.run();
    expect(model.cache.freePageCount).toBe(free);
    const want = await alone(model, { prompt: p, maxNewTokens: 6 });
    for (const s of greedy) expect((await s.result).tokens).toEqual(want);
    for (const [i, s] of sampled.entries()) {
      expect((await s.result).tokens, `choice ${i}`).toEqual(await alone(model, { prompt: p, maxNewTokens: 6, temperature: 0.9, topK: 40, seed: 17 + i }));
    }
  });

  it.each(['none', 'mtp'] as const)('speculative %s: a prompt that starts with an earlier sequence takes its whole pages from the prefix cache, same tokens', async (speculative) => {
    if (speculative === 'mtp' && !model.batchSpeculator()) return;
    const free = model.cache.freePageCount;
    const first: BatchRequest = { prompt: prompt(13, 10 + (speculative === 'mtp' ? 1 : 0)), maxNewTokens: 7, eosTokenIds: [] };
    const batch = new DecodeBatch(model, { speculative });
    const firstStream = batch.add(first);
    await batch.run();
    const out = await firstStream.result;
    expect(out.tokens).toHaveLength(7);
    // A chat's follow-up (the first prompt, its answer, 3 new tokens) and a prompt sharing 9 tokens with it.
    const followUp: BatchRequest = { prompt: [...first.prompt, ...out.tokens, 5, 6, 7], maxNewTokens: 6, eosTokenIds: [] };
    const sibling: BatchRequest = { prompt: [...first.prompt.slice(0, 9), 1, 2, 3], maxNewTokens: 6, eosTokenIds: [] };
    const streams = [batch.add(followUp), batch.add(sibling)];
    await batch.run();
    // The first sequence's 19 rows (13 + 7 - 1) leave 4 whole pages of 4; the sibling shares 2 of them.
    expect(streams.map((s) => s.cachedTokens)).toEqual([16, 8]);
    expect(model.cache.freePageCount, 'cached pages nobody holds count as free').toBe(free);
    expect(model.cache.prefix!.pages).toBeGreaterThanOrEqual(4);
    expect((await streams[0].result).tokens).toEqual(await alone(model, followUp));
    expect((await streams[1].result).tokens).toEqual(await alone(model, sibling));
  });

  // Page bookkeeping, the same under any launch shape.
  it.skipIf(testProfileName() === 'gpu')('a full pool takes back cached pages, least recently used first; clear() returns them all', async () => {
    model.cache.prefix!.clear();
    model.truncate(0); // the model's own sequence (alone()'s) holds no pages either
    const free = model.cache.freePageCount;
    const evicted = model.cache.prefix!.stats.evictions;
    // 8 prompts of 40 tokens (10 pages each) through a 64-page pool: the cache must give pages back.
    const requests = Array.from({ length: 8 }, (_, i): BatchRequest => ({ prompt: prompt(40, 20 + i), maxNewTokens: 2, eosTokenIds: [] }));
    const batch = new DecodeBatch(model, { speculative: 'none' });
    for (const r of requests) {
      const stream = batch.add(r);
      await batch.run();
      expect((await stream.result).tokens).toEqual(await alone(model, r));
    }
    expect(model.cache.prefix!.stats.evictions - evicted).toBeGreaterThan(0);
    const again = batch.add(requests[7]);
    await batch.run();
    expect(again.cachedTokens, 'the latest prompt is still cached (but its last token)').toBe(36);
    expect((await again.result).tokens).toEqual(await alone(model, requests[7]));
    model.cache.prefix!.clear();
    model.truncate(0);
    expect(model.cache.prefix!.pages).toBe(0);
    expect(model.cache.freePageCount).toBe(free);
  });

  it('per-row sampling and penalties in one step: each as alone with the same seed', async () => {
    const requests: BatchRequest[] = [
      { prompt: prompt(3, 6), maxNewTokens: 6, temperature: 1.1, topP: 0.9, seed: 3 },
      { prompt: prompt(9, 7), maxNewTokens: 6, repetitionPenalty: 1.5 },
      { prompt: prompt(6, 8), maxNewTokens: 6, temperature: 0.7, frequencyPenalty: 1, presencePenalty: 0.5, seed: 4 },
      { prompt: prompt(4, 9), maxNewTokens: 6 },
    ].map((r) => ({ ...r, eosTokenIds: [] }));
    const batch = new DecodeBatch(model);
    const streams = requests.map((r) => batch.add(r));
    await batch.run();
    for (const [i, r] of requests.entries()) expect((await streams[i].result).tokens, `sequence ${i}`).toEqual(await alone(model, r));
  });

  it('reasoning budgets: </think> forced where generate() forces it, greedy (with MTP where the model has it) and seeded (n choices)', async () => {
    const free = model.cache.freePageCount;
    const thinking = { closeTokens: CLOSE, startsInThinking: true }; // the prompt opened the section
    const greedy: BatchRequest = { prompt: prompt(7, 10), maxNewTokens: 9, eosTokenIds: [], reasoningBudget: 2, thinking, textDecoder };
    const sampled: BatchRequest = { prompt: prompt(5, 11), maxNewTokens: 6, eosTokenIds: [], temperature: 0.9, seed: 8, reasoningBudget: 1, thinking, textDecoder };
    const unbudgeted: BatchRequest = { prompt: prompt(6, 12), maxNewTokens: 7, eosTokenIds: [] };
    const batch = new DecodeBatch(model);
    const [g, u] = [batch.add(greedy), batch.add(unbudgeted)];
    const choices = batch.addChoices(sampled, 2);
    const steps = [];
    while (batch.size > 0) steps.push(await batch.step());
    expect(model.cache.freePageCount).toBe(free);
    const got = (await g.result).tokens;
    expect(got).toEqual(await alone(model, greedy));
    expect(got.slice(2, 4), 'forced after 2 reasoning tokens').toEqual(CLOSE);
    expect(got, 'the model would not have written it').not.toEqual(await alone(model, { ...greedy, reasoningBudget: undefined }));
    expect((await u.result).tokens).toEqual(await alone(model, unbudgeted));
    for (const [i, c] of choices.entries()) {
      const tokens = (await c.result).tokens;
      expect(tokens, `choice ${i}`).toEqual(await alone(model, { ...sampled, seed: 8 + i }));
      expect(tokens.slice(1, 3)).toEqual(CLOSE);
    }
    // Alone in a batch, a greedy sequence forced from its first token on (after the MTP prefill) drafts after </think>.
    const first: BatchRequest = { ...greedy, reasoningBudget: 0 };
    const want = await alone(model, first); // before the count: the model's own sequence holds pages of the pool too
    const before = model.cache.freePageCount;
    const own = new DecodeBatch(model);
    const s = own.add(first);
    let drafted = 0;
    while (own.size > 0) drafted += (await own.step()).drafted;
    const tokens = (await s.result).tokens;
    expect(tokens).toEqual(want);
    expect(tokens.slice(0, 2)).toEqual(CLOSE);
    if (model.batchSpeculator()) expect(drafted, 'drafts kept after the forced tokens').toBeGreaterThan(2);
    expect(model.cache.freePageCount).toBe(before);
  });
});
