// What batched decoding needs from a model (src/decode/batch.ts drives it): sequences of its own in a shared
// cache, each filled by a prompt, forked for several choices of one prompt, and one step that advances many
// sequences at once. DeepseekModel implements it over the paged latent cache; the loop's own tests use a
// CPU stand-in.
import type { ModelConfig } from '../config/model-config.ts';
import type { SampleRequest } from '../sampling/rules.ts';

/** A sequence of the model's cache; `length` positions are in it. */
export interface BatchSequence {
  readonly length: number;
  /** Rows its prompt took from the model's prefix cache instead of prefilling them. */
  readonly reused?: number;
}

/** A sequence's row in a step: `token` is appended to `seq`. */
interface SequenceRow<S extends BatchSequence> {
  seq: S;
  token: number;
}

/** One row of a batched step: `token` is appended to `seq` and its next token chosen under `sample`. */
export interface BatchRow<S extends BatchSequence = BatchSequence> extends SequenceRow<S> {
  sample: SampleRequest;
}

export interface BatchLM<S extends BatchSequence = BatchSequence> {
  readonly config: ModelConfig;
  /** Positions one sequence may reach. */
  readonly maxLength: number;
  /** Most rows one decodeStep takes. */
  readonly maxBatch: number;
  /** A new, empty sequence (throws when the cache has no room for another). */
  openSequence(): S;
  /** A new sequence holding `seq`'s positions. */
  forkSequence(seq: S): Promise<S>;
  /**
   * Frees the sequence's share of the cache at once. `tokens`, the tokens of its rows, when they are sound:
   * a model with a prefix cache may keep them for later prompts that start with the same tokens.
   */
  releaseSequence(seq: S, tokens?: readonly number[]): void;
  /**
   * Appends `tokens` to `seq`; with `sample`, returns the next token chosen after the last of them. An empty
   * `seq` may start with rows of a prefix cache (its `reused`) rather than prefill all of `tokens`.
   */
  appendSequence(seq: S, tokens: readonly number[], sample: SampleRequest | null): Promise<number | null>;
  /** One step: each row's token appended to its sequence, each row's next token returned, in row order. */
  decodeStep(rows: readonly BatchRow<S>[]): Promise<number[]>;
  /** Speculative decoding of batched sequences, when the model has a draft head. */
  batchSpeculator?(): BatchSpeculator<S> | null;
}

/** One row of a batched speculative step: `token` (the last chosen) is appended, with a draft after it if `draft`. */
export interface SpeculativeRow<S extends BatchSequence = BatchSequence> extends SequenceRow<S> {
  /** Draft one token with the draft head and verify it in the same step (false: a plain row). */
  draft: boolean;
  /**
   * false: the draft is verified but never kept, the main model's choice after `token` is taken (the row keeps
   * its draft state, which a plain row gives up). For a sequence whose next-but-one token will be forced.
   * Default true.
   */
  keep?: boolean;
}

/**
 * Greedy speculative decoding of batched sequences with the model's draft head (MTP): each step drafts one token
 * per row and verifies every row's [token, draft] in one pass. Only for rows chosen greedily without penalties,
 * where accepting a draft is comparing ids.
 */
export interface BatchSpeculator<S extends BatchSequence = BatchSequence> {
  /** Most rows one step takes. */
  readonly maxBatch: number;
  /** Prefills `prompt` into the empty `seq` (both caches) and returns its first token, chosen greedily. */
  prefill(seq: S, prompt: readonly number[]): Promise<number>;
  /** One step; for each row the tokens it produced (the accepted draft, then the main model's next). */
  step(rows: readonly SpeculativeRow<S>[]): Promise<number[][]>;
  /** Forgets a sequence's draft state (it was released). */
  forget(seq: S): void;
  /**
   * The token chosen last for `seq` (by prefill or step, not yet stepped from) is replaced by `t`, which the
   * caller appends instead (a forced token, src/decode/reasoning-budget.ts); the next step starts from `t`.
   */
  replaceNext(seq: S, t: number): void;
}
