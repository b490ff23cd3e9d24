// The decode loop: prefill the prompt in chunks, then one token per step until a stop condition. Yields
// each token with its newly completed text; `result` resolves with the whole output, why it stopped and
// the speed figures. The model chooses each token on its device; only token ids cross to the CPU.
import { InputError } from '../errors.ts';
import type { CausalLM, ExpertCacheStats } from './causal-lm.ts';
import { MAX_TOP_LOGPROBS, type StepLogprobs } from './logprobs.ts';
import { reasoningBudgetFor, type ThinkingMarkers } from './reasoning-budget.ts';
import { resolveSampling, Sampler, type SamplingOptions } from './sampling.ts';
import { logprobSteps, plainSteps, speculativeSteps, type StepContext, type StepCounters } from './steps.ts';
import { StopText, type FinishReason } from './stopping.ts';

/** Turns generated ids into text incrementally (a tokenizer's streaming decoder). */
export interface IncrementalDecoder {
  /** Text completed by this token (may be '' while a multi-byte character is incomplete). */
  push(id: number): string;
}

export interface GenerateOptions extends SamplingOptions {
  /** Default 256. */
  maxNewTokens?: number;
  /** Ids that end generation (default: the config's eos_token_id). The id itself is not part of the output. */
  eosTokenIds?: readonly number[];
  /** Texts that end generation where they first appear; the result's text stops before one. Default none. */
  stopStrings?: readonly string[];
  /** Turns the generated ids into text; without one, events and the result carry ids and empty text. */
  decoder?: IncrementalDecoder;
  /** Aborting it ends the generation after the current step, with finishReason 'aborted'. */
  signal?: AbortSignal;
  /**
   * 'mtp': draft with the model's multi-token-prediction head and verify the drafts in one pass (the
   * default when the model has one); 'none': one token per step. Greedy output is identical either way;
   * sampled output has the same distribution.
   */
  speculative?: 'mtp' | 'none';
  /** Drafts per step with 'mtp' (the MTP head applied to its own output after the first); default 1. */
  draftTokens?: number;
  /**
   * Report each generated token's log-probability and this many most likely alternatives (0 to 20) on its
   * event (src/decode/logprobs.ts). Each step then reads back its logits and chooses the token on the CPU;
   * speculative decoding is off (the verify pass's rows would do, but plain steps keep this path simple).
   * Default: no logprobs, no read-back.
   */
  logprobs?: number;
  /**
   * Called once when the generation ends: finished, stopped by the consumer, aborted or failed; `generated`
   * holds the tokens produced so far (the prompt and these are what the context may hold afterwards).
   */
  onSettled?: (generated: readonly number[], failed: boolean) => void;
  /**
   * Awaited when the generation is first consumed, before its first step: the engine waits there for the
   * model to be free and empties its context. With it, the prompt is checked against an empty context.
   * It may resolve with how many leading prompt tokens the context already holds (at positions 0..n-1):
   * those are not prefilled again (a chat's earlier turns). At least one prompt token is always prefilled.
   */
  beforeStart?: () => Promise<number | void>;
  /**
   * R1-style reasoning budget: after this many generated tokens inside the `<think>` section, the tokens of
   * `</think>` are forced and the answer follows (src/decode/reasoning-budget.ts). Needs `thinking` and a
   * `decoder` (the section is found in the text); ModelEngine.generate() supplies both from its tokenizer.
   * Default: no budget.
   */
  reasoningBudget?: number;
  /** The ids of `</think>` and whether the prompt opened the section, for `reasoningBudget`. */
  thinking?: ThinkingMarkers;
}

export interface GenerateStats {
  /** Tokens of the prompt, prefilled before the first generated one. */
  promptTokens: number;
  /** Prompt tokens the context already held (beforeStart said so), not prefilled again; 0 from an empty context. */
  cachedTokens: number;
  /** Tokens generated (an end-of-sequence id that ended the generation not counted). */
  generatedTokens: number;
  /** Prompt tokens per second, including choosing the first token. */
  prefillTokensPerSecond: number;
  /** Tokens per second after the first. */
  decodeTokensPerSecond: number;
  /** 'mtp' or 'none': how the tokens were produced. */
  speculative: 'mtp' | 'none';
  /** Speculative decoding: drafts the MTP head proposed (0 with 'none'). */
  drafted: number;
  /** Speculative decoding: drafts the model's verification kept. */
  accepted: number;
  /** accepted / drafted (0 when nothing was drafted). */
  acceptanceRate: number;
  /** Tokens per decode step after the first token (0 when there was none): 1 without speculation, up to 1 + draftTokens with it. */
  tokensPerStep: number;
  /** With experts offloaded to host memory (the gpuMemory load option): the expert cache's figures; absent otherwise. */
  expertCache?: ExpertCacheFigures;
}

