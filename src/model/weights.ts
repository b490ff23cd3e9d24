// The model's weights on the GPU, slot by slot (HF names only through src/checkpoint/tensor-names.ts).
// Shapes: H = hidden, I = intermediate, E = routed experts, mI = moe_intermediate, V = vocab.
import type { ModelConfig } from '../config/model-config.ts';
import type { Checkpoint } from '../checkpoint/checkpoint.ts';
import { modelNames, type AttentionNames, type LayerNames, type MlpNames } from '../checkpoint/tensor-names.ts';
import type { Gpu } from '../gpu/device.ts';
import type { EmbeddingPart } from '../kernels/embed.ts';
import type { MatmulWeight } from '../kernels/matmul.ts';
import type { ExpertWeights } from '../kernels/moe-experts.ts';
import { expertsPerPart } from '../kernels/moe-experts.ts';
import { WeightUploader, type UploadOptions } from './upload.ts';

export interface DenseMlp {
  gate: MatmulWeight; // [I, H]
  up: MatmulWeight; //   [I, H]
  down: MatmulWeight; // [H, I]
}

export interface GpuAttention {
  qA?: MatmulWeight; //    [qLora, H]
  qANorm?: GPUBuffer; //   [qLora]
  qB?: MatmulWeight; //    [heads * qHeadDim, qLora]
  q?: MatmulWeight; //     [heads * qHeadDim, H] (no q_lora)
  kvA: MatmulWeight; //    [kvLora + rope, H]
  kvANorm: GPUBuffer; //   [kvLora]
  /** kv_b_proj as stored, [heads * (nope + v), kvLora], read packed by the MLA kernels; FP8 block shape. */
  kvB: { dtype: string; w: GPUBuffer; scale?: GPUBuffer; block: readonly [number, number] };
  o: MatmulWeight; //      [H, heads * v]
}

export interface GpuMoe {
  router: MatmulWeight; // [E, H] (f32: the routing decision must match the reference exactly)
  correctionBias?: GPUBuffer; // [E]
  experts: ExpertWeights; // stacked [E, out, in] in parts (FP8 + scales, BF16 or F32)
  shared: ExpertWeights | null; // one part of count 1, width nShared * mI
}

export interface GpuLayer {
  inputNorm: GPUBuffer; // [H]
  postAttentionNorm: GPUBuffer; // [H]
  attention: GpuAttention;
  dense?: DenseMlp;
  moe?: GpuMoe;
}

export interface GpuMtp {
  enorm: GPUBuffer;
  hnorm: GPUBuffer;
  /** eh_proj [H, 2H] split by columns: y = ehE · enorm(e) + ehH · hnorm(h). */
  ehE: MatmulWeight; // [H, H]
  ehH: MatmulWeight; // [H, H]
  layer: GpuLayer;
  headNorm: GPUBuffer;
  head: MatmulWeight; // [V, H]
  embed: { dtype: 'BF16' | 'F32'; parts: EmbeddingPart[] };
}

export interface GpuWeights {
  embed: { dtype: 'BF16' | 'F32'; parts: EmbeddingPart[] };
  layers: GpuLayer[];
  finalNorm: GPUBuffer;
  lmHead: MatmulWeight; // [V, H]
  mtp: GpuMtp[];
  /** Every buffer above, for dispose(). */
  buffers: GPUBuffer[];
  bytes: number;
}

export interface LoadWeightsOptions extends UploadOptions {
  mtp?: boolean;
}

