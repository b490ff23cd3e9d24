// The plan of the real DeepSeek-V3 (FP8 release) from its config and header shapes alone: which weights are
// split at real adapters' limits, and what is refused.
import { describe, expect, it } from 'vitest';
import type { Checkpoint } from '../checkpoint/checkpoint.ts';
import type { TensorInfo } from '../checkpoint/safetensors.ts';
import { parseModelConfig, type ModelConfig } from '../config/model-config.ts';
import { GpuLimitError } from '../errors.ts';
import { bufferLimit, checkMemoryPlan, planMemory } from './memory-plan.ts';
import { V3 as V3_CONFIG } from './test-configs.ts';
import { splitUnits } from './weight-plan.ts';

const V3 = {
  ...V3_CONFIG,
  quantization_config: { quant_method: 'fp8', fmt: 'e4m3', activation_scheme: 'dynamic', weight_block_size: [128, 128] },
};

/** The release's header entries (dtype and shape; no data), by the name patterns of its index. */
function v3Headers(c: ModelConfig): Checkpoint {
  const H = c.hiddenSize;
  const heads = c.numAttentionHeads;
  const linear: [RegExp, (m: RegExpMatchArray) => number[]][] = [
    [/q_a_proj/, () => [c.qLoraRank!, H]],
    [/q_b_proj/, () => [heads * c.qHeadDim, c.qLoraRank!]],
    [/kv_a_proj_with_mqa/, () => [c.latentDim, H]],
    [/kv_b_proj/, () => [heads * (c.qkNopeHeadDim + c.vHeadDim), c.kvLoraRank]],
    [/o_proj/, () => [H, heads * c.vHeadDim]],
    [/experts\.\d+\.(gate|up)_proj/, () => [c.moeIntermediateSize, H]],
    [/experts\.\d+\.down_proj/, () => [H, c.moeIntermediateSize]],
    [/shared_experts\.(gate|up)_proj/, () => [c.nSharedExperts * c.moeIntermediateSize, H]],
    [/shared_experts\.down_proj/, () => [H, c.nSharedExperts * c.moeIntermediateSize]],
    [/mlp\.(gate|up)_proj/, () => [c.intermediateSize, H]],
    [/mlp\.down_proj/, () => [H, c.intermediateSize]],
  ];
  const info = (name: string): TensorInfo => {
    const at = (dtype: string, shape: number[]) => ({ name, dtype, shape, file: 'model.safetensors', begin: 0, end: (shape.reduce((a, b) => a * b, 1) * { F8_E4M3: 1, BF16: 2, F32: 4 }[dtype]!) }) as TensorInfo;
    const base = name.replace(/_scale_inv$/, '');
    const hit = linear.find(([re]) => re.test(base));
    if (hit && name.endsWith('_scale_inv')) return at('F32', hit[1](base.match(hit[0])!).map((d) => Math.ceil(d / 128)));
    if (hit) return at('F8_E4M3', hit[1](base.match(hit[0])!));
    if (/embed_tokens|lm_head|shared_head\.head/.test(name)) return at('BF16', [c.vocabSize, H]);
    if (/eh_proj/.test(name)) return at('BF16', [H, 2 * H]);
    if (/mlp\.gate\.weight/.test(name)) return at('BF16', [c.nRoutedExperts, H]);
    if (/e_score_correction_bias/.test(name)) return at('F32', [c.nRoutedExperts]);
    if (/q_a_layernorm/.test(name)) return at('BF16', [c.qLoraRank!]);
    if (/kv_a_layernorm/.test(name)) return at('BF16', [c.kvLoraRank]);
    if (/norm/.test(name)) return at('BF16', [H]);
    throw new Error(`no header entry for ${name}`);
  };
  return { info } as unknown as Checkpoint;
}

const GiB = 2 ** 30;
const limits = (bytes: number) => ({ maxBufferSize: bytes, maxStorageBufferBindingSize: bytes });

