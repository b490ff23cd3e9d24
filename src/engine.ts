// The library's main object: a loaded model with its tokenizer and chat template, generating text from a
// prompt string, chat messages or token ids. Browser-safe; loadModel() in src/node.ts (Node) builds one from
// a folder on disk. ModelEngine holds its model only as a CausalLM, so any backend drops in
// (`new ModelEngine({ model, tokenizer, name })`); Engine is the WebGPU one loaded from a checkpoint.
import type { FolderSource } from './checkpoint/byte-source.ts';
import { openModelFolder, type ModelFolder } from './checkpoint/model-folder.ts';
import { loadGenerationDefaults, NO_GENERATION_DEFAULTS, type GenerationDefaults } from './config/generation-config.ts';
import type { ModelConfig } from './config/model-config.ts';
import { ChatCompletions } from './chat-completions.ts';
import { ChatSession, type ChatSessionOptions } from './chat-session.ts';
import { BatchRunner, DEFAULT_BATCH_MAX_NEW_TOKENS, type BatchOccupancy } from './decode/batch-runner.ts';
import { PageLedger } from './decode/page-ledger.ts';
import type { CausalLM } from './decode/causal-lm.ts';
import { generate, usesSpeculation, type GenerateOptions, type Generation } from './decode/generate.ts';
import { promptIdsOpenThinking, thinkingMarkers, type ThinkingMarkers } from './decode/reasoning-budget.ts';
import { generateSamples, type ChoiceSource, type SampleSet, type SamplesOptions } from './decode/samples.ts';
import { documentMarkers, documentStream, splitDocuments } from './eval/documents.ts';
import { lmWindowModel } from './eval/lm-window-model.ts';
import { perplexity, type PerplexityOptions, type PerplexityResult } from './eval/perplexity.ts';
import { InputError } from './errors.ts';
import type { Gpu } from './gpu/device.ts';
import { DeepseekModel, type ModelLoadOptions } from './model/deepseek-model.ts';
import { countParameters, type ParameterCount } from './model/parameter-count.ts';
import type { PrefixCacheStats } from './model/prefix-cache.ts';
import { ChatTemplate, encodeChat, type ChatMessage } from './tokenizer/chat-template.ts';
import { loadTokenizerFrom } from './tokenizer/load.ts';
import type { TextTokenizer } from './tokenizer/tokenizer.ts';

/** A prompt: text (tokenized, BOS added), chat messages (through the chat template) or token ids. */
export type Prompt = string | readonly ChatMessage[] | { tokens: readonly number[] };

/**
 * What perplexity scores: text whose documents are separated by lines holding only U+001E (text without one
 * is a single document), a list of documents, or a token stream taken as it is.
 */
export type PerplexityInput = string | readonly string[] | { tokens: readonly number[] };

export interface EngineOptions extends ModelLoadOptions {
  /** Free the GPU device on dispose() (true when the engine created it). */
  ownsGpu?: boolean;
}

/** What a ModelEngine is made of: any CausalLM, and what turns text into its tokens. */
export interface EngineParts<M extends CausalLM> {
  model: M;
  /** Null when there is none: prompts must then be token ids. */
  tokenizer: TextTokenizer | null;
  /** Sampling settings and limits generate() uses wherever its options leave one out; default none. */
  generationDefaults?: GenerationDefaults;
  /** Names the model in messages (a checkpoint folder's name). */
  name: string;
  /** Called by dispose() once the model is freed (closing files, releasing a device). */
  close?: () => Promise<void>;
}

/**
 * `engine.chat(options)` opens a multi-turn conversation whose history stays in the context
 * (src/chat-session.ts); `engine.chat.completions.create(request)` is the OpenAI / web-llm call shape
 * (src/chat-completions.ts), one request from an empty context.
 */
export type ChatEntry = ((options?: ChatSessionOptions) => ChatSession) & { readonly completions: ChatCompletions };

