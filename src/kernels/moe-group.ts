// Prefill routes grouped by expert into tiles of up to 4 pairs: shaders/moe-group.wgsl.
import { defineKernel, expectBytes, expectThat } from '../gpu/kernel.ts';
import { workgroupKnob } from '../gpu/launch-shapes.ts';

/** Pairs per tile (TILE in moe-group.wgsl, moe-gate-up-grouped.wgsl, moe-down-grouped.wgsl). */
export const MOE_TILE = 4;

/** MAX_EXPERTS of moe-group.wgsl: its per-expert counters live in workgroup memory. */
export const MOE_GROUP_MAX_EXPERTS = 512;

/** The most tiles any routing of `pairs` pairs over `nExperts` experts can make. */
export function moeMaxTiles(pairs: number, nExperts: number): number {
  return Math.ceil(pairs / MOE_TILE) + Math.min(nExperts, pairs);
}

/** Bytes of moe-group's output for rows x topK pairs. */
export function moeGroupBytes(rows: number, topK: number, nExperts: number): number {
  const pairs = rows * topK;
  return (1 + 3 * moeMaxTiles(pairs, nExperts) + pairs) * 4;
}

export const moeGroup = defineKernel({
  shader: 'moe-group',
  bindings: { experts: 'read', group: 'read_write' },
  params: { pairs: 'u32', n_experts: 'u32', max_tiles: 'u32' },
  overrides: {},
  launch: workgroupKnob,
  check: ({ experts, group }, p) => {
    expectThat('moe-group', p.n_experts <= MOE_GROUP_MAX_EXPERTS, `${p.n_experts} experts (at most ${MOE_GROUP_MAX_EXPERTS})`);
    expectThat('moe-group', p.max_tiles >= moeMaxTiles(p.pairs, p.n_experts), `max_tiles ${p.max_tiles} is below ${moeMaxTiles(p.pairs, p.n_experts)}`);
    expectBytes('moe-group', 'experts', experts, p.pairs * 4);
    expectBytes('moe-group', 'group', group, (1 + 3 * p.max_tiles + p.pairs) * 4);
  },
  grid: () => [1],
});
