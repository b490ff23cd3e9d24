import { describe, expect, it } from 'vitest';
import { formatModelInfo, modelInfo } from './model-info.ts';

const FIXTURE = 'kernels-test/fixtures/tiny-v3';
const GiB = 2 ** 30;

describe('info --model: the memory plan a load would check', () => {
  it('shows the parts, the largest buffer against the limit, the split weights and the budget', async () => {
    const m = await modelInfo(FIXTURE, 64, { limits: { maxBufferSize: GiB, maxStorageBufferBindingSize: GiB }, budget: { bytes: 10 * GiB, source: 'test' } });
    expect(m.memory.splits).toEqual([]);
    expect(m.memory.refusal).toBeNull();
    const text = formatModelInfo(m);
    expect(text).toMatch(/memory plan +[\d.]+ MiB in \d+ buffers: weights .*, latent cache .*, activations .*, other [\d.]+ KiB/);
    expect(text).toMatch(/largest buffer +1\.0 MiB \(model\.layers\.3\.shared_head\.head\.weight\); limit 1\.00 GiB \(maxStorageBufferBindingSize\)/);
    expect(text).toMatch(/split to fit +nothing/);
    expect(text).toMatch(/budget +10\.00 GiB \(test\): fits/);
  });

  it('with a small buffer limit: lm_head, the MTP head and the embeddings in parts, and why a load is refused', async () => {
    const m = await modelInfo(FIXTURE, 64, { limits: { maxBufferSize: GiB, maxStorageBufferBindingSize: 400_000 }, budget: null });
    expect(m.memory.splits.filter((s) => s.kind !== 'experts')).toEqual([
      { tensor: 'model.layers.3.shared_head.head.weight', kind: 'rows', parts: 3 },
      { tensor: 'model.layers.3.embed_tokens.weight', kind: 'embedding', parts: 3 },
      { tensor: 'model.embed_tokens.weight', kind: 'embedding', parts: 3 },
      { tensor: 'lm_head.weight', kind: 'rows', parts: 3 },
    ]);
    const text = formatModelInfo(m);
    expect(text).toContain('lm_head.weight 3 parts');
    expect(text).toMatch(/9 expert stacks in 2 parts/);
    expect(text).toMatch(/budget +none: WebGPU does not report GPU memory/);
    // info plans the default 64-row prefill chunk, whose logits (64 rows x 2048 x 4 bytes) can't be split.
    expect(text).toMatch(/refused +GPU limit maxStorageBufferBindingSize: scratch buffer 'logits' \(512\.0 KiB in one buffer\) needs 524288, the adapter allows 400000/);
  });
});
