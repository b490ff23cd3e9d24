// What a kernel benchmark declares. Each tools/bench/kernels/<kernel>.bench.ts exports `benches`; the
// runner (tools/bench/kernels.ts) times them, and reports GB/s and GFLOP/s as fractions of the
// ceilings measured in the same run (the `copy` and `matmul-peak` records).
import type { Gpu } from '../../src/gpu/device.ts';
import type { Recorder } from '../../src/gpu/recorder.ts';

export interface KernelBench {
  /** Record name, e.g. 'matmul-fp8-decode' (the names where it fixes them). */
  kernel: string;
  model: 'v3' | 'v2-lite' | '-';
  /** Human-readable shape, e.g. '1x7168 · 2048x7168'. */
  shape: string;
  /** Bytes read + written by one run (formula in a comment beside the bench). */
  bytes: number;
  /** Floating-point operations of one run (a multiply-add counts 2). */
  flops: number;
  /** Allocates inputs; returns the per-run recording and a cleanup. */
  setup(gpu: Gpu, rec: Recorder): { record(): void; destroy(): void };
  /** Dispatches per submit when timing (small kernels amortize the submit round trip). */
  inner?: number;
}

export interface BenchRecord {
  kernel: string;
  model: string;
  shape: string;
  median_ms: number;
  gb_per_s: number;
  gflop_per_s: number;
  bandwidth_fraction: number;
  flops_fraction: number;
}
