// Multi-head Latent Attention, naive form as the DeepSeek-V2 paper writes it (§2.1; docs/conventions.md
// "MLA, written out"). The GPU uses the absorbed form; the two agree to float32 noise.
// x: [T, hidden] (already input_layernorm'ed), rows at positions cache.length .. cache.length+T-1.
import type { ModelConfig } from '../config/model-config.ts';
import type { LayerLatentCache } from './latent-cache.ts';
import { linear } from './matmul.ts';
import { rmsnorm } from './rmsnorm.ts';
import { rotatePairs } from './rope-yarn.ts';
import type { AttentionWeights } from './weights.ts';

/** Queries [T, heads * qHeadDim], each head [q_nope ; q_pe] with q_pe rotated. */
export function mlaQueries(x: Float64Array, T: number, positions: number[], w: AttentionWeights, c: ModelConfig): Float64Array {
  const qDim = c.numAttentionHeads * c.qHeadDim;
  const q = w.qProj
    ? linear(x, T, c.hiddenSize, w.qProj.data, qDim)
    : linear(rmsnorm(linear(x, T, c.hiddenSize, w.qAProj!.data, c.qLoraRank!), T, c.qLoraRank!, w.qANorm!, c.rmsNormEps), T, c.qLoraRank!, w.qBProj!.data, qDim);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < c.numAttentionHeads; h++) {
      rotatePairs(q, t * qDim + h * c.qHeadDim + c.qkNopeHeadDim, c.qkRopeHeadDim, positions[t], c.ropeInvFreq, c.ropeCosSinScale);
    }
  }
  return q;
}

/** The latent rows of x: c_kv = kv_a_layernorm(first kv_lora_rank of kv_a_proj(x)), k_pe = rotated rest. */
export function mlaLatents(x: Float64Array, T: number, positions: number[], w: AttentionWeights, c: ModelConfig) {
  const width = c.latentDim;
  const kv = linear(x, T, c.hiddenSize, w.kvAProjWithMqa.data, width);
  const cKv: Float64Array[] = [];
  const kPe: Float64Array[] = [];
  for (let t = 0; t < T; t++) {
    const row = kv.subarray(t * width, (t + 1) * width);
    cKv.push(rmsnorm(row.subarray(0, c.kvLoraRank), 1, c.kvLoraRank, w.kvANorm, c.rmsNormEps));
    const pe = row.slice(c.kvLoraRank);
    rotatePairs(pe, 0, c.qkRopeHeadDim, positions[t], c.ropeInvFreq, c.ropeCosSinScale);
    kPe.push(pe);
  }
  return { cKv, kPe };
}

/** Appends x's latent rows to the cache and returns the attention output [T, hidden] (after o_proj). */
export function mlaForward(x: Float64Array, T: number, w: AttentionWeights, c: ModelConfig, cache: LayerLatentCache): Float64Array {
  const H = c.numAttentionHeads;
  const nope = c.qkNopeHeadDim;
  const rope = c.qkRopeHeadDim;
  const vDim = c.vHeadDim;
  const start = cache.length;
  const positions = Array.from({ length: T }, (_, t) => start + t);

  const q = mlaQueries(x, T, positions, w, c);
  const { cKv, kPe } = mlaLatents(x, T, positions, w, c);
  for (let t = 0; t < T; t++) {
    cache.cKv.push(cKv[t]);
    cache.kPe.push(kPe[t]);
    cache.expanded.push(linear(cKv[t], 1, c.kvLoraRank, w.kvBProj.data, H * (nope + vDim)));
  }

  const o = new Float64Array(T * H * vDim);
  for (let t = 0; t < T; t++) {
    const seen = positions[t] + 1; // causal: rows 0..pos
    for (let h = 0; h < H; h++) {
      const qh = t * H * c.qHeadDim + h * c.qHeadDim;
      const scores = new Float64Array(seen);
      let max = -Infinity;
      for (let s = 0; s < seen; s++) {
        const kv = cache.expanded[s];
        const kOff = h * (nope + vDim);
        let dot = 0;
        for (let i = 0; i < nope; i++) dot += q[qh + i] * kv[kOff + i];
        for (let i = 0; i < rope; i++) dot += q[qh + nope + i] * cache.kPe[s][i];
        scores[s] = dot * c.softmaxScale;
        max = Math.max(max, scores[s]);
      }
      let sum = 0;
      for (let s = 0; s < seen; s++) sum += scores[s] = Math.exp(scores[s] - max);
      const oh = t * H * vDim + h * vDim;
      for (let s = 0; s < seen; s++) {
        const p = scores[s] / sum;
        const vOff = h * (nope + vDim) + nope;
        for (let i = 0; i < vDim; i++) o[oh + i] += p * cache.expanded[s][vOff + i];
      }
    }
  }
  return linear(o, T, H * vDim, w.oProj.data, c.hiddenSize);
}
