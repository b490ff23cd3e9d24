// The fuzzer's starting point: a small, valid DeepSeek-V3-layout checkpoint built in memory with the
// project's own writer (config, index, two shards; FP8 linears with block scales, BF16 and F32 elsewhere,
// an MoE layer and the MTP module), small enough that a full open + CPU load takes about a millisecond.
import { encodeSafetensors, type OutputTensor } from '../../src/checkpoint/safetensors-writer.ts';
import { INDEX_FILE } from '../../src/checkpoint/shard-index.ts';
import { fp8ScaleName, modelSlots, SCALE_DTYPES, SLOT_DTYPES, type TensorSlot } from '../../src/checkpoint/tensor-names.ts';
import { bytesPerElement, type DType } from '../../src/checkpoint/dtypes.ts';
import { parseModelConfig } from '../../src/config/model-config.ts';
import type { Rng } from './rng.ts';

export const SHARDS = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
const BLOCK = 8;

export const TINY_CONFIG = Object.freeze({
  architectures: ['DeepseekV3ForCausalLM'],
  model_type: 'deepseek_v3',
  vocab_size: 32,
  hidden_size: 16,
  num_hidden_layers: 2,
  intermediate_size: 24,
  num_attention_heads: 2,
  num_key_value_heads: 2,
  q_lora_rank: 8,
  kv_lora_rank: 8,
  qk_nope_head_dim: 4,
  qk_rope_head_dim: 4,
  v_head_dim: 4,
  max_position_embeddings: 64,
  rope_theta: 10000,
  rope_scaling: { type: 'yarn', factor: 4, original_max_position_embeddings: 16, beta_fast: 32, beta_slow: 1, mscale: 1, mscale_all_dim: 1 },
  rms_norm_eps: 1e-6,
  n_routed_experts: 4,
  n_shared_experts: 1,
  num_experts_per_tok: 2,
  moe_intermediate_size: 8,
  n_group: 2,
  topk_group: 1,
  topk_method: 'noaux_tc',
  scoring_func: 'sigmoid',
  norm_topk_prob: true,
  routed_scaling_factor: 2.5,
  first_k_dense_replace: 1,
  moe_layer_freq: 1,
  num_nextn_predict_layers: 1,
  tie_word_embeddings: false,
  bos_token_id: 0,
  eos_token_id: 1,
  quantization_config: { quant_method: 'fp8', fmt: 'e4m3', activation_scheme: 'dynamic', weight_block_size: [BLOCK, BLOCK] },
});

export interface BuiltTensor {
  dtype: DType;
  shape: number[];
  bytes: Uint8Array;
  accepted: readonly DType[];
}

export interface TinyCheckpoint {
  config: Record<string, unknown>;
  /** Each shard's tensors in file order (what the writer was given). */
  shards: Map<string, OutputTensor[]>;
  index: { metadata: Record<string, unknown>; weight_map: Record<string, string> };
  /** config.json, the index and the shards, as a folder holds them. */
  files: Map<string, Uint8Array | string>;
  /** Every tensor's bytes (what an intact read must return) and the dtypes its slot's loader reads. */
  tensors: Map<string, BuiltTensor>;
}

/** Each slot in the dtype a V3 release uses for it; FP8 weights get their scale tensor beside them. */
function dtypeOf(slot: TensorSlot): DType {
  if (slot.kind === 'vector') return slot.name.endsWith('e_score_correction_bias') ? 'F32' : 'BF16';
  if (slot.kind === 'embed' || slot.kind === 'columns' || slot.name === 'lm_head.weight' || slot.mtp) return 'BF16';
  if (slot.name.endsWith('.mlp.gate.weight')) return 'F32';
  return 'F8_E4M3';
}

function randomBytes(rng: Rng, n: number, dtype: DType): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(Float32Array.from({ length: n / 4 }, () => rng.next() * 2 - 1).buffer);
  return Uint8Array.from({ length: n }, () => rng.int(256));
}

export function buildTinyCheckpoint(rng: Rng): TinyCheckpoint {
  const config = JSON.parse(JSON.stringify(TINY_CONFIG)) as Record<string, unknown>;
  const tensors = new Map<string, BuiltTensor>();
  for (const slot of modelSlots(parseModelConfig(config))) {
    const dtype = dtypeOf(slot);
    const count = slot.shape.reduce((a, b) => a * b, 1);
    tensors.set(slot.name, { dtype, shape: slot.shape, bytes: randomBytes(rng, count * bytesPerElement(dtype), dtype), accepted: SLOT_DTYPES[slot.kind] });
    if (dtype === 'F8_E4M3') {
      const shape = [Math.ceil(slot.shape[0] / BLOCK), Math.ceil(slot.shape[1] / BLOCK)];
      const scales = Float32Array.from({ length: shape[0] * shape[1] }, () => 2 ** -(4 + rng.int(8)));
      tensors.set(fp8ScaleName(slot.name), { dtype: 'F32', shape, bytes: new Uint8Array(scales.buffer), accepted: SCALE_DTYPES });
    }
  }
  const names = [...tensors.keys()];
  const half = Math.ceil(names.length / 2);
  const shards = new Map<string, OutputTensor[]>();
  const weightMap: Record<string, string> = {};
  names.forEach((name, i) => {
    const shard = SHARDS[i < half ? 0 : 1];
    const t = tensors.get(name)!;
    if (!shards.has(shard)) shards.set(shard, []);
    shards.get(shard)!.push({ name, dtype: t.dtype, shape: t.shape, data: t.bytes });
    weightMap[name] = shard;
  });
  const index = { metadata: { total_size: [...tensors.values()].reduce((n, t) => n + t.bytes.length, 0) }, weight_map: weightMap };
  const files = new Map<string, Uint8Array | string>([
    ['config.json', JSON.stringify(config)],
    [INDEX_FILE, JSON.stringify(index)],
  ]);
  for (const [name, list] of shards) files.set(name, encodeSafetensors(list, { format: 'pt' }));
  return { config, shards, index, files, tensors };
}