export class ModelEngine<M extends CausalLM = CausalLM> {
  readonly model: M;
  /** Null when the folder has no tokenizer files (tokenizer.json or tiktoken.model): prompts must be token ids. */
  readonly tokenizer: TextTokenizer | null;
  /** generation_config.json's settings, which generate() uses wherever its options leave one out. */
  readonly generationDefaults: GenerationDefaults;
  readonly name: string;
  readonly chat: ChatEntry;
  private readonly close: () => Promise<void>;
  private template: ChatTemplate | undefined;
  /** Resolves when the generation, logits or perplexity call holding the model is done; the next waits for it. */
  private turn: Promise<void> = Promise.resolve();
  protected disposed = false;
  /** Aborted by dispose(): running generations stop after their current step, queued ones never start. */
  private readonly stopAll = new AbortController();
  /** Counts acquire()s, so a chat turn can tell whether anything else used the context since its last turn. */
  private turns = 0;
  /** What a chat turn (continueGeneration) left in the context: valid while `turn` is still this.turns. */
  private context: { owner: object; turn: number; tokens: number[] } | null = null;

  constructor(parts: EngineParts<M>) {
    this.model = parts.model;
    this.tokenizer = parts.tokenizer;
    this.generationDefaults = parts.generationDefaults ?? NO_GENERATION_DEFAULTS;
    this.name = parts.name;
    this.close = parts.close ?? (async () => {});
    this.chat = Object.assign((options: ChatSessionOptions = {}) => this.openChat(options), { completions: new ChatCompletions(this) });
  }

  get config(): ModelConfig {
    return this.model.config;
  }

  get parameters(): ParameterCount {
    return countParameters(this.config);
  }

  /** The prompt as token ids (text gets BOS as tokenizer_config says; chat goes through the template). */
  encode(prompt: Prompt): number[] {
    this.checkOpen();
    if (typeof prompt === 'object' && 'tokens' in prompt) return [...prompt.tokens];
    const tokenizer = this.requireTokenizer();
    if (typeof prompt === 'string') return tokenizer.encode(prompt);
    return encodeChat(tokenizer, this.chatTemplate(), prompt);
  }

  /** The chat template's text for `messages` (with the assistant's opening). */
  renderChat(messages: readonly ChatMessage[]): string {
    return this.chatTemplate().render(messages);
  }

  private chatTemplate(): ChatTemplate {
    const tokenizer = this.requireTokenizer();
    this.template ??= ChatTemplate.fromConfig(tokenizer.config, tokenizer.configFile);
    return this.template;
  }

  /** What a reasoning budget needs from the tokenizer, when `options` set one (and did not give it). */
  protected thinkingFor(options: GenerateOptions, prompt: readonly number[]): ThinkingMarkers | undefined {
    if (options.reasoningBudget === undefined || options.thinking) return options.thinking;
    return thinkingMarkers(this.requireTokenizer('reasoning-budget'), prompt);
  }

  private requireTokenizer(argument = 'prompt'): TextTokenizer {
    if (!this.tokenizer) throw new InputError(argument, `${this.name} has no tokenizer: give token ids ({ tokens: [...] })`);
    return this.tokenizer;
  }

  /**
   * Generates after `prompt` from an empty context. Iterate the result for tokens and text as they come;
   * `result` resolves with all tokens, the text, the finish reason and speed figures (reading it alone runs
   * the generation). Generations share the model, so they run one at a time, in the order they are first
   * consumed; the prompt and options are checked here, before anything runs. Sampling settings, the token
   * budget and the end ids the options leave out (or set to undefined) come from `generationDefaults`;
   * `temperature: 0` is greedy whatever the model's file says.
   */
  generate(prompt: Prompt, options: GenerateOptions = {}): Generation {
    this.checkOpen();
    const tokens = this.encode(prompt);
    const signal = this.stoppedByDispose(options.signal);
    const resolved = withGenerationDefaults(options, this.generationDefaults, tokens.length);
    let release = () => {};
    return generate(this.model, tokens, {
      decoder: this.tokenizer?.streamDecoder({ skipSpecialTokens: true }),
      ...resolved,
      thinking: this.thinkingFor(options, tokens),
      signal,
      beforeStart: async () => {
        release = await this.acquireContext(generationRows(tokens.length, resolved), false);
        this.model.truncate(0);
        return this.model.startFromPrefix?.(tokens, usesSpeculation(this.model, resolved));
      },
      onSettled: (generated, failed) => {
        if (!failed && !this.disposed) this.model.keepPrefix?.(this.heldTokens(tokens, generated));
        release();
        options.onSettled?.(generated, failed);
      },
    });
  }

