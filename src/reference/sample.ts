// Choosing the next token from one row of logits: the rules of a SampleRequest (src/decode/causal-lm.ts),
// the oracle for the GPU kernels shaders/sample*.wgsl.
//
// 1. Repetition penalty (CTRL): each listed token's logit l becomes l * (1/penalty) if l > 0, else
//    l * penalty; then each additive amount (frequency/presence) is subtracted from its token's logit. 2. temperature 0: argmax, ties to the lowest id. Otherwise z = l * (1/temperature) and
// 3. top-k: keep z >= the k-th largest z (counted with multiplicity: ties at the boundary are all kept,
//    as HF's TopKLogitsWarper); 4. top-p over the kept tokens' renormalised probabilities: keep z >= t
//    for the largest t whose kept mass (of z >= t) reaches top_p (the smallest prefix of the sorted order
//    reaching top_p, boundary ties kept, as HF's TopPLogitsWarper up to tie order); 5. min-p: keep
//    z >= max z + ln(min_p) (p >= min_p * p_max); 6. pick the first kept token, in id order, whose
//    cumulative mass exceeds random * (total kept mass).
// The scalars (1/penalty, 1/temperature, ln min_p) and the products are rounded to f32 exactly as the GPU
// computes them, so z is bit-identical on both sides and the top-k and min-p sets match exactly; the
// masses are float64 here and f32 on the GPU, so a draw within ~1e-6 of a boundary may differ.
import type { SampleRequest } from '../decode/causal-lm.ts';

/** The f32 constants both the GPU kernels and this reference use. */
export function sampleConstants(req: Pick<SampleRequest, 'temperature' | 'minP' | 'repetitionPenalty'>) {
  return {
    invTemperature: Math.fround(1 / req.temperature),
    lnMinP: req.minP > 0 ? Math.fround(Math.log(req.minP)) : -Infinity,
    invPenalty: Math.fround(1 / req.repetitionPenalty),
    penalty: Math.fround(req.repetitionPenalty),
  };
}

/** Index of the largest value, the lowest index on ties. */
export function argmaxToken(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** The logits after the repetition penalty and the additive ones (a copy; f32 like the GPU's in-place update). */
export function penalizedLogits(logits: ArrayLike<number>, req: Pick<SampleRequest, 'repetitionPenalty' | 'penalizedTokens' | 'additivePenalties'>): Float32Array {
  const out = Float32Array.from(logits);
  if (req.repetitionPenalty !== 1) {
    const { invPenalty, penalty } = sampleConstants({ temperature: 1, minP: 0, repetitionPenalty: req.repetitionPenalty });
    for (const t of new Set(req.penalizedTokens)) out[t] = out[t] > 0 ? out[t] * invPenalty : out[t] * penalty;
  }
  for (const [t, offset] of req.additivePenalties ?? []) out[t] -= Math.fround(offset); // f32 store rounds as the GPU does
  return out;
}

/** The largest threshold t among `z` such that the weight of {i : z[i] >= t} reaches `target`. */
function threshold(z: Float32Array, kept: (i: number) => boolean, weight: (i: number) => number, target: number): number {
  const idx = [...z.keys()].filter(kept).sort((a, b) => z[b] - z[a]);
  let acc = 0;
  for (const i of idx) {
    acc += weight(i);
    if (acc >= target) return z[i];
  }
  return z[idx[idx.length - 1]]; // rounding kept the total just below the target: everything stays
}

/** What a sampling request keeps of one row: z = penalised logits / temperature, kept iff z >= minKept. */
export interface KeptTokens {
  z: Float32Array;
  max: number;
  minKept: number;
}

/** Steps 1-5 for a request with temperature > 0 (everything but the random draw). */
export function keptTokens(logits: ArrayLike<number>, req: SampleRequest): KeptTokens {
  const c = sampleConstants(req);
  const z = penalizedLogits(logits, req).map((v) => v * c.invTemperature); // Float32Array: f32 like the GPU
  const n = z.length;
  let max = -Infinity;
  for (const v of z) max = Math.max(max, v);
  const mass = (i: number) => Math.exp(z[i] - max);

  let minKept = -Infinity;
  if (req.topK > 0 && req.topK < n) minKept = threshold(z, () => true, () => 1, req.topK);
  if (req.topP < 1) {
    const inTopK = (i: number) => z[i] >= minKept;
    let total = 0;
    for (let i = 0; i < n; i++) if (inTopK(i)) total += mass(i);
    minKept = Math.max(minKept, threshold(z, inTopK, mass, req.topP * total));
  }
  if (req.minP > 0) minKept = Math.max(minKept, Math.fround(max + c.lnMinP));
  return { z, max, minKept };
}

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
  if (req.temperature === 0) return argmaxToken(penalizedLogits(logits, req));
  return drawToken(keptTokens(logits, req), req.random);
}
