// matmul (shaders/matmul.wgsl): y = x · Wᵀ, W [out, in] in FP8 (e4m3 + f32 128x128 block scales), q4 (4-bit +
// an f32 scale per output and 32 inputs, docs/q4.md), BF16 or F32.
// bytes = W (out * in * 1 | 0.5 | 2 | 4) + scales (FP8: ceil(out/128) * ceil(in/128) * 4; q4: out * ceil(in/32) * 4)
//         + x (rows * in * 4) + y (rows * out * 4)
// flops = 2 * rows * out * in
// matmul-peak (the FLOP ceiling every record's %peak refers to) is the f32 prefill path at M = N = K = 1024.
// Weights hold a fixed pseudo-random pattern (not zeros, so no page is shared): the decode has no
// data-dependent cost, and codes with the low bit clear are never the NaN codes 0x7F / 0xFF.
import { createStorage, uploadStorage, writeStorage } from '../../../src/gpu/buffers.ts';
import { recordMatmul, type MatmulWeight } from '../../../src/kernels/matmul.ts';
import { matmulLayoutBytes, type MatmulFormat } from '../../../src/kernels/matmul-layout.ts';
import { MATMUL_CASES, V3 } from '../../../kernels-test/helpers/cases.ts';
import type { KernelBench } from '../kernel-bench.ts';

const Q4_BENCH_GROUP = 32;
const scaleBytes = (out: number, inDim: number, format: MatmulFormat = 'fp8') =>
  format === 'q4' ? out * Math.ceil(inDim / Q4_BENCH_GROUP) * 4 : Math.ceil(out / 128) * Math.ceil(inDim / 128) * 4;

/** A buffer of `bytes` filled with a hash pattern; as f32 these are ordinary finite values in [-1, 1). */
function patterned(device: GPUDevice, bytes: number, format: MatmulFormat | 'x', label: string): GPUBuffer {
  const words = new Uint32Array(Math.ceil(bytes / 4));
  for (let i = 0; i < words.length; i++) {
    const h = Math.imul(i + 1, 0x9e3779b1) >>> 0;
    if (format === 'fp8') words[i] = h & 0xfefefefe; // low bit clear: no NaN codes
    else if (format === 'bf16') words[i] = (h & 0x807f807f) | 0x3f003f00; // both halves in +-[0.5, 1)
    else words[i] = (h & 0x807fffff) | 0x3f000000; // f32 in +-[0.5, 1)
  }
  const buffer = createStorage(device, bytes, label);
  writeStorage(device, buffer, 0, words);
  return buffer;
}

function bench(kernel: string, format: MatmulFormat, rows: number, out: number, inDim: number, model: 'v3' | '-', inner = 1): KernelBench {
  const elem = { fp8: 1, q4: 0.5, bf16: 2, f32: 4 }[format];
  return {
    kernel,
    model,
    shape: `${rows}x${inDim} · ${out}x${inDim} ${format}`,
    bytes: out * inDim * elem + (format === 'fp8' || format === 'q4' ? scaleBytes(out, inDim, format) : 0) + rows * inDim * 4 + rows * out * 4,
    flops: 2 * rows * out * inDim,
    inner,
    setup(gpu, rec) {
      const d = gpu.device;
      const w = patterned(d, matmulLayoutBytes(format, out, inDim), format, `${format} weight`);
      const scaled = format === 'fp8' || format === 'q4';
      const scale = scaled ? uploadStorage(d, new Float32Array(scaleBytes(out, inDim, format) / 4).fill(1 / 448), 'scale') : undefined;
      const weight: MatmulWeight = { format, outDim: out, inDim, w, scale, block: format === 'q4' ? [1, Q4_BENCH_GROUP] : undefined };
      const x = patterned(d, rows * inDim * 4, 'x', 'x');
      const y = createStorage(d, rows * out * 4, 'y');
      return {
        record: () => recordMatmul(rec, weight, x, y, rows),
        destroy: () => [w, scale, x, y].forEach((b) => b?.destroy()),
      };
    },
  };
}

const modelOf = (out: number, inDim: number) => (out === V3.moeIntermediate && inDim === V3.hidden ? 'v3' : '-');
const decode: KernelBench[] = MATMUL_CASES.benchDecode.flatMap(([out, inDim]) => [
  bench('matmul-fp8-decode', 'fp8', 1, out, inDim, modelOf(out, inDim), 4),
  bench('matmul-q4-decode', 'q4', 1, out, inDim, modelOf(out, inDim), 4),
  bench('matmul-f32-decode', 'f32', 1, out, inDim, modelOf(out, inDim), 4),
  bench('matmul-fp8-decode', 'fp8', 4, out, inDim, modelOf(out, inDim), 2),
  bench('matmul-f32-decode', 'f32', 4, out, inDim, modelOf(out, inDim), 2),
]);
const n = MATMUL_CASES.benchPeak;
const { rows: pRows, shape: [pOut, pIn] } = MATMUL_CASES.benchPrefill;

export const benches: KernelBench[] = [
  bench('matmul-peak', 'f32', n, n, n, '-'),
  ...decode,
  bench('matmul-bf16-decode', 'bf16', 1, 4096, 4096, '-', 4),
  bench('matmul-fp8-prefill', 'fp8', pRows, pOut, pIn, 'v3'),
  bench('matmul-q4-prefill', 'q4', pRows, pOut, pIn, 'v3'),
  bench('matmul-f32-prefill', 'f32', pRows, pOut, pIn, 'v3'),
];
