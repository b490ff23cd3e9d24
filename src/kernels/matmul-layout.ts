// The GPU weight layout of shaders/matmul.wgsl, and the CPU conversion from checkpoint bytes into it.
//
// A checkpoint Linear weight is W: [out, in] row-major (FP8 e4m3 codes, BF16 or F32). On the GPU it is
//   [groups][kTiles][4 k][4 o],  groups = 2 * ceil(out / 8),  kTiles = ceil(in / 4)
// i.e. 4x4 tiles (4 output rows x 4 k), tiles of one group of 4 rows contiguous along k, k-major inside a
// tile, zero-padded past `out` and `in`. A kernel thread owns 8 outputs (2 groups) and walks two contiguous
// streams; one FP8 tile is one vec4<u32> (each u32 = the 4 outputs' codes at one k, byte i = output 4g + i).
// The element width is unchanged (FP8 stays 1 byte: nothing is dequantized); FP8 scales keep the
// checkpoint's [ceil(out / B0), ceil(in / B1)] f32 layout and are uploaded as they are.
//
//
// Q4 (docs/q4.md) packs 8 k of one row per u32, so its tiles are 4 outputs x 8 k: [groups][kWords][4 o] u32,
// kWords = ceil(in / 8), u32 i of a tile = output 4g + i's word (the checkpoint's codes, moved, not changed);
// padding holds 0x88888888 (code 8 = 0). Its scales [out, ceil(in / group)] f32 are uploaded as they are.
//
// Rows convert independently in groups of 8, so the loader can stream a large tensor: convert rows
// [r0, r1) (r0 a multiple of 8; r1 too, or r1 = out) and write the bytes at `offset`.

export type MatmulFormat = 'fp8' | 'q4' | 'bf16' | 'f32';

/** Bytes per weight element (q4: half a byte; its rows are whole u32 words of 8). */
export const FORMAT_BYTES: Record<MatmulFormat, number> = { fp8: 1, q4: 0.5, bf16: 2, f32: 4 };

/** Rows convert in multiples of this (a thread's 8 outputs = 2 groups of 4). */
export const LAYOUT_ROW_ALIGN = 8;

/** Size in bytes of the whole [out, in] weight in the GPU layout. */
export function matmulLayoutBytes(format: MatmulFormat, outDim: number, inDim: number): number {
  if (format === 'q4') return 2 * Math.ceil(outDim / 8) * Math.ceil(inDim / 8) * 16;
  return 2 * Math.ceil(outDim / 8) * Math.ceil(inDim / 4) * 16 * FORMAT_BYTES[format];
}

export interface LayoutPiece {
  /** Byte offset of these rows in the GPU buffer. */
  offset: number;
  bytes: Uint8Array;
}

/**
 * Converts rows [r0, r0 + n) of a checkpoint weight (`src`: n * inDim elements, row-major, little-endian)
 * into the GPU layout. r0 must be a multiple of 8, and n too unless the piece ends at outDim (it is then
 * zero-padded to whole groups).
 */
export function toMatmulLayout(format: MatmulFormat, src: Uint8Array, r0: number, outDim: number, inDim: number): LayoutPiece {
  const size = FORMAT_BYTES[format];
  const n = format === 'q4' ? src.length / (Math.ceil(inDim / 8) * 4) : src.length / (inDim * size);
  const r1 = r0 + n;
  if (!Number.isInteger(n) || n <= 0) throw new Error(`matmul layout: ${src.length} bytes is not a whole number of ${inDim}-wide ${format} rows`);
  if (r0 % LAYOUT_ROW_ALIGN !== 0) throw new Error(`matmul layout: rows must start at a multiple of ${LAYOUT_ROW_ALIGN}, got ${r0}`);
  if (r1 > outDim || (r1 !== outDim && n % LAYOUT_ROW_ALIGN !== 0)) {
    throw new Error(`matmul layout: rows [${r0}, ${r1}) of ${outDim} must end at a multiple of ${LAYOUT_ROW_ALIGN} or at ${outDim}`);
  }
  if (format === 'q4') return q4Layout(src, r0, n, inDim);
  const kTiles = Math.ceil(inDim / 4);
  const groupElems = kTiles * 16; // elements per group of 4 rows
  const out = new Uint8Array(2 * Math.ceil(n / 8) * groupElems * size);
  // Element (o, k) of the piece goes to element ((o >> 2) * kTiles + (k >> 2)) * 16 + (k & 3) * 4 + (o & 3).
  if (size === 1) {
    for (let o = 0; o < n; o++) {
      const dst = (o >> 2) * groupElems + (o & 3);
      const row = o * inDim;
      for (let k = 0; k < inDim; k++) out[dst + (k << 2)] = src[row + k]; // (k>>2)*16 + (k&3)*4 = 4k
    }
  } else {
    // Copy element-wise through the widest aligned view (safetensors data need not be aligned in memory).
    const aligned = src.byteOffset % size === 0 ? src : src.slice();
    const from = size === 2 ? new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.length / 2) : new Uint32Array(aligned.buffer, aligned.byteOffset, aligned.length / 4);
    const to = size === 2 ? new Uint16Array(out.buffer) : new Uint32Array(out.buffer);
    for (let o = 0; o < n; o++) {
      const dst = (o >> 2) * groupElems + (o & 3);
      const row = o * inDim;
      for (let k = 0; k < inDim; k++) to[dst + (k << 2)] = from[row + k];
    }
  }
  return { offset: (r0 / 4) * groupElems * size, bytes: out };
}

/** toMatmulLayout for q4 codes: `src` holds n rows of ceil(inDim / 8) little-endian words. */
function q4Layout(src: Uint8Array, r0: number, n: number, inDim: number): LayoutPiece {
  const words = Math.ceil(inDim / 8);
  const aligned = src.byteOffset % 4 === 0 ? src : src.slice();
  const from = new Uint32Array(aligned.buffer, aligned.byteOffset, aligned.length / 4);
  const to = new Uint32Array(2 * Math.ceil(n / 8) * words * 4).fill(0x88888888);
  // Word w of row o goes to ((o >> 2) * words + w) * 4 + (o & 3).
  for (let o = 0; o < n; o++) {
    const dst = (o >> 2) * words * 4 + (o & 3);
    for (let w = 0; w < words; w++) to[dst + 4 * w] = from[o * words + w];
  }
  return { offset: (r0 / 4) * words * 16, bytes: new Uint8Array(to.buffer) };
}