  /**
   * Test-time scaling: `samples` answers to `prompt`, sample i with seed + i (the caller's seed, or a random
   * one), each with its final answer extracted, and with `vote` the majority answer and its share
   * (src/decode/samples.ts). The samples are stepped together in one batch as choices of the prompt, which is
   * prefilled once per group of up to 16 (Engine.batcher()'s generateChoices: sample i is then generate() with
   * seed + i and speculative 'none', its reasoning budget included) when the options allow it; logprobs or more
   * than one draft per step need generate()'s own loop, and then they run one after another, each as generate()
   * would.
   */
  async generateSamples(prompt: Prompt, options: SamplesOptions): Promise<SampleSet> {
    this.checkOpen();
    const tokens = this.encode(prompt);
    const opensThinking = this.tokenizer ? promptIdsOpenThinking(this.tokenizer, tokens) : false;
    const batchable = options.samples > 1 && options.logprobs === undefined && (options.draftTokens ?? 1) === 1;
    const batch = batchable ? this.samplesBatch(options.samples, tokens, options) : null;
    const source = batch ?? ((o: GenerateOptions) => this.generate({ tokens }, o));
    return { ...(await generateSamples(source, options, opensThinking)), batched: batch !== null };
  }

  /** The samples as choices of `prompt` stepping together (Engine: its batcher's); null where the model cannot batch. */
  protected samplesBatch(_samples: number, _prompt: readonly number[], _options: GenerateOptions): ChoiceSource | null {
    return null;
  }

  /**
   * A multi-turn conversation through the chat template whose history stays in the context between turns:
   * each turn prefills only what the previous turns did not leave there (src/chat-session.ts). Called as
   * `engine.chat(options)`.
   */
  private openChat(options: ChatSessionOptions): ChatSession {
    this.checkOpen();
    this.chatTemplate(); // a model without a tokenizer or template fails here, not at the first turn
    return new ChatSession(this, options);
  }

  /**
   * ChatSession's turns: generate() after `tokens`, but the part of the context that `owner`'s previous turn
   * left and `tokens` starts with is kept rather than prefilled again (any other use of the model in between
   * empties it). With speculative decoding the kept part also stops where the MTP's cache does, and one
   * position short of the common prefix: the MTP row at the last kept position needs the token after it.
   */
  continueGeneration(owner: object, tokens: readonly number[], options: GenerateOptions = {}): Generation {
    this.checkOpen();
    const full = [...tokens];
    const signal = this.stoppedByDispose(options.signal);
    const resolved = withGenerationDefaults(options, this.generationDefaults, full.length);
    let release = () => {};
    let turn = 0;
    return generate(this.model, full, {
      decoder: this.tokenizer?.streamDecoder({ skipSpecialTokens: true }),
      ...resolved,
      thinking: this.thinkingFor(options, full),
      signal,
      beforeStart: async () => {
        release = await this.acquireContext(generationRows(full.length, resolved), true);
        turn = this.turns;
        const held = this.context?.owner === owner && this.context.turn === turn - 1 ? this.context.tokens : [];
        let keep = Math.min(commonPrefix(held, full), full.length - 1);
        const drafting = usesSpeculation(this.model, resolved);
        if (drafting) keep = Math.max(0, Math.min(keep, commonPrefix(held, full) - 1, this.model.draftLength ?? 0));
        this.model.truncate(keep);
        // Another conversation's turn, or a first one: what the prefix cache holds of the prompt instead.
        if (keep === 0) keep = this.model.startFromPrefix?.(full, drafting) ?? 0;
        this.context = null; // until this turn settles
        return keep;
      },
      onSettled: (generated, failed) => {
        if (turn > 0 && !this.disposed) {
          const tokens = this.heldTokens(full, generated);
          this.context = { owner, turn, tokens };
          if (!failed) this.model.keepPrefix?.(tokens);
        }
        release();
        options.onSettled?.(generated, failed);
      },
    });
  }

