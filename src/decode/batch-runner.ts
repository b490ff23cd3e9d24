// Continuous batching for many callers: one DecodeBatch over the model, stepped in a loop while it has
// sequences, each step taken under the owner's lock so that it never overlaps other uses of the model (an
// engine's generate() queues between two steps). submit() hands back a Generation like generate()'s: token
// events with their text (incremental detokenization, stop strings), `result` with the finish reason and speeds.
// A request joins the batch at the next step once a row and its worst case of cache pages are free
// (docs/architecture.md "Batched decoding"); until then it waits here, in order.
import { InputError } from '../errors.ts';
import { isGreedy } from '../sampling/rules.ts';
import { DecodeBatch, type BatchRequest, type BatchStream, type BatchStreamCounts } from './batch.ts';
import type { BatchLM } from './batch-lm.ts';
import { PageLedger } from './page-ledger.ts';
import { drainable, type GenerateEvent, type GenerateOptions, type GenerateResult, type Generation, type IncrementalDecoder } from './generate.ts';
import { reasoningBudgetFor } from './reasoning-budget.ts';
import { resolveSampling } from './sampling.ts';
import { StopText } from './stopping.ts';

/** A request's token budget when its options give none. */
export const DEFAULT_BATCH_MAX_NEW_TOKENS = 256;

/** What the batch may hold at once: rows, and the cache behind them. */
export interface BatchCapacity {
  /** Sequences stepped together (requests beyond wait); a request's n choices count n. */
  maxBatch: number;
  /** Pages of the latent cache and rows per page: a request joins once its worst case fits beside the others'. */
  pages: number;
  pageSize: number;
  /** Sequences the cache can hold at once. */
  sequences: number;
}

export interface BatchRunnerParts {
  lm: BatchLM;
  capacity: BatchCapacity;
  /** Waits until the model is free for one step; the returned function frees it. */
  lock: () => Promise<() => void>;
  /** A fresh streaming decoder per sequence; none: events carry ids and empty text. */
  decoder?: () => IncrementalDecoder;
  /** 'mtp' (default): greedy single-choice requests draft with the model's MTP head inside the batch. */
  speculative?: 'mtp' | 'none';
  /**
   * The cache's page promises, shared with the other users of the model's cache (Engine: its own sequence and
   * every batcher); default one of this runner's own over `capacity.pages`.
   */
  ledger?: PageLedger;
}

/** Requests and sequences now, for /health and /metrics. */
export interface BatchOccupancy {
  /** Sequences in the batch (running, or joining at the next step). */
  sequences: number;
  /** Requests waiting for a row or for cache pages. */
  waiting: number;
  /** Cache pages the admitted requests may need at most. */
  pagesReserved: number;
  pages: number;
  maxBatch: number;
  /** Steps taken since the runner started. */
  steps: number;
}

/** A submitted request: its sequences exist once it is admitted. */
interface Pending {
  request: BatchRequest;
  n: number;
  /** Worst-case pages: every choice at its full length, each its own copy. */
  pages: number;
  signals: (AbortSignal | undefined)[];
  admit: (streams: BatchStream[]) => void;
  /** The batch refused it when it came to join (DecodeBatch.addChoices' checks). */
  refuse: (error: unknown) => void;
  /** Stops listening to its signal (it left the queue). */
  detach: () => void;
}

export class BatchRunner {
  private readonly batch: DecodeBatch;
  private readonly waiting: Pending[] = [];
  private readonly ledger: PageLedger;
  private sequences = 0;
  private pagesReserved = 0;
  /** Set while a request waits for pages and the ledger is to call back when some are given back. */
  private waitingForPages = false;
  private steps = 0;
  private looping = false;
  /** Every admitted stream not yet ended: failed together if the loop itself cannot go on. */
  private readonly live = new Set<BatchStream>();

  constructor(private readonly parts: BatchRunnerParts) {
    const c = parts.capacity;
    for (const [name, v] of Object.entries(c)) {
      if (!Number.isInteger(v) || v < 1) throw new InputError(name === 'maxBatch' ? 'max-batch' : name, `must be a positive integer, got ${v}`);
    }
    this.batch = new DecodeBatch(parts.lm, { speculative: parts.speculative });
    this.ledger = parts.ledger ?? new PageLedger(c.pages);
  }

  get occupancy(): BatchOccupancy {
    const c = this.parts.capacity;
    return { sequences: this.sequences, waiting: this.waiting.length, pagesReserved: this.pagesReserved, pages: c.pages, maxBatch: c.maxBatch, steps: this.steps };
  }

