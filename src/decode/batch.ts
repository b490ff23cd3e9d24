// Batched decoding: many independent sequences advanced together, one model step for all of them
// (docs/architecture.md "Batched decoding"). A request joins between steps: its prompt is prefilled into a
// sequence of its own (the first token chosen with it), and from the next step on it is one row of every
// batched step until it stops (an end-of-sequence id, its token budget, the context), when its share of the
// cache is returned at once. A request for n choices prefills the prompt once and forks the sequence n ways;
// each choice then takes the last prompt token as its first row, so each chooses its own first token.
//
// Each sequence draws its sampling requests from its own seeded Sampler exactly as generate() does alone
// (one request at the prefill, one per step, with the same history), so a sequence decodes the same tokens
// in a batch as alone with the same seed; choice i of a request with seed s uses seed s + i.
//
// Speculative decoding (the default when the model has a draft head): a request chosen greedily without
// penalties, with one choice, is prefilled through the draft head too and from then on steps in the batched
// speculative step (one draft per row, verified in the same pass; the tokens are those of plain decoding).
// Other sequences take plain batched steps in the same DecodeBatch.step().
//
// A reasoning budget (src/decode/reasoning-budget.ts) works per sequence as in generate(): each sequence reads
// its own tokens through its own decoder into its own ReasoningBudget, and once the budget is spent the tokens
// of `</think>` replace the model's choices of the next steps (the sampler still draws its request for each, so
// the random numbers after them are generate()'s too). A speculative sequence keeps its draft only while the
// token after it is one the model may still choose, so a forced token only ever replaces the step's last
// token, the one not yet in the cache (BatchSpeculator.replaceNext), as src/decode/steps.ts does alone.
import { InputError } from '../errors.ts';
import { isGreedy } from '../sampling/rules.ts';
import type { BatchLM, BatchRow, BatchSequence, BatchSpeculator } from './batch-lm.ts';
import type { IncrementalDecoder } from './generate.ts';
import { reasoningBudgetFor, type ReasoningBudget, type ThinkingMarkers } from './reasoning-budget.ts';
import { resolveSampling, Sampler, type SamplingOptions } from './sampling.ts';

export interface BatchRequest extends SamplingOptions {
  prompt: readonly number[];
  /** Default 256. */
  maxNewTokens?: number;
  /** Ids that end the sequence (default: the config's eos_token_id); the id itself is not output. */
  eosTokenIds?: readonly number[];
  /** R1-style reasoning budget, as generate()'s option; needs `thinking` and `textDecoder`. Default none. */
  reasoningBudget?: number;
  /** The ids of `</think>` and whether the prompt opened the section, for `reasoningBudget`. */
  thinking?: ThinkingMarkers;
  /** A new streaming decoder (one per sequence): the budget finds the `<think>` section in the text. */
  textDecoder?: () => IncrementalDecoder;
}

/** Why a batched sequence ended: as generate()'s, and 'cancelled' by BatchStream.cancel(). */
export type BatchFinish = 'eos' | 'length' | 'context' | 'cancelled';

export interface BatchResult {
  /** The generated ids, without an end-of-sequence id that ended the sequence. */
  tokens: number[];
  /** Why the sequence ended. */
  finishReason: BatchFinish;
}

/** A sequence's decode steps after its first token, and its drafts (as generate()'s stats count them). */
export interface BatchStreamCounts {
  steps: number;
  /** Drafts the MTP head proposed for it. */
  drafted: number;
  /** Drafts the verification kept. */
  accepted: number;
}

