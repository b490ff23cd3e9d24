// Every per-step scratch buffer, allocated once for the largest step (the llama2.c RunState idea): a
// step records into these and allocates nothing. Sizes in f32 elements for `rows` positions at once.
import type { ModelConfig } from '../config/model-config.ts';
import type { Gpu } from '../gpu/device.ts';
import { createStorage } from '../gpu/buffers.ts';
import { mlaDecodeScratch } from '../kernels/mla-decode.ts';
import { moeGroupBytes } from '../kernels/moe-group.ts';
import { sampleScratchBytes } from '../kernels/sample.ts';

/** Most splits of the sequence the attention uses (flash-decoding style); sizes its scratch. */
export const MAX_ATTENTION_SPLITS = 64;

export class Activations {
  readonly tokens: GPUBuffer; //   [rows] u32 input ids
  readonly h: GPUBuffer; //        [rows, H] residual stream
  readonly x: GPUBuffer; //        [rows, H] normalized input of a block
  readonly qA: GPUBuffer; //       [rows, qLora]
  readonly qAn: GPUBuffer; //      [rows, qLora]
  readonly q: GPUBuffer; //        [rows, heads * qHeadDim]
  readonly kvA: GPUBuffer; //      [rows, latentDim]
  readonly qAbs: GPUBuffer; //     [rows, heads, latentDim]
  readonly oPart: GPUBuffer; //    [rows * heads, splits, kvLora]
  readonly ml: GPUBuffer; //       [rows * heads, splits, 2]
  readonly oLat: GPUBuffer; //     [rows * heads, kvLora]
  readonly o: GPUBuffer; //        [rows, heads * v]
  readonly gate: GPUBuffer; //     [rows, I] (also the MoE shared-expert scratch)
  readonly up: GPUBuffer; //       [rows, I]
  readonly act: GPUBuffer; //      [rows, I]
  readonly routerLogits: GPUBuffer; // [rows, E]
  readonly experts: GPUBuffer; //  [rows, topK] u32
  readonly expertWeights: GPUBuffer; // [rows, topK]
  readonly expertH: GPUBuffer; //  [rows * topK, mI]
  readonly expertY: GPUBuffer; //  [rows * topK, H]
  readonly moeOut: GPUBuffer; //   [rows, H]
  readonly moeGroup: GPUBuffer; // moe-group's tiles of the rows * topK (token, expert) pairs (u32)
  readonly logits: GPUBuffer; //   [logitRows, V]
  readonly sampled: GPUBuffer; //  [logitRows] u32 chosen token ids
  readonly sampleScratch: GPUBuffer; // the sampler's scratch (candidate ids, argmax partials)
  // The MTP module's inputs: main-model hidden states (after the final norm) and the next token of each row.
  readonly mtpTokens: GPUBuffer; // [rows + 2] u32
  readonly mtpHidden: GPUBuffer; // [rows + 2, H]
  readonly mtpE: GPUBuffer; //      [rows, H] enorm(embed(next token))
  readonly mtpHn: GPUBuffer; //     [rows, H] hnorm(hidden)
  private readonly all: GPUBuffer[] = [];

  constructor(
    gpu: Gpu,
    readonly c: ModelConfig,
    /** Positions per forward call (the prefill chunk). */
    readonly rows: number,
    /** Rows of logits one call can produce (1 for decoding; rows for `logits` of every position). */
    readonly logitRows: number,
  ) {
    const f32 = (elements: number, label: string) => {
      const b = createStorage(gpu.device, Math.max(1, elements) * 4, label);
      this.all.push(b);
      return b;
    };
    const H = c.hiddenSize;
    const heads = c.numAttentionHeads;
    const inter = Math.max(c.intermediateSize, c.nSharedExperts * c.moeIntermediateSize);
    const scratch = mlaDecodeScratch(c, rows, MAX_ATTENTION_SPLITS);
    this.tokens = f32(rows, 'tokens');
    this.h = f32(rows * H, 'h');
    this.x = f32(rows * H, 'x');
    this.qA = f32(rows * (c.qLoraRank ?? 0), 'q_a');
    this.qAn = f32(rows * (c.qLoraRank ?? 0), 'q_a normed');
    this.q = f32(rows * heads * c.qHeadDim, 'q');
    this.kvA = f32(rows * c.latentDim, 'kv_a');
    this.qAbs = f32(rows * heads * c.latentDim, 'q_abs');
    this.oPart = f32(scratch.oPart, 'attention split outputs');
    this.ml = f32(scratch.ml, 'attention split max/sum');
    this.oLat = f32(rows * heads * c.kvLoraRank, 'o_lat');
    this.o = f32(rows * heads * c.vHeadDim, 'o');
    this.gate = f32(rows * inter, 'gate');
    this.up = f32(rows * inter, 'up');
    this.act = f32(rows * inter, 'swiglu');
    this.routerLogits = f32(rows * c.nRoutedExperts, 'router logits');
    this.experts = f32(rows * c.numExpertsPerTok, 'expert ids');
    this.expertWeights = f32(rows * c.numExpertsPerTok, 'expert weights');
    this.expertH = f32(rows * c.numExpertsPerTok * c.moeIntermediateSize, 'expert hidden');
    this.expertY = f32(rows * c.numExpertsPerTok * H, 'expert outputs');
    this.moeOut = f32(rows * H, 'moe output');
    this.moeGroup = f32(c.nRoutedExperts ? moeGroupBytes(rows, c.numExpertsPerTok, c.nRoutedExperts) / 4 : 0, 'moe pairs grouped by expert');
    this.logits = f32(logitRows * c.vocabSize, 'logits');
    this.sampled = f32(logitRows, 'sampled tokens');
    this.sampleScratch = f32(sampleScratchBytes(c.vocabSize) / 4, 'sampler scratch');
    // MTP inputs hold a chunk's rows plus the speculative loop's pending and chained-draft rows.
    const mtpRows = c.numNextnPredictLayers ? rows + 2 : 0;
    this.mtpTokens = f32(mtpRows, 'mtp tokens');
    this.mtpHidden = f32(mtpRows * H, 'mtp hidden');
    this.mtpE = f32(mtpRows * H, 'mtp enorm(e)');
    this.mtpHn = f32(mtpRows * H, 'mtp hnorm(h)');
  }

  get bytes(): number {
    return this.all.reduce((n, b) => n + b.size, 0);
  }

  destroy(): void {
    for (const b of this.all) b.destroy();
  }
}
