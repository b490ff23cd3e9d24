// y = x · Wᵀ (or y += x · Wᵀ) for FP8 block-scaled, q4 group-scaled, BF16 and F32 weights: shaders/matmul.wgsl, weights in the
// layout of ./matmul-layout.ts. Reference: src/reference/matmul.ts `linear`.
import { defineKernel, expectBytes, expectThat } from '../gpu/kernel.ts';
import { asRange, type Bindable, type Recorder } from '../gpu/recorder.ts';
import { knob } from '../gpu/launch-profile.ts';
import { matmulShape } from '../gpu/launch-shapes.ts';
import { matmulLayoutBytes, type MatmulFormat } from './matmul-layout.ts';

/** A Linear weight on the GPU. */
export interface MatmulWeight {
  format: MatmulFormat;
  outDim: number;
  inDim: number;
  /** [out, in] in the GPU layout (toMatmulLayout). */
  w: Bindable;
  /** FP8: weight_scale_inv as in the checkpoint, [ceil(out / block[0]), ceil(in / block[1])] f32. q4: [out, ceil(in / group)] f32. */
  scale?: Bindable;
  /** FP8: quantization_config.weight_block_size; [128, 128] when absent. q4: [1, group]. */
  block?: readonly [number, number];
}

/**
 * Output rows [firstRow, firstRow + weight.outDim) of a Linear weight too large for one buffer (lm_head):
 * whole layout groups (and whole FP8 scale block rows), so a part computes its outputs exactly as the whole
 * weight would.
 */
export interface MatmulPart {
  firstRow: number;
  weight: MatmulWeight;
}

/** Rows per thread at most: decode (rows <= 8) puts every row in one thread; prefill uses blocks of 8. */
export const MAX_ROWS_PER_THREAD = 8;

const params = { rows: 'u32', in_dim: 'u32', out_dim: 'u32', y_stride: 'u32', k_tiles: 'u32', scale_cols: 'u32', x_offset: 'u32', y_offset: 'u32' } as const;
type Params = Record<keyof typeof params, number>;
const overrides = { BLOCK_ROWS: 128, BLOCK_COLS: 128, ACCUMULATE: 0 };
type Shape = typeof overrides & { WG_SIZE: number; ROWS: number };
const launch = (k: (name: string) => number, p: Params) => matmulShape(k, p.out_dim, p.rows);
const grid = (p: Params, o: Shape): [number, number] => [Math.ceil(Math.ceil(p.out_dim / 8) / o.WG_SIZE), Math.ceil(p.rows / o.ROWS)];

function checkCommon(format: MatmulFormat, w: Bindable, x: Bindable, y: Bindable, p: Params, o: Shape): void {
  expectThat('matmul', Number.isInteger(o.ROWS) && o.ROWS >= 1 && o.ROWS <= MAX_ROWS_PER_THREAD, `ROWS ${o.ROWS} must be 1..${MAX_ROWS_PER_THREAD}`);
  expectThat('matmul', p.y_stride >= p.out_dim, `y_stride ${p.y_stride} < out_dim ${p.out_dim}`);
  expectBytes('matmul', 'w', w, matmulLayoutBytes(format, p.out_dim, p.in_dim));
  expectBytes('matmul', 'x', x, (p.x_offset + p.rows * p.in_dim) * 4);
  expectBytes('matmul', 'y', y, (p.y_offset + (p.rows - 1) * p.y_stride + p.out_dim) * 4);
}

/** The format-specific checks of the scaled formats: block shape and scale size. */
const scaleChecks = {
  fp8: (scale: Bindable, p: Params, o: typeof overrides) => {
    expectThat('matmul', o.BLOCK_ROWS % 8 === 0 && o.BLOCK_COLS % 4 === 0, `FP8 block [${o.BLOCK_ROWS}, ${o.BLOCK_COLS}] must be multiples of [8, 4]`);
    expectBytes('matmul', 'scale', scale, Math.ceil(p.out_dim / o.BLOCK_ROWS) * p.scale_cols * 4);
  },
  // q4 (docs/q4.md): BLOCK_ROWS 1 (a scale per output row), BLOCK_COLS the group; tiles of 8 k.
  q4: (scale: Bindable, p: Params, o: typeof overrides) => {
    expectThat('matmul', o.BLOCK_ROWS === 1 && o.BLOCK_COLS % 8 === 0, `q4 group [${o.BLOCK_ROWS}, ${o.BLOCK_COLS}] must be [1, a multiple of 8]`);
    expectThat('matmul', p.k_tiles === 2 * Math.ceil(p.in_dim / 8), `q4 k_tiles ${p.k_tiles} must be 2 * ceil(in / 8)`);
    expectBytes('matmul', 'scale', scale, p.out_dim * p.scale_cols * 4);
  },
};
// FP8 and q4 share the launch shape (the overrides above) and differ in the weight decode (flags).
const scaled = (format: 'fp8' | 'q4', subgroups: boolean) =>
  defineKernel({
    shader: 'matmul',
    bindings: { w: 'read', scale: 'read', x: 'read', y: 'read_write' },
    params,
    overrides,
    launch,
    flags: { FP8: format === 'fp8', Q4: format === 'q4', SCALED: true, SUBGROUPS: subgroups },
    check: ({ w, scale, x, y }, p, o) => {
      checkCommon(format, w, x, y, p, o);
      scaleChecks[format](scale, p, o);
    },
    grid,
  });
