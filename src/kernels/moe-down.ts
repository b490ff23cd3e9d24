// down_proj of the chosen experts, one output row per (token, slot) pair, decode path: shaders/moe-down.wgsl.
// Reference: src/reference/moe-experts.ts. Layouts: see ExpertPart in src/kernels/moe-experts.ts.
import { defineKernel, expectBytes, expectThat } from '../gpu/kernel.ts';

const BLOCK = 128;

export const moeDown = defineKernel({
  shader: 'moe-down',
  bindings: { h: 'read', experts: 'read', down_w: 'read', down_s: 'read', y: 'read_write' },
  params: { pairs: 'u32', hidden: 'u32', inter: 'u32', first_expert: 'u32', part_experts: 'u32', routed: 'u32' },
  overrides: { WG_SIZE: 64 },
  check: (b, p) => {
    expectThat('moe-down', p.inter % 4 === 0, `inter ${p.inter} must be a multiple of 4 (u32 words of FP8 codes)`);
    expectThat('moe-down', p.pairs <= 65535, `${p.pairs} pairs exceed one grid dimension`);
    expectBytes('moe-down', 'h', b.h, p.pairs * p.inter * 4);
    if (p.routed) expectBytes('moe-down', 'experts', b.experts, p.pairs * 4);
    expectBytes('moe-down', 'down_w', b.down_w, p.part_experts * p.hidden * p.inter);
    expectBytes('moe-down', 'down_s', b.down_s, p.part_experts * Math.ceil(p.hidden / BLOCK) * Math.ceil(p.inter / BLOCK) * 4);
    expectBytes('moe-down', 'y', b.y, p.pairs * p.hidden * 4);
  },
  grid: (p, o) => [Math.ceil(p.hidden / (o.WG_SIZE * 8)), p.pairs], // 8 rows per thread (ROWS in the shader)
});
