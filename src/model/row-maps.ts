// The row maps of a step on the GPU (src/kernels/row-map.ts): every forward call of a step (the main model's
// rows, each MTP call of a speculative step) places its own map in this arena, because a step's writes all
// land before its one command buffer runs. The arena restarts at each submission, so a steady decode loop
// binds the same ranges every step (and the Recorder reuses its bind groups).
import { InputError } from '../errors.ts';
import type { Gpu } from '../gpu/device.ts';
import { createStorage } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { rowMapData, SEGMENT_WORDS, type RowMap, type SegmentRows } from '../kernels/row-map.ts';
import type { LatentCache } from './kv-cache.ts';

const ALIGN = 256; // minStorageBufferOffsetAlignment's guaranteed maximum

const aligned = (bytes: number) => Math.ceil(bytes / ALIGN) * ALIGN;

export class RowMaps {
  readonly buffer: GPUBuffer;
  private used = 0;
  private step = -1;

  constructor(
    gpu: Gpu,
    readonly bytes: number,
  ) {
    this.buffer = createStorage(gpu.device, bytes, 'row maps');
  }

  /** Arena bytes for `places` maps of up to `rows` rows in up to `segments` segments each. */
  static bytesFor(rows: number, segments: number, places: number): number {
    return places * (2 * aligned(rows * 4) + aligned(segments * SEGMENT_WORDS * 4));
  }

  /** Writes the map of `segs` (in row order) for `cache`'s pages and returns it bound to this step's ranges. */
  place(rec: Recorder, cache: LatentCache, heads: number, segs: readonly SegmentRows[]): RowMap {
    if (this.step !== rec.submits) {
      this.step = rec.submits;
      this.used = 0;
    }
    const d = rowMapData(segs, heads, (e) => cache.page(e), cache.pageSize);
    const range = (data: Uint32Array) => {
      const size = data.byteLength;
      if (this.used + aligned(size) > this.bytes) {
        throw new InputError('rows', `the step's row maps need more than the ${this.bytes} bytes allocated for them (too many forward calls or rows in one step)`);
      }
      const offset = this.used;
      this.used += aligned(size);
      rec.write(this.buffer, offset, data);
      return { buffer: this.buffer, offset, size };
    };
    return {
      rows: d.rows,
      segmentCount: d.segmentCount,
      blocks: d.blocks,
      kvLen: d.kvLen,
      pos: range(d.pos),
      slot: range(d.slot),
      segments: range(d.segments.subarray(0, Math.max(1, segs.length) * SEGMENT_WORDS)),
      pages: cache.table,
      pageShift: cache.pageShift,
    };
  }

  destroy(): void {
    this.buffer.destroy();
  }
}
