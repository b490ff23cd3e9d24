// Stacked expert weights as the MoE expert kernels read them (shaders/common/moe-weights.wgsl): one
// projection's experts [count, out, in] row-major, FP8 e4m3 with 128x128 block scales (V3), q4 4-bit codes
// with a scale per output row and group of inputs (docs/q4.md), BF16 (V2, V2-Lite) or F32. Shared by
// moe-gate-up, moe-down and their -grouped forms. Each expert's weights (and scales) sit at a fixed offset
// of its part's buffers (expertWeightBytes(format, i, ...), expertScaleBytes(format, i, ...)).
import { expectBytes, expectThat } from '../gpu/kernel.ts';
import type { Bindable } from '../gpu/recorder.ts';
import { FORMAT_BYTES, type MatmulFormat } from './matmul-layout.ts';

/** The matmul's vocabulary: 'fp8' = e4m3 codes with f32 block scales, 'q4' codes with group scales, 'bf16' and 'f32' without scales. */
export type ExpertFormat = MatmulFormat;

/** The block size of FP8 expert scales (BLOCK in the shaders). */
export const EXPERT_BLOCK = 128;

/** The shaders' #if flags for each format (SCALED: the weights carry scales). */
const FLAGS: Record<ExpertFormat, Record<string, boolean>> = {
  fp8: { FP8: true, SCALED: true },
  q4: { Q4: true, SCALED: true },
  bf16: { BF16: true },
  f32: { F32: true },
};

/** One kernel per format, so callers pick `kernel[weights.format]`. */
export function perExpertFormat<K>(make: (format: ExpertFormat, flags: Record<string, boolean>) => K): Record<ExpertFormat, K> {
  return { fp8: make('fp8', FLAGS.fp8), q4: make('q4', FLAGS.q4), bf16: make('bf16', FLAGS.bf16), f32: make('f32', FLAGS.f32) };
}

/** Bytes of `count` experts' [out, in] weights in `format` (FP8, q4: the codes; the scales are separate). */
export function expertWeightBytes(format: ExpertFormat, count: number, out: number, inDim: number): number {
  if (format === 'q4') return count * out * Math.ceil(inDim / 8) * 4;
  return count * out * inDim * FORMAT_BYTES[format];
}

/**
 * Bytes of `count` experts' stacked scales: FP8 [count, ceil(out/128), ceil(in/128)] f32, q4 [count, out,
 * ceil(in/group)] f32; 0 for formats without scales.
 */
export function expertScaleBytes(format: ExpertFormat, count: number, out: number, inDim: number, group = EXPERT_BLOCK): number {
  if (format === 'fp8') return count * Math.ceil(out / EXPERT_BLOCK) * Math.ceil(inDim / EXPERT_BLOCK) * 4;
  if (format === 'q4') return count * out * Math.ceil(inDim / group) * 4;
  return 0;
}

/**
 * Checks one projection's weight binding `w` and, for FP8 and q4, its scale binding `s` (unread otherwise);
 * `block` is the shader's BLOCK override (128, or the q4 group).
 */
export function checkExpertWeights(
  shader: string,
  format: ExpertFormat,
  names: [string, string],
  w: Bindable,
  s: Bindable,
  count: number,
  out: number,
  inDim: number,
  block: number,
): void {
  expectThat(shader, inDim % 4 === 0, `${names[0]}: in ${inDim} must be a multiple of 4 (quads of 4 weights per row)`);
  if (format === 'q4') {
    expectThat(shader, inDim % 8 === 0, `${names[0]}: q4 in ${inDim} must be a multiple of 8 (whole words of 8 codes per row)`);
    expectThat(shader, block % 8 === 0 && block > 0, `${names[0]}: q4 group ${block} must be a positive multiple of 8`);
  } else {
    expectThat(shader, block === EXPERT_BLOCK, `${names[0]}: BLOCK ${block} must be ${EXPERT_BLOCK} for ${format} experts`);
  }
  expectBytes(shader, names[0], w, expertWeightBytes(format, count, out, inDim));
  if (format === 'fp8' || format === 'q4') expectBytes(shader, names[1], s, expertScaleBytes(format, count, out, inDim, block));
}
