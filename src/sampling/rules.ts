// The sampling rules, once: what a request asks for, when it is greedy, what it keeps of a row of logits,
// and the f32 constants every implementation rounds the same way. The GPU sampler (src/kernels/sample.ts),
// the CPU reference (src/reference/sample.ts) and the speculative acceptance rule (src/decode/speculative.ts)
// all decide from here, so they cannot drift apart; this file imports nothing so that none of them has to
// depend on another's folder to reach it.
//
// 1. Repetition penalty (CTRL): each listed token's logit l becomes l * (1/penalty) if l > 0, else
//    l * penalty; then each additive amount (OpenAI's frequency/presence penalties) is subtracted from its
//    token's logit. 2. temperature 0: argmax, ties to the lowest id. Otherwise z = l * (1/temperature) and
// 3. top-k: keep z >= the k-th largest z (counted with multiplicity: ties at the boundary are all kept,
//    as HF's TopKLogitsWarper); 4. top-p over the kept tokens' renormalised probabilities: keep z >= t
//    for the largest t whose kept mass (of z >= t) reaches top_p (the smallest prefix of the sorted order
//    reaching top_p, boundary ties kept, as HF's TopPLogitsWarper up to tie order); 5. min-p: keep
//    z >= max z + ln(min_p) (p >= min_p * p_max); 6. pick the first kept token, in id order, whose
//    cumulative mass exceeds random * (total kept mass).
// The scalars (1/penalty, 1/temperature, ln min_p) and the products are rounded to f32 exactly as the GPU
// computes them, so z is bit-identical on both sides and the top-k and min-p sets match exactly.

/** How the next token is chosen from one position's logits. */
export interface SampleRequest {
  /** 0 = greedy (argmax; ties to the lowest id). */
  temperature: number;
  /** Keep the k most likely tokens; 0 = off. */
  topK: number;
  /** Keep the smallest set whose probability reaches p; 1 = off. */
  topP: number;
  /** Drop tokens less likely than minP times the most likely one; 0 = off. */
  minP: number;
  /** >1 makes tokens in `penalizedTokens` less likely (CTRL-style: positive logits divided, negative multiplied). */
  repetitionPenalty: number;
  penalizedTokens: readonly number[];
  /**
   * Amounts subtracted from tokens' logits after the repetition penalty (OpenAI's frequency_penalty * count
   * + presence_penalty, for the tokens generated so far); absent or empty = none.
   */
  additivePenalties?: ReadonlyMap<number, number>;
  /** Uniform number in [0, 1) that picks the token (from the caller's seeded RNG). */
  random: number;
}

/** Plain greedy decoding: what warm-ups, benchmarks and greedy verification rows ask for. */
export const GREEDY: Readonly<SampleRequest> = Object.freeze({ temperature: 0, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, penalizedTokens: [], random: 0 });

/** Greedy: the argmax (after any penalty); the filters and the random number are ignored. */
export function isGreedy(req: Pick<SampleRequest, 'temperature'>): boolean {
  return req.temperature === 0;
}

/** Whether a penalty (repetition, or an additive frequency/presence amount) changes any logit. */
export function penaltyApplies(req: Pick<SampleRequest, 'repetitionPenalty' | 'penalizedTokens' | 'additivePenalties'>): boolean {
  if (req.repetitionPenalty !== 1 && req.penalizedTokens.length > 0) return true;
  for (const offset of req.additivePenalties?.values() ?? []) if (offset !== 0) return true; // as penaltyEntries counts them
  return false;
}

/** Greedy with nothing to apply first: the logits' own argmax, so rows may share one batched argmax. */
export function isPlainArgmax(req: SampleRequest): boolean {
  return isGreedy(req) && !penaltyApplies(req);
}

/** The f32 constants both the GPU kernels and the CPU rules use. */
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

/** The logits after the repetition penalty (a copy; f32 like the GPU's in-place update). */
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
