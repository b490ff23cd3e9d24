// Shapes a config may ask for but the GPU kernels cannot run are refused at load, naming the config field
// (src/model/shape-limits.ts), instead of failing mid-generation or computing garbage; and a shape past one
// kernel's limit that has another path (more experts than moe-group holds) runs and matches the reference.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openModelFolder } from '../src/checkpoint/model-folder.ts';
import { nodeFolder } from '../src/checkpoint/sources/node-file.ts';
import { ConfigError } from '../src/errors.ts';
import { DeepseekModel } from '../src/model/deepseek-model.ts';
import { ReferenceModel } from '../src/reference/model.ts';
import { relL2 } from './helpers/compare.ts';
import { getTestGpu } from './helpers/gpu.ts';
import { writeRandomCheckpoint, type WeightFormat } from './helpers/random-checkpoint.ts';

const gpu = await getTestGpu();

// A small valid MoE model (noaux_tc over 2 groups); each case breaks one field.
const BASE: Record<string, unknown> = {
  architectures: ['DeepseekV3ForCausalLM'],
  vocab_size: 97,
  hidden_size: 36,
  intermediate_size: 40,
  moe_intermediate_size: 12,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  q_lora_rank: null,
  kv_lora_rank: 12,
  qk_nope_head_dim: 8,
  qk_rope_head_dim: 8,
  v_head_dim: 8,
  n_routed_experts: 8,
  n_shared_experts: 1,
  num_experts_per_tok: 2,
  n_group: 2,
  topk_group: 1,
  topk_method: 'noaux_tc',
  scoring_func: 'sigmoid',
  norm_topk_prob: true,
  routed_scaling_factor: 2.5,
  first_k_dense_replace: 0,
  max_position_embeddings: 256,
  rms_norm_eps: 1e-6,
  eos_token_id: 1,
};
const BF16: WeightFormat = { format: 'bf16' };
const fp8 = (block: [number, number]) => ({ quantization_config: { quant_method: 'fp8', fmt: 'e4m3', weight_block_size: block } });

const REFUSED: [field: string, overrides: Record<string, unknown>, weights: WeightFormat][] = [
  ['kv_lora_rank', { kv_lora_rank: 30 }, BF16],
  ['kv_lora_rank', { kv_lora_rank: 2052 }, BF16], // 260 threads per attention workgroup: used to compute garbage
  ['qk_rope_head_dim', { qk_rope_head_dim: 6 }, BF16],
  ['hidden_size', { hidden_size: 38 }, BF16], // experts read rows in quads
  ['hidden_size', { hidden_size: 37, n_routed_experts: null, num_experts_per_tok: null, n_group: 1 }, BF16], // BF16 embedding pairs
  ['moe_intermediate_size', { moe_intermediate_size: 30 }, BF16],
  ['num_experts_per_tok', { n_routed_experts: 20, n_group: 1, num_experts_per_tok: 17 }, BF16],
  ['n_group', { n_routed_experts: 80, n_group: 40, topk_group: 2 }, BF16],
  ['quantization_config.weight_block_size', { ...fp8([10, 10]), n_routed_experts: null, num_experts_per_tok: null, n_group: 1 }, { format: 'fp8', block: [10, 10] }],
];

describe.skipIf(!gpu)('shapes the kernels cannot run', () => {
  const dirs: string[] = [];
  const folderFor = async (overrides: Record<string, unknown>, weights: WeightFormat) => {
    const dir = await mkdtemp(join(tmpdir(), 'shape-limits-'));
    dirs.push(dir);
    await writeRandomCheckpoint(dir, { ...BASE, ...overrides }, weights, 3);
    return openModelFolder(nodeFolder(dir));
  };
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it.each(REFUSED)('%s: refused at load by its field, %o', async (field, overrides, weights) => {
    const folder = await folderFor(overrides, weights);
    try {
      // No warm-up step: the refusal must not depend on a kernel's own check firing
      const load = DeepseekModel.load(gpu!, folder, { contextLength: 32, warmup: false });
      await expect(load).rejects.toThrow(ConfigError);
      await expect(load).rejects.toThrow(`config field '${field}'`);
    } finally {
      await folder.checkpoint.close();
    }
  });

  it('more experts than moe-group holds (520 > 512): prefill takes the per-pair path and matches the reference', async () => {
    const folder = await folderFor({ n_routed_experts: 520, n_group: 1, num_experts_per_tok: 6, moe_intermediate_size: 4 }, BF16);
    // 200-row chunks of 6 choices: 1200 pairs, past the 2 per expert that would select the grouped path
    const model = await DeepseekModel.load(gpu!, folder, { contextLength: 200, prefillChunk: 200 });
    try {
      const prompt = Array.from({ length: 200 }, (_, i) => (i * 7) % 97);
      const got = await model.appendLogits(prompt);
      const ref = await ReferenceModel.load(folder.checkpoint, folder.config);
      expect(relL2(got, ref.forward(ref.newState(), prompt).logits)).toBeLessThanOrEqual(1e-4);
      expect(gpu!.errors).toEqual([]);
    } finally {
      model.dispose();
      await folder.checkpoint.close();
    }
  });
});
