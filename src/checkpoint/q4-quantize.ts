// 4-bit weights with one f32 scale per group of G consecutive inputs of a row (`--quantize q4`,
// docs/q4.md). A weight W [rows, cols] becomes
//   codes: [rows, ceil(cols / 8)] u32, 8 nibbles per word along the row: column 8w + n is nibble n of
//          word w (bits 4n..4n+3); the nibble holds q + 8 for q in -8..7; columns past `cols` hold 8 (zero)
//   scale: [rows, ceil(cols / G)] f32
//   W[r, c] = (nibble(r, c) - 8) * scale[r, floor(c / G)]
// The quantizer is symmetric without a zero point, as llama.cpp's Q4_0: per group the value of largest
// magnitude m maps to code -8 exactly (scale = m / -8, so all 16 codes are used), every other value to the
// nearest code, ties away from zero, clamped to 7. An all-zero group keeps scale 0. docs/q4.md says why this
// form and this group size (measured against the alternatives).
import { CheckpointError } from '../errors.ts';

/** The group size along the input dimension the engine uses (docs/q4.md "Group size"). */
export const Q4_GROUP = 32;

export interface Q4Weights {
  /** [rows, ceil(cols / 8)] words of 8 nibbles. */
  codes: Uint32Array;
  /** [rows, ceil(cols / group)] f32. */
  scale: Float32Array;
}

/** Words per row of packed codes. */
export function q4Words(cols: number): number {
  return Math.ceil(cols / 8);
}

/** Scale groups per row. */
export function q4Groups(cols: number, group: number): number {
  return Math.ceil(cols / group);
}

/** Quantizes row-major f32 weights [rows, cols] to 4-bit codes with a scale per `group` columns of a row. */
export function quantizeQ4(w: ArrayLike<number>, rows: number, cols: number, group = Q4_GROUP): Q4Weights {
  if (w.length !== rows * cols) throw new Error(`quantizeQ4: ${w.length} values for [${rows}, ${cols}]`);
  if (!Number.isInteger(group) || group < 8 || group % 8 !== 0) throw new Error(`quantizeQ4: group ${group} must be a positive multiple of 8`);
  const words = q4Words(cols);
  const groups = q4Groups(cols, group);
  // 0x88888888: every nibble 8 (zero), so the padding past `cols` decodes to 0.
  const codes = new Uint32Array(rows * words).fill(0x88888888);
  const scale = new Float32Array(rows * groups);
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    for (let g = 0; g < groups; g++) {
      const c0 = g * group;
      const c1 = Math.min(cols, c0 + group);
      let m = 0;
      for (let c = c0; c < c1; c++) if (Math.abs(w[row + c]) > Math.abs(m)) m = w[row + c];
      const s = m === 0 ? 0 : Math.fround(m / -8);
      scale[r * groups + g] = s;
      if (s === 0) continue; // codes stay 8: zeros
      for (let c = c0; c < c1; c++) {
        const v = w[row + c] / s;
        const q = Math.max(-8, Math.min(7, Math.sign(v) * Math.floor(Math.abs(v) + 0.5)));
        const at = r * words + (c >> 3);
        const shift = 4 * (c & 7);
        codes[at] = ((codes[at] & ~(0xf << shift)) | ((q + 8) << shift)) >>> 0;
      }
    }
  }
  return { codes, scale };
}

/**
 * The f32 weights [rows, cols] that q4 codes and scales stand for: (nibble - 8) * scale, rounded once to f32.
 * `tensor` and `file` only name the weight in errors.
 */
export function dequantQ4(q: Q4Weights, rows: number, cols: number, group = Q4_GROUP, tensor = 'q4 weight', file = 'q4 dequant'): Float32Array {
  const words = q4Words(cols);
  const groups = q4Groups(cols, group);
  if (q.codes.length !== rows * words) throw new CheckpointError(file, `has ${q.codes.length} code words, [${rows}, ${cols}] needs ${rows * words}`, tensor);
  if (q.scale.length !== rows * groups) throw new CheckpointError(file, `has ${q.scale.length} scales, [${rows}, ${cols}] in groups of ${group} needs ${rows * groups}`, tensor);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const nibble = (q.codes[r * words + (c >> 3)] >>> (4 * (c & 7))) & 0xf;
      out[r * cols + c] = Math.fround((nibble - 8) * q.scale[r * groups + Math.floor(c / group)]);
    }
  }
  return out;
}
