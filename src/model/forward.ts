// The forward graph on the GPU: embed → decoder layers (MLA + dense MLP or MoE) → final norm, recorded
// into one Recorder for the rows of a row map: one or more sequences' consecutive positions (a prefill chunk, a
// decode row each, verify passes), each over its own pages of the latent cache. Reads the token ids from
// act.tokens and leaves the final-norm hidden states in act.x (lm_head's input, and the MTP module's h).
// Only attention tells the rows' sequences apart; every other kernel sees `rows` rows.
// Every dispatch reads and writes preallocated buffers; nothing here allocates or reads back, except at a
// layer whose routed experts are offloaded (./expert-offload.ts), where the routing is read back.
import type { ModelConfig } from '../config/model-config.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { recordEmbed } from '../kernels/embed.ts';
import { kvAppend } from '../kernels/kv-append.ts';
import { recordMatmul, recordMatmulParts } from '../kernels/matmul.ts';
import { mlaAbsorbQ, mlaAbsorbQParams } from '../kernels/mla-absorb-q.ts';
import { mlaAbsorbV, mlaAbsorbVParams } from '../kernels/mla-absorb-v.ts';
import { mlaDecode, mlaDecodeParams, mlaSplitPlan } from '../kernels/mla-decode.ts';
import type { KvBDtype } from '../kernels/mla-kv-b.ts';
import { mlaMerge, mlaMergeParams } from '../kernels/mla-merge.ts';
import type { RowMap, SegmentRows } from '../kernels/row-map.ts';
import { recordMoeExperts, type MoeBuffers, type MoeShape } from '../kernels/moe-experts.ts';
import { recordMoeRoute } from '../kernels/moe-route.ts';
import { residualAdd } from '../kernels/residual-add.ts';
import { rmsnorm } from '../kernels/rmsnorm.ts';
import { swiglu } from '../kernels/swiglu.ts';
import { MAX_ATTENTION_SPLITS, type Activations } from './activations.ts';
import type { ExpertOffload } from './expert-offload.ts';
import type { LatentCache } from './kv-cache.ts';
import type { RowMaps } from './row-maps.ts';
import type { GpuAttention, GpuLayer, GpuMoe, GpuWeights } from './weights.ts';

/** What one forward pass reads: config, weights, cache, scratch, and how to split attention. */
export interface ForwardContext {
  c: ModelConfig;
  weights: GpuWeights;
  /** The paged latent cache: one pool buffer per decoder layer (and the MTP's), the page table. */
  cache: LatentCache;
  /** Where each forward call of a step places its row map. */
  rowMaps: RowMaps;
  act: Activations;
  /** ModelConfig.ropeInvFreq as f32 [qk_rope_head_dim / 2]. */
  invFreq: GPUBuffer;
  /** Workgroups the attention aims to fill (splits the sequence when the query alone can't). */
  attentionWorkgroups: number;
  /** The expert cache when routed experts are offloaded (ModelLoadOptions.gpuMemory). */
  offload?: ExpertOffload;
}

/** Places the row map of `segs` (one per sequence, in row order) for a forward call of this step. */
export function placeRows(rec: Recorder, f: ForwardContext, segs: readonly SegmentRows[]): RowMap {
  return f.rowMaps.place(rec, f.cache, f.c.numAttentionHeads, segs);
}

/**
 * Records the forward pass. Returns undefined when it is all recorded (nothing submitted), or, with offloaded
 * experts, a promise: the pass is then submitted in pieces (each offloaded layer reads its routing back) and
 * the rest is recorded when it resolves. Callers await it only when there is one, so a resident step
 * records without yielding between its first dispatch and its submit (src/gpu/recorder.ts).
 */
export function recordForward(rec: Recorder, f: ForwardContext, map: RowMap): Promise<void> | undefined {
  const { c, act, weights } = f;
  const rows = map.rows;
  recordEmbed(rec, weights.embed.dtype, weights.embed.parts, act.tokens, act.h, { rows, hidden: c.hiddenSize, vocab: c.vocabSize });
  if (f.offload) return recordLayersOffloaded(rec, f, f.offload, map);
  weights.layers.forEach((layer, l) => recordLayer(rec, f, layer, f.cache.layers[l], map));
  recordFinalNorm(rec, f, rows);
}