export async function uploadWeights(gpu: Gpu, ckpt: Checkpoint, c: ModelConfig, options: LoadWeightsOptions = {}): Promise<GpuWeights> {
  const up = new WeightUploader(gpu, ckpt, c.quantization?.weightBlockSize ?? [128, 128], options);
  try {
    const names = modelNames(c);
    const layers: GpuLayer[] = [];
    for (const n of names.layers) layers.push(await layer(up, c, n));
    const mtp: GpuMtp[] = [];
    for (const m of options.mtp === false ? [] : names.mtp) {
      mtp.push({
        enorm: await up.vector(m.enorm, c.hiddenSize),
        hnorm: await up.vector(m.hnorm, c.hiddenSize),
        // The embedding comes first in the concatenation (docs/conventions.md "MTP").
        ehE: await up.linearColumns(m.ehProj, c.hiddenSize, 2 * c.hiddenSize, 0, c.hiddenSize),
        ehH: await up.linearColumns(m.ehProj, c.hiddenSize, 2 * c.hiddenSize, c.hiddenSize, 2 * c.hiddenSize),
        layer: await layer(up, c, m.layer),
        headNorm: await up.vector(m.headNorm, c.hiddenSize),
        head: await up.linear(m.head, c.vocabSize, c.hiddenSize, true),
        embed: await up.embedding(m.embed, c.vocabSize, c.hiddenSize),
      });
    }
    return {
      embed: await up.embedding(names.embed, c.vocabSize, c.hiddenSize),
      layers,
      finalNorm: await up.vector(names.finalNorm, c.hiddenSize),
      // lm_head keeps its precision, as DeepSeek's own FP8 release does
      lmHead: await up.linear(names.lmHead, c.vocabSize, c.hiddenSize, true),
      mtp,
      buffers: up.buffers,
      bytes: up.bytesOnGpu,
    };
  } catch (e) {
    up.destroy();
    throw e;
  }
}

async function mlp(up: WeightUploader, n: MlpNames, hidden: number, inter: number): Promise<DenseMlp> {
  return {
    gate: await up.linear(n.gate, inter, hidden),
    up: await up.linear(n.up, inter, hidden),
    down: await up.linear(n.down, hidden, inter),
  };
}

async function attention(up: WeightUploader, c: ModelConfig, n: AttentionNames): Promise<GpuAttention> {
  const H = c.numAttentionHeads;
  const q =
    c.qLoraRank === null
      ? { q: await up.linear(n.qProj!, H * c.qHeadDim, c.hiddenSize) }
      : {
          qA: await up.linear(n.qAProj!, c.qLoraRank, c.hiddenSize),
          qANorm: await up.vector(n.qANorm!, c.qLoraRank),
          qB: await up.linear(n.qBProj!, H * c.qHeadDim, c.qLoraRank),
        };
  return {
    ...q,
    kvA: await up.linear(n.kvAProjWithMqa, c.latentDim, c.hiddenSize),
    kvANorm: await up.vector(n.kvANorm, c.kvLoraRank),
    kvB: { ...(await up.raw(n.kvBProj, [H * (c.qkNopeHeadDim + c.vHeadDim), c.kvLoraRank])), block: up.block },
    o: await up.linear(n.oProj, c.hiddenSize, H * c.vHeadDim),
  };
}

async function experts(up: WeightUploader, names: MlpNames[], c: ModelConfig, inter: number): Promise<ExpertWeights> {
  const maxBinding = Math.min(up.gpu.limits.maxStorageBufferBindingSize, up.gpu.limits.maxBufferSize);
  // One format for gate, up and down (FP8 stays FP8, BF16 stays BF16 unless quantizing, others f32).
  const format = up.formatOf(names[0].gate);
  const perPart = expertsPerPart(maxBinding, inter, c.hiddenSize, format);
  return {
    format,
    gate: await up.expertStack(names.map((e) => e.gate), inter, c.hiddenSize, perPart, format),
    up: await up.expertStack(names.map((e) => e.up), inter, c.hiddenSize, perPart, format),
    down: await up.expertStack(names.map((e) => e.down), c.hiddenSize, inter, perPart, format),
  };
}

async function layer(up: WeightUploader, c: ModelConfig, n: LayerNames): Promise<GpuLayer> {
  const l: GpuLayer = {
    inputNorm: await up.vector(n.inputNorm, c.hiddenSize),
    postAttentionNorm: await up.vector(n.postAttentionNorm, c.hiddenSize),
    attention: await attention(up, c, n.attention),
  };
  if (n.dense) l.dense = await mlp(up, n.dense, c.hiddenSize, c.intermediateSize);
  if (n.moe) {
    l.moe = {
      // Routing picks experts by comparing scores: the router keeps its stored precision (never quantized).
      router: await up.linear(n.moe.router, c.nRoutedExperts, c.hiddenSize, true),
      correctionBias: n.moe.correctionBias ? await up.vector(n.moe.correctionBias, c.nRoutedExperts) : undefined,
      experts: await experts(up, n.moe.experts, c, c.moeIntermediateSize),
      shared: n.moe.shared ? await experts(up, [n.moe.shared], c, c.nSharedExperts * c.moeIntermediateSize) : null,
    };
  }
  return l;
}
