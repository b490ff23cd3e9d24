// y = x · Wᵀ with float64 accumulation. x: [rows, inDim] · W: [outDim, inDim] (HF Linear layout) · y: [rows, outDim].
// The GPU matmul kernels (FP8 block-dequant, BF16, F32) are all tested against this after dequantizing W
// on the CPU (src/checkpoint/fp8-blocks.ts).
export function linear(x: ArrayLike<number>, rows: number, inDim: number, w: ArrayLike<number>, outDim: number): Float64Array {
  if (x.length !== rows * inDim) throw new Error(`linear: x has ${x.length} values, expected ${rows}x${inDim}`);
  if (w.length !== outDim * inDim) throw new Error(`linear: W has ${w.length} values, expected ${outDim}x${inDim}`);
  const y = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    const xo = r * inDim;
    for (let o = 0; o < outDim; o++) {
      const wo = o * inDim;
      let acc = 0;
      for (let k = 0; k < inDim; k++) acc += x[xo + k] * w[wo + k];
      y[r * outDim + o] = acc;
    }
  }
  return y;
}
