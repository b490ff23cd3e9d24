// Speculative decoding, the CPU half: which drafts to keep. Greedy: keep drafts while each equals the main
// model's own choice, then take the main model's token (output identical to plain greedy decoding).
// Sampling (Leviathan et al. 2023; Chen et al. 2023): keep draft d with probability min(1, p(d)/q(d)),
// otherwise draw from normalise(max(0, p - q)) and stop; after K kept drafts draw a bonus token from the
// last p. p and q are the main and draft distributions after the same temperature / top-k / top-p / min-p
// transforms, so the output is distributed exactly as plain sampling from p.
import { keptTokens, type SampleRequest } from '../sampling/rules.ts';
import type { Random } from './rng.ts';

/** What a model offers for speculative decoding (src/model/mtp-speculator.ts on the GPU). */
export interface Speculator {
  readonly maxDrafts: number;
  /** Main-cache positions in use. */
  readonly length: number;
  prefill(prompt: readonly number[], sample: SampleRequest): Promise<number>;
  step(t: number, draft: SampleRequest[], verify: SampleRequest[], logits: boolean): Promise<DraftStep>;
  commit(step: DraftStep, accepted: number, next: number): void;
  /**
   * The token chosen last (by prefill or commit, not yet stepped from) is replaced by `t`: the caller emits
   * `t` in its place (a forced token, src/decode/reasoning-budget.ts). The next step starts from `t`.
   */
  replaceNext(t: number): void;
}

export interface DraftStep {
  drafts: number[];
  /** The main model's choice after t, d1..dK (used by the greedy rule). */
  predictions: number[];
  /** [K+1, vocab] main logits and [K, vocab] draft logits (sampling rule). */
  mainLogits?: Float32Array;
  draftLogits?: Float32Array;
}

export interface Verdict {
  /** Drafts kept, in order. */
  accepted: number;
  /** The token after the kept drafts: the main model's correction or bonus token. */
  next: number;
}

export function acceptGreedy(step: DraftStep): Verdict {
  let accepted = 0;
  while (accepted < step.drafts.length && step.drafts[accepted] === step.predictions[accepted]) accepted++;
  return { accepted, next: step.predictions[accepted] };
}

/** The probabilities a request gives one row of logits (zero outside the kept set). */
export function distribution(logits: ArrayLike<number>, req: SampleRequest): Float64Array {
  const k = keptTokens(logits, req);
  const p = new Float64Array(k.z.length);
  let total = 0;
  for (let i = 0; i < p.length; i++) if (k.z[i] >= k.minKept) total += p[i] = Math.exp(k.z[i] - k.max);
  for (let i = 0; i < p.length; i++) p[i] /= total;
  return p;
}

/** Inverse-CDF draw in id order. */
export function drawFrom(p: ArrayLike<number>, random: number): number {
  let total = 0;
  for (let i = 0; i < p.length; i++) total += p[i];
  let acc = 0;
  let last = -1;
  for (let i = 0; i < p.length; i++) {
    if (p[i] <= 0) continue;
    acc += p[i];
    last = i;
    if (acc > random * total) return i;
  }
  return last;
}

/**
 * The sampling rule over K drafts: `p[i]` is the main distribution after t, d1..di (i = 0..K) and `q[i]`
 * the draft distribution d_{i+1} was drawn from.
 */
export function acceptSampled(drafts: number[], p: (i: number) => Float64Array, q: (i: number) => Float64Array, random: Random): Verdict {
  for (let i = 0; i < drafts.length; i++) {
    const d = drafts[i];
    const pi = p(i);
    const qi = q(i);
    if (random() * qi[d] < pi[d]) continue; // accept with probability min(1, p(d)/q(d))
    const residual = pi.map((v, x) => Math.max(0, v - qi[x]));
    return { accepted: i, next: drawFrom(residual, random()) };
  }
  return { accepted: drafts.length, next: drawFrom(p(drafts.length), random()) };
}
