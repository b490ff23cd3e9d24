import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.ts';
import { parseModelConfig } from './model-config.ts';

const fixture = (name: string) => JSON.parse(readFileSync(`kernels-test/fixtures/${name}/config.json`, 'utf8'));

function expectConfigError(json: unknown, field: string, message?: RegExp) {
  let error: unknown;
  try {
    parseModelConfig(json, 'dir/config.json');
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as ConfigError).field).toBe(field);
  expect((error as Error).message).toContain('dir/config.json');
  expect((error as Error).message).toContain(field);
  if (message) expect((error as Error).message).toMatch(message);
}

describe('parseModelConfig', () => {
  it('reads tiny-v3 (FP8, noaux_tc, MTP, YaRN)', () => {
    const c = parseModelConfig(fixture('tiny-v3'));
    expect(c.architecture).toBe('DeepseekV3ForCausalLM');
    expect(c.qLoraRank).toBe(192);
    expect(c.topkMethod).toBe('noaux_tc');
    expect(c.scoringFunc).toBe('sigmoid');
    expect(c.quantization).toEqual({ method: 'fp8', fmt: 'e4m3', weightBlockSize: [128, 128] });
    expect(c.numNextnPredictLayers).toBe(1);
    expect(c.latentDim).toBe(128 + 16);
    expect(c.eosTokenIds).toEqual([1]);
    // golden.json hf_semantics_checks.softmax_scale_model_py
    expect(c.softmaxScale).toBeCloseTo(0.18713033519502428, 15);
    expect([0, 1, 2].map((l) => c.isMoeLayer(l))).toEqual([false, true, true]);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads tiny-v2lite (BF16, no q_lora, softmax greedy)', () => {
    const c = parseModelConfig(fixture('tiny-v2lite'));
    expect(c.architecture).toBe('DeepseekV2ForCausalLM');
    expect(c.qLoraRank).toBeNull();
    expect(c.quantization).toBeNull();
    expect(c.topkMethod).toBe('greedy');
    expect(c.scaleAfterNormalise).toBe(false);
    expect(c.ropeScaling?.mscaleAllDim).toBe(0.707);
  });

  it('applies the YaRN ramp between the correction dims', () => {
    const c = parseModelConfig(fixture('tiny-v3'));
    // d=16, theta=1e4, L0=64, beta_fast 32, beta_slow 1: golden.json yarn_correction_range [0, 3]
    const d = 16;
    const base = (i: number) => 1 / Math.pow(10000, (2 * i) / d);
    expect(c.ropeInvFreq[0]).toBe(base(0)); // ramp 0: unscaled
    expect(c.ropeInvFreq[1]).toBeCloseTo(base(1) / 4 / 3 + (base(1) * 2) / 3, 15);
    expect(c.ropeInvFreq[7]).toBeCloseTo(base(7) / 4, 15); // ramp 1: divided by the factor
  });

  it('accepts look-alikes such as Kimi-K2 (model_type kimi_k2, V3 architecture)', () => {
    const c = parseModelConfig({ ...fixture('tiny-v3'), model_type: 'kimi_k2', n_group: 1, topk_group: 1 });
    expect(c.modelType).toBe('kimi_k2');
  });

  it('reads a dense V3 config (no routed experts, topk_method left at its V3 default)', () => {
    const c = parseModelConfig({ ...fixture('tiny-v3'), n_routed_experts: null, num_experts_per_tok: null, n_group: 1, topk_group: 1, topk_method: undefined });
    expect(c.nRoutedExperts).toBe(0);
    expect(c.topkMethod).toBe('noaux_tc');
    expect(c.isMoeLayer(1)).toBe(false);
  });

  it('names the field of every unsupported or malformed value', () => {
    const v3 = fixture('tiny-v3');
    expectConfigError('nope', '(root)');
    expectConfigError({ ...v3, architectures: ['LlamaForCausalLM'] }, 'architectures', /supported/);
    expectConfigError({ ...v3, topk_method: 'random' }, 'topk_method', /noaux_tc/);
    expectConfigError({ ...v3, scoring_func: 'relu' }, 'scoring_func');
    expectConfigError({ ...v3, hidden_size: '256' }, 'hidden_size', /expected a number/);
    expectConfigError({ ...v3, kv_lora_rank: 12.5 }, 'kv_lora_rank', /integer/);
    expectConfigError({ ...v3, vocab_size: undefined }, 'vocab_size', /missing/);
    expectConfigError({ ...v3, qk_rope_head_dim: 15 }, 'qk_rope_head_dim', /even/);
    expectConfigError({ ...v3, rope_scaling: { ...v3.rope_scaling, type: 'linear' } }, 'rope_scaling.type');
    expectConfigError({ ...v3, quantization_config: { ...v3.quantization_config, fmt: 'e5m2' } }, 'quantization_config.fmt');
    expectConfigError({ ...v3, quantization_config: { ...v3.quantization_config, weight_block_size: [128] } }, 'quantization_config.weight_block_size');
    expectConfigError({ ...v3, n_group: 3 }, 'n_group', /divide/);
    expectConfigError({ ...v3, topk_group: 5 }, 'topk_group');
    expectConfigError({ ...v3, num_experts_per_tok: 17 }, 'num_experts_per_tok');
    expectConfigError({ ...v3, num_key_value_heads: 1 }, 'num_key_value_heads');
    expectConfigError({ ...v3, num_nextn_predict_layers: 2 }, 'num_nextn_predict_layers');
    expectConfigError({ ...v3, hidden_act: 'gelu' }, 'hidden_act');
    expectConfigError({ ...v3, norm_topk_prob: 'yes' }, 'norm_topk_prob');
  });

  it('bounds every numeric field, failing fast on sizes that would allocate before any check', () => {
    const v3 = fixture('tiny-v3');
    const started = performance.now();
    expectConfigError({ ...v3, n_routed_experts: 1e8 }, 'n_routed_experts', /got 100000000; must be in \[0, 4096\]/);
    expectConfigError({ ...v3, qk_rope_head_dim: 2 ** 31 }, 'qk_rope_head_dim', /\[2, 1024\]/);
    expectConfigError({ ...v3, num_hidden_layers: 2 ** 53 - 1 }, 'num_hidden_layers', /\[1, 1024\]/);
    expectConfigError({ ...v3, num_hidden_layers: 2 ** 53 + 2 }, 'num_hidden_layers', /\[1, 1024\]/);
    expectConfigError({ ...v3, num_hidden_layers: 3.5 }, 'num_hidden_layers', /integer/);
    expectConfigError({ ...v3, hidden_size: 1e308 }, 'hidden_size', /\[1, 65536\]/);
    expectConfigError({ ...v3, vocab_size: 2 ** 22 + 1 }, 'vocab_size', /4194304/);
    expectConfigError({ ...v3, max_position_embeddings: 0 }, 'max_position_embeddings');
    expectConfigError({ ...v3, intermediate_size: 1e7 }, 'intermediate_size');
    expectConfigError({ ...v3, moe_intermediate_size: 1e7 }, 'moe_intermediate_size');
    expectConfigError({ ...v3, num_attention_heads: 5000, num_key_value_heads: 5000 }, 'num_attention_heads');
    expectConfigError({ ...v3, kv_lora_rank: 1e6 }, 'kv_lora_rank');
    expectConfigError({ ...v3, q_lora_rank: 1e6 }, 'q_lora_rank');
    expectConfigError({ ...v3, first_k_dense_replace: -1 }, 'first_k_dense_replace');
    expectConfigError({ ...v3, n_shared_experts: 1e6 }, 'n_shared_experts');
    expectConfigError({ ...v3, quantization_config: { ...v3.quantization_config, weight_block_size: [128, 2 ** 40] } }, 'quantization_config.weight_block_size');
    expect(performance.now() - started).toBeLessThan(200);
  });

  it('bounds real-valued fields to finite, sane ranges', () => {
    const v3 = fixture('tiny-v3');
    expectConfigError({ ...v3, rope_theta: 0.5 }, 'rope_theta', /\[1, 1000000000000\]/);
    expectConfigError({ ...v3, rope_theta: 1e13 }, 'rope_theta');
    expectConfigError({ ...v3, rope_theta: 'NaN' }, 'rope_theta', /expected a number/);
    expectConfigError({ ...v3, routed_scaling_factor: 0 }, 'routed_scaling_factor', /\(0, 1000\]/);
    expectConfigError({ ...v3, routed_scaling_factor: 1e4 }, 'routed_scaling_factor');
    expectConfigError({ ...v3, rms_norm_eps: 0 }, 'rms_norm_eps', /\(0, 1\)/);
    expectConfigError({ ...v3, rms_norm_eps: 1 }, 'rms_norm_eps');
    expectConfigError({ ...v3, rope_scaling: { ...v3.rope_scaling, factor: 1e9 } }, 'rope_scaling.factor');
    expectConfigError({ ...v3, rope_scaling: { ...v3.rope_scaling, beta_fast: 1e300 } }, 'rope_scaling.beta_fast');
    expectConfigError({ ...v3, rope_scaling: { ...v3.rope_scaling, mscale_all_dim: -1 } }, 'rope_scaling.mscale_all_dim');
    expectConfigError({ ...v3, rope_scaling: { ...v3.rope_scaling, original_max_position_embeddings: 2 ** 40 } }, 'rope_scaling.original_max_position_embeddings');
  });

  it('needs num_experts_per_tok in a MoE config, and token ids inside the vocabulary', () => {
    const v3 = fixture('tiny-v3');
    const { num_experts_per_tok: _, ...noTopK } = v3;
    expectConfigError(noTopK, 'num_experts_per_tok', /missing/);
    expectConfigError({ ...v3, bos_token_id: 2048 }, 'bos_token_id', /\[0, 2047\]/);
    expectConfigError({ ...v3, eos_token_id: [1, 5000] }, 'eos_token_id', /vocab/);
    expectConfigError({ ...v3, eos_token_id: -1 }, 'eos_token_id');
    expectConfigError({ ...v3, eos_token_id: Array(2000).fill(1) }, 'eos_token_id', /at most/);
    expect(parseModelConfig({ ...v3, eos_token_id: [1, 2047] }).eosTokenIds).toEqual([1, 2047]);
  });

  it('quotes a huge or deeply nested value cut short, without overflowing the stack', () => {
    const v3 = fixture('tiny-v3');
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    for (const value of ['x'.repeat(1e6), deep]) {
      let error: unknown;
      try {
        parseModelConfig({ ...v3, hidden_size: value }, 'dir/config.json');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message.length).toBeLessThan(300);
    }
  });
});