const plain = (format: 'bf16' | 'f32', subgroups: boolean) =>
  defineKernel({
    shader: 'matmul',
    bindings: { w: 'read', x: 'read', y: 'read_write' },
    params,
    overrides,
    launch,
    flags: { BF16: format === 'bf16', SUBGROUPS: subgroups },
    check: ({ w, x, y }, p, o) => checkCommon(format, w, x, y, p, o),
    grid,
  });
// [without, with] the `subgroups` feature (x is loaded once per subgroup and broadcast).
const kernels = { fp8: [scaled('fp8', false), scaled('fp8', true)], q4: [scaled('q4', false), scaled('q4', true)], bf16: [plain('bf16', false), plain('bf16', true)], f32: [plain('f32', false), plain('f32', true)] } as const;

/** Options of recordMatmul. */
export interface MatmulOptions {
  /** y += x · Wᵀ: the fused residual add, in place in y (the residual stream). */
  accumulate?: boolean;
  /** Row stride of y in elements (>= outDim), to write a column slice of a wider y; outDim by default. */
  yStride?: number;
}

/**
 * Records y = x · Wᵀ (y += x · Wᵀ with `accumulate`). x: [rows, inDim] f32 · y: [rows, yStride] f32.
 * Up to 8 rows share every weight read (decode); more rows go in blocks of 8 (prefill).
 * x and y may be byte ranges starting at any multiple of 4 (a row of the hidden states, a row of logits):
 * the range's offset becomes a param and the whole buffer is bound.
 */
export function recordMatmul(rec: Recorder, weight: MatmulWeight, x: Bindable, y: Bindable, rows: number, options: MatmulOptions = {}): void {
  if (rows === 0) return;
  const { format, outDim, inDim } = weight;
  const [blockRows, blockCols] = weight.block ?? [128, 128];
  const yStride = options.yStride ?? outDim;
  expectBytes('matmul', 'x', x, rows * inDim * 4);
  expectBytes('matmul', 'y', y, ((rows - 1) * yStride + outDim) * 4);
  const xr = asRange(x);
  const yr = asRange(y);
  expectThat('matmul', xr.offset % 4 === 0 && yr.offset % 4 === 0, `x offset ${xr.offset} and y offset ${yr.offset} must be multiples of 4 bytes`);
  const p = {
    rows,
    in_dim: inDim,
    out_dim: outDim,
    y_stride: yStride,
    k_tiles: format === 'q4' ? 2 * Math.ceil(inDim / 8) : Math.ceil(inDim / 4),
    scale_cols: Math.ceil(inDim / blockCols),
    x_offset: xr.offset / 4,
    y_offset: yr.offset / 4,
  };
  // Rows per thread, the workgroup size (launch constants) and subgroup use come from the launch profile.
  const o = { BLOCK_ROWS: blockRows, BLOCK_COLS: blockCols, ACCUMULATE: options.accumulate ? 1 : 0 };
  const sg = Number(knob(rec.profile, 'matmul', 'SUBGROUPS') !== 0 && rec.device.features.has('subgroups'));
  if (format === 'fp8' || format === 'q4') {
    expectThat('matmul', weight.scale !== undefined, `an ${format} weight needs its scale`);
    kernels[format][sg].record(rec, { w: weight.w, scale: weight.scale!, x: xr.buffer, y: yr.buffer }, p, o);
  } else {
    kernels[format][sg].record(rec, { w: weight.w, x: xr.buffer, y: yr.buffer }, p, o);
  }
}

/**
 * y = x · Wᵀ for a weight in parts of output rows: each part writes its column slice of y's rows
 * (y: [rows, total outputs] from its binding's start).
 */
export function recordMatmulParts(rec: Recorder, parts: readonly MatmulPart[], x: Bindable, y: Bindable, rows: number): void {
  const outDim = parts.reduce((n, p) => n + p.weight.outDim, 0);
  const yr = asRange(y);
  for (const { firstRow, weight } of parts) {
    const at = firstRow * 4;
    recordMatmul(rec, weight, x, { buffer: yr.buffer, offset: yr.offset + at, size: yr.size - at }, rows, { yStride: outDim });
  }
}
