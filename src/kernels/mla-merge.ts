// Log-sum-exp merge of mla-decode's splits into o_lat: shaders/mla-merge.wgsl.
// Reference: src/reference/mla-absorbed.ts latentAttention (with mla-decode).
import { defineKernel, expectBytes, expectThat } from '../gpu/kernel.ts';
import { workgroupKnob } from '../gpu/launch-shapes.ts';
import { grid2d, MAX_GROUPS_PER_DIM } from './grid.ts';

const SHADER = 'mla-merge';

/**
 * `mlaMerge.record(rec, { o_part, ml, o_lat }, mlaMergeParams(nq, kvLora, splits))`, nq = rows * heads.
 * o_part: [nq, splits, kv_lora] f32 · ml: [nq, splits, 2] f32 (from mla-decode) · o_lat: [nq, kv_lora] f32.
 */
export const mlaMerge = defineKernel({
  shader: SHADER,
  bindings: { o_part: 'read', ml: 'read', o_lat: 'read_write' },
  params: { nq: 'u32', kv_lora: 'u32', splits: 'u32', groups_x: 'u32' },
  overrides: {},
  launch: workgroupKnob,
  check: (b, p) => {
    expectThat(SHADER, p.kv_lora % 4 === 0 && p.splits > 0, `kv_lora ${p.kv_lora} must be a multiple of 4, splits ${p.splits} > 0`);
    expectBytes(SHADER, 'o_part', b.o_part, p.nq * p.splits * p.kv_lora * 4);
    expectBytes(SHADER, 'ml', b.ml, p.nq * p.splits * 8);
    expectBytes(SHADER, 'o_lat', b.o_lat, p.nq * p.kv_lora * 4);
  },
  grid: (p, o) => grid2d(Math.ceil((p.nq * p.kv_lora) / 4 / o.WG_SIZE), p.groups_x),
});

export function mlaMergeParams(nq: number, kvLora: number, splits: number) {
  // The grid wraps into y only past MAX_GROUPS_PER_DIM workgroups, whatever the profile's WG_SIZE.
  return { nq, kv_lora: kvLora, splits, groups_x: MAX_GROUPS_PER_DIM };
}
