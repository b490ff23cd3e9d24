// The MoE block's experts on the GPU: y = shared(x) + Σ_k w_k · expert_k(x) (docs/conventions.md
// "MoE block"), with the chosen experts and weights already on the GPU (moe-route). Reference:
// src/reference/moe-experts.ts (moeForward, mlpForward).
//
// Weight layout. One projection's experts are stacked as [n_experts, out, in] (each expert's checkpoint
// tensor, row-major) in one format for the whole ExpertWeights (src/kernels/moe-weights.ts): FP8 e4m3
// codes (4 per u32, little endian) with weight_scale_inv stacked as [n_experts, ceil(out/128),
// ceil(in/128)] f32; q4 codes (8 per u32 along a row) with group scales stacked as [n_experts, out,
// ceil(in/group)] f32 (docs/q4.md); or BF16 (2 per u32, low half first) or F32, without scales. A projection too large
// for one binding (V3: 256 x 2048 x 7168 B = 3.76 GB) is split into parts of whole experts; each part is
// one weight buffer (and scale buffer) and the kernels are dispatched once per part (2 bindings per
// projection per dispatch, far from the 10-binding limit). gate and up must be split the same way; down
// may be split differently.
import type { Bindable, Recorder } from '../gpu/recorder.ts';
import { expectThat } from '../gpu/kernel.ts';
import { knob, type LaunchProfile } from '../gpu/launch-profile.ts';
import { moeCombine } from './moe-combine.ts';
import { moeDown } from './moe-down.ts';
import { moeDownGrouped } from './moe-down-grouped.ts';
import { moeGateUp } from './moe-gate-up.ts';
import { moeGateUpGrouped } from './moe-gate-up-grouped.ts';
import { MOE_GROUP_MAX_EXPERTS, MOE_TILE, moeGroup, moeMaxTiles } from './moe-group.ts';
import { EXPERT_BLOCK, type ExpertFormat } from './moe-weights.ts';

export { moeGroupBytes } from './moe-group.ts';
export type { ExpertFormat } from './moe-weights.ts';

/** Experts [firstExpert, firstExpert + count) of one projection, in one buffer. */
export interface ExpertPart {
  firstExpert: number;
  count: number;
  /** [count, out, in] in the ExpertWeights' format: FP8 e4m3 codes 4 per u32, BF16 2 per u32, or F32. */
  weight: Bindable;
  /** FP8: f32 weight_scale_inv [count, ceil(out / 128), ceil(in / 128)]; q4: f32 [count, out, ceil(in / group)]. */
  scale?: Bindable;
}

/** A layer's routed experts (or its shared expert: one part of count 1). gate[i] and up[i] hold the same experts. */
export interface ExpertWeights {
  /** Every part's format (FP8 and q4 parts carry scales). */
  format: ExpertFormat;
  /** q4: inputs per scale group. */
  group?: number;
  gate: ExpertPart[];
  up: ExpertPart[];
  down: ExpertPart[];
}

export interface MoeShape {
  rows: number;
  hidden: number;
  /** moe_intermediate_size. */
  inter: number;
  topK: number;
  /** n_shared_experts * moe_intermediate_size; 0 when the layer has no shared expert. */
  sharedInter: number;
}

export interface MoeBuffers {
  x: Bindable; //        [rows, hidden] f32 (the post-attention RMSNorm output)
  experts: Bindable; //  [rows, topK] u32 (moe-route)
  weights: Bindable; //  [rows, topK] f32 (moe-route)
  out: Bindable; //      [rows, hidden] f32, overwritten with the block's output
  h: Bindable; //        scratch [rows * topK, inter] f32
  y: Bindable; //        scratch [rows * topK, hidden] f32
  hShared?: Bindable; // scratch [rows, sharedInter] f32 (when sharedInter > 0)
  group?: Bindable; //   prefill scratch of moeGroupBytes(rows, topK, nExperts) bytes (u32)
}

/**
 * Records the experts (and shared expert) of one MoE layer for `s.rows` tokens. With `b.group` (prefill
 * scratch of moeGroupBytes(rows, topK, nExperts) bytes) and at least 2 pairs per expert on average, the
 * pairs are grouped by expert on the GPU and each expert's weights are decoded once per tile of 4 pairs;
 * otherwise each pair reads its expert's rows (the decode path). Both write the same h, y and out.
 */
export function recordMoeExperts(rec: Recorder, routed: ExpertWeights, shared: ExpertWeights | null, b: MoeBuffers, s: MoeShape): void {
  expectThat('moe-experts', routed.gate.length === routed.up.length && routed.gate.every((g, i) => g.firstExpert === routed.up[i].firstExpert && g.count === routed.up[i].count), 'gate and up must be split into the same parts');
  expectThat('moe-experts', (shared !== null) === s.sharedInter > 0 && (!shared || b.hShared !== undefined), 'shared weights, sharedInter and hShared go together');
  for (const w of shared ? [routed, shared] : [routed]) {
    const parts = [...w.gate, ...w.up, ...w.down];
    const scaled = w.format === 'fp8' || w.format === 'q4';
    expectThat('moe-experts', parts.every((p) => (p.scale !== undefined) === scaled), `${w.format} experts: scales go with FP8 and q4 parts only`);
    expectThat('moe-experts', (w.group !== undefined) === (w.format === 'q4'), `${w.format} experts: a group size goes with q4 only`);
  }
  const nExperts = Math.max(0, ...routed.gate.map((p) => p.firstExpert + p.count), ...routed.down.map((p) => p.firstExpert + p.count));
  recordSharedExpert(rec, shared, b, s);
  const tiles = b.group && groupedPath(rec.profile, s.rows * s.topK, nExperts) ? recordMoeGroup(rec, b.experts, b.group, s.rows * s.topK, nExperts) : 0;
  recordRoutedExperts(rec, routed, tiles ? b.group! : b.experts, tiles, b, s);
  recordMoeCombine(rec, b, s, shared !== null);
}