describe('the memory plan of DeepSeek-V3 (FP8 release) at real limits', () => {
  const plan = (config: object, limitBytes: number, prefillChunk = 64) => {
    const c = parseModelConfig(config);
    return planMemory(c, v3Headers(c), { contextLength: 4096, prefillChunk }, bufferLimit(limits(limitBytes)));
  };
  const rows = (p: ReturnType<typeof plan>, name: string) => p.weightPlan.tensors.get(name)!.parts.map((x) => x.count);

  it("the issue's 3-layer checkpoint at SwiftShader's 1 GiB: lm_head (1.73 GiB in BF16) in 2 parts, planned before any upload", () => {
    const p = plan({ ...V3, num_hidden_layers: 3, first_k_dense_replace: 1 }, GiB);
    // 74,896 rows of 7168 BF16 = 1,073,643,520 bytes, the largest multiple of 8 rows under 1 GiB.
    expect(rows(p, 'lm_head.weight')).toEqual([74896, 54384]);
    // The embedding (rows of 14,336 bytes, no layout groups): 74,898 rows in the first part.
    expect(rows(p, 'model.embed_tokens.weight')).toEqual([74898, 54382]);
    expect(p.largest.bytes).toBeLessThanOrEqual(GiB);
  });

  it('all 61 layers and the MTP module at 1 GiB: lm_head and the MTP head in 2 parts, expert stacks in 4 parts of 73 experts', () => {
    const p = plan(V3, GiB);
    expect(rows(p, 'lm_head.weight')).toEqual([74896, 54384]);
    expect(rows(p, 'model.layers.61.shared_head.head.weight')).toEqual([74896, 54384]);
    expect(rows(p, 'model.layers.3.mlp.experts.0.gate_proj.weight')).toEqual([73, 73, 73, 37]);
    expect(p.weights / GiB).toBeCloseTo(641.6, 0);
    // The largest buffer is the MTP embedding's first part; the attention's split scratch for a 64-row chunk is sized
    // by the split plans a GPU's target of 128 workgroups makes: 8192 (query, split) pairs x 512 x 4 bytes,
    // where 64 rows x 128 heads x 64 splits would be 1 GiB.
    expect(p.largest).toEqual({ label: 'model.layers.61.embed_tokens.weight rows 0..74897', bytes: 74898 * 7168 * 2 });
    expect(p.buffers.find((b) => b.label === 'attention split outputs')!.bytes).toBe(16 * 2 ** 20);
  });

  it("at WebGPU's default 128 MiB: lm_head and the embedding in 14 parts, every buffer of a 64-row chunk fits", () => {
    const p = plan(V3, 128 * 2 ** 20);
    expect(() => checkMemoryPlan(p, undefined, 'V3')).not.toThrow();
    expect(rows(p, 'lm_head.weight')).toHaveLength(14);
    expect(rows(p, 'model.embed_tokens.weight')).toHaveLength(14);
  });

  it('a buffer that cannot be split past the limit is a GpuLimitError naming it (the split scratch when the attention aims at 131,072 workgroups: 64 splits even at 64 rows)', () => {
    const c = parseModelConfig(V3);
    const p = planMemory(c, v3Headers(c), { contextLength: 4096, prefillChunk: 64, attentionWorkgroups: 131072 }, bufferLimit(limits(128 * 2 ** 20)));
    expect(() => checkMemoryPlan(p, undefined, 'V3')).toThrow(GpuLimitError);
    expect(() => checkMemoryPlan(p, undefined, 'V3')).toThrow(/scratch buffer 'attention split outputs' \(1\.00 GiB in one buffer\) needs 1073741824, the adapter allows 134217728/);
  });
});

describe('splitUnits', () => {
  it('keeps parts whole multiples of the alignment under the limit, the last partial', () => {
    expect(splitUnits(100, 8, 10 * 40, (n) => n * 10)).toEqual([[0, 40], [40, 40], [80, 20]]);
    expect(splitUnits(100, 8, 399, (n) => n * 10)).toEqual([[0, 32], [32, 32], [64, 32], [96, 4]]);
    expect(splitUnits(100, 8, 1000, (n) => n * 10)).toEqual([[0, 100]]);
    // Not even one aligned unit fits: one unit per part, for the limit check to refuse by name.
    expect(splitUnits(16, 8, 10, (n) => n * 10)).toEqual([[0, 8], [8, 8]]);
  });
});
