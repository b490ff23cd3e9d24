// Log-probabilities of generated tokens, as OpenAI's `logprobs` reports them: the model's own distribution
// at each position — the log-softmax of the raw logits, before temperature, penalties and top-k/top-p/min-p
// change it for sampling — so the figures describe the model, whatever sampling settings chose the token.
// Computed on the CPU in float64 from the logits row the logprob decode path reads back.

export interface TokenLogprob {
  token: number;
  logprob: number;
}

export interface StepLogprobs extends TokenLogprob {
  /** The `top` most likely tokens, most likely first (ties: lower id first). */
  top: TokenLogprob[];
}

/** OpenAI's limit on alternatives per token. */
export const MAX_TOP_LOGPROBS = 20;

export function stepLogprobs(logits: ArrayLike<number>, token: number, top: number): StepLogprobs {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const logZ = max + Math.log(sum);
  const of = (id: number): TokenLogprob => ({ token: id, logprob: logits[id] - logZ });
  return { ...of(token), top: topIds(logits, top).map(of) };
}

/** The ids of the `n` largest entries, largest first: one pass keeping a small sorted list (n <= 20). */
function topIds(logits: ArrayLike<number>, n: number): number[] {
  const best: number[] = [];
  const before = (a: number, b: number) => logits[a] > logits[b] || (logits[a] === logits[b] && a < b);
  for (let i = 0; i < logits.length && n > 0; i++) {
    if (best.length === n && !before(i, best[n - 1])) continue;
    let at = best.length === n ? n - 1 : best.length;
    while (at > 0 && before(i, best[at - 1])) at--;
    best.splice(at, 0, i);
    if (best.length > n) best.pop();
  }
  return best;
}
