// The whole MLA attention block on the GPU (mla-absorb-q -> kv-append -> mla-decode -> mla-merge -> mla-absorb-v)
// against the naive, golden-tested reference src/reference/mla.ts mlaForward, step after step over one latent
// cache: a prefill chunk, single-row decode, 2-row verification, a long chunk past YaRN's original context.
// The projections around it (q, kv_a_proj_with_mqa, o_proj) are other kernels: here they run on the CPU.
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../src/config/model-config.ts';
import { createStorage } from '../src/gpu/buffers.ts';
import { kvAppend } from '../src/kernels/kv-append.ts';
import { mlaAbsorbQ, mlaAbsorbQParams } from '../src/kernels/mla-absorb-q.ts';
import { mlaAbsorbV, mlaAbsorbVParams } from '../src/kernels/mla-absorb-v.ts';
import { mlaDecode, mlaDecodeParams, mlaDecodeScratch, mlaSplitPlan } from '../src/kernels/mla-decode.ts';
import { contiguousRowMapData } from '../src/kernels/row-map.ts';
import type { KvBDtype } from '../src/kernels/mla-kv-b.ts';
import { mlaMerge, mlaMergeParams } from '../src/kernels/mla-merge.ts';
import { LayerLatentCache } from '../src/reference/latent-cache.ts';
import { linear } from '../src/reference/matmul.ts';
import { mlaForward } from '../src/reference/mla.ts';
import { rmsnorm } from '../src/reference/rmsnorm.ts';
import type { AttentionWeights } from '../src/reference/weights.ts';
import { describeDiff, relL2 } from './helpers/compare.ts';
import { getTestGpu } from './helpers/gpu.ts';
import { KernelHarness } from './helpers/harness.ts';
import { randomAttentionWeights, randomKvB, tinyConfig, uploadRowMap } from './helpers/mla.ts';
import { randomF32 } from './helpers/rand.ts';

// Every GPU piece is f32 with errors ~1e-6 relative (see each kernel's test); chained, they stay at the float32
// noise the golden data show for naive vs absorbed attention (1.0e-6 .. 1.2e-6, docs/conventions.md
// "Tolerances seen"). 1e-5 per step is ~10x above that; any convention mistake moves the output by >= 1e-2.
const TOL = 1e-5;
const STEPS = [5, 1, 2, 60, 1]; // rows per call; positions 0 .. 68 (YaRN's original context is 64)

const gpu = await getTestGpu();

const CASES: { name: string; overrides: Record<string, unknown>; dtype: KvBDtype }[] = [
  { name: 'tiny-v3 shapes', overrides: {}, dtype: 'F32' },
  { name: 'tiny-v3 shapes', overrides: {}, dtype: 'F8_E4M3' },
  { name: 'odd shapes, no q_lora', overrides: { num_attention_heads: 3, kv_lora_rank: 72, qk_nope_head_dim: 13, qk_rope_head_dim: 8, v_head_dim: 11, q_lora_rank: null, hidden_size: 40 }, dtype: 'BF16' },
];

/** The unrotated q of x: [T, heads * (nope + rope)]. */
function queries(x: Float64Array, T: number, w: AttentionWeights, c: ModelConfig): Float64Array {
  const qDim = c.numAttentionHeads * c.qHeadDim;
  if (w.qProj) return linear(x, T, c.hiddenSize, w.qProj.data, qDim);
  const qa = rmsnorm(linear(x, T, c.hiddenSize, w.qAProj!.data, c.qLoraRank!), T, c.qLoraRank!, w.qANorm!, c.rmsNormEps);
  return linear(qa, T, c.qLoraRank!, w.qBProj!.data, qDim);
}

