// A small harness for kernel tests and benchmarks: upload inputs, allocate NaN-poisoned outputs (so an
// element the kernel never writes fails the comparison), record into one Recorder, submit and read back.
import { createStorage, readStorage, uploadStorage, writeStorage } from '../../src/gpu/buffers.ts';
import { PipelineCache } from '../../src/gpu/pipelines.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import type { LaunchProfile } from '../../src/gpu/launch-profile.ts';
import { testProfile } from './profile.ts';

export class KernelHarness {
  readonly rec: Recorder;
  private readonly buffers: GPUBuffer[] = [];

  /** Kernels are launched as `profile` says: by default the test run's (helpers/profile.ts). */
  constructor(readonly device: GPUDevice, readonly pipelines = new PipelineCache(device), profile: LaunchProfile = testProfile(device)) {
    this.rec = new Recorder(device, pipelines, profile);
  }

  input(data: ArrayBufferView, label = 'input'): GPUBuffer {
    const b = uploadStorage(this.device, data, label);
    this.buffers.push(b);
    return b;
  }

  /** An f32 output of `count` elements filled with NaN. */
  output(count: number, label = 'output'): GPUBuffer {
    const b = createStorage(this.device, count * 4, label);
    writeStorage(this.device, b, 0, new Float32Array(count).fill(NaN));
    this.buffers.push(b);
    return b;
  }

  /** Submits what was recorded, checks the shaders compiled, and reads `buffer` back as f32. */
  async run(buffer: GPUBuffer): Promise<Float32Array> {
    this.rec.submit();
    await this.pipelines.check();
    return new Float32Array(await readStorage(this.device, buffer));
  }

  async readU32(buffer: GPUBuffer): Promise<Uint32Array> {
    this.rec.submit();
    await this.pipelines.check();
    return new Uint32Array(await readStorage(this.device, buffer));
  }

  destroy(): void {
    this.rec.destroy();
    for (const b of this.buffers.splice(0)) b.destroy();
  }
}