/**
 * Whether `pairs` (token, expert) pairs over `nExperts` experts take the grouped path: at least the launch
 * profile's moe-group MIN_PAIRS_PER_EXPERT pairs per expert on average (docs/launch-profiles.md), and few
 * enough experts for moe-group's workgroup counters.
 */
export function groupedPath(profile: LaunchProfile, pairs: number, nExperts: number): boolean {
  return pairs >= knob(profile, 'moe-group', 'MIN_PAIRS_PER_EXPERT') * nExperts && nExperts <= MOE_GROUP_MAX_EXPERTS;
}

/** moe-group of `pairs` expert ids below `nExperts` into `group`; returns the tile bound the grouped kernels take. */
export function recordMoeGroup(rec: Recorder, experts: Bindable, group: Bindable, pairs: number, nExperts: number): number {
  const tiles = moeMaxTiles(pairs, nExperts);
  moeGroup.record(rec, { experts, group }, { pairs, n_experts: nExperts, max_tiles: tiles });
  return tiles;
}

/** The shared expert(s), straight into out: the base the routed experts are added to (nothing without one). */
export function recordSharedExpert(rec: Recorder, shared: ExpertWeights | null, b: MoeBuffers, s: MoeShape): void {
  if (!shared) return;
  const dense = { rows: s.rows, slots: 1, inter: s.sharedInter, first_expert: 0, part_experts: 1, routed: 0 };
  const tiles = Math.ceil(s.rows / MOE_TILE);
  recordGateUp(rec, shared, s.rows > 1 ? tiles : 0, shared.gate[0], shared.up[0], { x: b.x, experts: b.x, h: b.hShared! }, { ...dense, hidden: s.hidden });
  recordDown(rec, shared, s.rows > 1 ? tiles : 0, shared.down[0], { h: b.hShared!, experts: b.x, y: b.out }, { ...dense, hidden: s.hidden });
}

/**
 * gate/up and down of every part of `routed` for the pairs whose expert id (in `index`: moe-route's ids, or
 * moe-group's tiles when `tiles` > 0) falls in the part; h and y of the other pairs are left as they are.
 */
export function recordRoutedExperts(rec: Recorder, routed: ExpertWeights, index: Bindable, tiles: number, b: MoeBuffers, s: MoeShape): void {
  routed.gate.forEach((g, i) => {
    const part = { rows: s.rows, slots: s.topK, hidden: s.hidden, inter: s.inter, first_expert: g.firstExpert, part_experts: g.count, routed: 1 };
    recordGateUp(rec, routed, tiles, g, routed.up[i], { x: b.x, experts: index, h: b.h }, part);
  });
  for (const d of routed.down) {
    const part = { rows: s.rows, slots: s.topK, hidden: s.hidden, inter: s.inter, first_expert: d.firstExpert, part_experts: d.count, routed: 1 };
    recordDown(rec, routed, tiles, d, { h: b.h, experts: index, y: b.y }, part);
  }
}

/** out (+)= Σ_k weights[r, k] · y[r * topK + k]; `accumulate` onto the shared experts' output. */
export function recordMoeCombine(rec: Recorder, b: MoeBuffers, s: MoeShape, accumulate: boolean): void {
  moeCombine.record(rec, { y: b.y, weights: b.weights, out: b.out }, { rows: s.rows, slots: s.topK, hidden: s.hidden, accumulate });
}

type PartParams = { rows: number; slots: number; hidden: number; inter: number; first_expert: number; part_experts: number; routed: number };

/**
 * gate/up + SwiGLU of one part: grouped over `tiles` tiles, or the decode kernel when tiles is 0. Without
 * scales (BF16/F32) the weights are bound again in the scale slots, which those kernels do not read.
 */
function recordGateUp(rec: Recorder, ew: ExpertWeights, tiles: number, g: ExpertPart, u: ExpertPart, b: { x: Bindable; experts: Bindable; h: Bindable }, p: PartParams): void {
  const w = { gate_w: g.weight, gate_s: g.scale ?? g.weight, up_w: u.weight, up_s: u.scale ?? u.weight };
  const BLOCK = ew.group ?? EXPERT_BLOCK;
  if (tiles) moeGateUpGrouped[ew.format].record(rec, { x: b.x, group: b.experts, ...w, h: b.h }, { ...p, max_tiles: tiles }, { BLOCK });
  else moeGateUp[ew.format].record(rec, { x: b.x, experts: b.experts, ...w, h: b.h }, p, { BLOCK });
}

/** down of one part, per pair p = r * slots + k. */
function recordDown(rec: Recorder, ew: ExpertWeights, tiles: number, d: ExpertPart, b: { h: Bindable; experts: Bindable; y: Bindable }, p: PartParams): void {
  const { rows, slots, ...rest } = p;
  const w = { down_w: d.weight, down_s: d.scale ?? d.weight };
  const BLOCK = ew.group ?? EXPERT_BLOCK;
  if (tiles) moeDownGrouped[ew.format].record(rec, { h: b.h, group: b.experts, ...w, y: b.y }, { pairs: rows * slots, ...rest, max_tiles: tiles }, { BLOCK });
  else moeDown[ew.format].record(rec, { h: b.h, experts: b.experts, ...w, y: b.y }, { pairs: rows * slots, ...rest }, { BLOCK });
}
