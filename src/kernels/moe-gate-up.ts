// Fused gate/up projections + SwiGLU of the chosen experts, decode path: shaders/moe-gate-up.wgsl.
// Reference: src/reference/moe-experts.ts. Layouts: see ExpertPart in src/kernels/moe-experts.ts.
import { defineKernel, expectBytes, expectThat } from '../gpu/kernel.ts';

const BLOCK = 128;

export const moeGateUp = defineKernel({
  shader: 'moe-gate-up',
  bindings: { x: 'read', experts: 'read', gate_w: 'read', gate_s: 'read', up_w: 'read', up_s: 'read', h: 'read_write' },
  params: { rows: 'u32', slots: 'u32', hidden: 'u32', inter: 'u32', first_expert: 'u32', part_experts: 'u32', routed: 'u32' },
  overrides: { WG_SIZE: 64 },
  check: (b, p) => {
    expectThat('moe-gate-up', p.hidden % 4 === 0, `hidden ${p.hidden} must be a multiple of 4 (u32 words of FP8 codes)`);
    expectThat('moe-gate-up', p.rows * p.slots <= 65535, `${p.rows} x ${p.slots} pairs exceed one grid dimension`);
    const weightBytes = p.part_experts * p.inter * p.hidden;
    const scaleBytes = p.part_experts * Math.ceil(p.inter / BLOCK) * Math.ceil(p.hidden / BLOCK) * 4;
    expectBytes('moe-gate-up', 'x', b.x, p.rows * p.hidden * 4);
    if (p.routed) expectBytes('moe-gate-up', 'experts', b.experts, p.rows * p.slots * 4);
    expectBytes('moe-gate-up', 'gate_w', b.gate_w, weightBytes);
    expectBytes('moe-gate-up', 'up_w', b.up_w, weightBytes);
    expectBytes('moe-gate-up', 'gate_s', b.gate_s, scaleBytes);
    expectBytes('moe-gate-up', 'up_s', b.up_s, scaleBytes);
    expectBytes('moe-gate-up', 'h', b.h, p.rows * p.slots * p.inter * 4);
  },
  grid: (p, o) => [Math.ceil(p.inter / (o.WG_SIZE * 4)), p.rows * p.slots], // 4 rows per thread (ROWS in the shader)
});