async function recordLayersOffloaded(rec: Recorder, f: ForwardContext, offload: ExpertOffload, map: RowMap): Promise<void> {
  for (const [l, w] of f.weights.layers.entries()) {
    if (!offload.offloads(l)) {
      recordLayer(rec, f, w, f.cache.layers[l], map);
      continue;
    }
    recordLayerToRouting(rec, f, w, f.cache.layers[l], map);
    await offload.recordExperts(rec, l, w.moe!.shared, moeBuffers(f), moeShape(f, w.moe!, map.rows));
    residualAdd.record(rec, { delta: f.act.moeOut, h: f.act.h }, { n: map.rows * f.c.hiddenSize });
  }
  recordFinalNorm(rec, f, map.rows);
}

function recordFinalNorm(rec: Recorder, f: ForwardContext, rows: number): void {
  rmsnorm.record(rec, { x: f.act.h, weight: f.weights.finalNorm, out: f.act.x }, { rows, dim: f.c.hiddenSize, eps: f.c.rmsNormEps });
}

/** One pre-norm block: h += attn(norm(h)); h += mlp(norm(h)). Also the MTP module's layer. */
export function recordLayer(rec: Recorder, f: ForwardContext, w: GpuLayer, cache: GPUBuffer, map: RowMap): void {
  recordLayerToRouting(rec, f, w, cache, map);
  if (!w.moe) return;
  recordMoeExperts(rec, w.moe.experts, w.moe.shared, moeBuffers(f), moeShape(f, w.moe, map.rows));
  residualAdd.record(rec, { delta: f.act.moeOut, h: f.act.h }, { n: map.rows * f.c.hiddenSize });
}

/** A layer up to its MoE experts: attention, then the dense MLP (the whole layer) or the router and routing. */
function recordLayerToRouting(rec: Recorder, f: ForwardContext, w: GpuLayer, cache: GPUBuffer, map: RowMap): void {
  const { c, act } = f;
  const H = c.hiddenSize;
  const rows = map.rows;
  rmsnorm.record(rec, { x: act.h, weight: w.inputNorm, out: act.x }, { rows, dim: H, eps: c.rmsNormEps });
  recordAttention(rec, f, w.attention, cache, map);
  rmsnorm.record(rec, { x: act.h, weight: w.postAttentionNorm, out: act.x }, { rows, dim: H, eps: c.rmsNormEps });
  if (w.dense) {
    recordMatmul(rec, w.dense.gate, act.x, act.gate, rows); // gate: [rows, I]
    recordMatmul(rec, w.dense.up, act.x, act.up, rows); //     up:   [rows, I]
    swiglu.record(rec, { gate: act.gate, up: act.up, out: act.act }, { n: rows * c.intermediateSize });
    recordMatmul(rec, w.dense.down, act.act, act.h, rows, { accumulate: true }); // h += down(act)
    return;
  }
  const moe = w.moe!;
  recordMatmul(rec, moe.router, act.x, act.routerLogits, rows); // [rows, E]
  recordMoeRoute(rec, c, { logits: act.routerLogits, bias: moe.correctionBias, experts: act.experts, weights: act.expertWeights }, rows);
}

/**
 * The MoE experts' buffers. With the group scratch the experts take the grouped path once there are >= 2
 * (token, expert) pairs per expert (prefill chunks: each expert's weights decoded once per 4 pairs; 64 rows of
 * tiny-v3 1.9x faster). Decode and verify steps (1..4 rows) keep the per-pair path.
 */
function moeBuffers(f: ForwardContext): MoeBuffers {
  const { act } = f;
  return { x: act.x, experts: act.experts, weights: act.expertWeights, out: act.moeOut, h: act.expertH, y: act.expertY, hShared: act.gate, group: act.moeGroup };
}

function moeShape(f: ForwardContext, moe: GpuMoe, rows: number): MoeShape {
  const { c } = f;
  return { rows, hidden: c.hiddenSize, inter: c.moeIntermediateSize, topK: c.numExpertsPerTok, sharedInter: moe.shared ? c.nSharedExperts * c.moeIntermediateSize : 0 };
}

/**
 * Only the latent cache rows of a layer for the map's rows of act.h: what a row whose output nobody reads
 * still owes the rows after it (the MTP's rows before its last). Leaves act.x = norm(h).
 */
export function recordLatentRows(rec: Recorder, f: ForwardContext, w: GpuLayer, cache: GPUBuffer, map: RowMap): void {
  const { c, act } = f;
  rmsnorm.record(rec, { x: act.h, weight: w.inputNorm, out: act.x }, { rows: map.rows, dim: c.hiddenSize, eps: c.rmsNormEps });
  recordKvAppend(rec, f, w.attention, cache, map);
}

