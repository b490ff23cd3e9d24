// down_proj of the chosen experts, one output row per (token, slot) pair, decode path: shaders/moe-down.wgsl.
// Reference: src/reference/moe-experts.ts. Layouts: see ExpertPart in src/kernels/moe-experts.ts.
import { defineKernel, expectBytes, expectThat } from '../gpu/kernel.ts';
import { fittedWorkgroup } from '../gpu/launch-shapes.ts';
import { checkExpertWeights, EXPERT_BLOCK, perExpertFormat } from './moe-weights.ts';

/**
 * `moeDown[format].record(...)`, format = the experts' (moe-weights.ts). down_w: [part_experts, hidden,
 * inter]; down_s: FP8 block scales (BF16/F32: bind the weights again; unread).
 */
export const moeDown = perExpertFormat((format, flags) =>
  defineKernel({
    shader: 'moe-down',
    bindings: { h: 'read', experts: 'read', down_w: 'read', down_s: 'read', y: 'read_write' },
    params: { pairs: 'u32', hidden: 'u32', inter: 'u32', first_expert: 'u32', part_experts: 'u32', routed: 'u32' },
    overrides: { BLOCK: EXPERT_BLOCK },
    // The fewest workgroups of at most WG_SIZE threads, then as few threads as cover the outputs (8 per thread).
    launch: (k, p) => ({ WG_SIZE: fittedWorkgroup(p.hidden, 8, k('WG_SIZE'), k('WG_MULTIPLE')) }),
    flags,
    check: (b, p, o) => {
      expectThat('moe-down', p.pairs <= 65535, `${p.pairs} pairs exceed one grid dimension`);
      expectBytes('moe-down', 'h', b.h, p.pairs * p.inter * 4);
      if (p.routed) expectBytes('moe-down', 'experts', b.experts, p.pairs * 4);
      checkExpertWeights('moe-down', format, ['down_w', 'down_s'], b.down_w, b.down_s, p.part_experts, p.hidden, p.inter, o.BLOCK);
      expectBytes('moe-down', 'y', b.y, p.pairs * p.hidden * 4);
    },
    grid: (p, o) => [Math.ceil(p.hidden / (o.WG_SIZE * 8)), p.pairs], // 8 rows per thread (ROWS in the shader)
  }),
);