/** One sequence's tokens as the steps produce them; `result` settles when it ends. */
export class BatchStream implements AsyncIterable<number> {
  readonly tokens: number[] = [];
  /** Counted as the steps go (the batch's BatchStepStats sum them over sequences). */
  readonly counts: BatchStreamCounts = { steps: 0, drafted: 0, accepted: 0 };
  /**
   * When (performance.now(), ms; 0 until then) the sequence joined the batch (its prefill began), got its first
   * token and ended: its speeds are the batch's, whenever its consumer reads the tokens.
   */
  readonly times = { joined: 0, first: 0, ended: 0 };
  readonly result: Promise<BatchResult>;
  private settle!: (r: BatchResult) => void;
  private fail!: (e: unknown) => void;
  private waiters: (() => void)[] = [];
  private ended = false;
  /** @internal Set by cancel(); the batch drops the sequence before its next step. */
  cancelled = false;
  /** Prompt tokens the model's prefix cache held (not prefilled again); known once the sequence has joined. */
  cachedTokens = 0;

  constructor() {
    this.result = new Promise((resolve, reject) => {
      this.settle = resolve;
      this.fail = reject;
    });
    this.result.catch(() => {}); // a consumer that only iterates still sees the error there
  }

  /** Ends the sequence before the next step; its pages go back to the cache then. */
  cancel(): void {
    this.cancelled = true;
  }

  /** @internal */
  push(token: number): void {
    if (this.tokens.length === 0) this.times.first = performance.now();
    this.tokens.push(token);
    this.wake();
  }

  /** @internal */
  finish(reason: BatchFinish): void {
    if (this.ended) return;
    this.ended = true;
    this.times.ended = performance.now();
    this.settle({ tokens: [...this.tokens], finishReason: reason });
    this.wake();
  }

  /** @internal */
  error(e: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.times.ended = performance.now();
    this.fail(e);
    this.wake();
  }

