// mla-absorb-q vs the reference: q_abs[r, h] = [W_UK[h]ᵀ q_nope[r, h] ; rotatePairs(q_pe[r, h], first_pos + r)],
// kv_b_proj in each checkpoint dtype, read packed.
import { describe, expect, it } from 'vitest';
import type { KvBDtype } from '../src/kernels/mla-kv-b.ts';
import { mlaAbsorbQ, mlaAbsorbQParams } from '../src/kernels/mla-absorb-q.ts';
import { absorbQuery } from '../src/reference/mla-absorbed.ts';
import { rotatePairs } from '../src/reference/rope-yarn.ts';
import { MLA_SHAPES, type MlaShape } from './helpers/cases.ts';
import { describeDiff, relL2 } from './helpers/compare.ts';
import { getTestGpu } from './helpers/gpu.ts';
import { KernelHarness } from './helpers/harness.ts';
import { testProfile } from './helpers/profile.ts';
import { withKnobs } from '../src/gpu/launch-profile.ts';
import { invFreqF32, mlaDims, randomKvB } from './helpers/mla.ts';
import { randomF32 } from './helpers/rand.ts';

// f32 accumulation over nope (<= 128) products: ~sqrt(128) * 2^-24 ≈ 7e-7 relative; rope angles are accurate to
// ~1e-6 rad at any position (shaders/common/rope.wgsl). 1e-5 is ~10x above that and far below any real mistake
// (a wrong head, scale block or rope pair moves the result by O(1)).
const TOL = 1e-5;

const gpu = await getTestGpu();

interface Case {
  name: string;
  shape: MlaShape;
  dtype: KvBDtype;
  rows: number;
  firstPos: number;
  block?: [number, number];
  cosSinScale?: number;
  /** Force the grid to wrap into y (as past 65535 workgroups) at this width, with small workgroups of `wg`. */
  groupsX?: number;
  wg?: number;
}

const CASES: Case[] = [
  ...(['F32', 'BF16', 'F8_E4M3'] as const).flatMap((dtype) => [
    { name: 'tiny', shape: MLA_SHAPES.tiny, dtype, rows: 1, firstPos: 0 },
    { name: 'odd', shape: MLA_SHAPES.odd, dtype, rows: 5, firstPos: 7, cosSinScale: 0.9, block: [16, 8] as [number, number] },
    { name: 'odd, wrapped grid', shape: MLA_SHAPES.odd, dtype, rows: 2, firstPos: 100_000, wg: 8, groupsX: 2 },
  ]),
  // Real shapes, heads trimmed for time (the kernel is per head; 8 heads still span 16 FP8 row blocks).
  { name: 'V3 (8 of 128 heads)', shape: { ...MLA_SHAPES.v3, heads: 8 }, dtype: 'F8_E4M3', rows: 1, firstPos: 4095 },
  { name: 'V3 (8 of 128 heads)', shape: { ...MLA_SHAPES.v3, heads: 8 }, dtype: 'F8_E4M3', rows: 5, firstPos: 1000 },
  { name: 'V2-Lite', shape: MLA_SHAPES.v2Lite, dtype: 'BF16', rows: 2, firstPos: 163_000 },
];

describe.skipIf(!gpu)('mla-absorb-q', () => {
  for (const c of CASES) {
    const { heads: H, kvLora, nope, rope, vHead } = c.shape;
    it(`${c.name} ${c.dtype}: ${c.rows} rows at ${c.firstPos}, H=${H} kv_lora=${kvLora} nope=${nope} rope=${rope}${c.block ? `, blocks ${c.block}` : ''}`, async () => {
      const d = mlaDims(c.shape);
      const block = c.block ?? [128, 128];
      const cosSinScale = c.cosSinScale ?? 1;
      const q = randomF32(c.rows * H * (nope + rope), 1);
      const kvB = randomKvB(c.dtype, H * (nope + vHead), kvLora, 2, block);
      const invFreq = invFreqF32(rope);

      // A small workgroup (the profile's knob) makes the wrapped grid's many workgroups cheap.
      const h = new KernelHarness(gpu!.device, undefined, withKnobs(testProfile(gpu!.device), c.wg ? { 'mla-absorb-q': { WG_SIZE: c.wg } } : {}));
      try {
        const overrides = { BLOCK_ROWS: block[0], BLOCK_COLS: block[1] };
        const w = h.input(kvB.packed, 'kv_b_proj');
        const qAbs = h.output(c.rows * H * (kvLora + rope), 'q_abs');
        mlaAbsorbQ[c.dtype].record(
          h.rec,
          { q: h.input(q), inv_freq: h.input(Float32Array.from(invFreq)), w, w_scale: kvB.scale ? h.input(kvB.scale) : w, q_abs: qAbs, row_pos: h.input(Uint32Array.from({ length: c.rows }, (_, r) => c.firstPos + r)) },
          { ...mlaAbsorbQParams(d, c.rows, cosSinScale, { ...mlaAbsorbQ.F32.spec.overrides, ...overrides }), ...(c.groupsX && { groups_x: c.groupsX }) },
          overrides,
        );
        const got = await h.run(qAbs);

        const qLat = absorbQuery(q, c.rows, kvB.values, d);
        const want = new Float64Array(c.rows * H * (kvLora + rope));
        for (let r = 0; r < c.rows; r++) {
          for (let hd = 0; hd < H; hd++) {
            const at = (r * H + hd) * (kvLora + rope);
            want.set(qLat.subarray((r * H + hd) * kvLora, (r * H + hd + 1) * kvLora), at);
            const pe = Float64Array.from(q.subarray((r * H + hd) * (nope + rope) + nope, (r * H + hd + 1) * (nope + rope)));
            rotatePairs(pe, 0, rope, c.firstPos + r, invFreq, cosSinScale);
            want.set(pe, at + kvLora);
          }
        }
        const err = relL2(got, want);
        expect(err, `relL2 ${err}\n${describeDiff(got, want, TOL)}`).toBeLessThanOrEqual(TOL);
      } finally {
        h.destroy();
      }
    });
  }
});
