// What a model will take on the GPU before anything is uploaded: weights as they are kept (FP8 packed,
// BF16 as BF16 unless quantized, norms widened to f32), the latent KV cache for the requested context, and
// the per-step scratch. Checked against a memory budget so loading refuses with numbers instead of failing
// halfway (WebGPU does not report device memory: the caller supplies the budget, e.g. system RAM on a
// CPU adapter).
import type { Checkpoint } from '../checkpoint/checkpoint.ts';
import type { ModelConfig } from '../config/model-config.ts';
import { GpuError } from '../errors.ts';
import { LatentCache } from './kv-cache.ts';

export interface MemoryPlan {
  weights: number;
  latentCache: number;
  /** The MTP module's latent cache. */
  mtpCache: number;
  activations: number;
  total: number;
}

export function planMemory(c: ModelConfig, ckpt: Checkpoint, o: { contextLength: number; prefillChunk: number; quantize?: 'fp8'; mtp?: boolean }): MemoryPlan {
  let weights = 0;
  const mtpPrefix = `model.layers.${c.numHiddenLayers}.`;
  for (const name of ckpt.names()) {
    const info = ckpt.info(name);
    const isMtp = name.startsWith(mtpPrefix);
    if (isMtp && o.mtp === false) continue;
    const elements = info.shape.reduce((a, b) => a * b, 1);
    const bytes = info.end - info.begin;
    if (info.shape.length === 1) weights += elements * 4; // norms and biases become f32
    else if (o.quantize === 'fp8' && info.dtype !== 'F8_E4M3' && quantizedAtLoad(name)) {
      weights += elements + 4 * Math.ceil(info.shape[0] / 128) * Math.ceil(info.shape[1] / 128);
    } else weights += bytes;
  }
  const latentCache = LatentCache.bytesFor(c, o.contextLength);
  const mtpCache = c.numNextnPredictLayers && o.mtp !== false ? LatentCache.bytesFor(c, o.contextLength, 1) : 0;
  // Dominant scratch: logits and per-expert activations of one prefill chunk, attention split partials.
  const rows = o.prefillChunk;
  const inter = Math.max(c.intermediateSize, c.nSharedExperts * c.moeIntermediateSize);
  const perRow = c.vocabSize + 3 * inter + c.numExpertsPerTok * (c.moeIntermediateSize + c.hiddenSize) + c.numAttentionHeads * (c.latentDim * 2 + c.vHeadDim) + 8 * c.hiddenSize;
  const activations = 4 * (rows * perRow + rows * c.numAttentionHeads * 64 * (c.kvLoraRank + 2));
  return { weights, latentCache, mtpCache, activations, total: weights + latentCache + mtpCache + activations };
}

/** Which BF16/F32 matrices `quantize: 'fp8'` turns into FP8 (src/model/weights.ts keeps the others as stored). */
function quantizedAtLoad(name: string): boolean {
  const kept = ['embed_tokens', 'head.weight', 'mlp.gate.weight', 'kv_b_proj', 'eh_proj'];
  return !kept.some((k) => name.includes(k));
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${(n / 1024).toFixed(1)} KiB`;
}

/** Throws GpuError with the plan's parts when it does not fit `budget` bytes. */
export function checkMemoryPlan(plan: MemoryPlan, budget: number, what: string): void {
  if (plan.total <= budget) return;
  throw new GpuError(
    `${what} needs ${formatBytes(plan.total)} (weights ${formatBytes(plan.weights)}, latent cache ${formatBytes(plan.latentCache + plan.mtpCache)}, ` +
      `activations ${formatBytes(plan.activations)}) but ${formatBytes(budget)} is available; use a smaller --context-length, --quantize fp8, or a larger GPU`,
  );
}