  /**
   * The tokens of the context after a generation: the prompt and the generated tokens, except the last one
   * chosen (never appended); speculation may have appended tokens past an end id, which the length cuts off.
   */
  private heldTokens(prompt: readonly number[], generated: readonly number[]): number[] {
    const sequence = [...prompt, ...generated];
    return sequence.slice(0, Math.min(this.model.length, sequence.length));
  }

  /** Logits of every position of `tokens` from an empty context: [T, vocab]. */
  async logits(tokens: readonly number[]): Promise<Float32Array> {
    this.checkOpen();
    const release = await this.acquireContext(tokens.length, false);
    try {
      this.model.truncate(0);
      return await this.model.appendLogits(tokens);
    } finally {
      release();
    }
  }

  /**
   * Perplexity of the model on `input` (src/eval/perplexity.ts): whole windows of `window + 1` tokens, each
   * run from an empty cache, every next-token prediction (and with `mtp` the MTP head's) scored. Documents
   * are tokenized without special tokens and framed as [bos] + ids + [eos]. The run holds the model like a
   * generation does; a window is one submission when the model was loaded with prefillChunk >= window + 1.
   */
  async perplexity(input: PerplexityInput, options: PerplexityOptions = {}): Promise<PerplexityResult> {
    this.checkOpen();
    const stream = this.evalStream(input);
    const signal = this.stoppedByDispose(options.signal);
    const release = await this.acquireContext(Infinity, false);
    try {
      return await perplexity(lmWindowModel(this.model), stream, { ...options, signal });
    } finally {
      release();
    }
  }

  private evalStream(input: PerplexityInput): number[] {
    if (typeof input === 'object' && 'tokens' in input) return [...input.tokens];
    const tokenizer = this.requireTokenizer('input');
    const documents = typeof input === 'string' ? splitDocuments(input) : input;
    return documentStream(documents, (d) => tokenizer.encode(d, { addBos: false }), documentMarkers(tokenizer, this.config));
  }

  /**
   * Frees every GPU buffer (and the device, when the engine created it) and closes the checkpoint files.
   * A running generation stops after its current step (finish reason 'aborted'); later calls throw.
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.stopAll.abort();
    await this.model.idle(); // the step on the GPU now, not the generation (its consumer may never resume it)
    this.model.dispose();
    await this.close();
  }

  /** Waits for the model to be free; the returned function frees it. Throws once the engine is disposed. */
  protected async acquire(): Promise<() => void> {
    const previous = this.turn;
    let release!: () => void;
    this.turn = new Promise<void>((r) => (release = r));
    await previous;
    this.turns++;
    if (this.disposed) {
      release();
      this.checkOpen();
    }
    return release;
  }

  /**
   * acquire() for a run on the model's own sequence that may fill up to `rows` positions of it; `keep`: what it
   * leaves there is used again (a chat turn's context). Engine also promises the run the cache pages it may
   * take, so that a batch stepping between its runs never lacks one.
   */
  protected acquireContext(_rows: number, _keep: boolean): Promise<() => void> {
    return this.acquire();
  }

  /** The caller's signal (if any) joined with dispose()'s, which stops every generation and run. */
  protected stoppedByDispose(signal: AbortSignal | undefined): AbortSignal {
    return signal ? AbortSignal.any([signal, this.stopAll.signal]) : this.stopAll.signal;
  }

  /** Forgets what the last chat turn left in the context (the next turn prefills its prompt again). */
  protected forgetContext(): void {
    this.context = null;
  }

