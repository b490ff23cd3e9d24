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

describe('info --model --gpu-memory: the resident part and the expert cache', () => {
  const limits = { maxBufferSize: GiB, maxStorageBufferBindingSize: GiB };
  it('a budget below the whole model: the resident part, the expert slots per layer and the host part', async () => {
    const m = await modelInfo(FIXTURE, 64, { limits, budget: null, gpuMemory: 12_500_000 });
    const o = m.memory.offload!;
    expect(o).toMatchObject({ layers: [1, 2], experts: 16, budget: 12_500_000 });
    expect(o.slots).toBeGreaterThanOrEqual(4);
    expect(o.slots).toBeLessThan(16);
    expect(o.resident + o.cache).toBe(m.memory.total);
    expect(m.memory.total).toBeLessThanOrEqual(12_500_000);
    expect(o.host).toBe(2 * 16 * o.expertBytes);
    const text = formatModelInfo(m);
    expect(text).toMatch(new RegExp(`gpu memory +[\\d.]+ MiB of --gpu-memory 11\\.9 MiB: resident part [\\d.]+ MiB \\+ expert cache [\\d.]+ MiB`));
    expect(text).toMatch(new RegExp(`expert cache +${o.slots} of 16 routed experts per layer x 2 MoE layers, 96\\.0 KiB per expert`));
    expect(text).toMatch(/host memory +3\.0 MiB: the routed experts of the 2 MoE layers/);
    expect(m.memory.refusal).toBeNull();
  });

  it('a budget too small for the resident part: the refusal with both numbers, beside the whole plan', async () => {
    const m = await modelInfo(FIXTURE, 64, { limits, budget: null, gpuMemory: 2_000_000 });
    expect(m.memory.offload).toBeNull();
    expect(formatModelInfo(m)).toMatch(/refused +gpu-memory: 1\.9 MiB \(2000000 bytes\) is below what must stay on the GPU, [\d.]+ MiB \(\d+ bytes\): the resident part, [\d.]+ MiB/);
  });

  it('a budget the whole model fits: no offload', async () => {
    const m = await modelInfo(FIXTURE, 64, { limits, budget: null, gpuMemory: GiB });
    expect(m.memory.offload).toBeNull();
    expect(formatModelInfo(m)).not.toContain('expert cache');
  });
});
