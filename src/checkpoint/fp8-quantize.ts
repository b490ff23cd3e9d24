// Quantize f32 weights to FP8 e4m3 with block scales — the format of the DeepSeek-V3 release — so BF16
// checkpoints can run with half the weight memory (`--quantize fp8`). Per block: scale_inv = amax / 448
// (the e4m3 maximum), codes = round-to-nearest-even(w / scale_inv). This is the quantizer the fixtures were
// made with (docs/conventions.md "FP8"), so re-quantizing a dequantized FP8 tensor gives its codes back.
import { e4m3ToF32 } from './decode.ts';

const E4M3_MAX = 448;
// The 127 non-negative finite e4m3 values in code order (0x00..0x7E), increasing.
const POSITIVE = Float64Array.from({ length: 0x7f }, (_, code) => e4m3ToF32(code));

/** The e4m3 code nearest to v (ties to the even code), saturating at ±448. */
export function f32ToE4m3(v: number): number {
  const sign = v < 0 || Object.is(v, -0) ? 0x80 : 0;
  const a = Math.min(Math.abs(v), E4M3_MAX);
  let lo = 0;
  let hi = POSITIVE.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (POSITIVE[mid] <= a) lo = mid;
    else hi = mid;
  }
  // a lies in [POSITIVE[lo], POSITIVE[hi]]
  const dLo = a - POSITIVE[lo];
  const dHi = POSITIVE[hi] - a;
  const code = dLo < dHi ? lo : dHi < dLo ? hi : lo % 2 === 0 ? lo : hi;
  return sign | code;
}

export interface Fp8Blocks {
  /** [rows, cols] e4m3 codes. */
  codes: Uint8Array;
  /** [ceil(rows / blockRows), ceil(cols / blockCols)] f32. */
  scaleInv: Float32Array;
}

export function quantizeFp8Blocks(w: ArrayLike<number>, rows: number, cols: number, blockRows = 128, blockCols = 128): Fp8Blocks {
  if (w.length !== rows * cols) throw new Error(`quantizeFp8Blocks: ${w.length} values for [${rows}, ${cols}]`);
  const sr = Math.ceil(rows / blockRows);
  const sc = Math.ceil(cols / blockCols);
  const codes = new Uint8Array(rows * cols);
  const scaleInv = new Float32Array(sr * sc);
  for (let bi = 0; bi < sr; bi++) {
    for (let bj = 0; bj < sc; bj++) {
      const r1 = Math.min(rows, (bi + 1) * blockRows);
      const c1 = Math.min(cols, (bj + 1) * blockCols);
      let amax = 0;
      for (let r = bi * blockRows; r < r1; r++) for (let c = bj * blockCols; c < c1; c++) amax = Math.max(amax, Math.abs(w[r * cols + c]));
      // An all-zero block keeps scale 0 and codes 0; dequantizing gives zeros back.
      const scale = Math.fround(amax / E4M3_MAX);
      scaleInv[bi * sc + bj] = scale;
      for (let r = bi * blockRows; r < r1; r++) {
        for (let c = bj * blockCols; c < c1; c++) {
          codes[r * cols + c] = scale === 0 ? 0 : f32ToE4m3(Math.fround(w[r * cols + c] / scale));
        }
      }
    }
  }
  return { codes, scaleInv };
}