  /** One generation of `prompt` in the batch; `options` as generate()'s (logprobs and draftTokens > 1 are not batched). */
  submit(prompt: readonly number[], options: GenerateOptions = {}): Generation {
    return this.submitChoices(prompt, options, 1)[0];
  }

  /**
   * `n` generations continuing `prompt` (n choices): one prefill, the cache pages forked n ways; choice i
   * samples with seed options.seed + i. `options.signal` aborts them all.
   */
  submitChoices(prompt: readonly number[], options: GenerateOptions, n: number): Generation[] {
    if (options.logprobs !== undefined) throw new InputError('logprobs', 'is not available in a batch; use generate()');
    if ((options.draftTokens ?? 1) !== 1) throw new InputError('draft-tokens', 'a batch drafts one token per step; use generate() for more');
    if (!Number.isInteger(n) || n < 1) throw new InputError('n', `must be a positive integer, got ${n}`);
    const lm = this.parts.lm;
    const c = this.parts.capacity;
    const maxNew = options.maxNewTokens ?? DEFAULT_BATCH_MAX_NEW_TOKENS;
    if (!Number.isInteger(maxNew) || maxNew < 1) throw new InputError('max-new-tokens', `must be an integer >= 1 in a batch, got ${maxNew}`);
    if (n > c.sequences) throw new InputError('n', `${n} choices exceed the ${c.sequences} sequences the cache holds`);
    const pages = n * Math.ceil(Math.min(prompt.length + maxNew + 1, lm.maxLength) / c.pageSize);
    if (pages > c.pages) {
      throw new InputError('prompt', `${prompt.length} tokens plus ${maxNew} new ones, ${n} way(s), need ${pages} cache pages of ${c.pageSize} rows; the cache has ${c.pages} (load with more cache tokens)`);
    }
    // A reasoning budget reads each sequence's text through a decoder of its own (src/decode/batch.ts).
    const request: BatchRequest = { ...options, prompt: [...prompt], maxNewTokens: maxNew, textDecoder: this.parts.decoder };
    resolveSampling(request); // bad sampling settings throw here, not at the step that admits the request
    reasoningBudgetFor({ ...request, decoder: request.textDecoder }); // so does a budget without its markers or a decoder
    let admit!: (streams: BatchStream[]) => void;
    let refuse!: (error: unknown) => void;
    const admitted = new Promise<BatchStream[]>((res, rej) => ((admit = res), (refuse = rej)));
    // While it waits, an abort lets it leave the queue at once; once it leaves, the generation listens itself.
    const onAbort = () => this.admitWaiting();
    const detach = () => options.signal?.removeEventListener('abort', onAbort);
    const pending: Pending = { request, n, pages, signals: Array(n).fill(options.signal), admit, refuse, detach };
    this.waiting.push(pending);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const speculative = this.parts.speculative !== 'none' && n === 1 && isGreedy(resolveSampling(request)) && lm.batchSpeculator?.() != null;
    const gens = Array.from({ length: n }, (_, i) => {
      const stream = admitted.then((s) => s[i]);
      stream.catch(() => {}); // a refusal reaches whoever consumes the generation
      return this.generation(stream, prompt.length, options, speculative);
    });
    this.admitWaiting();
    return gens;
  }

  /** Moves waiting requests into the batch, in order, while rows and pages allow; aborted ones join cancelled. */
  private admitWaiting(): void {
    const c = this.parts.capacity;
    while (this.waiting.length > 0) {
      const p = this.waiting[0];
      const aborted = p.signals.every((s) => s?.aborted);
      const rows = this.sequences === 0 || this.sequences + p.n <= Math.min(c.maxBatch, c.sequences);
      // The pages come from the ledger, which also counts the engine's own sequence (and other runners).
      if (!rows && !aborted) break;
      if (!this.ledger.takeForBatch(p.pages, aborted)) {
        this.callBackWhenFreed();
        break;
      }
      this.waiting.shift();
      p.detach();
      let streams: BatchStream[];
      try {
        streams = this.batch.addChoices(p.request, p.n);
      } catch (e) {
        this.ledger.giveFromBatch(p.pages);
        p.refuse(e);
        continue;
      }
      this.sequences += p.n;
      this.pagesReserved += p.pages;
      for (const s of streams) {
        this.live.add(s);
        if (aborted) s.cancel();
      }
      void Promise.allSettled(streams.map((s) => s.result)).then(() => {
        for (const s of streams) this.live.delete(s);
        this.sequences -= p.n;
        this.pagesReserved -= p.pages;
        this.ledger.giveFromBatch(p.pages); // wakes this runner's and the others' waiting requests
        this.admitWaiting();
      });
      p.admit(streams);
    }
    void this.loop();
  }

