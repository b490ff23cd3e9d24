// Parameter counts from a config alone: total, and active per token (what one token's forward pass
// multiplies by: every dense weight plus top-k routed and the shared experts of each MoE layer; the
// embedding table is looked up, not multiplied, and is left out of "active").
import type { ModelConfig } from '../config/model-config.ts';

export interface ParameterCount {
  /** The main model: embedding, decoder layers, final norm, lm_head. */
  total: number;
  /** Per token, main model. */
  active: number;
  /** The MTP module(s), counting their embedding and head copies (the release stores them). */
  mtp: number;
}

function attention(c: ModelConfig): number {
  const h = c.hiddenSize;
  const qOut = c.numAttentionHeads * c.qHeadDim;
  const q = c.qLoraRank === null ? h * qOut : h * c.qLoraRank + c.qLoraRank + c.qLoraRank * qOut;
  const kv = h * (c.kvLoraRank + c.qkRopeHeadDim) + c.kvLoraRank + c.kvLoraRank * c.numAttentionHeads * (c.qkNopeHeadDim + c.vHeadDim);
  return q + kv + c.numAttentionHeads * c.vHeadDim * h + 2 * h; // + o_proj + the two layer norms
}

/** [total, active] of one decoder layer. */
function layer(c: ModelConfig, index: number): [number, number] {
  const h = c.hiddenSize;
  const attn = attention(c);
  if (!c.isMoeLayer(index)) return [attn + 3 * h * c.intermediateSize, attn + 3 * h * c.intermediateSize];
  const expert = 3 * h * c.moeIntermediateSize;
  const router = c.nRoutedExperts * h + (c.topkMethod === 'noaux_tc' ? c.nRoutedExperts : 0);
  const shared = c.nSharedExperts * expert;
  return [attn + router + shared + c.nRoutedExperts * expert, attn + router + shared + c.numExpertsPerTok * expert];
}

export function countParameters(c: ModelConfig): ParameterCount {
  const table = c.vocabSize * c.hiddenSize;
  let total = 2 * table + c.hiddenSize; // embed, lm_head, final norm
  let active = table + c.hiddenSize;
  for (let l = 0; l < c.numHiddenLayers; l++) {
    const [t, a] = layer(c, l);
    total += t;
    active += a;
  }
  let mtp = 0;
  for (let k = 0; k < c.numNextnPredictLayers; k++) {
    const h = c.hiddenSize;
    mtp += layer(c, c.numHiddenLayers + k)[0] + 2 * h + 2 * h * h + h + 2 * table; // norms, eh_proj, head norm, embed + head copies
  }
  return { total, active, mtp };
}
