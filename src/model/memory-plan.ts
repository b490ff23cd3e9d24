// What a model will take on the GPU before anything is uploaded, buffer by buffer: the weights as the
// uploader allocates them (./weight-plan.ts), the latent caches for the requested context, the per-step
// scratch (Activations.sizes) and the rope table. The loader allocates exactly these buffers, so the plan's
// total is what loading takes. Every buffer is checked against the device's per-buffer limits here (weights
// that can be split already are), and the total against a memory budget when there is one, so loading
// refuses with numbers before the first byte is read instead of failing halfway.
import type { Checkpoint } from '../checkpoint/checkpoint.ts';
import type { ModelConfig } from '../config/model-config.ts';
import { GpuError, GpuLimitError, InputError } from '../errors.ts';
import { storageBytes } from '../gpu/buffers.ts';
import { Activations } from './activations.ts';
import { cacheShape, LatentCache, type CacheOptions } from './kv-cache.ts';
import { RowMaps } from './row-maps.ts';
import { pendingHiddenBytes } from './mtp-batch.ts';
import { expertOffloadBuffers } from './expert-offload.ts';
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

export interface PlanOptions extends CacheOptions {
  prefillChunk: number;
  quantize?: QuantizeFormat;
  /** Load the MTP module when the checkpoint has one (default true). */
  mtp?: boolean;
  /** ForwardContext.attentionWorkgroups (sizes the attention's split scratch); default 128, a GPU's. */
  attentionWorkgroups?: number;
  /**
   * The GPU budget in bytes (ModelLoadOptions.gpuMemory): when the whole model is larger, the routed experts
   * of the MoE decoder layers go to host memory and the rest of the budget becomes a cache of expert slots.
   */
  gpuMemory?: number;
}

/** How a plan under `gpuMemory` splits the model between the GPU and host memory (expert offload). */
export interface OffloadPlan {
  /** The budget the plan fits (bytes). */
  budget: number;
  /** The MoE decoder layers whose routed experts are offloaded. */
  layers: number[];
  /** Expert slots on the GPU per offloaded layer (of `experts`). */
  slots: number;
  /** Routed experts per layer. */
  experts: number;
  /** Bytes of one expert's gate, up and down (with their scales) on the GPU. */
  expertBytes: number;
  /** What stays on the GPU whatever the budget: everything but the slot pools (bytes). */
  resident: number;
  /** The slot pools of every offloaded layer (bytes). */
  cache: number;
  /** The offloaded experts, in host memory (bytes, at their GPU size). */
  host: number;
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
  /** Set when the plan keeps some routed experts in host memory (PlanOptions.gpuMemory). */
  offload: OffloadPlan | null;
}

/**
 * Plans every buffer of a load, split to fit `limit` where it can be. Reads nothing but the checkpoint headers.
 * With `gpuMemory` below the whole model, the routed experts are offloaded (see fitExperts).
 */
export function planMemory(c: ModelConfig, ckpt: Checkpoint, o: PlanOptions, limit: BufferLimit): MemoryPlan {
  const whole = planBuffers(c, ckpt, o, limit);
  if (o.gpuMemory === undefined || whole.total <= o.gpuMemory) return whole;
  return fitExperts(c, ckpt, o, limit, whole, o.gpuMemory);
}

/**
 * The plan whose expert slot pools take what `budget` leaves after everything else: slots = the most that fit,
 * at least top-k per layer (one token's experts) and fewer than the layer's experts. Refused (InputError
 * naming --gpu-memory) when the budget cannot hold the resident part and top-k slots per layer.
 */
function fitExperts(c: ModelConfig, ckpt: Checkpoint, o: PlanOptions, limit: BufferLimit, whole: MemoryPlan, budget: number): MemoryPlan {
  const layers = Array.from({ length: c.numHiddenLayers }, (_, l) => l).filter((l) => c.isMoeLayer(l));
  if (layers.length === 0) {
    throw new InputError('gpu-memory', `${formatBytes(budget)} (${budget} bytes) is below the ${formatBytes(whole.total)} (${whole.total} bytes) this model takes, and it has no routed experts to keep in host memory`);
  }
  const E = c.nRoutedExperts;
  const need = c.numExpertsPerTok;
  const at = (slots: number) => planBuffers(c, ckpt, o, limit, slots);
  // Slot pools are linear in their slots (whole experts, 4-byte aligned): one slot's bytes from two plans.
  const one = at(1);
  const perSlot = poolBytes(at(2)) - poolBytes(one); // one slot in every offloaded layer
  const expertBytes = perSlot / layers.length;
  let slots = Math.min(E - 1, Math.floor((budget - (one.total - perSlot)) / perSlot));
  let plan = at(Math.max(slots, need));
  // The small offload scratch grows with the slots too: step down until the plan fits.
  while (plan.total > budget && slots >= need) plan = at(--slots);
  if (slots < need) {
    const floor = at(need);
    const resident = floor.total - poolBytes(floor);
    throw new InputError(
      'gpu-memory',
      `${formatBytes(budget)} (${budget} bytes) is below what must stay on the GPU, ${formatBytes(floor.total)} (${floor.total} bytes): ` +
        `the resident part, ${formatBytes(resident)} (embeddings, attention, dense layers, shared experts, norms, routers, lm_head, caches and scratch: ` +
        `${formatPlanParts({ ...floor, weights: floor.weights - poolBytes(floor) })}), plus ${need} expert slots (one token's top-${need}) x ${layers.length} MoE layers ` +
        `x ${formatBytes(expertBytes)}; the whole model takes ${formatBytes(whole.total)} (${whole.total} bytes)`,
    );
  }
  const cache = poolBytes(plan);
  const offload: OffloadPlan = { budget, layers, slots, experts: E, expertBytes, resident: plan.total - cache, cache, host: layers.length * E * expertBytes };
  return { ...plan, offload };
}