/** kv_a_proj_with_mqa of act.x, then its norm and rope into each row's cache slot. */
function recordKvAppend(rec: Recorder, f: ForwardContext, w: GpuAttention, cache: GPUBuffer, map: RowMap): void {
  const { c, act } = f;
  const rows = map.rows;
  recordMatmul(rec, w.kvA, act.x, act.kvA, rows); // [rows, kvLora + rope], before its norm and rope
  kvAppend.record(
    rec,
    { kv_a: act.kvA, norm_w: w.kvANorm, inv_freq: f.invFreq, row_pos: map.pos, row_slot: map.slot, cache },
    { rows, kv_lora: c.kvLoraRank, rope: c.qkRopeHeadDim, cache_rows: f.cache.poolRows, eps: c.rmsNormEps, cos_sin_scale: c.ropeCosSinScale },
  );
}

/** MLA in the absorbed form over the latent cache: the new rows are appended first, then attended over. */
function recordAttention(rec: Recorder, f: ForwardContext, w: GpuAttention, cache: GPUBuffer, map: RowMap): void {
  const { c, act } = f;
  const rows = map.rows;
  if (w.q) {
    recordMatmul(rec, w.q, act.x, act.q, rows); // q: [rows, heads * qHeadDim]
  } else {
    recordMatmul(rec, w.qA!, act.x, act.qA, rows); // [rows, qLora]
    rmsnorm.record(rec, { x: act.qA, weight: w.qANorm!, out: act.qAn }, { rows, dim: c.qLoraRank!, eps: c.rmsNormEps });
    recordMatmul(rec, w.qB!, act.qAn, act.q, rows);
  }
  recordKvAppend(rec, f, w, cache, map);
  const dtype = w.kvB.dtype as KvBDtype;
  const kvB = { w: w.kvB.w, w_scale: w.kvB.scale ?? w.kvB.w };
  const [BLOCK_ROWS, BLOCK_COLS] = w.kvB.block; // the checkpoint's weight_block_size (FP8 scales)
  const absorbQ = mlaAbsorbQ[dtype];
  const qBlocks = { ...absorbQ.spec.overrides, BLOCK_ROWS, BLOCK_COLS };
  absorbQ.record(rec, { q: act.q, inv_freq: f.invFreq, ...kvB, q_abs: act.qAbs, row_pos: map.pos }, mlaAbsorbQParams(c, rows, c.ropeCosSinScale, qBlocks), qBlocks);
  // Split for the longest sequence, by the blocks (4 query vectors of one sequence) there are: that is at most
  // rows * heads query vectors, so the scratch sized by mlaSplitQueries holds it.
  const plan = mlaSplitPlan(map.kvLen, map.blocks * 4, f.attentionWorkgroups, MAX_ATTENTION_SPLITS);
  const pages = { segments: map.segments, pages: map.pages };
  if (plan.splits === 1) {
    // One split: the decode kernel writes o_lat itself (o / l), no merge dispatch.
    mlaDecode.record(rec, { q_abs: act.qAbs, cache, o_part: act.oLat, ml: act.ml, ...pages }, mlaDecodeParams(c, map, c.softmaxScale, plan, true));
  } else {
    mlaDecode.record(rec, { q_abs: act.qAbs, cache, o_part: act.oPart, ml: act.ml, ...pages }, mlaDecodeParams(c, map, c.softmaxScale, plan));
    mlaMerge.record(rec, { o_part: act.oPart, ml: act.ml, o_lat: act.oLat }, mlaMergeParams(rows * c.numAttentionHeads, c.kvLoraRank, plan.splits));
  }
  const absorbV = mlaAbsorbV[dtype];
  const vBlocks = { ...absorbV.spec.overrides, BLOCK_ROWS, BLOCK_COLS };
  absorbV.record(rec, { o_lat: act.oLat, ...kvB, o: act.o }, mlaAbsorbVParams(c, rows, vBlocks), vBlocks);
  recordMatmul(rec, w.o, act.o, act.h, rows, { accumulate: true }); // h += o_proj(o)
}

/** logits[r] = lm_head(x[fromRow + r]) for `count` rows of the final-norm hidden states. */
export function recordLogits(rec: Recorder, f: ForwardContext, fromRow: number, count: number): void {
  const H = f.c.hiddenSize;
  recordMatmulParts(rec, f.weights.lmHead, { buffer: f.act.x, offset: fromRow * H * 4, size: count * H * 4 }, f.act.logits, count);
}
