// What a model will take on the GPU before anything is uploaded, buffer by buffer: the weights as the
// uploader allocates them (./weight-plan.ts), the latent caches for the requested context, the per-step
// scratch (Activations.sizes) and the rope table. The loader allocates exactly these buffers, so the plan's
// total is what loading takes. Every buffer is checked against the device's per-buffer limits here (weights
// that can be split already are), and the total against a memory budget when there is one, so loading
// refuses with numbers before the first byte is read instead of failing halfway.
import type { Checkpoint } from '../checkpoint/checkpoint.ts';
import type { ModelConfig } from '../config/model-config.ts';
import { GpuError, GpuLimitError } from '../errors.ts';
import { storageBytes } from '../gpu/buffers.ts';
import { Activations } from './activations.ts';
import { LatentCache } from './kv-cache.ts';
import { planWeights, type PlannedBuffer, type QuantizeFormat, type WeightsPlan } from './weight-plan.ts';

/** The device limits a storage buffer must fit (every buffer is bound whole as storage). */
export interface BufferLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

/** The largest storage buffer allowed, and the limit that sets it. */
export interface BufferLimit {
  name: 'maxBufferSize' | 'maxStorageBufferBindingSize' | 'bufferLimit';
  bytes: number;
}

/** The smallest of the device's limits and the caller's `bufferLimit` (ModelLoadOptions.bufferLimit). */
export function bufferLimit(limits: BufferLimits, cap?: number): BufferLimit {
  const candidates: BufferLimit[] = [
    { name: 'maxStorageBufferBindingSize', bytes: limits.maxStorageBufferBindingSize },
    { name: 'maxBufferSize', bytes: limits.maxBufferSize },
  ];
  if (cap !== undefined) candidates.push({ name: 'bufferLimit', bytes: cap });
  return candidates.reduce((a, b) => (b.bytes < a.bytes ? b : a));
}

export type BufferGroup = 'weights' | 'latentCache' | 'mtpCache' | 'activations' | 'other';

export type GroupedBuffer = PlannedBuffer & { group: BufferGroup };

export interface PlanOptions {
  contextLength: number;
  prefillChunk: number;
  quantize?: QuantizeFormat;
  /** Load the MTP module when the checkpoint has one (default true). */
  mtp?: boolean;
  /** ForwardContext.attentionWorkgroups (sizes the attention's split scratch); default 128, a GPU's. */
  attentionWorkgroups?: number;
}

export interface MemoryPlan {
  weights: number;
  latentCache: number;
  /** The MTP module's latent cache. */
  mtpCache: number;
  activations: number;
  /** The rope table. */
  other: number;
  total: number;
  /** Every buffer the load allocates, by group. */
  buffers: GroupedBuffer[];
  /** The weights' buffers and how each weight is split (what the uploader allocates). */
  weightPlan: WeightsPlan;
  limit: BufferLimit;
  largest: PlannedBuffer;
  /** Buffers larger than `limit` (weights that could be split are already split): a load refuses. */
  overLimit: GroupedBuffer[];
}

/** Plans every buffer of a load, split to fit `limit` where it can be. Reads nothing but the checkpoint headers. */
export function planMemory(c: ModelConfig, ckpt: Checkpoint, o: PlanOptions, limit: BufferLimit): MemoryPlan {
  const weightPlan = planWeights(c, ckpt, { quantize: o.quantize, mtp: o.mtp }, limit.bytes);
  const mtp = c.numNextnPredictLayers > 0 && o.mtp !== false;
  const cacheLayer = (label: string) => (_: unknown, l: number) => ({ label: `${label} layer ${l}`, bytes: LatentCache.bytesPerLayer(c.latentDim, o.contextLength) });
  const groups: [BufferGroup, PlannedBuffer[]][] = [
    ['weights', weightPlan.buffers],
    ['latentCache', Array.from({ length: c.numHiddenLayers }, cacheLayer('latent cache'))],
    ['mtpCache', Array.from({ length: mtp ? 1 : 0 }, cacheLayer('mtp latent cache'))],
    ['activations', Activations.sizes(c, o.prefillChunk, o.prefillChunk, mtp, o.attentionWorkgroups ?? 128)],
    ['other', [{ label: 'rope inverse frequencies', bytes: storageBytes(c.ropeInvFreq.length * 4) }]],
  ];
  const buffers = groups.flatMap(([group, list]) => list.map((b) => ({ ...b, group })));
  const sum = (group: BufferGroup) => buffers.reduce((n, b) => n + (b.group === group ? b.bytes : 0), 0);
  const largest = buffers.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const plan = { weights: sum('weights'), latentCache: sum('latentCache'), mtpCache: sum('mtpCache'), activations: sum('activations'), other: sum('other') };
  return { ...plan, total: buffers.reduce((n, b) => n + b.bytes, 0), buffers, weightPlan, limit, largest: { label: largest.label, bytes: largest.bytes }, overLimit: buffers.filter((b) => b.bytes > limit.bytes) };
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/** The plan's total in parts: "weights 1.2 GiB, latent cache ..., activations ..., other ...". */
export function formatPlanParts(plan: Pick<MemoryPlan, 'weights' | 'latentCache' | 'mtpCache' | 'activations' | 'other'>): string {
  return (
    `weights ${formatBytes(plan.weights)}, latent cache ${formatBytes(plan.latentCache + plan.mtpCache)}, ` +
    `activations ${formatBytes(plan.activations)}, other ${formatBytes(plan.other)}`
  );
}

/** Why a load of `plan` is refused, naming the buffer or the parts of the total: an error, or null. */
export function planRefusal(plan: MemoryPlan, budget: number | undefined, what: string): GpuError | null {
  const over = plan.overLimit.at(0);
  if (over) {
    const kind = over.group === 'weights' ? 'tensor' : over.group === 'activations' ? 'scratch buffer' : 'buffer';
    return new GpuLimitError(plan.limit.name, over.bytes, plan.limit.bytes, `${kind} '${over.label}' (${formatBytes(over.bytes)} in one buffer)`);
  }
  if (budget === undefined || plan.total <= budget) return null;
  return new GpuError(
    `${what} needs ${formatBytes(plan.total)} (${plan.total} bytes: ${formatPlanParts(plan)}) but the memory budget is ${formatBytes(budget)} (${budget} bytes); ` +
      'use a smaller --context-length, --quantize fp8, or a larger GPU',
  );
}

/**
 * Throws GpuLimitError for the first buffer over the limit, or GpuError with the plan's parts when its total
 * (exactly what loading allocates) exceeds `budget` bytes.
 */
export function checkMemoryPlan(plan: MemoryPlan, budget: number | undefined, what: string): void {
  const refusal = planRefusal(plan, budget, what);
  if (refusal) throw refusal;
}