/** Bytes of the plan's expert slot pools. */
function poolBytes(plan: MemoryPlan): number {
  let n = 0;
  for (const w of plan.weightPlan.tensors.values()) if (w.slots !== undefined) for (const p of w.parts) n += p.weight.bytes + (p.scale?.bytes ?? 0);
  return n;
}

function planBuffers(c: ModelConfig, ckpt: Checkpoint, o: PlanOptions, limit: BufferLimit, expertSlots?: number): MemoryPlan {
  const weightPlan = planWeights(c, ckpt, { quantize: o.quantize, mtp: o.mtp, expertSlots }, limit.bytes);
  const mtp = c.numNextnPredictLayers > 0 && o.mtp !== false;
  const shape = cacheShape(c, mtp, o);
  const cacheLayer = (label: string) => (_: unknown, l: number) => ({ label: `${label} layer ${l}`, bytes: LatentCache.bytesPerLayer(shape) });
  const rows = o.prefillChunk;
  const groups: [BufferGroup, PlannedBuffer[]][] = [
    ['weights', weightPlan.buffers],
    ['latentCache', Array.from({ length: c.numHiddenLayers }, cacheLayer('latent cache'))],
    ['mtpCache', Array.from({ length: mtp ? 1 : 0 }, cacheLayer('mtp latent cache'))],
    ['activations', Activations.sizes(c, o.prefillChunk, o.prefillChunk, mtp, o.attentionWorkgroups ?? 128)],
    ['other', [
      { label: 'rope inverse frequencies', bytes: storageBytes(c.ropeInvFreq.length * 4) },
      { label: 'page table', bytes: LatentCache.tableBytes(shape) },
      { label: 'page copy scratch', bytes: storageBytes(shape.pageSize * shape.latentDim * 4) },
      { label: 'row maps', bytes: RowMaps.bytesFor(rows, Math.min(rows, shape.maxSequences), rows + 2) },
      ...(mtp ? [{ label: 'mtp pending hidden rows', bytes: storageBytes(pendingHiddenBytes(c, shape.maxSequences)) }] : []),
      ...(expertSlots === undefined ? [] : expertOffloadBuffers(c, o.prefillChunk, expertSlots)),
    ]],
  ];
  const buffers = groups.flatMap(([group, list]) => list.map((b) => ({ ...b, group })));
  const sum = (group: BufferGroup) => buffers.reduce((n, b) => n + (b.group === group ? b.bytes : 0), 0);
  const largest = buffers.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const plan = { weights: sum('weights'), latentCache: sum('latentCache'), mtpCache: sum('mtpCache'), activations: sum('activations'), other: sum('other') };
  return { ...plan, total: buffers.reduce((n, b) => n + b.bytes, 0), buffers, weightPlan, limit, largest: { label: largest.label, bytes: largest.bytes }, overLimit: buffers.filter((b) => b.bytes > limit.bytes), offload: null };
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
      `use a smaller --context-length, --quantize fp8${hasRoutedExperts(plan) ? ', --gpu-memory (routed experts then stay in host memory)' : ''}, or a larger GPU`,
  );
}

/** Whether the plan holds routed expert stacks (a shared expert's stack has one member). */
function hasRoutedExperts(plan: MemoryPlan): boolean {
  return [...plan.weightPlan.tensors.values()].some((w) => w.kind === 'experts' && w.names!.length > 1);
}

/**
 * Throws GpuLimitError for the first buffer over the limit, or GpuError with the plan's parts when its total
 * (exactly what loading allocates) exceeds `budget` bytes.
 */
export function checkMemoryPlan(plan: MemoryPlan, budget: number | undefined, what: string): void {
  const refusal = planRefusal(plan, budget, what);
  if (refusal) throw refusal;
}
