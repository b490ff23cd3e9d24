// The latent KV cache: per layer and token only c_kv (kv_lora_rank) and the rotated k_pe (qk_rope_head_dim),
// f32, one buffer per layer [capacity, latentDim] (docs/conventions.md "MLA, written out"). `length` is the
// number of valid rows; rows past it are garbage and never read (attention is causal over 0..pos), so
// truncating — a new conversation or a speculative rollback — is just setting the length.
import type { ModelConfig } from '../config/model-config.ts';
import { InputError } from '../errors.ts';
import type { Gpu } from '../gpu/device.ts';
import { createStorage } from '../gpu/buffers.ts';

export class LatentCache {
  readonly layers: GPUBuffer[];
  length = 0;

  constructor(
    gpu: Gpu,
    readonly latentDim: number,
    readonly numLayers: number,
    readonly capacity: number,
    label = 'latent cache',
  ) {
    // The memory plan sizes (and checks against the device's limits) these layers with bytesPerLayer too.
    const bytes = LatentCache.bytesPerLayer(latentDim, capacity);
    this.layers = Array.from({ length: numLayers }, (_, l) => createStorage(gpu.device, bytes, `${label} layer ${l}`));
  }

  static bytesPerLayer(latentDim: number, capacity: number): number {
    return latentDim * capacity * 4;
  }

  /** Bytes of the whole cache for a model and context (what `info` reports). */
  static bytesFor(c: ModelConfig, capacity: number, layers = c.numHiddenLayers): number {
    return layers * LatentCache.bytesPerLayer(c.latentDim, capacity);
  }

  get bytes(): number {
    return this.numLayers * LatentCache.bytesPerLayer(this.latentDim, this.capacity);
  }

  truncate(length: number): void {
    if (!Number.isInteger(length) || length < 0 || length > this.length) {
      throw new InputError('length', `cannot truncate a ${this.length}-row cache to ${length}`);
    }
    this.length = length;
  }

  destroy(): void {
    for (const b of this.layers) b.destroy();
  }
}