  /** Looks at the waiting requests again once the ledger gets pages back (from anyone). */
  private callBackWhenFreed(): void {
    if (this.waitingForPages) return;
    this.waitingForPages = true;
    void this.ledger.whenFreed().then(() => {
      this.waitingForPages = false;
      this.admitWaiting();
    });
  }

  /** Steps while the batch has sequences, each step under the lock. */
  private async loop(): Promise<void> {
    if (this.looping) return;
    this.looping = true;
    try {
      while (this.batch.size > 0) {
        let release: () => void;
        try {
          release = await this.parts.lock();
        } catch (e) {
          for (const s of this.live) s.error(e); // the owner is gone (disposed): nothing can step again
          return;
        }
        try {
          await this.batch.step();
          this.steps++;
        } catch {
          // The failing step's sequences have ended with its error; the others go on.
        } finally {
          release();
        }
        await new Promise<void>((r) => setImmediate(r)); // let consumers and new requests in between steps
      }
    } finally {
      this.looping = false;
    }
  }

  /** The Generation of one sequence: its stream's tokens turned into events and a result. */
  private generation(stream: Promise<BatchStream>, promptTokens: number, options: GenerateOptions, speculative: boolean): Generation {
    const decoder = this.parts.decoder?.();
    const text = new StopText(options.stopStrings ?? []);
    const tokens: number[] = [];
    let finish: GenerateResult['finishReason'] = 'aborted';
    let counts: BatchStreamCounts = { steps: 0, drafted: 0, accepted: 0 };
    let resolve!: (r: GenerateResult) => void;
    let reject!: (e: unknown) => void;
    const result = new Promise<GenerateResult>((res, rej) => ((resolve = res), (reject = rej)));
    result.catch(() => {});

    let joined: BatchStream | null = null;

    async function* run(): AsyncGenerator<GenerateEvent> {
      const s = (joined = await stream);
      counts = s.counts; // read at settle: the steps go on counting until then
      const onAbort = () => s.cancel();
      if (options.signal?.aborted) s.cancel();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        for await (const token of s) {
          tokens.push(token);
          const piece = text.accept(decoder?.push(token) ?? '');
          yield { token, text: piece };
          if (text.stopped) {
            finish = 'stop';
            return;
          }
        }
        const r = await s.result;
        finish = r.finishReason === 'cancelled' ? 'aborted' : r.finishReason;
        const tail = text.flush();
        if (tail) yield { token: null, text: tail };
      } finally {
        s.cancel(); // a stop string, or a consumer that stopped iterating: the sequence leaves at the next step
        options.signal?.removeEventListener('abort', onAbort);
      }
    }

    const settle = (error: { e: unknown } | null) => {
      options.onSettled?.(tokens, error !== null);
      if (error) return reject(error.e);
      const decoded = Math.max(0, tokens.length - 1);
      // The batch's clock, not the consumer's: a consumer may read the tokens long after they were made.
      const times = joined?.times ?? { joined: 0, first: 0, ended: 0 };
      const produced = Math.max(0, (joined?.tokens.length ?? 0) - 1);
      const end = times.ended || performance.now();
      const cached = joined?.cachedTokens ?? 0;
      resolve({
        tokens,
        text: text.text,
        finishReason: finish,
        stats: {
          promptTokens: promptTokens,
          cachedTokens: cached,
          generatedTokens: tokens.length,
          prefillTokensPerSecond: times.first > times.joined && times.joined > 0 ? (promptTokens - cached) / ((times.first - times.joined) / 1000) : 0,
          decodeTokensPerSecond: produced > 0 && end > times.first ? produced / ((end - times.first) / 1000) : 0,
          speculative: speculative ? 'mtp' : 'none',
          drafted: counts.drafted,
          accepted: counts.accepted,
          acceptanceRate: counts.drafted ? counts.accepted / counts.drafted : 0,
          tokensPerStep: counts.steps ? decoded / counts.steps : 0,
        },
      });
    };
    const iterator = (async function* () {
      let error: { e: unknown } | null = null;
      try {
        yield* run();
      } catch (e) {
        error = { e };
        throw e;
      } finally {
        settle(error);
      }
    })();
    return drainable(iterator, result);
  }
}