  protected checkOpen(): void {
    if (this.disposed) throw new InputError('engine', 'has been disposed; load the model again');
  }
}

/** The WebGPU engine: a DeepseekModel loaded from a checkpoint folder, with the folder's tokenizer. */
export class Engine extends ModelEngine<DeepseekModel> {
  /** The cache's page promises: every batcher's requests and this engine's own sequence (acquireContext). */
  private readonly ledger: PageLedger;
  /** A run on the model's own sequence holds its pages now (acquireContext until its release). */
  private ownRunning = false;

  private constructor(
    readonly gpu: Gpu,
    readonly folder: ModelFolder,
    model: DeepseekModel,
    tokenizer: TextTokenizer | null,
    generationDefaults: GenerationDefaults,
    ownsGpu: boolean,
  ) {
    const close = async () => {
      await folder.checkpoint.close();
      if (ownsGpu) gpu.destroy();
    };
    super({ model, tokenizer, generationDefaults, name: folder.folder.name, close });
    this.ledger = new PageLedger(model.cache.shape.pages);
    // A chat's context left between turns gives way to batched requests that lack its pages: the batch step they
    // wait for would make it stale anyway (any other use of the model does), and its whole pages stay in the
    // prefix cache, where the next turn finds them.
    this.ledger.reclaimOwn = () => {
      if (this.ownRunning || this.disposed || this.model.seq.pageCount === 0) return false;
      this.forgetContext();
      this.model.truncate(0);
      return this.ledger.setOwn(0);
    };
  }

  /**
   * Waits for the model and for the pages a run on its own sequence may fill, beside what the batchers promised
   * their requests; meanwhile batch steps go on and no new request is admitted ahead of it. Afterwards a run
   * that is not kept gives its pages back (nothing reads its rows again: the next run starts from an empty
   * context); a chat's context stays, and stays promised.
   */
  protected override acquireContext(rows: number, keep: boolean): Promise<() => void> {
    const need = Math.ceil(Math.min(rows, this.model.maxLength) / this.model.cache.pageSize);
    return this.ledger.untilOwn(async () => {
      const release = await this.acquire();
      if (this.ledger.setOwn(Math.max(need, this.model.seq.pageCount))) {
        this.ownRunning = true;
        return () => {
          this.ownRunning = false;
          if (!keep && !this.disposed) this.model.truncate(0);
          this.ledger.setOwn(this.model.seq.pageCount);
          release();
        };
      }
      release();
      return null;
    });
  }

  /**
   * generateSamples' samples in one batch of their own (at most MAX_SAMPLES_BATCH rows at a time), as choices of
   * the prompt: one prefill per group, a group no larger than the cache holds at the samples' worst case.
   */
  protected override samplesBatch(samples: number, prompt: readonly number[], options: GenerateOptions): ChoiceSource {
    const batcher = this.batcher({ maxBatch: Math.min(samples, MAX_SAMPLES_BATCH) });
    const shape = this.model.cache.shape;
    const maxNew = withGenerationDefaults(options, this.generationDefaults, prompt.length).maxNewTokens ?? DEFAULT_BATCH_MAX_NEW_TOKENS;
    const pagesEach = Math.ceil(Math.min(prompt.length + maxNew + 1, shape.maxLength) / shape.pageSize);
    return {
      choices: (o, n) => batcher.generateChoices({ tokens: prompt }, o, n),
      group: Math.max(1, Math.min(samples, MAX_SAMPLES_BATCH, Math.floor(shape.pages / pagesEach))),
    };
  }

