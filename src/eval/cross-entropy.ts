// Cross-entropy of logits against the token that came, in float64 on the CPU. The logits are float32 as the
// GPU left them; the log-softmax is summed in float64 so that 4096-way sums over tens of thousands of rows
// add no error of their own to a figure compared to 1e-5.

/** Σ over rows r of −log softmax(logits[r])[targets[r]], logits row-major [targets.length, vocab]. */
export function crossEntropySum(logits: Float32Array, vocab: number, targets: ArrayLike<number>): number {
  if (logits.length < targets.length * vocab) throw new RangeError(`${logits.length} logits for ${targets.length} rows of ${vocab}`);
  let sum = 0;
  for (let r = 0; r < targets.length; r++) {
    const base = r * vocab;
    let max = -Infinity;
    for (let i = 0; i < vocab; i++) if (logits[base + i] > max) max = logits[base + i];
    let exps = 0;
    for (let i = 0; i < vocab; i++) exps += Math.exp(logits[base + i] - max);
    sum += max + Math.log(exps) - logits[base + targets[r]];
  }
  return sum;
}
