// Expert offload (ModelLoadOptions.gpuMemory): the routed experts of the MoE decoder layers live in host memory
// and each such layer keeps a pool of S expert slots on the GPU, filled least-recently-used.
//
// At an offloaded layer the step is cut in two: everything up to the routing is submitted, the routed expert
// ids are read back ([rows, topK] u32), the missing experts are uploaded into slots (Node: read from the
// checkpoint's shards; browser: range requests through the same byte source), and the expert kernels run on
// slot ids written in place of the expert ids. The kernels are the resident ones: a pool is an ExpertWeights
// whose parts cover slots instead of experts, so the arithmetic per (token, expert) pair is the same and the
// tokens are the resident run's. When a step needs more distinct experts than the pool holds (a prefill
// chunk, a speculative verify), they go in batches of S: batch j's pairs get ids j*S + slot, moe-group sorts
// all pairs once, and each batch's experts are uploaded after the previous batch ran (one submission each),
// so every needed expert is loaded once per chunk. An expert needed by the current batch is never evicted.
//
// The MTP layer's experts stay resident (the plan counts them in the resident part).
import type { Checkpoint } from '../checkpoint/checkpoint.ts';
import type { MlpNames } from '../checkpoint/tensor-names.ts';
import { modelNames } from '../checkpoint/tensor-names.ts';
import type { ModelConfig } from '../config/model-config.ts';
import type { ExpertCacheStats } from '../decode/causal-lm.ts';
import type { Gpu } from '../gpu/device.ts';
import { GpuError } from '../errors.ts';
import { createStorage, storageBytes } from '../gpu/buffers.ts';
import { Readback } from '../gpu/readback.ts';
import type { Recorder } from '../gpu/recorder.ts';
import {
  groupedPath,
  moeGroupBytes,
  recordMoeCombine,
  recordMoeGroup,
  recordRoutedExperts,
  recordSharedExpert,
  type ExpertPart,
  type ExpertWeights,
  type MoeBuffers,
  type MoeShape,
} from '../kernels/moe-experts.ts';
import { MOE_GROUP_MAX_EXPERTS } from '../kernels/moe-group.ts';
import { expertScaleBytes, expertWeightBytes } from '../kernels/moe-weights.ts';
import { WeightUploader } from './upload.ts';
import type { PlannedBuffer, WeightsPlan } from './weight-plan.ts';

/** The offload's own scratch, as the plan counts it: the slot ids of a chunk's pairs and their grouping. */
export function expertOffloadBuffers(c: ModelConfig, chunk: number, slots: number): PlannedBuffer[] {
  const pairs = chunk * c.numExpertsPerTok;
  return [
    { label: 'expert slot ids', bytes: storageBytes(pairs * 4) },
    // Batch ids run below E + S (batches of S slots over at most E experts).
    { label: 'moe pairs grouped by expert slot', bytes: storageBytes(moeGroupBytes(chunk, c.numExpertsPerTok, c.nRoutedExperts + slots)) },
  ];
}

/** One offloaded layer's slot pool and which expert each slot holds. */
class LayerSlots {
  readonly slotOf: Int32Array; // expert -> slot, or -1
  readonly expertIn: Int32Array; // slot -> expert, or -1
  readonly lastUse: Float64Array; // slot -> the clock of its last use (LRU)

  constructor(
    readonly layer: number,
    readonly names: MlpNames[],
    readonly pool: ExpertWeights,
    readonly slots: number,
  ) {
    this.slotOf = new Int32Array(names.length).fill(-1);
    this.expertIn = new Int32Array(slots).fill(-1);
    this.lastUse = new Float64Array(slots);
    // The load filled slot i with expert i.
    for (let i = 0; i < slots; i++) this.place(i, i);
  }

  place(expert: number, slot: number): void {
    const old = this.expertIn[slot];
    if (old >= 0) this.slotOf[old] = -1;
    this.expertIn[slot] = expert;
    this.slotOf[expert] = slot;
  }

  /** Forgets what `slot` holds (its upload failed). */
  empty(slot: number): void {
    const old = this.expertIn[slot];
    if (old >= 0) this.slotOf[old] = -1;
    this.expertIn[slot] = -1;
    this.lastUse[slot] = -1; // first to be reused
  }

