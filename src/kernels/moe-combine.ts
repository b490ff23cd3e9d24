// Weighted sum of the routed experts' outputs onto the MoE block's output: shaders/moe-combine.wgsl.
// Reference: src/reference/moe-experts.ts (moeForward).
import { defineKernel, expectBytes } from '../gpu/kernel.ts';
import { workgroupKnob } from '../gpu/launch-shapes.ts';
import { grid2d, MAX_GROUPS_PER_DIM } from './grid.ts';

const kernel = defineKernel({
  shader: 'moe-combine',
  bindings: { y: 'read', weights: 'read', out: 'read_write' },
  params: { rows: 'u32', slots: 'u32', hidden: 'u32', accumulate: 'u32', groups_x: 'u32' },
  overrides: {},
  launch: workgroupKnob,
  check: ({ y, weights, out }, p) => {
    expectBytes('moe-combine', 'y', y, p.rows * p.slots * p.hidden * 4);
    expectBytes('moe-combine', 'weights', weights, p.rows * p.slots * 4);
    expectBytes('moe-combine', 'out', out, p.rows * p.hidden * 4);
  },
  grid: (p, o) => grid2d(Math.ceil((p.rows * p.hidden) / o.WG_SIZE), p.groups_x),
});

export const moeCombine = {
  spec: kernel.spec,
  /** out[r] = (accumulate ? out[r] : 0) + Σ_k weights[r, k] · y[r, k]. */
  record(
    rec: Parameters<typeof kernel.record>[0],
    buffers: Parameters<typeof kernel.record>[1],
    p: { rows: number; slots: number; hidden: number; accumulate: boolean },
  ): void {
    kernel.record(rec, buffers, { ...p, accumulate: p.accumulate ? 1 : 0, groups_x: MAX_GROUPS_PER_DIM });
  },
};
