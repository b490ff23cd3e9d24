// The multi-token-prediction module (docs/conventions.md "MTP"): for row i,
// x = eh_proj([enorm(embed(t[i+1])) ; hnorm(h_i)]) — embedding first, h_i after the final model.norm —
// then the MTP decoder layer (own latent cache, rotary position i), then shared_head.head(shared_head.norm(y)).
import type { ModelConfig } from '../config/model-config.ts';
import { decoderLayer } from './decoder-layer.ts';
import { embed } from './embed.ts';
import type { LayerLatentCache } from './latent-cache.ts';
import { linear } from './matmul.ts';
import { rmsnorm } from './rmsnorm.ts';
import type { MtpWeights } from './weights.ts';

/** hidden: [T, hidden] post-norm main states; nextTokens: [T]. Returns logits [T, vocab]. */
export function mtpForward(
  w: MtpWeights,
  c: ModelConfig,
  cache: LayerLatentCache,
  hidden: Float64Array,
  nextTokens: readonly number[],
): Float32Array {
  const T = nextTokens.length;
  const H = c.hiddenSize;
  if (hidden.length !== T * H) throw new Error(`mtp: hidden has ${hidden.length} values, expected ${T}x${H}`);
  const e = rmsnorm(embed(w.embed, nextTokens), T, H, w.enorm, c.rmsNormEps);
  const hn = rmsnorm(hidden, T, H, w.hnorm, c.rmsNormEps);
  const cat = new Float64Array(T * 2 * H); // [T, 2*hidden]: [enorm(e) ; hnorm(h)]
  for (let t = 0; t < T; t++) {
    cat.set(e.subarray(t * H, (t + 1) * H), t * 2 * H);
    cat.set(hn.subarray(t * H, (t + 1) * H), t * 2 * H + H);
  }
  const x = linear(cat, T, 2 * H, w.ehProj.data, H);
  decoderLayer(x, T, w.layer, c, cache);
  const y = rmsnorm(x, T, H, w.headNorm, c.rmsNormEps);
  return Float32Array.from(linear(y, T, H, w.head.data, c.vocabSize));
}