  /** The least recently used slot whose expert is not in `keep`. */
  victim(keep: Set<number>): number {
    let best = -1;
    for (let s = 0; s < this.slots; s++) {
      if (keep.has(this.expertIn[s])) continue;
      if (best < 0 || this.lastUse[s] < this.lastUse[best]) best = s;
    }
    return best;
  }
}

/** What a batch of one layer's experts needs: the experts to upload into which slots before it runs. */
interface Batch {
  uploads: [expert: number, slot: number][];
}

export class ExpertOffload {
  readonly stats: ExpertCacheStats = { lookups: 0, hits: 0, bytesUploaded: 0, stallMs: 0, uploadMs: 0 };
  private readonly layers = new Map<number, LayerSlots>();
  private readonly slotIds: GPUBuffer;
  private readonly group: GPUBuffer;
  private readonly readback: Readback;
  private readonly loader: WeightUploader;
  private clock = 0;

  /**
   * `pools`: the slot pools the upload made for the offloaded layers (experts 0..S-1 in slots 0..S-1);
   * `plan`: the weight plan they came from; `chunk`: the most rows a forward call takes.
   */
  constructor(
    gpu: Gpu,
    ckpt: Checkpoint,
    private readonly c: ModelConfig,
    plan: WeightsPlan,
    pools: Map<number, ExpertWeights>,
    readonly slots: number,
    chunk: number,
  ) {
    const names = modelNames(c);
    for (const [l, pool] of pools) this.layers.set(l, new LayerSlots(l, names.layers[l].moe!.experts, pool, slots));
    const [ids, group] = expertOffloadBuffers(c, chunk, slots);
    this.slotIds = createStorage(gpu.device, ids.bytes, ids.label);
    this.group = createStorage(gpu.device, group.bytes, group.label);
    this.readback = new Readback(gpu.device, chunk * c.numExpertsPerTok * 4);
    this.loader = new WeightUploader(gpu, ckpt, plan, c.quantization?.weightBlockSize ?? [128, 128]);
  }

  /** Whether layer `l`'s routed experts are offloaded. */
  offloads(l: number): boolean {
    return this.layers.has(l);
  }

  /**
   * Records layer `l`'s experts (shared and routed) and their combine for `s.rows` tokens routed into
   * b.experts (recorded, not yet submitted): submits what is recorded, reads the routing back, uploads the
   * missing experts and records the expert kernels on slot ids, in as many submissions as batches.
   */
  async recordExperts(rec: Recorder, l: number, shared: ExpertWeights | null, b: MoeBuffers, s: MoeShape): Promise<void> {
    const layer = this.layers.get(l)!;
    const pairs = s.rows * s.topK;
    const t0 = performance.now();
    this.readback.record(rec, 'buffer' in b.experts ? b.experts.buffer : b.experts, 0, pairs * 4);
    rec.submit(`routing of layer ${l}`);
    const ids = await this.readback.readU32(pairs, `routing of layer ${l}`);
    const { batches, slotIds } = this.assign(layer, ids);
    await this.upload(layer, batches, 0);
    this.stats.stallMs += performance.now() - t0;
    rec.write(this.slotIds, 0, slotIds);
    recordSharedExpert(rec, shared, b, s);
    // The resident run's path choice (by the layer's expert count), so the arithmetic is the same.
    const span = batches.length * this.slots;
    const grouped = b.group !== undefined && groupedPath(rec.profile, pairs, this.c.nRoutedExperts) && span <= MOE_GROUP_MAX_EXPERTS;
    const tiles = grouped ? recordMoeGroup(rec, this.slotIds, this.group, pairs, span) : 0;
    const index = tiles ? this.group : this.slotIds;
    for (let j = 0; j < batches.length; j++) {
      if (j > 0) {
        rec.submit(`experts of layer ${l}`);
        const t1 = performance.now();
        await this.upload(layer, batches, j);
        this.stats.stallMs += performance.now() - t1;
      }
      recordRoutedExperts(rec, shiftParts(layer.pool, j * this.slots), index, tiles, b, s);
    }
    recordMoeCombine(rec, b, s, shared !== null);
  }

