// Choosing the next token from one row of logits on the CPU: the oracle for the GPU kernels
// shaders/sample*.wgsl. The rules (penalty, greedy, top-k / top-p / min-p, their f32 constants) live in
// src/sampling/rules.ts; this adds the draw. The masses are float64 here and f32 on the GPU, so a draw
// within ~1e-6 of a boundary may differ.
import { argmaxToken, isGreedy, keptTokens, penalizedLogits, type KeptTokens, type SampleRequest } from '../sampling/rules.ts';

export { argmaxToken, keptTokens, penalizedLogits, sampleConstants, type KeptTokens } from '../sampling/rules.ts';

/** Step 6: the first kept token whose cumulative mass exceeds random * (the kept mass); else the last kept. */
export function drawToken(k: KeptTokens, random: number): number {
  const { z, max, minKept } = k;
  let total = 0;
  for (let i = 0; i < z.length; i++) if (z[i] >= minKept) total += Math.exp(z[i] - max);
  const target = Math.fround(random) * total; // the GPU receives random as an f32
  let acc = 0;
  let last = -1;
  for (let i = 0; i < z.length; i++) {
    if (z[i] < minKept) continue;
    acc += Math.exp(z[i] - max);
    last = i;
    if (acc > target) return i;
  }
  return last;
}

/** The token a SampleRequest picks from one row of logits. */
export function sampleToken(logits: ArrayLike<number>, req: SampleRequest): number {
  if (isGreedy(req)) return argmaxToken(penalizedLogits(logits, req));
  return drawToken(keptTokens(logits, req), req.random);
}