  get done(): boolean {
    return this.ended;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<number> {
    for (let i = 0; ; i++) {
      while (i >= this.tokens.length && !this.ended) await new Promise<void>((r) => this.waiters.push(r));
      if (i < this.tokens.length) {
        yield this.tokens[i];
        continue;
      }
      await this.result; // throws a failed sequence's error
      return;
    }
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

interface Member<S> {
  stream: BatchStream;
  sampler: Sampler;
  /** The prompt and every token generated so far (what the sampler's penalties look at). */
  history: number[];
  maxNew: number;
  eos: Set<number>;
  seq: S | null;
  /** The token the next step appends (the last one generated, or the last prompt token of a fork). */
  next: number;
  /** Decoded by the batched speculative step. */
  speculative: boolean;
  /** The reasoning budget, fed the sequence's text through its own decoder; null without one. */
  budget: { state: ReasoningBudget; text: IncrementalDecoder } | null;
}

/** A request waiting to join: its members share the prompt's prefill. */
interface Joining<S> {
  prompt: readonly number[];
  members: Member<S>[];
}

export interface BatchStepStats {
  /** Sequences the decode step advanced (0 when the step only prefilled joining requests). */
  rows: number;
  /** Requests that joined (were prefilled) in this step. */
  joined: number;
  /** Drafts the speculative rows proposed. */
  drafted: number;
  /** Drafts the verification kept. */
  accepted: number;
}

export interface DecodeBatchOptions {
  /** 'mtp' (default): greedy single-choice requests decode speculatively when the model has a draft head. */
  speculative?: 'mtp' | 'none';
}

export class DecodeBatch<S extends BatchSequence = BatchSequence> {
  private readonly joining: Joining<S>[] = [];
  private readonly running: Member<S>[] = [];
  private readonly spec: BatchSpeculator<S> | null;

  constructor(
    private readonly lm: BatchLM<S>,
    options: DecodeBatchOptions = {},
  ) {
    this.spec = (options.speculative ?? 'mtp') === 'mtp' ? (lm.batchSpeculator?.() ?? null) : null;
  }

  /** Sequences not finished yet (running and waiting to join). */
  get size(): number {
    return this.running.length + this.joining.reduce((n, j) => n + j.members.length, 0);
  }

  /** A sequence for `request`; it joins at the next step. */
  add(request: BatchRequest): BatchStream {
    return this.addChoices(request, 1)[0];
  }

  /**
   * `n` sequences continuing one prompt (n choices): the prompt is prefilled once and its cache pages shared.
   * Choice i samples with seed request.seed + i (a random seed when none is given).
   */
  addChoices(request: BatchRequest, n: number): BatchStream[] {
    const c = this.lm.config;
    const prompt = [...request.prompt];
    if (!Number.isInteger(n) || n < 1) throw new InputError('n', `must be a positive integer, got ${n}`);
    if (prompt.length === 0) throw new InputError('prompt', 'is empty; give at least one token');
    const bad = prompt.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= c.vocabSize);
    if (bad >= 0) throw new InputError('prompt', `token id ${prompt[bad]} at index ${bad} is outside the vocabulary [0, ${c.vocabSize})`);
    if (prompt.length >= this.lm.maxLength) throw new InputError('prompt', `${prompt.length} tokens leave no room in the context of ${this.lm.maxLength}`);
    const maxNew = request.maxNewTokens ?? 256;
    if (!Number.isInteger(maxNew) || maxNew < 1) throw new InputError('max-new-tokens', `must be an integer >= 1, got ${maxNew}`);
    const base = resolveSampling(request);
    const unpenalized = base.repetitionPenalty === 1 && base.frequencyPenalty === 0 && base.presencePenalty === 0;
    // A bad budget, or one without the markers or a decoder, throws while the members are made, before any joins.
    const budgetOf = () => {
      const state = reasoningBudgetFor({ ...request, decoder: request.textDecoder });
      return state && { state, text: request.textDecoder!() };
    };
    const speculative = this.spec !== null && n === 1 && isGreedy(base) && unpenalized;
    const members = Array.from({ length: n }, (_, i): Member<S> => ({
      stream: new BatchStream(),
      sampler: new Sampler(resolveSampling({ ...base, seed: (base.seed + i) % 2 ** 32 }), prompt.length),
      history: [...prompt],
      maxNew,
      eos: new Set(request.eosTokenIds ?? c.eosTokenIds),
      seq: null,
      next: prompt[prompt.length - 1],
      speculative,
      budget: budgetOf(),
    }));
    this.joining.push({ prompt, members });
    return members.map((m) => m.stream);
  }

  /**
   * One step: requests that were added join (their prompts prefilled, first tokens chosen), then every running
   * sequence advances by one token, in batched steps of at most lm.maxBatch rows.
   */
  async step(): Promise<BatchStepStats> {
    this.dropCancelled();
    const rows = this.running.filter((m) => m.seq !== null);
    const joining = this.joining.splice(0);
    for (const j of joining) await this.join(j);
    const stats: BatchStepStats = { rows: rows.length, joined: joining.length, drafted: 0, accepted: 0 };
    const plain = rows.filter((m) => !m.speculative);
    for (let i = 0; i < plain.length; i += this.lm.maxBatch) {
      const part = plain.slice(i, i + this.lm.maxBatch);
      const batch: BatchRow<S>[] = part.map((m) => ({ seq: m.seq!, token: m.next, sample: m.sampler.next(m.history) }));
      const tokens = await this.guard(part, () => this.lm.decodeStep(batch));
      part.forEach((m, r) => {
        if (m.stream.tokens.length > 0) m.stream.counts.steps++; // a fork's first step chooses its first token
        this.emit(m, tokens[r]);
      });
    }
    const speculative = rows.filter((m) => m.speculative);
    for (let i = 0; i < speculative.length; i += this.spec?.maxBatch ?? 1) {
      const part = speculative.slice(i, i + this.spec!.maxBatch);
      // A draft needs room for two positions and a budget of two tokens; the last token is a plain row. A draft
      // is kept only when the model may choose the token after it too (a forced one may replace that token,
      // never a kept draft); otherwise the row drafts without keeping it, as a plain row would lose the draft state.
      const batch = part.map((m) => ({
        seq: m.seq!,
        token: m.next,
        draft: m.stream.tokens.length + 2 <= m.maxNew && m.seq!.length + 2 <= this.lm.maxLength,
        keep: (m.budget?.state.free() ?? Infinity) >= 2,
      }));
      const produced = await this.guard(part, () => this.spec!.step(batch));
      part.forEach((m, r) => {
        const counts = m.stream.counts;
        counts.steps++;
        if (batch[r].draft && batch[r].keep) {
          counts.drafted++;
          counts.accepted += produced[r].length - 1;
          stats.drafted++;
          stats.accepted += produced[r].length - 1;
        }
        for (const token of produced[r]) if (!this.emit(m, token)) break;
      });
    }
    return stats;
  }

  /** Runs a step of `part`; a failure ends those sequences with the error (and is rethrown). */
  private async guard<T>(part: Member<S>[], op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (e) {
      for (const m of part) this.end(m, null, e);
      throw e;
    }
  }

  /** Steps until every sequence has ended. */
  async run(): Promise<void> {
    while (this.size > 0) await this.step();
  }

  private async join(j: Joining<S>): Promise<void> {
    const { prompt, members } = j;
    for (const m of members) m.stream.times.joined = performance.now();
    try {
      if (members.length === 1) {
        const m = members[0];
        m.seq = this.lm.openSequence();
        this.running.push(m);
        const sample = m.sampler.next(m.history);
        const first = m.speculative ? await this.spec!.prefill(m.seq, prompt) : await this.lm.appendSequence(m.seq, prompt, sample);
        m.stream.cachedTokens = m.seq.reused ?? 0;
        this.emit(m, first!);
        return;
      }
      // n choices: the prompt but its last token once, then each fork appends the last token in a step.
      const root = this.lm.openSequence();
      members[0].seq = root;
      if (prompt.length > 1) await this.lm.appendSequence(root, prompt.slice(0, -1), null);
      for (const m of members.slice(1)) {
        m.seq = await this.lm.forkSequence(root);
      }
      for (const m of members) m.stream.cachedTokens = root.reused ?? 0;
      this.running.push(...members);
    } catch (e) {
      for (const m of members) this.end(m, null, e);
    }
  }

  /**
   * A token chosen for `m`: output it, or end the sequence on a stop condition. False once it has ended. A
   * forced token (the reasoning budget's `</think>`) is output instead of the model's choice, as generate()'s
   * steps do (src/decode/steps.ts), and goes on as if the model had chosen it.
   */
  private emit(m: Member<S>, chosen: number): boolean {
    const token = m.budget?.state.next() ?? chosen;
    if (m.eos.has(token)) return this.end(m, 'eos');
    m.history.push(token);
    m.budget?.state.observe(m.budget.text.push(token));
    m.stream.push(token);
    m.next = token;
    if (m.stream.tokens.length >= m.maxNew) return this.end(m, 'length');
    if (m.seq!.length >= this.lm.maxLength) return this.end(m, 'context');
    // The draft state goes on from the forced token. It is the step's last token (see step()); after a plain row,
    // which ends a speculative sequence's draft state, the sequence has just ended above.
    if (token !== chosen && m.speculative) this.spec!.replaceNext(m.seq!, token);
    return true;
  }

  /** Ends a sequence: releases its cache share at once and settles its stream (with `error`, rejects it). */
  private end(m: Member<S>, reason: BatchFinish | null, error?: unknown): false {
    const i = this.running.indexOf(m);
    if (i >= 0) this.running.splice(i, 1);
    if (m.seq) {
      this.spec?.forget(m.seq);
      // A sequence that ended normally offers its rows (prompt and output) to the prefix cache; after a failed
      // step they may be unsound.
      this.lm.releaseSequence(m.seq, reason ? m.history : undefined);
    }
    m.seq = null;
    if (reason) m.stream.finish(reason);
    else m.stream.error(error);
    return false;
  }

  private dropCancelled(): void {
    for (const m of this.running.filter((r) => r.stream.cancelled)) this.end(m, 'cancelled');
    for (const j of this.joining) {
      for (const m of j.members.filter((r) => r.stream.cancelled)) m.stream.finish('cancelled');
      j.members = j.members.filter((r) => !r.stream.cancelled);
    }
    for (let i = this.joining.length - 1; i >= 0; i--) if (this.joining[i].members.length === 0) this.joining.splice(i, 1);
  }
}