  /**
   * Decides, for routed ids [pairs], the batches of at most S distinct experts (those already in a slot
   * first, so they are not evicted before use), which expert goes into which slot for each, and every pair's
   * id j*S + slot. Updates the slot bookkeeping and the hit counts as if the uploads were done.
   */
  private assign(layer: LayerSlots, ids: Uint32Array): { batches: Batch[]; slotIds: Uint32Array } {
    const E = this.c.nRoutedExperts;
    const wanted = [...new Set(ids)];
    const bad = wanted.find((e) => e >= E);
    // Only a step the device dropped (its read-back stale) can give an id out of range.
    if (bad !== undefined) throw new GpuError(`the routing of layer ${layer.layer} read back expert ${bad} of ${E}: the step failed on the device`);
    wanted.sort((a, b) => Number(layer.slotOf[b] >= 0) - Number(layer.slotOf[a] >= 0));
    const idOf = new Map<number, number>(); // expert -> its batch's id (a later batch may evict it)
    const batches: Batch[] = [];
    for (let first = 0; first < wanted.length; first += this.slots) {
      const members = wanted.slice(first, first + this.slots);
      const keep = new Set(members);
      const batch: Batch = { uploads: [] };
      this.clock++;
      for (const e of members) {
        this.stats.lookups++;
        if (layer.slotOf[e] >= 0) this.stats.hits++;
        else {
          const slot = layer.victim(keep);
          layer.place(e, slot);
          batch.uploads.push([e, slot]);
        }
        layer.lastUse[layer.slotOf[e]] = this.clock;
        idOf.set(e, batches.length * this.slots + layer.slotOf[e]);
      }
      batches.push(batch);
    }
    const slotIds = Uint32Array.from(ids, (e) => idOf.get(e)!);
    return { batches, slotIds };
  }

  /**
   * Writes batch j's experts (gate, up, down and their scales) into their slots. When a read fails, the slots of
   * this batch and the later ones (assigned but not yet written) are emptied, so no later step trusts them.
   */
  private async upload(layer: LayerSlots, batches: Batch[], j: number): Promise<void> {
    const t0 = performance.now();
    try {
      await this.uploadNow(layer, batches[j]);
    } catch (e) {
      for (const batch of batches.slice(j)) for (const [, slot] of batch.uploads) layer.empty(slot);
      throw e;
    } finally {
      this.stats.uploadMs += performance.now() - t0;
    }
  }

  private async uploadNow(layer: LayerSlots, batch: Batch): Promise<void> {
    const { pool, names } = layer;
    for (const [e, slot] of batch.uploads) {
      const projections: [string, ExpertPart[], number, number][] = [
        [names[e].gate, pool.gate, this.c.moeIntermediateSize, this.c.hiddenSize],
        [names[e].up, pool.up, this.c.moeIntermediateSize, this.c.hiddenSize],
        [names[e].down, pool.down, this.c.hiddenSize, this.c.moeIntermediateSize],
      ];
      for (const [name, parts, out, inDim] of projections) {
        const part = parts.find((p) => slot >= p.firstExpert && slot < p.firstExpert + p.count)!;
        const i = slot - part.firstExpert;
        const w = { buffer: part.weight as GPUBuffer, offset: expertWeightBytes(pool.format, i, out, inDim) };
        const sc = part.scale && { buffer: part.scale as GPUBuffer, offset: expertScaleBytes(pool.format, i, out, inDim, pool.group) };
        await this.loader.expertInto(name, out, inDim, pool.format, w, sc);
        this.stats.bytesUploaded += expertWeightBytes(pool.format, 1, out, inDim) + (sc ? expertScaleBytes(pool.format, 1, out, inDim, pool.group) : 0);
      }
    }
  }

  destroy(): void {
    this.slotIds.destroy();
    this.group.destroy();
    this.readback.destroy();
  }
}

/** The pool with its parts' first ids moved up by `by` (batch j's ids are j*S + slot). */
function shiftParts(pool: ExpertWeights, by: number): ExpertWeights {
  if (by === 0) return pool;
  const shift = (parts: ExpertPart[]) => parts.map((p) => ({ ...p, firstExpert: p.firstExpert + by }));
  return { ...pool, gate: shift(pool.gate), up: shift(pool.up), down: shift(pool.down) };
}
