// The absorbed MLA equals the paper's naive MLA (src/reference/mla.ts, golden-tested) on random weights.
import { describe, expect, it } from 'vitest';
import { relL2 } from '../../kernels-test/helpers/compare.ts';
import { randomAttentionWeights, tinyConfig } from '../../kernels-test/helpers/mla.ts';
import { randomF32 } from '../../kernels-test/helpers/rand.ts';
import { LayerLatentCache } from './latent-cache.ts';
import { mlaForward } from './mla.ts';
import { mlaForwardAbsorbed } from './mla-absorbed.ts';

// Both are float64 sums of the same products in a different order (W_UK·c_kv·q vs c_kv·W_UKᵀ·q): they agree to
// float64 rounding, ~1e-15 per operation; 1e-12 leaves room for the softmax and a few thousand terms per sum.
const TOL = 1e-12;

const CONFIGS: [string, Record<string, unknown>][] = [
  ['tiny-v3 shapes (q_lora, YaRN)', {}],
  ['odd shapes, no q_lora', { num_attention_heads: 3, kv_lora_rank: 72, qk_nope_head_dim: 13, qk_rope_head_dim: 8, v_head_dim: 11, q_lora_rank: null, hidden_size: 40 }],
];

describe('absorbed MLA = naive MLA (float64)', () => {
  for (const [name, overrides] of CONFIGS) {
    it(`${name}: prefill 5 rows, then steps of 1, 2 and 3 rows (positions past YaRN's original 64 too)`, () => {
      const c = tinyConfig(overrides);
      const w = randomAttentionWeights(c, 11);
      const naive = new LayerLatentCache();
      const absorbed = new LayerLatentCache();
      let seed = 100;
      for (const T of [5, 1, 2, 3, 60, 1]) {
        const x = Float64Array.from(randomF32(T * c.hiddenSize, seed++));
        const want = mlaForward(x, T, w, c, naive);
        const got = mlaForwardAbsorbed(x, T, w, c, absorbed);
        const err = relL2(got, want);
        expect(err, `T=${T} at position ${naive.length - T}: relL2 ${err}`).toBeLessThanOrEqual(TOL);
      }
      expect(absorbed.length).toBe(naive.length);
    });
  }
});
