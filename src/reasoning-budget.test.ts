// The reasoning budget on the embedded model through the library: `</think>` is forced at the same place in
// plain and MTP decoding (the CLI tests run --samples/--vote end to end; src/decode/*.test.ts the logic).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Engine } from 'deepseek-webgpu';

// The toy model has no reasoning of its own; a prompt that ends inside `<think>` (as R1's template's does)
// puts it there, and `</think>` is text it spells in several tokens.
const PROMPT = 'In the beginning <think>\n';

describe('test-time scaling on the embedded model', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await loadModel();
  });
  afterAll(async () => engine?.dispose());

  it('a reasoning budget of T forces the tokens of </think> after T tokens, identically with and without MTP', async () => {
    const close = engine.tokenizer!.encode('</think>', { addBos: false });
    const T = 3;
    const options = { maxNewTokens: T + close.length + 4, temperature: 0, reasoningBudget: T } as const;
    const plain = await engine.generate(PROMPT, { ...options, speculative: 'none' }).result;
    const mtp = await engine.generate(PROMPT, { ...options, speculative: 'mtp', draftTokens: 2 }).result;
    const free = await engine.generate(PROMPT, { maxNewTokens: T, temperature: 0 }).result;
    expect(plain.tokens.slice(0, T)).toEqual(free.tokens); // nothing changes before the budget is spent
    expect(plain.tokens.slice(T, T + close.length)).toEqual(close);
    expect(plain.text).toContain('</think>');
    expect(mtp.tokens).toEqual(plain.tokens);
    expect(mtp.stats.speculative).toBe('mtp');
    expect(mtp.stats.drafted).toBeGreaterThan(0);
  });
});
