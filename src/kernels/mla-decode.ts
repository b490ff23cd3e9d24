// Causal latent attention, one split of the cache per workgroup: shaders/mla-decode.wgsl (then mla-merge).
// Reference: src/reference/mla-absorbed.ts latentAttention.
import { defineKernel, expectBytes, expectThat } from '../gpu/kernel.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { mlaDecodeWorkgroup } from '../gpu/launch-shapes.ts';
import { grid2d, MAX_GROUPS_PER_DIM } from './grid.ts';
import type { MlaDims } from './mla-kv-b.ts';
import { SEGMENT_WORDS, type RowMap } from './row-map.ts';

const SHADER = 'mla-decode';

const kernel = defineKernel({
  shader: SHADER,
  bindings: { q_abs: 'read', cache: 'read', o_part: 'read_write', ml: 'read_write', segments: 'read', pages: 'read' },
  params: {
    rows: 'u32', heads: 'u32', kv_lora: 'u32', rope: 'u32', seg_count: 'u32', blocks: 'u32', page_shift: 'u32',
    splits: 'u32', chunk: 'u32', groups_x: 'u32', scale: 'f32', normalize: 'u32',
  },
  overrides: {},
  launch: (k, p) => ({ WG_SIZE: mlaDecodeWorkgroup(p.kv_lora, k('WG_MULTIPLE')) }),
  check: (b, p, o) => {
    const latent = p.kv_lora + p.rope;
    const nq = p.rows * p.heads;
    expectThat(SHADER, p.kv_lora % 4 === 0 && p.rope % 4 === 0, `kv_lora ${p.kv_lora} and rope ${p.rope} must be multiples of 4`);
    expectThat(SHADER, p.kv_lora <= 8 * o.WG_SIZE, `kv_lora ${p.kv_lora} > 8 * WG_SIZE (${o.WG_SIZE}): each thread owns 8 columns`);
    expectThat(SHADER, p.rows > 0 && p.splits > 0 && p.seg_count > 0 && p.blocks >= p.seg_count, `${p.rows} rows in ${p.seg_count} segments (${p.blocks} blocks), ${p.splits} splits`);
    expectThat(SHADER, !p.normalize || p.splits === 1, `normalize needs a single split, got ${p.splits}`);
    expectBytes(SHADER, 'q_abs', b.q_abs, nq * latent * 4);
    expectBytes(SHADER, 'cache', b.cache, latent * 4);
    expectBytes(SHADER, 'segments', b.segments, p.seg_count * SEGMENT_WORDS * 4);
    expectBytes(SHADER, 'pages', b.pages, 4);
    expectBytes(SHADER, 'o_part', b.o_part, nq * p.splits * p.kv_lora * 4);
    expectBytes(SHADER, 'ml', b.ml, nq * p.splits * 8);
  },
  grid: (p) => grid2d(p.blocks * p.splits, p.groups_x),
});

/**
 * `mlaDecode.record(rec, { q_abs, cache, o_part, ml, segments, pages }, mlaDecodeParams(...))`.
 * q_abs: [rows, heads, kv_lora + rope] f32 (mla-absorb-q) · cache: the layer's page pool [pool rows, kv_lora + rope]
 * f32, every segment's rows 0 .. first_pos + rows - 1 written (kv-append runs first) · segments, pages: the step's
 * row map (src/kernels/row-map.ts) · o_part: [rows * heads, splits, kv_lora] f32
 * · ml: [rows * heads, splits, 2] f32 (running max, sum). Sizes: mlaDecodeScratch(). With params.normalize (one
 * split) o_part receives the attention output o_lat [rows * heads, kv_lora] itself and mla-merge is not needed.
 * WG_SIZE (the launch profile's) is the smallest multiple of its WG_MULTIPLE knob with 8 * WG_SIZE >= kv_lora: each
 * thread owns 8 columns, and on SwiftShader every 4-lane subgroup more makes the kernel's barriers dearer.
 */
