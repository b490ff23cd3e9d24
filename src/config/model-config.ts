// config.json of DeepseekV2ForCausalLM / DeepseekV3ForCausalLM (and look-alikes such as Kimi-K2) ->
// one frozen, validated ModelConfig. Field names are HF's in camelCase; derived values are computed
// here once. Unknown keys are ignored; unsupported values are refused with the field's name.
import { ConfigError, excerpt } from '../errors.ts';
import { attentionSoftmaxScale, ropeInverseFrequencies, yarnCosSinScale, type YarnScaling } from './yarn.ts';
import { readFields } from './fields.ts';

export type TopkMethod = 'greedy' | 'group_limited_greedy' | 'noaux_tc';
export type ScoringFunc = 'softmax' | 'sigmoid';

export interface Fp8Quantization {
  method: 'fp8';
  fmt: 'e4m3';
  /** [rows, cols] of one scale block, [128, 128] in every release. */
  weightBlockSize: [number, number];
}

/**
 * A folder written by `deepseek-webgpu quantize --format q4` (docs/q4.md "Saved form"): the q4 slots hold
 * packed 4-bit codes and group scales; tensors left as they were (kv_b_proj) may still be FP8 blocks of
 * `weightBlockSize`.
 */
export interface Q4Quantization {
  method: 'q4';
  /** Inputs per scale group. */
  groupSize: number;
  /** Block of the FP8 tensors the conversion kept (kv_b_proj of an FP8 source). */
  weightBlockSize: [number, number];
}

/** quant_method of the q4 saved form. */
export const Q4_QUANT_METHOD = 'deepseek-webgpu-q4';

export interface ModelConfig {
  architecture: 'DeepseekV2ForCausalLM' | 'DeepseekV3ForCausalLM';
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  numHiddenLayers: number;
  intermediateSize: number;
  numAttentionHeads: number;
  /** Null: q = q_proj(x) (V2-Lite); otherwise q = q_b(norm(q_a(x))). */
  qLoraRank: number | null;
  kvLoraRank: number;
  qkNopeHeadDim: number;
  qkRopeHeadDim: number;
  vHeadDim: number;
  maxPositionEmbeddings: number;
  ropeTheta: number;
  ropeScaling: YarnScaling | null;
  rmsNormEps: number;
  // Mixture of experts. nRoutedExperts 0 means a dense model.
  nRoutedExperts: number;
  nSharedExperts: number;
  numExpertsPerTok: number;
  moeIntermediateSize: number;
  nGroup: number;
  topkGroup: number;
  topkMethod: TopkMethod;
  scoringFunc: ScoringFunc;
  normTopkProb: boolean;
  routedScalingFactor: number;
  firstKDenseReplace: number;
  moeLayerFreq: number;
  numNextnPredictLayers: number;
  tieWordEmbeddings: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
  quantization: Fp8Quantization | Q4Quantization | null;

  // Derived once.
  /** qk_nope_head_dim + qk_rope_head_dim. */
  qHeadDim: number;
  /** Latent cache width per token and layer: kv_lora_rank + qk_rope_head_dim. */
  latentDim: number;
  softmaxScale: number;
  /** Inverse rotary frequencies after YaRN, length qk_rope_head_dim / 2. */
  ropeInvFreq: Float64Array;
  /** Multiplier on cos/sin (1 in every release). */
  ropeCosSinScale: number;
  /**
   * HF DeepSeek-V2 code multiplies by routed_scaling_factor only when it does not normalise; V3 always
   * multiplies. Every released checkpoint sits where the two agree.
   */
  scaleAfterNormalise: boolean;
  isMoeLayer(layer: number): boolean;
}

/**
 * Upper bounds on the sizes a config may declare: a few times the largest released DeepSeek-architecture
 * model (V3: hidden 7168, vocab 129,280, 61 layers, 256 experts, 128 heads, kv_lora 512, q_lora 1536, head
 * dims 128/64, intermediate 18,432, 163,840 positions; Kimi-K2: 384 experts). Checked before anything is
 * sized from them (the rope table here, the tensor-name table, the memory plan).
 */
