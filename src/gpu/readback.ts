// A small persistent read-back buffer: the decode loop copies the sampled token ids into it at the end of
// the step's command buffer and maps it once per step — the only GPU->CPU transfer of a step.
import { GpuError } from '../errors.ts';
import type { Recorder } from './recorder.ts';

export class Readback {
  private readonly staging: GPUBuffer;

  constructor(
    private readonly device: GPUDevice,
    readonly bytes: number,
  ) {
    this.staging = device.createBuffer({ label: 'read-back', size: Math.ceil(bytes / 4) * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  /** Records the copy of `size` bytes at `offset` of `src` to `dstOffset` of the read-back (before rec.submit()). */
  record(rec: Recorder, src: GPUBuffer, offset = 0, size = this.bytes, dstOffset = 0): void {
    rec.copy(src, offset, this.staging, dstOffset, Math.ceil(size / 4) * 4);
  }

  /** Waits for the submitted copy and returns the bytes as u32 values; a failed map (device lost) is a GpuError. */
  async readU32(count: number, phase = 'read-back'): Promise<Uint32Array> {
    try {
      await this.staging.mapAsync(GPUMapMode.READ, 0, this.staging.size);
    } catch (e) {
      throw new GpuError(`reading back the results of '${phase}' failed (device lost?): ${(e as Error)?.message || (e as Error)?.name || e}`);
    }
    try {
      return new Uint32Array(this.staging.getMappedRange(0, this.staging.size).slice(0, count * 4));
    } finally {
      this.staging.unmap();
    }
  }

  destroy(): void {
    this.staging.destroy();
  }
}
