// Absorbed MLA queries q_abs = [W_UKᵀ q_nope ; rope(q_pe)] per (row, head): shaders/mla-absorb-q.wgsl.
// Reference: src/reference/mla-absorbed.ts absorbQuery + src/reference/rope-yarn.ts rotatePairs.
import { defineKernel, expectBytes, expectThat } from '../gpu/kernel.ts';
import { workgroupKnob } from '../gpu/launch-shapes.ts';
import { grid2d, MAX_GROUPS_PER_DIM } from './grid.ts';
import { checkKvB, KV_B_FLAGS, perKvBDtype, type MlaDims } from './mla-kv-b.ts';

const SHADER = 'mla-absorb-q';

/**
 * `mlaAbsorbQ[dtype].record(rec, { q, inv_freq, w, w_scale, q_abs, row_pos }, mlaAbsorbQParams(...))`, dtype = kv_b_proj's.
 * q: [rows, heads, nope + rope] f32 (unrotated) · inv_freq: [rope / 2] f32 · row_pos: [rows] u32 each row's position
 * (the step's row map, src/kernels/row-map.ts; below 2^24, which rowMapData checks) · w: kv_b_proj.weight packed
 * [heads * (nope + v), kv_lora] · w_scale: FP8 block scales [ceil(rows_w / 128), ceil(kv_lora / 128)] f32
 * (BF16/F32: bind any buffer, e.g. w; unused) · q_abs: [rows, heads, kv_lora + rope] f32.
 */
export const mlaAbsorbQ = perKvBDtype((dtype) =>
  defineKernel({
    shader: SHADER,
    bindings: { q: 'read', inv_freq: 'read', w: 'read', w_scale: 'read', q_abs: 'read_write', row_pos: 'read' },
    params: {
      rows: 'u32', heads: 'u32', kv_lora: 'u32', nope: 'u32', rope: 'u32', v_head: 'u32',
      scale_cols: 'u32', groups_x: 'u32', cos_sin_scale: 'f32',
    },
    overrides: { BLOCK_ROWS: 128, BLOCK_COLS: 128 },
    launch: workgroupKnob,
    flags: KV_B_FLAGS[dtype],
    check: (b, p, o) => {
      expectThat(SHADER, p.kv_lora % 4 === 0 && p.rope % 4 === 0, `kv_lora ${p.kv_lora} and rope ${p.rope} must be multiples of 4`);
      expectBytes(SHADER, 'row_pos', b.row_pos, p.rows * 4);
      expectBytes(SHADER, 'q', b.q, p.rows * p.heads * (p.nope + p.rope) * 4);
      expectBytes(SHADER, 'inv_freq', b.inv_freq, (p.rope / 2) * 4);
      expectBytes(SHADER, 'q_abs', b.q_abs, p.rows * p.heads * (p.kv_lora + p.rope) * 4);
      checkKvB(SHADER, dtype, b, p, o);
    },
    grid: (p, o) => grid2d(Math.ceil((p.heads * (p.kv_lora + p.rope)) / 4 / o.WG_SIZE), p.groups_x),
  }),
);

/** Params for `rows` query rows (positions in row_pos; cosSinScale: ModelConfig.ropeCosSinScale). */
export function mlaAbsorbQParams(d: MlaDims, rows: number, cosSinScale: number, o = mlaAbsorbQ.F32.spec.overrides) {
  return {
    rows,
    heads: d.numAttentionHeads,
    kv_lora: d.kvLoraRank,
    nope: d.qkNopeHeadDim,
    rope: d.qkRopeHeadDim,
    v_head: d.vHeadDim,
    scale_cols: Math.ceil(d.kvLoraRank / o.BLOCK_COLS),
    groups_x: MAX_GROUPS_PER_DIM, // wraps into y only past this many workgroups, whatever the WG_SIZE
    cos_sin_scale: cosSinScale,
  };
}