export const LIMITS = Object.freeze({
  layers: 1024,
  heads: 1024,
  headDim: 1024,
  loraRank: 16_384,
  hidden: 65_536,
  intermediate: 1 << 20,
  vocab: 1 << 22,
  positions: 1 << 24,
  experts: 4096,
  sharedExperts: 64,
});

const ARCHITECTURES = ['DeepseekV2ForCausalLM', 'DeepseekV3ForCausalLM'] as const;
const TOPK_METHODS: TopkMethod[] = ['greedy', 'group_limited_greedy', 'noaux_tc'];
const SCORING: ScoringFunc[] = ['softmax', 'sigmoid'];

/** Parse and validate a config.json object; `file` is named in every error. */
export function parseModelConfig(json: unknown, file = 'config.json'): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError('(root)', 'expected a JSON object', file);
  }
  const f = readFields(json as Record<string, unknown>, file);

  const archs = f.stringArray('architectures', []);
  const architecture = archs.find((a): a is ModelConfig['architecture'] =>
    (ARCHITECTURES as readonly string[]).includes(a),
  );
  if (!architecture) {
    throw new ConfigError('architectures', `got ${excerpt(archs)}; supported: ${ARCHITECTURES.join(', ')}`, file);
  }
  const isV3 = architecture === 'DeepseekV3ForCausalLM';

  const numAttentionHeads = f.int('num_attention_heads', { min: 1, max: LIMITS.heads });
  const numKeyValueHeads = f.int('num_key_value_heads', { min: 1, max: LIMITS.heads, default: numAttentionHeads });
  if (numKeyValueHeads !== numAttentionHeads) {
    // MLA has no grouped KV heads; the field is vestigial and must agree.
    throw new ConfigError('num_key_value_heads', `got ${numKeyValueHeads}; MLA needs it equal to num_attention_heads (${numAttentionHeads})`, file);
  }
  const hiddenAct = f.string('hidden_act', 'silu');
  if (hiddenAct !== 'silu') throw new ConfigError('hidden_act', `got ${excerpt(hiddenAct)}; supported: silu`, file);

  const qkNopeHeadDim = f.int('qk_nope_head_dim', { min: 1, max: LIMITS.headDim });
  const qkRopeHeadDim = f.int('qk_rope_head_dim', { min: 2, max: LIMITS.headDim });
  if (qkRopeHeadDim % 2) throw new ConfigError('qk_rope_head_dim', `got ${qkRopeHeadDim}; must be even (rotary pairs)`, file);
  const kvLoraRank = f.int('kv_lora_rank', { min: 1, max: LIMITS.loraRank });
  const ropeScaling = parseRopeScaling(json as Record<string, unknown>, file);
  const ropeTheta = f.number('rope_theta', { min: 1, max: 1e12, default: 10000 });

  const nRoutedExperts = f.int('n_routed_experts', { min: 0, max: LIMITS.experts, default: 0, nullAs: 0 });
  const numExpertsPerTok = nRoutedExperts
    ? f.int('num_experts_per_tok', { min: 1, max: LIMITS.experts })
    : f.int('num_experts_per_tok', { min: 0, max: LIMITS.experts, default: 0, nullAs: 0 });
  if (numExpertsPerTok > nRoutedExperts) {
    throw new ConfigError('num_experts_per_tok', `got ${numExpertsPerTok}; more than n_routed_experts (${nRoutedExperts})`, file);
  }
  const topkMethod = f.oneOf('topk_method', TOPK_METHODS, isV3 ? 'noaux_tc' : 'greedy');
  const scoringFunc = f.oneOf('scoring_func', SCORING, isV3 ? 'sigmoid' : 'softmax');
  const nGroup = f.int('n_group', { min: 1, max: LIMITS.experts, default: 1, nullAs: 1 });
  const topkGroup = f.int('topk_group', { min: 1, max: LIMITS.experts, default: 1, nullAs: 1 });
  if (nRoutedExperts % nGroup) {
    throw new ConfigError('n_group', `got ${nGroup}; must divide n_routed_experts (${nRoutedExperts})`, file);
  }
  if (topkGroup > nGroup) throw new ConfigError('topk_group', `got ${topkGroup}; more than n_group (${nGroup})`, file);
  if (topkMethod !== 'greedy' && nRoutedExperts && (topkGroup * nRoutedExperts) / nGroup < numExpertsPerTok) {
    throw new ConfigError('topk_group', `${topkGroup} groups of ${nRoutedExperts / nGroup} experts cannot hold ${numExpertsPerTok} choices`, file);
  }
  if (topkMethod === 'noaux_tc' && nRoutedExperts && nRoutedExperts / nGroup < 2) {
    throw new ConfigError('n_group', 'noaux_tc scores each group by its top two experts; groups need at least 2', file);
  }

  const firstKDenseReplace = f.int('first_k_dense_replace', { min: 0, max: LIMITS.layers, default: 0 });
  const moeLayerFreq = f.int('moe_layer_freq', { min: 1, max: LIMITS.layers, default: 1 });
  const numHiddenLayers = f.int('num_hidden_layers', { min: 1, max: LIMITS.layers });
  const qLoraRank = f.int('q_lora_rank', { min: 1, max: LIMITS.loraRank, nullAs: null, default: null });
  const vocabSize = f.int('vocab_size', { min: 1, max: LIMITS.vocab });
  const qHeadDim = qkNopeHeadDim + qkRopeHeadDim;

  const config: ModelConfig = {
    architecture,
    modelType: f.string('model_type', isV3 ? 'deepseek_v3' : 'deepseek_v2'),
    vocabSize,
    hiddenSize: f.int('hidden_size', { min: 1, max: LIMITS.hidden }),
    numHiddenLayers,
    intermediateSize: f.int('intermediate_size', { min: 1, max: LIMITS.intermediate }),
    numAttentionHeads,
    qLoraRank,
    kvLoraRank,
    qkNopeHeadDim,
    qkRopeHeadDim,
    vHeadDim: f.int('v_head_dim', { min: 1, max: LIMITS.headDim }),
    maxPositionEmbeddings: f.int('max_position_embeddings', { min: 1, max: LIMITS.positions }),
    ropeTheta,
    ropeScaling,
    rmsNormEps: f.number('rms_norm_eps', { over: 0, under: 1, default: 1e-6 }),
    nRoutedExperts,
    nSharedExperts: f.int('n_shared_experts', { min: 0, max: LIMITS.sharedExperts, default: 0, nullAs: 0 }),
    numExpertsPerTok,
    moeIntermediateSize: nRoutedExperts
      ? f.int('moe_intermediate_size', { min: 1, max: LIMITS.intermediate })
      : f.int('moe_intermediate_size', { min: 0, max: LIMITS.intermediate, default: 0 }),
    nGroup,
    topkGroup,
    topkMethod,
    scoringFunc,
    normTopkProb: f.bool('norm_topk_prob', isV3),
    routedScalingFactor: f.number('routed_scaling_factor', { over: 0, max: 1000, default: 1 }),
    firstKDenseReplace,
    moeLayerFreq,
    numNextnPredictLayers: f.int('num_nextn_predict_layers', { min: 0, max: LIMITS.layers, default: 0 }),
    tieWordEmbeddings: f.bool('tie_word_embeddings', false),
    bosTokenId: f.int('bos_token_id', { min: 0, max: vocabSize - 1, default: null, nullAs: null }),
    eosTokenIds: f.tokenIds('eos_token_id', vocabSize),
    quantization: parseQuantization(json as Record<string, unknown>, file),
    qHeadDim,
    latentDim: kvLoraRank + qkRopeHeadDim,
    softmaxScale: attentionSoftmaxScale(qHeadDim, ropeScaling),
    ropeInvFreq: ropeInverseFrequencies(qkRopeHeadDim, ropeTheta, ropeScaling),
    ropeCosSinScale: yarnCosSinScale(ropeScaling),
    scaleAfterNormalise: isV3,
    isMoeLayer: (layer) =>
      nRoutedExperts > 0 && layer >= firstKDenseReplace && layer % moeLayerFreq === 0,
  };
  if (config.numNextnPredictLayers > 1) {
    throw new ConfigError('num_nextn_predict_layers', `got ${config.numNextnPredictLayers}; supported: 0 or 1 (as released)`, file);
  }
  if (config.tieWordEmbeddings) {
    throw new ConfigError('tie_word_embeddings', 'got true; DeepSeek checkpoints ship a separate lm_head', file);
  }
  return Object.freeze(config);
}

