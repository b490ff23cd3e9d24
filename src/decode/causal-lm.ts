// What the decode loop and Engine need from a model: append tokens to the sequence (a whole prompt or one
// decode step) and get the next token chosen on the device, read logits back, forget positions. Engine
// holds its model only through this interface, so a backend other than the WebGPU DeepseekModel (a CPU
// path, a native binding, a test stand-in) drops in with Engine's tokenizer, chat and queueing unchanged.
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
  /**
   * Appends `tokens` and returns, for every appended position, the logits [T, vocab] and the hidden state
   * after the final norm [T, hidden] (what a draft head reads). Optional: only scoring the MTP head needs it.
   */
  appendOutputs?(tokens: readonly number[]): Promise<{ logits: Float32Array; hidden: Float32Array }>;
  /**
   * The draft head's logits [T, vocab] for rows (hidden row i, nextTokens[i]) after those already in its
   * cache; row i predicts the token after nextTokens[i]. Optional: only scoring the MTP head needs it.
   */
  appendMtpLogits?(hidden: Float32Array, nextTokens: readonly number[]): Promise<Float32Array>;
  /**
   * From an empty context, takes what a prefix cache holds of `tokens` (whole cache pages of earlier
   * sequences that started with the same tokens, never the last token) and returns the positions now held.
   * `draft`: only where the draft head's cache rows hold too (speculative decoding resumes there). Optional.
   */
  startFromPrefix?(tokens: readonly number[], draft: boolean): number;
  /** Offers the context's positions, whose tokens are `tokens`, to the prefix cache. Optional. */
  keepPrefix?(tokens: readonly number[]): void;
  /** Resolves when no operation is running on the device (dispose() after it frees nothing in use). */
  idle(): Promise<void>;
  /** Frees device memory; the instance is unusable afterwards. */
  dispose(): void;
  /** A draft-and-verify interface over the same caches, when the model has a draft head (MTP). */
  speculator?(): Speculator | null;
  /** Positions the draft head's own cache holds (a continued context resumes speculation at most there). */
  readonly draftLength?: number;
  /**
   * Running totals of an expert cache (experts offloaded to host memory), since load; null or absent when every
   * weight is on the device. A reading is a copy: figures over a span are differences of two readings.
   */
  readonly expertCache?: Readonly<ExpertCacheStats> | null;
}

/** An expert cache's running totals (see CausalLM.expertCache). */
export interface ExpertCacheStats {
  /** Distinct experts a layer needed in one submission, summed over layers and steps. */
  lookups: number;
  /** Those already on the device. */
  hits: number;
  /** Bytes uploaded into the cache. */
  bytesUploaded: number;
  /**
   * Wall time the host spent between submitting a step's work up to a routing and recording the experts (ms):
   * the routing read-back (which also waits for the GPU to run what came before it) and the uploads.
   */
  stallMs: number;
  /** The part of stallMs spent reading experts and writing them into the cache (ms). */
  uploadMs: number;
}
