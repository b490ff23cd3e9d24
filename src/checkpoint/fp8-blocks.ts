// Block-scaled FP8 weights (DeepSeek V3 `quantization_config.weight_block_size`, normally [128, 128]):
//   W[i, j] = e4m3(q[i, j]) * scale_inv[floor(i / br), floor(j / bc)]
//   q: [rows, cols] e4m3 codes · scale_inv: [ceil(rows / br), ceil(cols / bc)] f32
// Edge blocks are partial when rows or cols are not multiples of the block. The product is one f32
// multiply, as in DeepSeek's weight_dequant kernel, so the CPU reference sees the exact checkpoint values.
import { CheckpointError } from '../errors.ts';
import { e4m3ToF32 } from './decode.ts';

/** Dequantized [rows, cols] row-major weights. `tensor` and `file` only name the weight in errors. */
export function dequantFp8Block(
  codes: Uint8Array,
  rows: number,
  cols: number,
  scaleInv: Float32Array,
  blockRows: number,
  blockCols: number,
  tensor = 'fp8 weight',
  file = 'fp8 block dequant',
): Float32Array {
  const fail = (detail: string) => new CheckpointError(file, detail, tensor);
  for (const [what, v] of [['rows', rows], ['cols', cols], ['blockRows', blockRows], ['blockCols', blockCols]] as const) {
    const min = what.startsWith('block') ? 1 : 0;
    if (!Number.isSafeInteger(v) || v < min) throw fail(`${what} must be an integer >= ${min}, got ${v}`);
  }
  if (codes.length !== rows * cols) throw fail(`has ${codes.length} codes, [${rows}, ${cols}] needs ${rows * cols}`);
  const scaleRows = Math.ceil(rows / blockRows);
  const scaleCols = Math.ceil(cols / blockCols);
  if (scaleInv.length !== scaleRows * scaleCols) {
    throw fail(
      `scale_inv has ${scaleInv.length} values; [${rows}, ${cols}] in ${blockRows}x${blockCols} blocks ` +
        `needs [${scaleRows}, ${scaleCols}] = ${scaleRows * scaleCols}`,
    );
  }

  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const scaleRow = Math.floor(i / blockRows) * scaleCols;
    const rowStart = i * cols;
    for (let j = 0; j < cols; j++) {
      // Both factors are f32, so the f64 product is exact and fround gives the correctly rounded f32 product.
      out[rowStart + j] = Math.fround(e4m3ToF32(codes[rowStart + j]) * scaleInv[scaleRow + Math.floor(j / blockCols)]);
    }
  }
  return out;
}