/** The expert cache over one generation: the decode steps after the first token, and the prefill's uploads. */
export interface ExpertCacheFigures {
  /** Decode: experts found on the device / experts needed (each layer's distinct experts per step); 1 with no lookup. */
  hitRate: number;
  /** Decode: bytes uploaded per generated token after the first. */
  bytesUploadedPerToken: number;
  /**
   * Decode: ms per generated token after the first that the host waited between a routing's submission and
   * its experts' recording (the read-back, which includes the GPU running the work before it, and the uploads).
   */
  stallMsPerToken: number;
  /** Decode: the part of stallMsPerToken spent reading experts and writing them to the device. */
  uploadMsPerToken: number;
  /** Prefill (with choosing the first token): bytes uploaded, and ms stalled. */
  prefillBytesUploaded: number;
  prefillStallMs: number;
}

/** The figures from three readings of CausalLM.expertCache: at the start, at the first token and at the end. */
export function expertCacheFigures(start: ExpertCacheStats, first: ExpertCacheStats, end: ExpertCacheStats, decoded: number): ExpertCacheFigures {
  const lookups = end.lookups - first.lookups;
  const per = (n: number) => (decoded > 0 ? n / decoded : 0);
  return {
    hitRate: lookups > 0 ? (end.hits - first.hits) / lookups : 1,
    bytesUploadedPerToken: per(end.bytesUploaded - first.bytesUploaded),
    stallMsPerToken: per(end.stallMs - first.stallMs),
    uploadMsPerToken: per(end.uploadMs - first.uploadMs),
    prefillBytesUploaded: first.bytesUploaded - start.bytesUploaded,
    prefillStallMs: first.stallMs - start.stallMs,
  };
}

export interface GenerateResult {
  /** The generated ids, without the prompt and without an end-of-sequence id that ended the generation. */
  tokens: number[];
  /** The generated text (empty without a decoder), cut before a stop string that ended it. */
  text: string;
  /**
   * Why it ended: 'eos' an end-of-sequence id, 'stop' a stop string, 'length' maxNewTokens, 'context' the
   * KV cache is full, 'aborted' the signal, a dispose or a consumer that stopped iterating.
   */
  finishReason: FinishReason | 'aborted';
  /** Token counts and speeds. */
  stats: GenerateStats;
}

export interface GenerateEvent {
  /** The generated id; null for the last event when it only carries text held back for stop strings. */
  token: number | null;
  /** Text this token completed (after stop-string handling). */
  text: string;
  /** With the `logprobs` option, for each event that carries a token. */
  logprobs?: StepLogprobs;
}

export interface Generation extends AsyncIterable<GenerateEvent> {
  /**
   * The whole output, why it stopped and the speed figures. Reading it without iterating runs the generation
   * to its end; it rejects with the error that stopped a failed generation (a GpuError, say).
   */
  readonly result: Promise<GenerateResult>;
}

/** Checks the prompt against the model before anything runs (`length`: positions already in the context). */
export function validatePrompt(lm: CausalLM, prompt: readonly number[], argument = 'prompt', length = lm.length): void {
  if (prompt.length === 0) throw new InputError(argument, 'is empty; give at least one token');
  const vocab = lm.config.vocabSize;
  const bad = prompt.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= vocab);
  if (bad >= 0) throw new InputError(argument, `token id ${prompt[bad]} at index ${bad} is outside the vocabulary [0, ${vocab})`);
  const room = lm.maxLength - length;
  if (prompt.length > room) {
    throw new InputError(argument, `${prompt.length} tokens do not fit the context: ${room} of ${lm.maxLength} positions are free`);
  }
}

