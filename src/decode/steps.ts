// Where generated tokens come from, one model step at a time: plain decoding (one token per step) or
// speculative decoding with a draft head (several per step). Both prefill the prompt first. The caller
// (src/decode/generate.ts) appends each emitted token to `history` before asking for the next step.
import { sampleToken } from '../reference/sample.ts';
import type { SampleRequest } from '../sampling/rules.ts';
import type { CausalLM } from './causal-lm.ts';
import { stepLogprobs, type StepLogprobs } from './logprobs.ts';
import type { TokenForcing } from './reasoning-budget.ts';
import type { Sampler } from './sampling.ts';
import { acceptGreedy, acceptSampled, distribution, type Speculator } from './speculative.ts';

export interface StepCounters {
  /** Set when the first token is known (prefill done). */
  firstTokenAt: number;
  steps: number;
  drafted: number;
  accepted: number;
}

export interface StepContext {
  lm: CausalLM;
  prompt: readonly number[];
  history: number[];
  sampler: Sampler;
  /** Tokens still wanted, so a step does not draft past the budget. */
  remaining: () => number;
  counters: StepCounters;
  /** Tokens to emit instead of the model's choices (a reasoning budget's `</think>`); default none. */
  forcing?: TokenForcing;
}

/** Yields the tokens of each step; returns 'context' when the cache is full. */
export async function* plainSteps(s: StepContext): AsyncGenerator<number[], 'context'> {
  // The whole prompt in one call: the model cuts it into the chunks its scratch was sized for.
  let next = await s.lm.append(s.prompt, s.sampler.next(s.history));
  s.counters.firstTokenAt = performance.now();
  for (;;) {
    next = s.forcing?.next() ?? next; // a forced token is appended next as if the model had chosen it
    yield [next!];
    if (s.lm.length >= s.lm.maxLength) return 'context';
    next = await s.lm.append([next!], s.sampler.next(s.history));
    s.counters.steps++;
  }
}

/**
 * Plain decoding that also reports log-probabilities: each step reads back its logits row and chooses the
 * token on the CPU with the reference sampler (the rules the GPU sampler implements), then pushes the
 * token's logprobs (and the `top` best) to `out`, one entry per yielded token, in order. Costs one logits
 * read-back per token, which the default path does not pay.
 */
export async function* logprobSteps(s: StepContext, top: number, out: StepLogprobs[]): AsyncGenerator<number[], 'context'> {
  const last = s.prompt.length - 1;
  if (last > 0) await s.lm.append(s.prompt.slice(0, last), null); // the model cuts it into its prefill chunks
  let input = s.prompt[last];
  for (let first = true; ; first = false) {
    const logits = await s.lm.appendLogits([input]);
    const chosen = sampleToken(logits, s.sampler.next(s.history));
    const token = s.forcing?.next() ?? chosen; // its logprob is the one the model gave the forced token
    out.push(stepLogprobs(logits, token, top));
    if (first) s.counters.firstTokenAt = performance.now();
    else s.counters.steps++;
    yield [token];
    if (s.lm.length >= s.lm.maxLength) return 'context';
    input = token;
  }
}

/**
 * With a forcing (src/decode/reasoning-budget.ts), a step drafts at most as many tokens as the model may still
 * choose, so a draft never stands where a forced token is due; the forced token replaces the token the
 * previous step chose (its MTP row pairs the same hidden state with the forced token), and the steps go on
 * as usual. Greedy output is therefore identical to plainSteps' with the same forcing.
 */
export async function* speculativeSteps(s: StepContext, spec: Speculator, draftTokens: number): AsyncGenerator<number[], 'context'> {
  let t = await spec.prefill(s.prompt, s.sampler.next(s.history));
  s.counters.firstTokenAt = performance.now();
  const greedy = s.sampler.greedy;
  for (;;) {
    const forced = s.forcing?.next() ?? null;
    if (forced !== null && forced !== t) {
      spec.replaceNext(forced);
      t = forced;
    }
    yield [t];
    const room = s.lm.maxLength - spec.length; // t needs one position, each draft one more
    if (room < 1) return 'context';
    // Tokens the model may choose after t before a forced one: drafts past that point would be thrown away.
    const free = s.forcing?.free() ?? Infinity;
    const K = Math.min(draftTokens, spec.maxDrafts, room - 1, s.remaining() - 1, Math.max(1, free - 1));
    if (K < 1) {
      // The last token wanted or the last free position: a plain step (no draft is worth verifying).
      t = (await s.lm.append([t], s.sampler.next(s.history)))!;
      s.counters.steps++;
      continue;
    }
    const draft = Array.from({ length: K }, () => s.sampler.next(s.history));
    const base = s.sampler.next(s.history); // the main model's rule (its random number is unused)
    const verify: SampleRequest[] = Array.from({ length: K + 1 }, () => (greedy ? base : { ...base, temperature: 0 }));
    const step = await spec.step(t, draft, verify, !greedy);
    // One step keeps the speculator in step even when no draft may be kept (free <= 1): its token after t
    // is then the main model's own choice, or a placeholder a forced token replaces.
    const usable = step.drafts.slice(0, Math.min(K, Math.max(0, free - 1)));
    const V = s.lm.config.vocabSize;
    const verdict = greedy
      ? acceptGreedy({ drafts: usable, predictions: step.predictions })
      : acceptSampled(
          usable,
          (i) => distribution(step.mainLogits!.subarray(i * V, (i + 1) * V), base),
          (i) => distribution(step.draftLogits!.subarray(i * V, (i + 1) * V), draft[i]),
          () => s.sampler.uniform(),
        );
    spec.commit(step, verdict.accepted, verdict.next);
    s.counters.steps++;
    s.counters.drafted += usable.length;
    s.counters.accepted += verdict.accepted;
    t = verdict.next;
    if (verdict.accepted > 0) yield step.drafts.slice(0, verdict.accepted); // t follows at the loop's top
  }
}
