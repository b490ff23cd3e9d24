// What the decode loop needs from a model: append tokens to the sequence (prefill chunk or one decode
// step) and get the next token chosen on the device. Implemented by the GPU engine and by the CPU
// reference, so the loop, sampling rules and stopping are tested the same way on both.
import type { ModelConfig } from '../config/model-config.ts';
import type { Speculator } from './speculative.ts';

/** How the next token is chosen from the last position's logits (see src/decode/sampling.ts). */
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

export interface CausalLM {
  readonly config: ModelConfig;
  /** Positions currently held in the KV cache. */
  readonly length: number;
  /** The most positions this instance can hold (KV cache capacity, at most max_position_embeddings). */
  readonly maxLength: number;
  /**
   * Appends `tokens` at positions length.. and, when `sample` is given, returns the next token chosen from
   * the last position's logits (null otherwise: a prefill chunk that is not the last).
   */
  append(tokens: readonly number[], sample: SampleRequest | null): Promise<number | null>;
  /** Appends `tokens` and returns the logits of every appended position, [tokens.length, vocab]. */
  appendLogits(tokens: readonly number[]): Promise<Float32Array>;
  /** Forgets positions from `length` on (a new conversation, or speculative rollback). */
  truncate(length: number): void;
  /** Frees device memory; the instance is unusable afterwards. */
  dispose(): void;
  /** A draft-and-verify interface over the same caches, when the model has a draft head (MTP). */
  speculator?(): Speculator | null;
}
