// Sampling options as a user gives them, and the per-step requests made from them. The rules themselves
// (src/sampling/rules.ts) run on the device (GPU kernel or src/reference/sample.ts); this file owns the
// seeded randomness, the window of tokens the repetition penalty looks at, and the generated-token counts
// the frequency and presence penalties use.
import { InputError } from '../errors.ts';
import { isGreedy, type SampleRequest } from '../sampling/rules.ts';
import { seededRandom, type Random } from './rng.ts';

export interface SamplingOptions {
  /** 0 = greedy, the default here; Engine.generate() defaults to the model's generation_config.json instead. */
  temperature?: number;
  /** Sample among the k most likely tokens only; 0 (default) = off. */
  topK?: number;
  /** Nucleus sampling: the smallest set of most likely tokens whose probabilities reach p, in (0, 1]; 1 (default) = off. */
  topP?: number;
  /** Drop tokens less likely than minP times the most likely one, in [0, 1); 0 (default) = off. */
  minP?: number;
  /** 1 (default) = off. */
  repetitionPenalty?: number;
  /** How many of the most recent tokens (prompt included) the penalty applies to; default 64. */
  repetitionWindow?: number;
  /**
   * OpenAI's penalties, -2 to 2, default 0: each generated token's logit is lowered by frequencyPenalty
   * times the times it has been generated so far, plus presencePenalty once it has been. Only generated
   * tokens count (not the prompt), as OpenAI does; negative values encourage repeats.
   */
  frequencyPenalty?: number;
  /** OpenAI's presence penalty, -2 to 2, default 0: subtracted once from each token generated so far. */
  presencePenalty?: number;
  /** Seed of the random numbers; the same seed and options give the same tokens. Default: random. */
  seed?: number;
}

export type ResolvedSampling = Required<SamplingOptions>;

export function resolveSampling(o: SamplingOptions = {}): ResolvedSampling {
  const r: ResolvedSampling = {
    temperature: o.temperature ?? 0,
    topK: o.topK ?? 0,
    topP: o.topP ?? 1,
    minP: o.minP ?? 0,
    repetitionPenalty: o.repetitionPenalty ?? 1,
    repetitionWindow: o.repetitionWindow ?? 64,
    frequencyPenalty: o.frequencyPenalty ?? 0,
    presencePenalty: o.presencePenalty ?? 0,
    seed: o.seed ?? Math.floor(Math.random() * 2 ** 32),
  };
  const check = (ok: boolean, name: string, what: string, value: number) => {
    if (!ok) throw new InputError(name, `${what}, got ${value}`);
  };
  check(Number.isFinite(r.temperature) && r.temperature >= 0, 'temperature', 'must be >= 0', r.temperature);
  check(Number.isInteger(r.topK) && r.topK >= 0, 'top-k', 'must be an integer >= 0 (0 = off)', r.topK);
  check(r.topP > 0 && r.topP <= 1, 'top-p', 'must be in (0, 1]', r.topP);
  check(r.minP >= 0 && r.minP < 1, 'min-p', 'must be in [0, 1)', r.minP);
  check(Number.isFinite(r.repetitionPenalty) && r.repetitionPenalty > 0, 'repetition-penalty', 'must be > 0 (1 = off)', r.repetitionPenalty);
  check(Math.abs(r.frequencyPenalty) <= 2, 'frequency-penalty', 'must be in [-2, 2]', r.frequencyPenalty);
  check(Math.abs(r.presencePenalty) <= 2, 'presence-penalty', 'must be in [-2, 2]', r.presencePenalty);
  check(Number.isInteger(r.repetitionWindow) && r.repetitionWindow >= 0, 'repetition-window', 'must be an integer >= 0', r.repetitionWindow);
  check(Number.isInteger(r.seed) && r.seed >= 0 && r.seed < 2 ** 32, 'seed', 'must be an integer in [0, 2^32)', r.seed);
  return r;
}

/** Makes one SampleRequest per generated token from the options and the token history. */
export class Sampler {
  private readonly random: Random;

  /** `promptLength`: how many leading tokens of the history are prompt (not counted by the additive penalties). */
  constructor(
    readonly options: ResolvedSampling,
    private readonly promptLength = 0,
  ) {
    this.random = seededRandom(options.seed);
  }

  /** Whether frequency or presence penalties apply (they need each step's own counts). */
  get additive(): boolean {
    return this.options.frequencyPenalty !== 0 || this.options.presencePenalty !== 0;
  }

  get greedy(): boolean {
    return isGreedy(this.options);
  }

  /** A uniform number in [0, 1) from the same seeded stream (speculative acceptance draws). */
  uniform(): number {
    return this.random();
  }

  /** `history`: every token so far (prompt and generated). One random number is drawn per call. */
  next(history: readonly number[]): SampleRequest {
    const o = this.options;
    const penalized = o.repetitionPenalty !== 1 && o.repetitionWindow > 0 ? [...new Set(history.slice(-o.repetitionWindow))] : [];
    return {
      temperature: o.temperature,
      topK: o.topK,
      topP: o.topP,
      minP: o.minP,
      repetitionPenalty: o.repetitionPenalty,
      penalizedTokens: penalized,
      ...(this.additive && { additivePenalties: this.additiveAmounts(history) }),
      random: this.random(),
    };
  }

  private additiveAmounts(history: readonly number[]): Map<number, number> {
    const counts = new Map<number, number>();
    for (let i = this.promptLength; i < history.length; i++) counts.set(history[i], (counts.get(history[i]) ?? 0) + 1);
    const { frequencyPenalty, presencePenalty } = this.options;
    return new Map([...counts].map(([token, n]) => [token, frequencyPenalty * n + presencePenalty]));
  }
}
