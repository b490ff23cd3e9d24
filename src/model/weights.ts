// The model's weights on the GPU, slot by slot (HF names only through src/checkpoint/tensor-names.ts).
// Shapes: H = hidden, I = intermediate, E = routed experts, mI = moe_intermediate, V = vocab.
import type { ModelConfig } from '../config/model-config.ts';
import type { Checkpoint } from '../checkpoint/checkpoint.ts';
import { modelNames, type AttentionNames, type LayerNames, type MlpNames } from '../checkpoint/tensor-names.ts';
import type { Gpu } from '../gpu/device.ts';
import type { EmbeddingPart } from '../kernels/embed.ts';
import type { MatmulPart, MatmulWeight } from '../kernels/matmul.ts';
import type { ExpertWeights } from '../kernels/moe-experts.ts';
import { WeightUploader, type UploadOptions } from './upload.ts';
import type { WeightsPlan } from './weight-plan.ts';

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
  /** shared_head.head [V, H] in parts of whole output rows that each fit one buffer. */
  head: MatmulPart[];
  embed: { dtype: 'BF16' | 'F32'; parts: EmbeddingPart[] };
}

export interface GpuWeights {
  embed: { dtype: 'BF16' | 'F32'; parts: EmbeddingPart[] };
  layers: GpuLayer[];
  finalNorm: GPUBuffer;
  /** [V, H] in parts of whole output rows that each fit one buffer (real V3's BF16 lm_head is 1.85 GB). */
  lmHead: MatmulPart[];
  mtp: GpuMtp[];
  /** Every buffer above, for dispose(). */
  buffers: GPUBuffer[];
  bytes: number;
}

/**
 * Uploads the weights `plan` lists (planWeights over the same config and checkpoint), buffer for buffer;
 * the plan has already been checked against the device's limits.
 */
export async function uploadWeights(gpu: Gpu, ckpt: Checkpoint, c: ModelConfig, plan: WeightsPlan, options: UploadOptions = {}): Promise<GpuWeights> {
  const up = new WeightUploader(gpu, ckpt, plan, c.quantization?.weightBlockSize ?? [128, 128], options);
  try {
    const names = modelNames(c);
    const layers: GpuLayer[] = [];
    for (const n of names.layers) layers.push(await layer(up, n));
    const mtp: GpuMtp[] = [];
    // The plan decides whether the MTP module loads.
    for (const m of names.mtp.filter((m) => plan.tensors.has(m.head))) {
      mtp.push({
        enorm: await up.vector(m.enorm),
        hnorm: await up.vector(m.hnorm),
        // The embedding comes first in the concatenation (docs/conventions.md "MTP").
        ehE: await up.linearColumns(m.ehProj, 0, c.hiddenSize),
        ehH: await up.linearColumns(m.ehProj, c.hiddenSize, 2 * c.hiddenSize),
        layer: await layer(up, m.layer),
        headNorm: await up.vector(m.headNorm),
        head: await up.rows(m.head),
        embed: await up.embedding(m.embed),
      });
    }
    const weights: GpuWeights = {
      embed: await up.embedding(names.embed),
      layers,
      finalNorm: await up.vector(names.finalNorm),
      lmHead: await up.rows(names.lmHead),
      mtp,
      buffers: up.buffers,
      bytes: up.bytesOnGpu,
    };
    // What was allocated is what was planned, buffer for buffer (a weight uploaded but not planned is refused
    // above; this catches one planned but not uploaded).
    if (up.buffers.length !== plan.buffers.length || up.bytesOnGpu !== plan.bytes) {
      throw new Error(`weight upload: ${up.buffers.length} buffers of ${up.bytesOnGpu} bytes, planned ${plan.buffers.length} of ${plan.bytes}`);
    }
    return weights;
  } catch (e) {
    up.destroy();
    throw e;
  }
}

async function mlp(up: WeightUploader, n: MlpNames): Promise<DenseMlp> {
  return { gate: await up.linear(n.gate), up: await up.linear(n.up), down: await up.linear(n.down) };
}

async function attention(up: WeightUploader, n: AttentionNames): Promise<GpuAttention> {
  const q = n.qProj ? { q: await up.linear(n.qProj) } : { qA: await up.linear(n.qAProj!), qANorm: await up.vector(n.qANorm!), qB: await up.linear(n.qBProj!) };
  return {
    ...q,
    kvA: await up.linear(n.kvAProjWithMqa),
    kvANorm: await up.vector(n.kvANorm),
    kvB: { ...(await up.raw(n.kvBProj)), block: up.block },
    o: await up.linear(n.oProj),
  };
}

async function layer(up: WeightUploader, n: LayerNames): Promise<GpuLayer> {
  const l: GpuLayer = {
    inputNorm: await up.vector(n.inputNorm),
    postAttentionNorm: await up.vector(n.postAttentionNorm),
    attention: await attention(up, n.attention),
  };
  if (n.dense) l.dense = await mlp(up, n.dense);
  if (n.moe) {
    l.moe = {
      router: await up.linear(n.moe.router),
      correctionBias: n.moe.correctionBias ? await up.vector(n.moe.correctionBias) : undefined,
      experts: await up.experts(n.moe.experts),
      shared: n.moe.shared ? await up.experts([n.moe.shared]) : null,
    };
  }
  return l;
}
