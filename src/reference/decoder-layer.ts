// One pre-norm decoder block, shared by the main model and the MTP module:
// h += attn(input_layernorm(h)); h += mlp(post_attention_layernorm(h)). h: [T, hidden], updated in place.
import type { ModelConfig } from '../config/model-config.ts';
import type { LayerLatentCache } from './latent-cache.ts';
import { mlaForward } from './mla.ts';
import { mlpForward, moeForward, type RouteObserver } from './moe-experts.ts';
import { rmsnorm } from './rmsnorm.ts';
import type { LayerWeights } from './weights.ts';

export function decoderLayer(h: Float64Array, T: number, w: LayerWeights, c: ModelConfig, cache: LayerLatentCache, observe?: RouteObserver): void {
  const attn = mlaForward(rmsnorm(h, T, c.hiddenSize, w.inputNorm, c.rmsNormEps), T, w.attention, c, cache);
  for (let i = 0; i < h.length; i++) h[i] += attn[i];
  const x = rmsnorm(h, T, c.hiddenSize, w.postAttentionNorm, c.rmsNormEps);
  const mlp = w.moe ? moeForward(x, T, w.moe, c, observe) : mlpForward(x, T, w.dense!);
  for (let i = 0; i < h.length; i++) h[i] += mlp[i];
}