export function generate(lm: CausalLM, prompt: readonly number[], options: GenerateOptions = {}): Generation {
  validatePrompt(lm, prompt, 'prompt', options.beforeStart ? 0 : lm.length);
  const sampler = new Sampler(resolveSampling(options), prompt.length);
  const maxNew = options.maxNewTokens ?? 256;
  if (!Number.isInteger(maxNew) || maxNew < 0) throw new InputError('max-new-tokens', `must be an integer >= 0, got ${maxNew}`);
  const eos = new Set(options.eosTokenIds ?? lm.config.eosTokenIds);
  const stopText = new StopText(options.stopStrings ?? []);
  const draftTokens = options.draftTokens ?? 1;
  if (!Number.isInteger(draftTokens) || draftTokens < 1) throw new InputError('draft-tokens', `must be an integer >= 1, got ${draftTokens}`);
  const top = options.logprobs;
  if (top !== undefined && !(Number.isInteger(top) && top >= 0 && top <= MAX_TOP_LOGPROBS)) {
    throw new InputError('logprobs', `must be an integer in [0, ${MAX_TOP_LOGPROBS}], got ${top}`);
  }
  if (top !== undefined && options.speculative === 'mtp') throw new InputError('speculative', 'mtp does not combine with logprobs; use --speculative none');
  const speculator = top === undefined ? chooseSpeculator(lm, options.speculative, sampler) : null;
  const logprobs: StepLogprobs[] = [];
  const budget = reasoningBudgetFor(options);

  const tokens: number[] = [];
  const history = [...prompt];
  let finish: GenerateResult['finishReason'] = 'aborted'; // until the loop says otherwise
  let t0 = performance.now(); // reset when the generation's turn comes
  let cached = 0; // leading prompt tokens the context held at the start
  const counters: StepCounters = { firstTokenAt: t0, steps: 0, drafted: 0, accepted: 0 };
  let resolve!: (r: GenerateResult) => void;
  let reject!: (e: unknown) => void;
  const result = new Promise<GenerateResult>((res, rej) => ((resolve = res), (reject = rej)));
  result.catch(() => {}); // a failure reaches whoever iterates; `result` rejects too but need not be awaited
  let failure: { error: unknown } | null = null;
  // Readings of the expert cache (CausalLM.expertCache) at the start and at the first token.
  const experts: { start: ExpertCacheStats | null; first: ExpertCacheStats | null } = { start: null, first: null };
  const settle = () => {
    options.onSettled?.(tokens, failure !== null);
    if (failure) return reject(failure.error);
    const tFirst = counters.firstTokenAt;
    const decoded = Math.max(0, tokens.length - 1); // tokens after the one prefill chose
    resolve({
      tokens,
      text: stopText.text,
      finishReason: finish,
      stats: {
        promptTokens: prompt.length,
        cachedTokens: cached,
        generatedTokens: tokens.length,
        prefillTokensPerSecond: tFirst > t0 ? (prompt.length - cached) / ((tFirst - t0) / 1000) : 0,
        decodeTokensPerSecond: decoded > 0 ? decoded / ((performance.now() - tFirst) / 1000) : 0,
        speculative: speculator ? 'mtp' : 'none',
        drafted: counters.drafted,
        accepted: counters.accepted,
        acceptanceRate: counters.drafted ? counters.accepted / counters.drafted : 0,
        tokensPerStep: counters.steps ? decoded / counters.steps : 0,
        ...(experts.start && lm.expertCache && { expertCache: expertCacheFigures(experts.start, experts.first ?? lm.expertCache, lm.expertCache, decoded) }),
      },
    });
  };

  async function* run(): AsyncGenerator<GenerateEvent> {
    const held = await options.beforeStart?.();
    if (typeof held === 'number') {
      if (!Number.isInteger(held) || held < 0 || held >= prompt.length || held !== lm.length) {
        throw new Error(`generate: beforeStart says the context holds ${held} of ${prompt.length} prompt tokens, but it holds ${lm.length} positions`);
      }
      cached = held;
    }
    if (options.signal?.aborted) return; // disposed or aborted while waiting for its turn
    t0 = counters.firstTokenAt = performance.now();
    experts.start = lm.expertCache ?? null;
    if (maxNew === 0) {
      finish = 'length';
      return;
    }
    const ctx: StepContext = { lm, prompt: prompt.slice(cached), history, sampler, remaining: () => maxNew - tokens.length, counters, forcing: budget ?? undefined };
    const steps = top !== undefined ? logprobSteps(ctx, top, logprobs) : speculator ? speculativeSteps(ctx, speculator, draftTokens) : plainSteps(ctx);
    for (;;) {
      const step = await steps.next();
      if (experts.first === null) experts.first = lm.expertCache ?? null;
      if (step.done) {
        finish = step.value;
        break;
      }
      for (const token of step.value) {
        if (eos.has(token)) {
          finish = 'eos';
          break;
        }
        tokens.push(token);
        history.push(token);
        const decoded = options.decoder?.push(token) ?? '';
        budget?.observe(decoded);
        const piece = stopText.accept(decoded);
        if (stopText.stopped) finish = 'stop';
        const lp = logprobs.shift();
        yield lp ? { token, text: piece, logprobs: lp } : { token, text: piece };
        if (finish === 'stop') return;
        if (tokens.length >= maxNew) {
          finish = 'length';
          break;
        }
      }
      if (finish !== 'aborted') break;
      if (options.signal?.aborted) return; // finish stays 'aborted'
    }
    const tail = stopText.flush();
    if (tail) yield { token: null, text: tail }; // the held-back tail: no stop string came
  }

  const iterator = (async function* () {
    try {
      yield* run();
    } catch (e) {
      failure = { error: e };
      throw e;
    } finally {
      settle(); // also when the consumer stops early or the model throws
    }
  })();
  return drainable(iterator, result);
}

