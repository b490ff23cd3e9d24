// down_proj over tiles of pairs sharing an expert (prefill): shaders/moe-down-grouped.wgsl.
// Reference: src/reference/moe-experts.ts. Layouts: see ExpertPart in src/kernels/moe-experts.ts.
import { defineKernel, expectBytes, expectThat } from '../gpu/kernel.ts';
import { fittedWorkgroup } from '../gpu/launch-shapes.ts';
import { checkExpertWeights, EXPERT_BLOCK, perExpertFormat } from './moe-weights.ts';

/** `moeDownGrouped[format].record(...)`: bindings as moe-down's, with moe-group's `group` for `experts`. */
export const moeDownGrouped = perExpertFormat((format, flags) =>
  defineKernel({
    shader: 'moe-down-grouped',
    bindings: { h: 'read', group: 'read', down_w: 'read', down_s: 'read', y: 'read_write' },
    params: { pairs: 'u32', hidden: 'u32', inter: 'u32', first_expert: 'u32', part_experts: 'u32', routed: 'u32', max_tiles: 'u32' },
    overrides: { BLOCK: EXPERT_BLOCK },
    // As moe-gate-up-grouped: as few threads as cover the outputs (4 per thread).
    launch: (k, p) => ({ WG_SIZE: fittedWorkgroup(p.hidden, 4, k('WG_SIZE'), k('WG_MULTIPLE')) }),
    flags,
    check: (b, p, o) => {
      expectThat('moe-down-grouped', p.max_tiles <= 65535, `${p.max_tiles} tiles exceed one grid dimension`);
      expectBytes('moe-down-grouped', 'h', b.h, p.pairs * p.inter * 4);
      if (p.routed) expectBytes('moe-down-grouped', 'group', b.group, (1 + 3 * p.max_tiles + p.pairs) * 4);
      checkExpertWeights('moe-down-grouped', format, ['down_w', 'down_s'], b.down_w, b.down_s, p.part_experts, p.hidden, p.inter, o.BLOCK);
      expectBytes('moe-down-grouped', 'y', b.y, p.pairs * p.hidden * 4);
    },
    grid: (p, o) => [Math.ceil(p.hidden / (4 * o.WG_SIZE)), p.max_tiles], // 4 rows per thread
  }),
);
