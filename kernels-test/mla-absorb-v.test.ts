// mla-absorb-v vs the reference: o[r, h] = W_UV[h] o_lat[r, h], kv_b_proj in each checkpoint dtype, read packed.
import { describe, expect, it } from 'vitest';
import type { KvBDtype } from '../src/kernels/mla-kv-b.ts';
import { mlaAbsorbV, mlaAbsorbVParams } from '../src/kernels/mla-absorb-v.ts';
import { absorbValue } from '../src/reference/mla-absorbed.ts';
import { MLA_SHAPES, type MlaShape } from './helpers/cases.ts';
import { describeDiff, relL2 } from './helpers/compare.ts';
import { getTestGpu } from './helpers/gpu.ts';
import { KernelHarness } from './helpers/harness.ts';
import { testProfile } from './helpers/profile.ts';
import { withKnobs } from '../src/gpu/launch-profile.ts';
import { mlaDims, randomKvB } from './helpers/mla.ts';
import { randomF32 } from './helpers/rand.ts';

// f32 dot products over kv_lora (<= 512) terms: ~sqrt(512) * 2^-24 ≈ 1.3e-6 relative at worst; the weights are
// bit-identical to the reference's dequantized values. 1e-5 is ~10x above that; a wrong head, row or scale block
// moves the output by O(1).
const TOL = 1e-5;

const gpu = await getTestGpu();

interface Case {
  name: string;
  shape: MlaShape;
  dtype: KvBDtype;
  rows: number;
  block?: [number, number];
  /** Force the grid to wrap into y (as past 65535 workgroups) at this width, with small workgroups of `wg`. */
  groupsX?: number;
  wg?: number;
}

const CASES: Case[] = [
  ...(['F32', 'BF16', 'F8_E4M3'] as const).flatMap((dtype) => [
    { name: 'tiny', shape: MLA_SHAPES.tiny, dtype, rows: 1 },
    { name: 'odd', shape: MLA_SHAPES.odd, dtype, rows: 2, block: [16, 8] as [number, number] },
    { name: 'odd, wrapped grid', shape: MLA_SHAPES.odd, dtype, rows: 5, wg: 4, groupsX: 1 },
  ]),
  { name: 'V3 (16 of 128 heads)', shape: { ...MLA_SHAPES.v3, heads: 16 }, dtype: 'F8_E4M3', rows: 1 },
  { name: 'V3 (16 of 128 heads)', shape: { ...MLA_SHAPES.v3, heads: 16 }, dtype: 'F8_E4M3', rows: 5 },
  { name: 'V2-Lite', shape: MLA_SHAPES.v2Lite, dtype: 'BF16', rows: 2 },
];

describe.skipIf(!gpu)('mla-absorb-v', () => {
  for (const c of CASES) {
    const { heads: H, kvLora, nope, vHead } = c.shape;
    it(`${c.name} ${c.dtype}: ${c.rows} rows, H=${H} kv_lora=${kvLora} v_head=${vHead}${c.block ? `, blocks ${c.block}` : ''}`, async () => {
      const d = mlaDims(c.shape);
      const block = c.block ?? [128, 128];
      const oLat = randomF32(c.rows * H * kvLora, 5);
      const kvB = randomKvB(c.dtype, H * (nope + vHead), kvLora, 6, block);

      // A small workgroup (the profile's knob) makes the wrapped grid's many workgroups cheap.
      const h = new KernelHarness(gpu!.device, undefined, withKnobs(testProfile(gpu!.device), c.wg ? { 'mla-absorb-v': { WG_SIZE: c.wg } } : {}));
      try {
        const overrides = { BLOCK_ROWS: block[0], BLOCK_COLS: block[1] };
        const w = h.input(kvB.packed, 'kv_b_proj');
        const o = h.output(c.rows * H * vHead, 'o');
        mlaAbsorbV[c.dtype].record(
          h.rec,
          { o_lat: h.input(oLat), w, w_scale: kvB.scale ? h.input(kvB.scale) : w, o },
          { ...mlaAbsorbVParams(d, c.rows, { ...mlaAbsorbV.F32.spec.overrides, ...overrides }), ...(c.groupsX && { groups_x: c.groupsX }) },
          overrides,
        );
        const got = await h.run(o);
        const want = absorbValue(oLat, c.rows, kvB.values, d);
        const err = relL2(got, want);
        expect(err, `relL2 ${err}\n${describeDiff(got, want, TOL)}`).toBeLessThanOrEqual(TOL);
      } finally {
        h.destroy();
      }
    });
  }
});
