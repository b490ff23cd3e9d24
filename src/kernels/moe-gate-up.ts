// Fused gate/up projections + SwiGLU of the chosen experts, decode path: shaders/moe-gate-up.wgsl.
// Reference: src/reference/moe-experts.ts. Layouts: see ExpertPart in src/kernels/moe-experts.ts.
import { defineKernel, expectBytes, expectThat } from '../gpu/kernel.ts';
import { fittedWorkgroup } from '../gpu/launch-shapes.ts';
import { checkExpertWeights, EXPERT_BLOCK, perExpertFormat } from './moe-weights.ts';

/**
 * `moeGateUp[format].record(...)`, format = the experts' (moe-weights.ts). gate_w, up_w: [part_experts,
 * inter, hidden]; gate_s, up_s: FP8 block scales (BF16/F32: bind the weights again; unread).
 */
export const moeGateUp = perExpertFormat((format, flags) =>
  defineKernel({
    shader: 'moe-gate-up',
    bindings: { x: 'read', experts: 'read', gate_w: 'read', gate_s: 'read', up_w: 'read', up_s: 'read', h: 'read_write' },
    params: { rows: 'u32', slots: 'u32', hidden: 'u32', inter: 'u32', first_expert: 'u32', part_experts: 'u32', routed: 'u32' },
    overrides: { BLOCK: EXPERT_BLOCK },
    // The fewest workgroups of at most WG_SIZE threads, then as few threads as cover the outputs (4 per thread).
    launch: (k, p) => ({ WG_SIZE: fittedWorkgroup(p.inter, 4, k('WG_SIZE'), k('WG_MULTIPLE')) }),
    flags,
    check: (b, p, o) => {
      expectThat('moe-gate-up', p.rows * p.slots <= 65535, `${p.rows} x ${p.slots} pairs exceed one grid dimension`);
      expectBytes('moe-gate-up', 'x', b.x, p.rows * p.hidden * 4);
      if (p.routed) expectBytes('moe-gate-up', 'experts', b.experts, p.rows * p.slots * 4);
      checkExpertWeights('moe-gate-up', format, ['gate_w', 'gate_s'], b.gate_w, b.gate_s, p.part_experts, p.inter, p.hidden, o.BLOCK);
      checkExpertWeights('moe-gate-up', format, ['up_w', 'up_s'], b.up_w, b.up_s, p.part_experts, p.inter, p.hidden, o.BLOCK);
      expectBytes('moe-gate-up', 'h', b.h, p.rows * p.slots * p.inter * 4);
    },
    grid: (p, o) => [Math.ceil(p.inter / (o.WG_SIZE * 4)), p.rows * p.slots], // 4 rows per thread (ROWS in the shader)
  }),
);
