// The one table from Hugging Face tensor names to the engine's weight slots. Model code (reference and
// GPU) never spells an HF name; checkpoint quirks live here:
// - FP8 linear weights carry a sibling `<name>_scale_inv` (see fp8ScaleName);
// - the MTP module is decoder layer index `num_hidden_layers` with extra tensors (enorm, hnorm, eh_proj,
//   shared_head) — ../shared/REFERENCE.md "MTP";
// - kv_b_proj holds W_UK and W_UV interleaved per head (split by the attention code, not here).
import type { ModelConfig } from '../config/model-config.ts';

export interface MlpNames {
  gate: string;
  up: string;
  down: string;
}

export interface AttentionNames {
  /** Present when q_lora_rank is set. */
  qAProj?: string;
  qANorm?: string;
  qBProj?: string;
  /** Present when q_lora_rank is null. */
  qProj?: string;
  kvAProjWithMqa: string;
  kvANorm: string;
  kvBProj: string;
  oProj: string;
}

export interface MoeNames {
  router: string;
  /** e_score_correction_bias, noaux_tc only. */
  correctionBias?: string;
  experts: MlpNames[];
  /** All shared experts fused into one MLP of width n_shared_experts * moe_intermediate_size. */
  shared?: MlpNames;
}

export interface LayerNames {
  inputNorm: string;
  postAttentionNorm: string;
  attention: AttentionNames;
  /** Exactly one of dense / moe. */
  dense?: MlpNames;
  moe?: MoeNames;
}

export interface MtpNames {
  enorm: string;
  hnorm: string;
  ehProj: string;
  layer: LayerNames;
  embed: string;
  headNorm: string;
  head: string;
}

export interface ModelNames {
  embed: string;
  finalNorm: string;
  lmHead: string;
  layers: LayerNames[];
  mtp: MtpNames[];
}

const mlp = (prefix: string): MlpNames => ({
  gate: `${prefix}.gate_proj.weight`,
  up: `${prefix}.up_proj.weight`,
  down: `${prefix}.down_proj.weight`,
});

/** Names of one decoder layer; `moe` decides the MLP kind (MTP layers follow the MoE rule of their index). */
export function layerNames(config: ModelConfig, layer: number, moe: boolean): LayerNames {
  const p = `model.layers.${layer}`;
  const a = `${p}.self_attn`;
  const query =
    config.qLoraRank === null
      ? { qProj: `${a}.q_proj.weight` }
      : { qAProj: `${a}.q_a_proj.weight`, qANorm: `${a}.q_a_layernorm.weight`, qBProj: `${a}.q_b_proj.weight` };
  const attention: AttentionNames = {
    ...query,
    kvAProjWithMqa: `${a}.kv_a_proj_with_mqa.weight`,
    kvANorm: `${a}.kv_a_layernorm.weight`,
    kvBProj: `${a}.kv_b_proj.weight`,
    oProj: `${a}.o_proj.weight`,
  };

  const names: LayerNames = {
    inputNorm: `${p}.input_layernorm.weight`,
    postAttentionNorm: `${p}.post_attention_layernorm.weight`,
    attention,
  };
  if (moe) {
    names.moe = {
      router: `${p}.mlp.gate.weight`,
      correctionBias: config.topkMethod === 'noaux_tc' ? `${p}.mlp.gate.e_score_correction_bias` : undefined,
      experts: Array.from({ length: config.nRoutedExperts }, (_, e) => mlp(`${p}.mlp.experts.${e}`)),
      shared: config.nSharedExperts > 0 ? mlp(`${p}.mlp.shared_experts`) : undefined,
    };
  } else {
    names.dense = mlp(`${p}.mlp`);
  }
  return names;
}

export function modelNames(config: ModelConfig): ModelNames {
  const layers = Array.from({ length: config.numHiddenLayers }, (_, l) => layerNames(config, l, config.isMoeLayer(l)));
  const mtp = Array.from({ length: config.numNextnPredictLayers }, (_, k): MtpNames => {
    const index = config.numHiddenLayers + k;
    const p = `model.layers.${index}`;
    return {
      enorm: `${p}.enorm.weight`,
      hnorm: `${p}.hnorm.weight`,
      ehProj: `${p}.eh_proj.weight`,
      layer: layerNames(config, index, config.isMoeLayer(index)),
      embed: `${p}.embed_tokens.weight`,
      headNorm: `${p}.shared_head.norm.weight`,
      head: `${p}.shared_head.head.weight`,
    };
  });
  return { embed: 'model.embed_tokens.weight', finalNorm: 'model.norm.weight', lmHead: 'lm_head.weight', layers, mtp };
}

/** FP8 block-quantized weights store their per-block scale beside them under this name. */
export function fp8ScaleName(weightName: string): string {
  return `${weightName}_scale_inv`;
}
