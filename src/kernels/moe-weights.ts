// Stacked expert weights as the MoE expert kernels read them (shaders/common/moe-weights.wgsl): one
// projection's experts [count, out, in] row-major, FP8 e4m3 with 128x128 block scales (V3), BF16 (V2,
// V2-Lite) or F32. Shared by moe-gate-up, moe-down and their -grouped forms.
import { expectBytes, expectThat } from '../gpu/kernel.ts';
import type { Bindable } from '../gpu/recorder.ts';
import { FORMAT_BYTES, type MatmulFormat } from './matmul-layout.ts';

/** The matmul's vocabulary: 'fp8' = e4m3 codes with f32 block scales, 'bf16' and 'f32' without scales. */
export type ExpertFormat = MatmulFormat;

/** The block size of FP8 expert scales (BLOCK in the shaders). */
export const EXPERT_BLOCK = 128;

/** The shaders' #if flag for each format. */
const FLAGS: Record<ExpertFormat, Record<string, boolean>> = { fp8: { FP8: true }, bf16: { BF16: true }, f32: { F32: true } };

/** One kernel per format, so callers pick `kernel[weights.format]`. */
export function perExpertFormat<K>(make: (format: ExpertFormat, flags: Record<string, boolean>) => K): Record<ExpertFormat, K> {
  return { fp8: make('fp8', FLAGS.fp8), bf16: make('bf16', FLAGS.bf16), f32: make('f32', FLAGS.f32) };
}

/** Bytes of `count` experts' [out, in] weights in `format` (FP8: the codes; the scales are separate). */
export function expertWeightBytes(format: ExpertFormat, count: number, out: number, inDim: number): number {
  return count * out * inDim * FORMAT_BYTES[format];
}

/** Bytes of `count` experts' stacked FP8 block scales [count, ceil(out/128), ceil(in/128)] f32. */
export function expertScaleBytes(count: number, out: number, inDim: number): number {
  return count * Math.ceil(out / EXPERT_BLOCK) * Math.ceil(inDim / EXPERT_BLOCK) * 4;
}

/** Checks one projection's weight binding `w` and, for FP8, its scale binding `s` (unread otherwise). */
export function checkExpertWeights(
  shader: string,
  format: ExpertFormat,
  names: [string, string],
  w: Bindable,
  s: Bindable,
  count: number,
  out: number,
  inDim: number,
): void {
  expectThat(shader, inDim % 4 === 0, `${names[0]}: in ${inDim} must be a multiple of 4 (quads of 4 weights per row)`);
  expectBytes(shader, names[0], w, expertWeightBytes(format, count, out, inDim));
  if (format === 'fp8') expectBytes(shader, names[1], s, expertScaleBytes(count, out, inDim));
}
