// The one table from Hugging Face tensor names to the engine's weight slots. Model code (reference and
// GPU) never spells an HF name; checkpoint quirks live here:
// - FP8 linear weights carry a sibling `<name>_scale_inv` (see fp8ScaleName);
// - the MTP module is decoder layer index `num_hidden_layers` with extra tensors (enorm, hnorm, eh_proj,
//   shared_head) — docs/conventions.md "MTP";
// - kv_b_proj holds W_UK and W_UV interleaved per head (split by the attention code, not here).
// modelSlots() adds what each name must hold (shape from the config, the dtypes the loaders read), which
// slot-check.ts enforces when a model folder is opened.
import type { ModelConfig } from '../config/model-config.ts';
import type { DType } from './dtypes.ts';

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

/** A q4 weight (packed codes under the weight's own name) stores its group scales beside it under this name. */
export function q4ScaleName(weightName: string): string {
  return `${weightName}_scale`;
}

/** How a slot's tensor is loaded (src/model/upload.ts, src/reference/weights.ts), which decides its dtypes. */
export type SlotKind = 'linear' | 'columns' | 'kvB' | 'expert' | 'embed' | 'vector';

/** The dtypes each kind of slot is read in; anything else would be misread (or crash) at load. */
export const SLOT_DTYPES: Readonly<Record<SlotKind, readonly DType[]>> = Object.freeze({
  // FP8 kept packed (with a block scale), BF16 as is, F16 widened to f32, F32 as is.
  linear: ['F8_E4M3', 'BF16', 'F16', 'F32'],
  expert: ['F8_E4M3', 'BF16', 'F16', 'F32'],
  // eh_proj is split by columns, which only BF16 and F32 weights are.
  columns: ['BF16', 'F32'],
  // kv_b_proj is read packed by the MLA kernels, which have these three variants.
  kvB: ['F8_E4M3', 'BF16', 'F32'],
  // Embedding rows are copied as BF16 or F32 (F16 widened); an FP8 table would need a scale per row block.
  embed: ['BF16', 'F16', 'F32'],
  // Norm weights and the routing bias are decoded to f32 whole.
  vector: ['F32', 'BF16', 'F16'],
});

/** The `_scale_inv` of an FP8 weight: f32 in every release (BF16 decodes exactly too). */
export const SCALE_DTYPES: readonly DType[] = Object.freeze(['F32', 'BF16']);

export interface TensorSlot {
  name: string;
  shape: number[];
  kind: SlotKind;
  /** Part of the MTP module, which a checkpoint may leave out (loaded with mtp: false). */
  mtp: boolean;
  /**
   * 4-bit in a q4 checkpoint and under `--quantize q4` (docs/q4.md "Which tensors"): every linear and expert
   * weight but the router and the heads, which keep their precision (as under `--quantize fp8`).
   */
  q4: boolean;
}

/** Every tensor the model reads, with the shape the config gives it. Build only from a validated config. */
export function modelSlots(c: ModelConfig): TensorSlot[] {
  const slots: TensorSlot[] = [];
  let mtp = false;
  const kept = new Set<string>();
  const add = (kind: SlotKind, name: string, ...shape: number[]) => slots.push({ name, shape, kind, mtp, q4: (kind === 'linear' || kind === 'expert') && !kept.has(name) });
  const H = c.hiddenSize;
  const heads = c.numAttentionHeads;
  const mlpSlots = (n: MlpNames, inter: number, kind: SlotKind) => {
    add(kind, n.gate, inter, H);
    add(kind, n.up, inter, H);
    add(kind, n.down, H, inter);
  };
  const layerSlots = (n: LayerNames) => {
    add('vector', n.inputNorm, H);
    add('vector', n.postAttentionNorm, H);
    const a = n.attention;
    if (a.qProj) add('linear', a.qProj, heads * c.qHeadDim, H);
    if (a.qAProj) add('linear', a.qAProj, c.qLoraRank!, H);
    if (a.qANorm) add('vector', a.qANorm, c.qLoraRank!);
    if (a.qBProj) add('linear', a.qBProj, heads * c.qHeadDim, c.qLoraRank!);
    add('linear', a.kvAProjWithMqa, c.latentDim, H);
    add('vector', a.kvANorm, c.kvLoraRank);
    add('kvB', a.kvBProj, heads * (c.qkNopeHeadDim + c.vHeadDim), c.kvLoraRank);
    add('linear', a.oProj, H, heads * c.vHeadDim);
    if (n.dense) mlpSlots(n.dense, c.intermediateSize, 'linear');
    if (n.moe) {
      add('linear', n.moe.router, c.nRoutedExperts, H);
      if (n.moe.correctionBias) add('vector', n.moe.correctionBias, c.nRoutedExperts);
      for (const e of n.moe.experts) mlpSlots(e, c.moeIntermediateSize, 'expert');
      if (n.moe.shared) mlpSlots(n.moe.shared, c.nSharedExperts * c.moeIntermediateSize, 'expert');
    }
  };
  const names = modelNames(c);
  // Routing compares scores and sampling compares logits: the router and both heads keep their precision.
  for (const n of [...names.layers, ...names.mtp.map((m) => m.layer)]) if (n.moe) kept.add(n.moe.router);
  kept.add(names.lmHead);
  for (const m of names.mtp) kept.add(m.head);
  add('embed', names.embed, c.vocabSize, H);
  add('vector', names.finalNorm, H);
  add('linear', names.lmHead, c.vocabSize, H);
  names.layers.forEach(layerSlots);
  mtp = true;
  for (const m of names.mtp) {
    add('vector', m.enorm, H);
    add('vector', m.hnorm, H);
    add('columns', m.ehProj, H, 2 * H);
    layerSlots(m.layer);
    add('embed', m.embed, c.vocabSize, H);
    add('vector', m.headNorm, H);
    add('linear', m.head, c.vocabSize, H);
  }
  return slots;
}
