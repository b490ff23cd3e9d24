// The bandwidth ceiling: a vec4 copy kernel, bytes = read + write = 2 * size.
import { createStorage } from '../../../src/gpu/buffers.ts';
import { copy, copyParams } from '../../../src/kernels/copy.ts';
import type { KernelBench } from '../kernel-bench.ts';

const MB = 1 << 20;

export const benches: KernelBench[] = [64 * MB, 256 * MB].map((size) => ({
  kernel: 'copy',
  model: '-',
  shape: `${size / MB} MiB`,
  bytes: 2 * size,
  flops: 0,
  setup(gpu, rec) {
    const src = createStorage(gpu.device, size, 'copy src');
    const dst = createStorage(gpu.device, size, 'copy dst');
    return {
      record: () => copy.record(rec, { src, dst }, copyParams(size / 16)),
      destroy: () => (src.destroy(), dst.destroy()),
    };
  },
}));
