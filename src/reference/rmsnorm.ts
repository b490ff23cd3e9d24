// RMSNorm per row: y = x / sqrt(mean(x²) + eps) * weight. x: [rows, dim] · weight: [dim].
export function rmsnorm(x: ArrayLike<number>, rows: number, dim: number, weight: ArrayLike<number>, eps: number): Float64Array {
  const y = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[r * dim + i] ** 2;
    const inv = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) y[r * dim + i] = x[r * dim + i] * inv * weight[i];
  }
  return y;
}
