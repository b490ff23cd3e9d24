// The library as an integrator meets it: one Engine shared by callers that don't coordinate, `result` awaited
// without iterating, calls after dispose(), and load progress a progress bar can trust.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError, loadModel, type Engine, type GenerateOptions, type LoadPhase } from 'deepseek-webgpu';

const greedy = { maxNewTokens: 10, temperature: 0 } as const;

describe('Engine', () => {
  let engine: Engine;
  const progress: { done: number; total: number; phase: LoadPhase }[] = [];
  beforeAll(async () => {
    engine = await loadModel(undefined, { onProgress: (done, total, phase) => progress.push({ done, total, phase }) });
  });
  afterAll(async () => engine?.dispose());

  it('reports load progress by phase: download and upload never past their totals, then the warm-up steps', () => {
    const download = progress.filter((p) => p.phase === 'download');
    const weights = progress.filter((p) => p.phase === 'upload');
    const warmup = progress.filter((p) => p.phase === 'compile');
    for (const phase of [download, weights]) {
      expect(phase.length).toBeGreaterThan(0);
      for (const p of phase) expect(p.done).toBeLessThanOrEqual(p.total);
      expect(phase.at(-1)!.done).toBe(phase.at(-1)!.total);
      for (let i = 1; i < phase.length; i++) expect(phase[i].done).toBeGreaterThanOrEqual(phase[i - 1].done);
    }
    expect(weights.length).toBeGreaterThan(1);
    // The whole checkpoint (two shards, gaps merged) arrives before the upload has finished.
    expect(progress.findIndex((p) => p.phase === 'download' && p.done === p.total)).toBeLessThan(progress.findIndex((p) => p.phase === 'upload' && p.done === p.total));
    // Warm-up comes after every weight and counts its steps up to their total.
    expect(progress.findIndex((p) => p.phase === 'compile')).toBe(download.length + weights.length);
    expect(warmup.map((p) => p.done)).toEqual(Array.from({ length: warmup.length }, (_, i) => i));
    expect(warmup.at(-1)!.done).toBe(warmup.at(-1)!.total);
  });

  it('`await generate(...).result` settles without iterating, with the tokens iterating gives', async () => {
    const { tokens, finishReason } = await engine.generate('In the beginning', greedy).result;
    const iterated: number[] = [];
    for await (const e of engine.generate('In the beginning', greedy)) if (e.token !== null) iterated.push(e.token);
    expect(finishReason).toBe('length');
    expect(tokens).toEqual(iterated);
    expect(tokens.length).toBe(10);
  });

  it('reading result mid-iteration keeps every event for the iterator, in order', async () => {
    const whole = (await engine.generate('And God said', greedy).result).tokens;
    const gen = engine.generate('And God said', greedy);
    const seen: number[] = [];
    let result: Promise<unknown> | undefined;
    for await (const e of gen) {
      seen.push(e.token!);
      result ??= gen.result; // starts running the rest while we iterate
    }
    await result;
    expect(seen).toEqual(whole);
  });

  it('two generations at once run one after the other, each as if alone', async () => {
    const alone = [(await engine.generate('In the beginning', greedy).result).tokens, (await engine.generate('The LORD is', { ...greedy, speculative: 'none' }).result).tokens];
    const a = engine.generate('In the beginning', greedy);
    const b = engine.generate('The LORD is', { ...greedy, speculative: 'none' });
    const [ra, rb] = await Promise.all([a.result, b.result]);
    expect([ra.tokens, rb.tokens]).toEqual(alone);
    // Interleaved iteration: the second waits for the first to finish, then streams its own tokens.
    const c = engine.generate('The LORD is', greedy);
    const d = engine.generate('In the beginning', greedy);
    const [tc, td] = await Promise.all([collect(c), collect(d)]);
    expect([td, tc]).toEqual(alone);
  });

  it("samples as the model's generation_config.json says unless the options say otherwise", async () => {
    expect(engine.generationDefaults).toMatchObject({ temperature: 0.6, topP: 0.95, eosTokenIds: [1] });
    const tokens = async (options: GenerateOptions) => (await engine.generate('In the beginning', { maxNewTokens: 10, ...options }).result).tokens;
    const byDefault = await tokens({ seed: 5 });
    expect(await tokens({ temperature: 0.6, topP: 0.95, seed: 5 })).toEqual(byDefault);
    expect(await tokens({ temperature: undefined, seed: 5 })).toEqual(byDefault); // undefined is no setting
    expect(byDefault).not.toEqual(await tokens(greedy)); // so the defaults did something
    // An explicit setting wins; the ones left out still come from the file.
    expect(await tokens({ temperature: 1.2, seed: 5 })).toEqual(await tokens({ temperature: 1.2, topP: 0.95, seed: 5 }));
    expect(await tokens({ temperature: 0, seed: 5 })).toEqual(await tokens({ ...greedy, topP: 1 }));
  });

  it('an abandoned-early generation frees the engine for the next one', async () => {
    const gen = engine.generate('In the beginning', { maxNewTokens: 50 });
    for await (const _ of gen) break;
    expect((await gen.result).finishReason).toBe('aborted');
    expect((await engine.generate('In the beginning', greedy).result).tokens.length).toBe(10);
  });

  it('a reasoning budget of T forces the tokens of </think> after T tokens, identically with and without MTP', async () => {
    // The toy model has no reasoning of its own; a prompt that ends inside `<think>` (as R1's template's does)
    // puts it there, and `</think>` is text it spells in several tokens.
    const prompt = 'In the beginning <think>\n';
    const close = engine.tokenizer!.encode('</think>', { addBos: false });
    const T = 3;
    const options = { maxNewTokens: T + close.length + 4, temperature: 0, reasoningBudget: T } as const;
    const plain = await engine.generate(prompt, { ...options, speculative: 'none' }).result;
    const mtp = await engine.generate(prompt, { ...options, speculative: 'mtp', draftTokens: 2 }).result;
    const free = await engine.generate(prompt, { maxNewTokens: T, temperature: 0 }).result;
    expect(plain.tokens.slice(0, T)).toEqual(free.tokens); // nothing changes before the budget is spent
    expect(plain.tokens.slice(T, T + close.length)).toEqual(close);
    expect(plain.text).toContain('</think>');
    expect(mtp.tokens).toEqual(plain.tokens);
    expect(mtp.stats.speculative).toBe('mtp');
    expect(mtp.stats.drafted).toBeGreaterThan(0);
    // Sampled speculation (the acceptance rule over the drafts before the forced tokens) forces them there too.
    const sampled = await engine.generate(prompt, { ...options, temperature: 0.9, seed: 3, speculative: 'mtp', draftTokens: 2 }).result;
    expect(sampled.tokens.slice(T, T + close.length)).toEqual(close);
    expect(sampled.tokens).toHaveLength(options.maxNewTokens);
  });
});

describe('Engine after dispose()', () => {
  it('stops a running generation, refuses queued ones and every later call with a clear InputError', async () => {
    const engine = await loadModel();
    const running = engine.generate('In the beginning', { maxNewTokens: 200 });
    const it = running[Symbol.asyncIterator]();
    await it.next(); // the first token: the generation holds the model
    const queuedResult = engine.generate('And God said', greedy).result; // waits for its turn
    await engine.dispose();
    const rest: unknown[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
    expect(rest.length).toBeLessThanOrEqual(2); // at most the step that was running
    expect((await running.result).finishReason).toBe('aborted');
    await expect(queuedResult).rejects.toThrow(InputError);
    await expect(queuedResult).rejects.toThrow(/engine: has been disposed/);
    expect(() => engine.generate('x')).toThrow(/engine: has been disposed/);
    await expect(engine.logits([1, 2])).rejects.toThrow(/engine: has been disposed/);
    expect(() => engine.encode('x')).toThrow(InputError);
    await engine.dispose(); // twice is fine
  });
});

async function collect(gen: AsyncIterable<{ token: number | null }>): Promise<number[]> {
  const out: number[] = [];
  for await (const e of gen) if (e.token !== null) out.push(e.token);
  return out;
}
