// Multi-head Latent Attention in the absorbed form the GPU runs (docs/conventions.md "MLA, written out";
// model.py MLA.forward's `absorb` branch). kv_b_proj is never applied to the cache: W_UK is folded into the
// query and W_UV into the output, so attention runs over the compressed rows [c_kv ; k_pe] themselves.
// Float64 throughout; mla-absorbed.test.ts shows it equals the naive src/reference/mla.ts to ~1e-12, which is
// what ties the GPU kernels (tested against these pieces) to the golden-tested naive path.
//   kv_b_proj.weight: [H*(nope+v), kv_lora] viewed as [H, nope+v, kv_lora]: rows :nope are W_UK[h], nope: W_UV[h]
import type { ModelConfig } from '../config/model-config.ts';
import type { LayerLatentCache } from './latent-cache.ts';
import { linear } from './matmul.ts';
import { mlaLatents, mlaQueries } from './mla.ts';
import type { AttentionWeights } from './weights.ts';

/** The dimensions the absorbed attention needs (a ModelConfig has them all). */
export type MlaDims = Pick<ModelConfig, 'numAttentionHeads' | 'kvLoraRank' | 'qkNopeHeadDim' | 'qkRopeHeadDim' | 'vHeadDim'>;

/**
 * q_lat[t, h] = W_UK[h]ᵀ q_nope[t, h]. q: [T, H*(nope+rope)] (each head [q_nope ; q_pe]) · kvB: kv_b_proj.weight
 * · returns [T, H, kv_lora].
 */
export function absorbQuery(q: ArrayLike<number>, T: number, kvB: ArrayLike<number>, d: MlaDims): Float64Array {
  const { numAttentionHeads: H, kvLoraRank: L, qkNopeHeadDim: nope, qkRopeHeadDim: rope, vHeadDim: v } = d;
  const qLat = new Float64Array(T * H * L);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < H; h++) {
      const out = (t * H + h) * L;
      const qOff = t * H * (nope + rope) + h * (nope + rope);
      for (let i = 0; i < nope; i++) {
        const qi = q[qOff + i];
        const wRow = (h * (nope + v) + i) * L;
        for (let c = 0; c < L; c++) qLat[out + c] += qi * kvB[wRow + c];
      }
    }
  }
  return qLat;
}

/**
 * Causal attention over the latent rows: row t (at positions[t]) sees cache rows 0..positions[t].
 * score[t,h,s] = (q_lat[t,h]·c_kv[s] + q_pe[t,h]·k_pe[s]) * softmaxScale; o_lat[t,h] = Σ_s softmax(score) c_kv[s].
 * qLat: [T, H, kv_lora] · q: [T, H*(nope+rope)] with q_pe rotated · returns o_lat [T, H, kv_lora].
 */
export function latentAttention(
  qLat: ArrayLike<number>,
  q: ArrayLike<number>,
  T: number,
  positions: readonly number[],
  cKv: readonly ArrayLike<number>[],
  kPe: readonly ArrayLike<number>[],
  d: MlaDims,
  softmaxScale: number,
): Float64Array {
  const { numAttentionHeads: H, kvLoraRank: L, qkNopeHeadDim: nope, qkRopeHeadDim: rope } = d;
  const oLat = new Float64Array(T * H * L);
  for (let t = 0; t < T; t++) {
    const seen = positions[t] + 1;
    if (seen > cKv.length) throw new Error(`latentAttention: row ${t} at position ${positions[t]} but the cache has ${cKv.length} rows`);
    for (let h = 0; h < H; h++) {
      const ql = (t * H + h) * L;
      const qPe = t * H * (nope + rope) + h * (nope + rope) + nope;
      const scores = new Float64Array(seen);
      let max = -Infinity;
      for (let s = 0; s < seen; s++) {
        let dot = 0;
        for (let c = 0; c < L; c++) dot += qLat[ql + c] * cKv[s][c];
        for (let i = 0; i < rope; i++) dot += q[qPe + i] * kPe[s][i];
        scores[s] = dot * softmaxScale;
        max = Math.max(max, scores[s]);
      }
      let sum = 0;
      for (let s = 0; s < seen; s++) sum += scores[s] = Math.exp(scores[s] - max);
      for (let s = 0; s < seen; s++) {
        const p = scores[s] / sum;
        for (let c = 0; c < L; c++) oLat[ql + c] += p * cKv[s][c];
      }
    }
  }
  return oLat;
}

/** o[t, h] = W_UV[h] o_lat[t, h]. oLat: [T, H, kv_lora] · returns [T, H*v_head] (o_proj's input). */
export function absorbValue(oLat: ArrayLike<number>, T: number, kvB: ArrayLike<number>, d: MlaDims): Float64Array {
  const { numAttentionHeads: H, kvLoraRank: L, qkNopeHeadDim: nope, vHeadDim: v } = d;
  const o = new Float64Array(T * H * v);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < H; h++) {
      const ol = (t * H + h) * L;
      for (let j = 0; j < v; j++) {
        const wRow = (h * (nope + v) + nope + j) * L;
        let acc = 0;
        for (let c = 0; c < L; c++) acc += kvB[wRow + c] * oLat[ol + c];
        o[t * H * v + h * v + j] = acc;
      }
    }
  }
  return o;
}

/** mlaForward's contract (appends x's latent rows, returns [T, hidden] after o_proj), computed absorbed. */
export function mlaForwardAbsorbed(x: Float64Array, T: number, w: AttentionWeights, c: ModelConfig, cache: LayerLatentCache): Float64Array {
  const H = c.numAttentionHeads;
  const positions = Array.from({ length: T }, (_, t) => cache.length + t);
  const q = mlaQueries(x, T, positions, w, c);
  const { cKv, kPe } = mlaLatents(x, T, positions, w, c);
  for (let t = 0; t < T; t++) {
    cache.cKv.push(cKv[t]);
    cache.kPe.push(kPe[t]);
    // Kept so the cache stays usable by the naive path (its rows must stay aligned); unused here.
    cache.expanded.push(linear(cKv[t], 1, c.kvLoraRank, w.kvBProj.data, H * (c.qkNopeHeadDim + c.vHeadDim)));
  }
  const qLat = absorbQuery(q, T, w.kvBProj.data, c);
  const oLat = latentAttention(qLat, q, T, positions, cache.cKv, cache.kPe, c, c.softmaxScale);
  const o = absorbValue(oLat, T, w.kvBProj.data, c);
  return linear(o, T, H * c.vHeadDim, w.oProj.data, c.hiddenSize);
}
