// Every per-step scratch buffer, allocated once for the largest step (the llama2.c RunState idea): a
// step records into these and allocates nothing. The sizes come from one function, which the memory plan
// also sums, so the plan counts exactly what is allocated here.
import type { ModelConfig } from '../config/model-config.ts';
import type { Gpu } from '../gpu/device.ts';
import { createStorage, storageBytes } from '../gpu/buffers.ts';
import { mlaSplitQueries, mlaSplitScratch } from '../kernels/mla-decode.ts';
import { moeGroupBytes } from '../kernels/moe-group.ts';
import { sampleScratchBytes } from '../kernels/sample.ts';
import type { PlannedBuffer } from './weight-plan.ts';

/** Most splits of the sequence the attention uses (flash-decoding style); sizes its scratch. */
export const MAX_ATTENTION_SPLITS = 64;

/**
 * Each scratch buffer's label and allocated bytes for `rows` positions per forward call and `logitRows`
 * rows of logits; `mtp`: the MTP module is loaded (its inputs and the draft logits).
 */
function layout(c: ModelConfig, rows: number, logitRows: number, mtp: boolean, attentionWorkgroups: number) {
  const f32 = (label: string, elements: number): PlannedBuffer => ({ label, bytes: storageBytes(Math.max(1, elements) * 4) });
  const H = c.hiddenSize;
  const heads = c.numAttentionHeads;
  const inter = Math.max(c.intermediateSize, c.nSharedExperts * c.moeIntermediateSize);
  // Sized for the split plans the forward pass makes with this target (src/model/forward.ts).
  const scratch = mlaSplitScratch(c, mlaSplitQueries(heads, rows, attentionWorkgroups, MAX_ATTENTION_SPLITS));
  // MTP inputs hold a chunk's rows plus the speculative loop's pending and chained-draft rows.
  const mtpRows = mtp ? rows + 2 : 0;
  return {
    tokens: f32('tokens', rows), //                      [rows] u32 input ids
    h: f32('h', rows * H), //                            [rows, H] residual stream
    x: f32('x', rows * H), //                            [rows, H] normalized input of a block
    qA: f32('q_a', rows * (c.qLoraRank ?? 0)), //         [rows, qLora]
    qAn: f32('q_a normed', rows * (c.qLoraRank ?? 0)), // [rows, qLora]
    q: f32('q', rows * heads * c.qHeadDim), //            [rows, heads * qHeadDim]
    kvA: f32('kv_a', rows * c.latentDim), //              [rows, latentDim]
    qAbs: f32('q_abs', rows * heads * c.latentDim), //    [rows, heads, latentDim]
    oPart: f32('attention split outputs', scratch.oPart), // [rows * heads * splits, kvLora] at most
    ml: f32('attention split max/sum', scratch.ml), //   [rows * heads * splits, 2] at most
    oLat: f32('o_lat', rows * heads * c.kvLoraRank), //   [rows * heads, kvLora]
    o: f32('o', rows * heads * c.vHeadDim), //            [rows, heads * v]
    gate: f32('gate', rows * inter), //                   [rows, I] (also the MoE shared-expert scratch)
    up: f32('up', rows * inter), //                       [rows, I]
    act: f32('swiglu', rows * inter), //                  [rows, I]
    routerLogits: f32('router logits', rows * c.nRoutedExperts), // [rows, E]
    experts: f32('expert ids', rows * c.numExpertsPerTok), //       [rows, topK] u32
    expertWeights: f32('expert weights', rows * c.numExpertsPerTok), // [rows, topK]
    expertH: f32('expert hidden', rows * c.numExpertsPerTok * c.moeIntermediateSize), // [rows * topK, mI]
    expertY: f32('expert outputs', rows * c.numExpertsPerTok * H), // [rows * topK, H]
    moeOut: f32('moe output', rows * H), //               [rows, H]
    // moe-group's tiles of the rows * topK (token, expert) pairs (u32)
    moeGroup: f32('moe pairs grouped by expert', c.nRoutedExperts ? moeGroupBytes(rows, c.numExpertsPerTok, c.nRoutedExperts) / 4 : 0),
    logits: f32('logits', logitRows * c.vocabSize), //    [logitRows, V]
    sampled: f32('sampled tokens', logitRows), //         [logitRows] u32 chosen token ids
    sampleScratch: f32('sampler scratch', sampleScratchBytes(c.vocabSize) / 4), // candidate ids, argmax partials
    // The MTP module's inputs: main-model hidden states (after the final norm) and the next token of each row.
    mtpTokens: f32('mtp tokens', mtpRows), //             [rows + 2] u32
    mtpHidden: f32('mtp hidden', mtpRows * H), //         [rows + 2, H]
    mtpE: f32('mtp enorm(e)', mtpRows * H), //            [rows, H] enorm(embed(next token))
    mtpHn: f32('mtp hnorm(h)', mtpRows * H), //           [rows, H] hnorm(hidden)
    // Speculative decoding: draft k's logits in row k (at most rows - 1 drafts: the verify pass is one
    // forward call), and a chunk's last hidden row kept while the MTP inputs hold the chunk's other rows.
    draftLogits: f32('draft logits', mtp ? rows * c.vocabSize : 0), // [rows, V]
    mtpSavedRow: f32('mtp saved hidden row', mtp ? H : 0), //          [H]
  };
}

export type ActivationName = keyof ReturnType<typeof layout>;

// The buffers are fields named as in layout(), assigned in the constructor.
export interface Activations extends Readonly<Record<ActivationName, GPUBuffer>> {}

export class Activations {
  private readonly all: GPUBuffer[] = [];

  constructor(
    gpu: Gpu,
    readonly c: ModelConfig,
    /** Positions per forward call (the prefill chunk). */
    readonly rows: number,
    /** Rows of logits one call can produce (1 for decoding; rows for `logits` of every position). */
    readonly logitRows: number,
    /** The MTP module is loaded. */
    readonly mtp: boolean,
    /** ForwardContext.attentionWorkgroups: the attention's split plans, which size its scratch. */
    readonly attentionWorkgroups: number,
  ) {
    for (const [name, { label, bytes }] of Object.entries(layout(c, rows, logitRows, mtp, attentionWorkgroups))) {
      const buffer = createStorage(gpu.device, bytes, label);
      this.all.push(buffer);
      Object.assign(this, { [name]: buffer });
    }
  }

  /** The buffers the constructor allocates, with their sizes (what the memory plan sums). */
  static sizes(c: ModelConfig, rows: number, logitRows: number, mtp: boolean, attentionWorkgroups: number): PlannedBuffer[] {
    return Object.values(layout(c, rows, logitRows, mtp, attentionWorkgroups));
  }

  get bytes(): number {
    return this.all.reduce((n, b) => n + b.size, 0);
  }

  destroy(): void {
    for (const b of this.all) b.destroy();
  }
}