  /**
   * Continuous batching over this engine's model: generations submitted to the returned batcher step together
   * (src/decode/batch-runner.ts), each step waiting its turn like any other use of the model, so a plain
   * generate() runs between two steps. Options left out come from `generationDefaults` as for generate().
   */
  batcher(options: BatcherOptions = {}): EngineBatcher {
    this.checkOpen();
    const shape = this.model.cache.shape;
    const runner = new BatchRunner({
      lm: this.model,
      capacity: { maxBatch: options.maxBatch ?? 8, pages: shape.pages, pageSize: shape.pageSize, sequences: shape.maxSequences },
      lock: () => this.acquire(),
      decoder: this.tokenizer ? () => this.tokenizer!.streamDecoder({ skipSpecialTokens: true }) : undefined,
      speculative: options.speculative,
      ledger: this.ledger,
    });
    const cache = this.model.cache;
    const choices = (prompt: Prompt, o: GenerateOptions, n: number) => {
      this.checkOpen();
      const tokens = this.encode(prompt);
      const resolved = withGenerationDefaults(o, this.generationDefaults, tokens.length);
      return runner.submitChoices(tokens, { ...resolved, thinking: this.thinkingFor(o, tokens), signal: this.stoppedByDispose(o.signal) }, n);
    };
    return {
      generate: (prompt, o = {}) => choices(prompt, o, 1)[0],
      generateChoices: choices,
      get occupancy() {
        const prefix = cache.prefix;
        return { ...runner.occupancy, pagesInUse: shape.pages - cache.freePageCount, prefixCache: prefix && { ...prefix.stats, pages: prefix.pages } };
      },
    };
  }

  /** Reads config.json and the checkpoint headers, uploads the weights and loads the tokenizer. */
  static async load(gpu: Gpu, source: FolderSource, options: EngineOptions = {}): Promise<Engine> {
    const folder = await openModelFolder(source);
    try {
      const tokenizer = await loadTokenizerFrom(source);
      const generationDefaults = await loadGenerationDefaults(source, folder.config.vocabSize);
      const model = await DeepseekModel.load(gpu, folder, options);
      return new Engine(gpu, folder, model, tokenizer, generationDefaults, options.ownsGpu ?? false);
    } catch (e) {
      await folder.checkpoint.close();
      throw e;
    }
  }
}

/** Samples stepped together at most (more wait for a row, as a batcher's requests do). */
const MAX_SAMPLES_BATCH = 16;

export interface BatcherOptions {
  /** Sequences stepped together; more requests wait for a row. Default 8. */
  maxBatch?: number;
  /** 'mtp' (default): greedy single-choice requests draft with the MTP head inside the batch. */
  speculative?: 'mtp' | 'none';
}

/** Engine.batcher(): generate() as the engine's, but stepped together with every other generation submitted here. */
export interface EngineBatcher {
  generate(prompt: Prompt, options?: GenerateOptions): Generation;
  /** `n` choices of one prompt: one prefill, the cache pages forked; choice i samples with seed + i. */
  generateChoices(prompt: Prompt, options: GenerateOptions, n: number): Generation[];
  /**
   * The batch now, the cache pages sequences hold (the engine's own sequence's included), and the prefix
   * cache's pages and running totals (null when the model was loaded with prefixCache: false).
   */
  readonly occupancy: BatchOccupancy & { pagesInUse: number; prefixCache: (PrefixCacheStats & { pages: number }) | null };
}

/** Positions a generation after `promptLength` tokens may fill: prompt, budget and one (no budget: the context). */
function generationRows(promptLength: number, options: GenerateOptions): number {
  return promptLength + (options.maxNewTokens ?? Infinity) + 1;
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/** `options` with each setting it leaves undefined taken from the model's defaults. */
export function withGenerationDefaults(options: GenerateOptions, d: GenerationDefaults, promptLength: number): GenerateOptions {
  const budget = d.maxNewTokens ?? (d.maxLength !== undefined ? Math.max(0, d.maxLength - promptLength) : undefined);
  return {
    ...options,
    temperature: options.temperature ?? d.temperature,
    topK: options.topK ?? d.topK,
    topP: options.topP ?? d.topP,
    minP: options.minP ?? d.minP,
    repetitionPenalty: options.repetitionPenalty ?? d.repetitionPenalty,
    maxNewTokens: options.maxNewTokens ?? budget,
    eosTokenIds: options.eosTokenIds ?? d.eosTokenIds,
  };
}
