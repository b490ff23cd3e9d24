// The attention output per head, o = W_UV o_lat: shaders/mla-absorb-v.wgsl (o_proj follows, another kernel).
// Reference: src/reference/mla-absorbed.ts absorbValue.
import { defineKernel, expectBytes, expectThat } from '../gpu/kernel.ts';
import { workgroupKnob } from '../gpu/launch-shapes.ts';
import { grid2d, MAX_GROUPS_PER_DIM } from './grid.ts';
import { checkKvB, KV_B_FLAGS, perKvBDtype, type MlaDims } from './mla-kv-b.ts';

const SHADER = 'mla-absorb-v';

/**
 * `mlaAbsorbV[dtype].record(rec, { o_lat, w, w_scale, o }, mlaAbsorbVParams(...))`, dtype = kv_b_proj's.
 * o_lat: [rows, heads, kv_lora] f32 (mla-merge) · w: kv_b_proj.weight packed [heads * (nope + v), kv_lora] ·
 * w_scale: FP8 block scales (BF16/F32: bind any buffer, e.g. w; unused) · o: [rows, heads * v_head] f32.
 */
export const mlaAbsorbV = perKvBDtype((dtype) =>
  defineKernel({
    shader: SHADER,
    bindings: { o_lat: 'read', w: 'read', w_scale: 'read', o: 'read_write' },
    params: { rows: 'u32', heads: 'u32', kv_lora: 'u32', nope: 'u32', v_head: 'u32', scale_cols: 'u32', groups_x: 'u32' },
    overrides: { BLOCK_ROWS: 128, BLOCK_COLS: 128 },
    launch: workgroupKnob,
    flags: KV_B_FLAGS[dtype],
    check: (b, p, o) => {
      expectThat(SHADER, p.kv_lora % 4 === 0 && p.rows > 0 && p.v_head > 0, `kv_lora ${p.kv_lora} must be a multiple of 4; rows, v_head > 0`);
      expectBytes(SHADER, 'o_lat', b.o_lat, p.rows * p.heads * p.kv_lora * 4);
      expectBytes(SHADER, 'o', b.o, p.rows * p.heads * p.v_head * 4);
      checkKvB(SHADER, dtype, b, p, o);
    },
    grid: (p, o) => grid2d(Math.ceil((p.heads * Math.ceil(p.v_head / 4)) / o.WG_SIZE), p.groups_x),
  }),
);

export function mlaAbsorbVParams(d: MlaDims, rows: number, o = mlaAbsorbV.F32.spec.overrides) {
  return {
    rows,
    heads: d.numAttentionHeads,
    kv_lora: d.kvLoraRank,
    nope: d.qkNopeHeadDim,
    v_head: d.vHeadDim,
    scale_cols: Math.ceil(d.kvLoraRank / o.BLOCK_COLS),
    groups_x: MAX_GROUPS_PER_DIM, // wraps into y only past this many workgroups, whatever the WG_SIZE
  };
}