export const mlaDecode = {
  spec: kernel.spec,
  launchShape: kernel.launchShape,
  record(rec: Recorder, buffers: Parameters<typeof kernel.record>[1], p: Parameters<typeof kernel.record>[2]): void {
    const wg = kernel.launchShape(rec, p).WG_SIZE;
    // Past the device's workgroup limit the pipeline fails validation and every dispatch is skipped: refuse
    // here rather than leave the output unwritten.
    const max = Math.min(rec.device.limits.maxComputeWorkgroupSizeX, rec.device.limits.maxComputeInvocationsPerWorkgroup);
    expectThat(SHADER, wg <= max, `WG_SIZE ${wg} (kv_lora ${p.kv_lora}) exceeds the device's ${max} threads per workgroup`);
    kernel.record(rec, buffers, p);
  },
};

export interface MlaSplitPlan {
  splits: number;
  /** Cache rows per split. */
  chunk: number;
}

/**
 * Splits of `kvLen` cache rows: enough (4-query-vector, split) workgroups to reach `targetWorkgroups`, but no split
 * shorter than `minChunk` rows (a score tile is 256) and at most `maxSplits` (the o_part scratch is sized for it).
 */
export function mlaSplitPlan(kvLen: number, queryVectors: number, targetWorkgroups = 128, maxSplits = 64, minChunk = 256): MlaSplitPlan {
  const blocks = Math.ceil(queryVectors / 4);
  const splits = Math.max(1, Math.min(Math.ceil(targetWorkgroups / blocks), Math.ceil(kvLen / minChunk), maxSplits));
  return { splits, chunk: Math.ceil(kvLen / splits) };
}

/**
 * The most (query vector x split) pairs any call of up to `rows` rows makes under mlaSplitPlan with this
 * target: what the split scratch must hold. Few rows split most; many rows fill the target unsplit, so the
 * scratch is about max(rows * heads, 4 * target) vectors, not rows * heads * maxSplits (1 GiB for V3 at 64
 * rows).
 */
export function mlaSplitQueries(heads: number, rows: number, targetWorkgroups: number, maxSplits = 64): number {
  let most = 0;
  for (let r = 1; r <= rows; r++) most = Math.max(most, r * heads * mlaSplitPlan(Number.MAX_SAFE_INTEGER, r * heads, targetWorkgroups, maxSplits, 1).splits);
  return most;
}

/**
 * Params for the rows of a row map (softmaxScale: ModelConfig.softmaxScale), split by `plan`, which must cover the
 * longest segment. `normalize`: write the attention output itself (needs plan.splits == 1; no mla-merge then).
 */
export function mlaDecodeParams(d: MlaDims, map: Pick<RowMap, 'rows' | 'segmentCount' | 'blocks' | 'kvLen' | 'pageShift'>, softmaxScale: number, plan: MlaSplitPlan, normalize = false) {
  expectThat(SHADER, plan.chunk * plan.splits >= map.kvLen, `${plan.splits} splits of ${plan.chunk} rows do not cover ${map.kvLen} cache rows`);
  const groups = map.blocks * plan.splits;
  return {
    rows: map.rows,
    heads: d.numAttentionHeads,
    kv_lora: d.kvLoraRank,
    rope: d.qkRopeHeadDim,
    seg_count: map.segmentCount,
    blocks: map.blocks,
    page_shift: map.pageShift,
    splits: plan.splits,
    chunk: plan.chunk,
    groups_x: Math.min(groups, MAX_GROUPS_PER_DIM),
    scale: softmaxScale,
    normalize: normalize ? 1 : 0,
  };
}

/** f32 element counts of the scratch buffers for `rows` query rows and up to `splits` splits. */
export function mlaDecodeScratch(d: MlaDims, rows: number, splits: number): { oPart: number; ml: number } {
  return mlaSplitScratch(d, rows * d.numAttentionHeads * splits);
}

/** Scratch elements for `splitQueries` (query vector x split) pairs: o_part and ml. */
export function mlaSplitScratch(d: MlaDims, splitQueries: number): { oPart: number; ml: number } {
  return { oPart: splitQueries * d.kvLoraRank, ml: splitQueries * 2 };
}
