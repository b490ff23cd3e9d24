// What the decode loop needs from a model: append tokens to the sequence (prefill chunk or one decode
// step) and get the next token chosen on the device. Implemented by the GPU engine and by the CPU
// reference, so the loop, sampling rules and stopping are tested the same way on both.
import type { ModelConfig } from '../config/model-config.ts';
import type { SampleRequest } from '../sampling/rules.ts';
import type { Speculator } from './speculative.ts';

export type { SampleRequest } from '../sampling/rules.ts';

export interface CausalLM {
  readonly config: ModelConfig;
  /** Positions currently held in the KV cache. */
  readonly length: number;
  /** The most positions this instance can hold (KV cache capacity, at most max_position_embeddings). */
  readonly maxLength: number;
  /**
   * Appends `tokens` at positions length.. and, when `sample` is given, returns the next token chosen from
   * the last position's logits (null otherwise). Any number of tokens up to the free context: a whole
   * prompt is one call, and the model cuts it into whatever chunks its own buffers allow.
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
