// Fused gate/up + SwiGLU over tiles of pairs sharing an expert (prefill): shaders/moe-gate-up-grouped.wgsl.
// Reference: src/reference/moe-experts.ts. Layouts: see ExpertPart in src/kernels/moe-experts.ts.
import { defineKernel, expectBytes, expectThat } from '../gpu/kernel.ts';
import { fittedWorkgroup } from '../gpu/launch-shapes.ts';
import { checkExpertWeights, EXPERT_BLOCK, perExpertFormat } from './moe-weights.ts';

/** `moeGateUpGrouped[format].record(...)`: bindings as moe-gate-up's, with moe-group's `group` for `experts`. */
export const moeGateUpGrouped = perExpertFormat((format, flags) =>
  defineKernel({
    shader: 'moe-gate-up-grouped',
    bindings: { x: 'read', group: 'read', gate_w: 'read', gate_s: 'read', up_w: 'read', up_s: 'read', h: 'read_write' },
    params: { rows: 'u32', slots: 'u32', hidden: 'u32', inter: 'u32', first_expert: 'u32', part_experts: 'u32', routed: 'u32', max_tiles: 'u32' },
    overrides: { BLOCK: EXPERT_BLOCK },
    // The fewest workgroups of at most WG_SIZE threads, then as few threads as cover the rows (2 per thread): a
    // 64-wide group over tiny-v3's 192 rows computed 256, and a decode step's tiles are mostly 1-3 pairs, so
    // the wasted rows cost as much as the pairs.
    launch: (k, p) => ({ WG_SIZE: fittedWorkgroup(p.inter, 2, k('WG_SIZE'), k('WG_MULTIPLE')) }),
    flags,
    check: (b, p, o) => {
      expectThat('moe-gate-up-grouped', p.max_tiles <= 65535, `${p.max_tiles} tiles exceed one grid dimension`);
      expectBytes('moe-gate-up-grouped', 'x', b.x, p.rows * p.hidden * 4);
      if (p.routed) expectBytes('moe-gate-up-grouped', 'group', b.group, (1 + 3 * p.max_tiles + p.rows * p.slots) * 4);
      checkExpertWeights('moe-gate-up-grouped', format, ['gate_w', 'gate_s'], b.gate_w, b.gate_s, p.part_experts, p.inter, p.hidden, o.BLOCK);
      checkExpertWeights('moe-gate-up-grouped', format, ['up_w', 'up_s'], b.up_w, b.up_s, p.part_experts, p.inter, p.hidden, o.BLOCK);
      expectBytes('moe-gate-up-grouped', 'h', b.h, p.rows * p.slots * p.inter * 4);
    },
    grid: (p, o) => [Math.ceil(p.inter / (2 * o.WG_SIZE)), p.max_tiles], // 2 rows per thread
  }),
);