/**
 * The Generation over `iterator`: iterating it pulls one step at a time; reading `result` without iterating
 * runs the generation to its end (events are kept, so a later or concurrent iteration still sees each event
 * once, in order).
 */
export function drainable(iterator: AsyncGenerator<GenerateEvent>, result: Promise<GenerateResult>): Generation {
  let drain: Promise<void> | null = null;
  const kept: GenerateEvent[] = [];
  let taken = 0;
  let ended = false;
  let error: { error: unknown } | null = null;
  let wake = () => {};
  const startDrain = () =>
    (drain ??= (async () => {
      try {
        for (let r = await iterator.next(); !r.done; r = await iterator.next()) {
          kept.push(r.value);
          wake();
        }
      } catch (e) {
        error = { error: e };
      } finally {
        ended = true;
        wake();
      }
    })());
  const events: AsyncIterator<GenerateEvent> = {
    async next() {
      if (!drain) return iterator.next();
      for (;;) {
        if (taken < kept.length) return { done: false, value: kept[taken++] };
        if (ended) {
          const e: { error: unknown } | null = error;
          error = null; // thrown once, as a generator would
          if (e) throw e.error;
          return { done: true, value: undefined };
        }
        await new Promise<void>((r) => (wake = r));
      }
    },
    async return() {
      await iterator.return(undefined);
      return { done: true, value: undefined };
    },
  };
  return {
    get result() {
      startDrain();
      return result;
    },
    [Symbol.asyncIterator]: () => events,
  };
}

/** Whether generate() with these options (generation defaults applied) decodes speculatively on `lm`. */
export function usesSpeculation(lm: CausalLM, options: GenerateOptions): boolean {
  return chooseSpeculator(lm, options.speculative, new Sampler(resolveSampling(options))) !== null;
}

/** The speculator to use, or null for plain decoding. */
function chooseSpeculator(lm: CausalLM, wanted: GenerateOptions['speculative'], sampler: Sampler) {
  const spec = lm.speculator?.() ?? null;
  if (wanted === 'none') return null;
  if (!spec) {
    if (wanted === 'mtp') throw new InputError('speculative', 'this model has no MTP module to draft with (num_nextn_predict_layers is 0)');
    return null;
  }
  if (sampler.options.repetitionPenalty !== 1 || sampler.additive) {
    // Each verified row would need its own penalized set, including drafts only the GPU knows.
    if (wanted === 'mtp') throw new InputError('speculative', 'mtp does not combine with a repetition, frequency or presence penalty yet; use --speculative none');
    return null;
  }
  return spec;
}