function parseRopeScaling(json: Record<string, unknown>, file: string): YarnScaling | null {
  const rs = json['rope_scaling'];
  if (rs === undefined || rs === null) return null;
  if (typeof rs !== 'object' || Array.isArray(rs)) throw new ConfigError('rope_scaling', 'expected an object or null', file);
  const r = readFields(rs as Record<string, unknown>, file, 'rope_scaling.');
  const type = r.string('type', (rs as Record<string, unknown>)['rope_type'] as string | undefined);
  if (type !== 'yarn') throw new ConfigError('rope_scaling.type', `got ${excerpt(type)}; supported: yarn`, file);
  return {
    factor: r.number('factor', { min: 1, max: 1024 }),
    originalMaxPositionEmbeddings: r.int('original_max_position_embeddings', { min: 1, max: LIMITS.positions }),
    betaFast: r.number('beta_fast', { over: 0, max: 1e4, default: 32 }),
    betaSlow: r.number('beta_slow', { over: 0, max: 1e4, default: 1 }),
    mscale: r.number('mscale', { min: 0, max: 100, default: 1 }),
    mscaleAllDim: r.number('mscale_all_dim', { min: 0, max: 100, default: 0 }),
  };
}

function parseQuantization(json: Record<string, unknown>, file: string): Fp8Quantization | Q4Quantization | null {
  const q = json['quantization_config'];
  if (q === undefined || q === null) return null;
  if (typeof q !== 'object' || Array.isArray(q)) throw new ConfigError('quantization_config', 'expected an object', file);
  const r = readFields(q as Record<string, unknown>, file, 'quantization_config.');
  const method = r.oneOf('quant_method', ['fp8', Q4_QUANT_METHOD], undefined);
  if (method === Q4_QUANT_METHOD) {
    r.int('bits', { min: 4, max: 4 });
    const groupSize = r.int('group_size', { min: 8, max: LIMITS.hidden });
    if (groupSize % 8 !== 0) throw new ConfigError('quantization_config.group_size', `got ${groupSize}; must be a multiple of 8 (8 codes per word)`, file);
    if (r.bool('zero_point', false)) throw new ConfigError('quantization_config.zero_point', 'got true; the q4 format is symmetric (docs/q4.md)', file);
    const block = r.intArray('weight_block_size', { min: 1, max: LIMITS.hidden, length: 2 });
    return { method: 'q4', groupSize, weightBlockSize: [block[0], block[1]] };
  }
  r.oneOf('fmt', ['e4m3'], 'e4m3');
  r.oneOf('activation_scheme', ['dynamic'], 'dynamic');
  const block = r.intArray('weight_block_size', { min: 1, max: LIMITS.hidden, length: 2 });
  return { method: 'fp8', fmt: 'e4m3', weightBlockSize: [block[0], block[1]] };
}