describe.skipIf(!gpu)('MLA attention block, GPU vs naive reference', () => {
  for (const { name, overrides, dtype } of CASES) {
    it(`${name}, kv_b_proj ${dtype}: steps of ${STEPS.join(', ')} rows`, async () => {
      const c = tinyConfig(overrides);
      const H = c.numAttentionHeads;
      const w = randomAttentionWeights(c, 21);
      const kvB = randomKvB(dtype, H * (c.qkNopeHeadDim + c.vHeadDim), c.kvLoraRank, 22);
      w.kvBProj.data = kvB.values; // the reference uses exactly what the GPU decodes
      const maxRows = Math.max(...STEPS);
      const maxSeq = STEPS.reduce((a, b) => a + b, 0);
      const maxSplits = 4;

      const h = new KernelHarness(gpu!.device);
      const ref = new LayerLatentCache();
      try {
        const dev = gpu!.device;
        const cache = h.output(maxSeq * c.latentDim, 'latent cache');
        const kvBuf = h.input(kvB.packed, 'kv_b_proj');
        const wScale = kvB.scale ? h.input(kvB.scale, 'kv_b_proj scale') : kvBuf;
        const invFreq = h.input(Float32Array.from(c.ropeInvFreq), 'inv_freq');
        const normW = h.input(w.kvANorm, 'kv_a_layernorm');
        const scratch = mlaDecodeScratch(c, maxRows, maxSplits);
        const oPart = h.output(scratch.oPart, 'o_part');
        const ml = h.output(scratch.ml, 'ml');
        const qAbs = h.output(maxRows * H * c.latentDim, 'q_abs');
        const oLat = h.output(maxRows * H * c.kvLoraRank, 'o_lat');
        const o = h.output(maxRows * H * c.vHeadDim, 'o');
        const q = createStorage(dev, maxRows * H * c.qHeadDim * 4, 'q');
        const kvA = createStorage(dev, maxRows * c.latentDim * 4, 'kv_a');

        let pos = 0;
        for (const [step, T] of STEPS.entries()) {
          const x = Float64Array.from(randomF32(T * c.hiddenSize, 30 + step));
          dev.queue.writeBuffer(q, 0, Float32Array.from(queries(x, T, w, c)));
          dev.queue.writeBuffer(kvA, 0, Float32Array.from(linear(x, T, c.hiddenSize, w.kvAProjWithMqa.data, c.latentDim)));

          const nq = T * H;
          const plan = mlaSplitPlan(pos + T, nq, 16, maxSplits, 16); // small chunks: several splits at this size
          const map = uploadRowMap((data, l) => h.input(data, l), contiguousRowMapData(T, pos, H));
          mlaAbsorbQ[dtype].record(h.rec, { q, inv_freq: invFreq, w: kvBuf, w_scale: wScale, q_abs: qAbs, row_pos: map.pos }, mlaAbsorbQParams(c, T, c.ropeCosSinScale));
          kvAppend.record(h.rec, { kv_a: kvA, norm_w: normW, inv_freq: invFreq, row_pos: map.pos, row_slot: map.slot, cache }, {
            rows: T, kv_lora: c.kvLoraRank, rope: c.qkRopeHeadDim, cache_rows: maxSeq, eps: c.rmsNormEps, cos_sin_scale: c.ropeCosSinScale,
          });
          mlaDecode.record(h.rec, { q_abs: qAbs, cache, o_part: oPart, ml, segments: map.segments, pages: map.pages }, mlaDecodeParams(c, map, c.softmaxScale, plan));
          mlaMerge.record(h.rec, { o_part: oPart, ml, o_lat: oLat }, mlaMergeParams(nq, c.kvLoraRank, plan.splits));
          mlaAbsorbV[dtype].record(h.rec, { o_lat: oLat, w: kvBuf, w_scale: wScale, o }, mlaAbsorbVParams(c, T));
          const gotO = (await h.run(o)).subarray(0, T * H * c.vHeadDim);

          const got = linear(gotO, T, H * c.vHeadDim, w.oProj.data, c.hiddenSize); // o_proj on the CPU
          const want = mlaForward(x, T, w, c, ref);
          const err = relL2(got, want);
          expect(err, `step ${step} (${T} rows at ${pos}, ${plan.splits} splits): relL2 ${err}\n${describeDiff(got, want, TOL)}`).toBeLessThanOrEqual(TOL);
          pos += T;
        }
        q.destroy();
        kvA.destroy();
      } finally {
        h.destroy();
      }
    });
  }
});
