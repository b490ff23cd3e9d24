// A DeepSeek model on the GPU: weights uploaded, latent cache and scratch allocated once, and the
// CausalLM operations the decode loop needs. A step is one command submission; the only read-back is the
// sampled token id (or the logits, when the caller asks for them).
import { packPenalties, penaltyEntries } from '../kernels/sample-penalty.ts';
import type { ModelFolder } from '../checkpoint/model-folder.ts';
import { modelNames } from '../checkpoint/tensor-names.ts';
import type { ModelConfig } from '../config/model-config.ts';
import type { CausalLM, ExpertCacheStats } from '../decode/causal-lm.ts';
import { GREEDY, isPlainArgmax, type SampleRequest } from '../sampling/rules.ts';
import { parseByteSize } from '../byte-size.ts';
import type { BatchRow } from '../decode/batch-lm.ts';
import type { Bindable } from '../gpu/recorder.ts';
import { InputError } from '../errors.ts';
import type { Gpu } from '../gpu/device.ts';
import { knob, profileFor, withKnobs, type LaunchProfile } from '../gpu/launch-profile.ts';
import { createStorage, readStorage, uploadStorage } from '../gpu/buffers.ts';
import { Readback } from '../gpu/readback.ts';
import { recordSample } from '../kernels/sample.ts';
import { argmaxScratchBytes, recordArgmax } from '../kernels/sample-argmax.ts';
import { PipelineCache } from '../gpu/pipelines.ts';
import { Recorder, type DispatchListener } from '../gpu/recorder.ts';
import { Activations } from './activations.ts';
import { chunks } from './chunks.ts';
import { placeRows, recordForward, recordLogits, type ForwardContext } from './forward.ts';
import { recordMtp, recordMtpLogits } from './mtp.ts';
import { MtpSpeculator } from './mtp-speculator.ts';
import { ExpertOffload } from './expert-offload.ts';
import { MtpBatch, pendingHiddenBytes } from './mtp-batch.ts';
import { cacheShape, DEFAULT_PAGE_SIZE, LatentCache, type CacheSequence } from './kv-cache.ts';
import { sizeCache } from './cache-size.ts';
import { RowMaps } from './row-maps.ts';
import { bufferLimit, planMemory, type MemoryPlan } from './memory-plan.ts';
import { checkShapeLimits } from './shape-limits.ts';
import { tensorsInUploadOrder } from './read-order.ts';
import { uploadWeights, type GpuWeights } from './weights.ts';
import type { ModelLoadOptions } from './load-options.ts';

export type { LoadPhase, ModelLoadOptions } from './load-options.ts';

/** The launch profile for this adapter (profileFor its info and limits). */
export function adapterProfile(gpu: Gpu): LaunchProfile {
  return profileFor(gpu.adapterInfo, gpu.limits);
}

/** Workgroups the attention aims to fill on this adapter: its profile's mla-decode TARGET_WORKGROUPS. */
export function defaultAttentionWorkgroups(gpu: Gpu, profile = adapterProfile(gpu)): number {
  return knob(profile, 'mla-decode', 'TARGET_WORKGROUPS');
}

export class DeepseekModel implements CausalLM {
  readonly maxLength: number;
  private readonly rec: Recorder;
  private readonly f: ForwardContext;
  /** Workgroups the attention's split scratch was planned for (the load profile's, or ModelLoadOptions.attentionWorkgroups). */
  readonly attentionWorkgroups: number;
  private readonly readback: Readback;
  private readonly rowMaps: RowMaps;
  /** The sequence append/truncate/speculator work on (a DecodeBatch opens others in the same cache). */
  readonly seq: CacheSequence;
  private penalized: GPUBuffer | undefined;
  private mtpSpeculator: MtpSpeculator | null = null;
  private mtpBatch: MtpBatch | null = null;
  /** The batched speculator's pending hidden rows, [maxSequences, PENDING_ROWS, H] (allocated with the MTP). */
  private readonly pendingHidden: GPUBuffer | null;
  private disposed = false;
  private inFlight: Promise<void> = Promise.resolve();

  private constructor(
    readonly gpu: Gpu,
    readonly config: ModelConfig,
    /** What the load planned, buffer by buffer: weights, caches, scratch and the rope table are exactly these. */
    readonly plan: MemoryPlan,
    readonly weights: GpuWeights,
    /** The paged latent cache (the MTP layer's pool in it too, when the model has one). */
    readonly cache: LatentCache,
    private readonly act: Activations,
    invFreq: GPUBuffer,
    profile: LaunchProfile,
    private readonly offload?: ExpertOffload,
  ) {
    this.maxLength = cache.shape.maxLength;
    const attentionWorkgroups = knob(profile, 'mla-decode', 'TARGET_WORKGROUPS');
    this.attentionWorkgroups = attentionWorkgroups;
    this.rec = new Recorder(gpu.device, new PipelineCache(gpu.device), profile);
    this.readback = new Readback(gpu.device, 512); // up to 63 drafts and 64 choices per speculative step
    this.rowMaps = new RowMaps(gpu, RowMaps.bytesFor(act.rows, Math.min(act.rows, cache.shape.maxSequences), act.rows + 2));
    this.f = {
      c: config,
      weights,
      cache,
      rowMaps: this.rowMaps,
      act,
      invFreq,
      attentionWorkgroups,
      offload,
    };
    this.seq = cache.open();
    this.pendingHidden = cache.mtpLayer ? createStorage(gpu.device, pendingHiddenBytes(config, cache.shape.maxSequences), 'mtp pending hidden rows') : null;
  }

  static async load(gpu: Gpu, folder: ModelFolder, options: ModelLoadOptions = {}): Promise<DeepseekModel> {
    const c = folder.config;
    const contextLength = options.contextLength ?? Math.min(c.maxPositionEmbeddings, 4096);
    if (!Number.isInteger(contextLength) || contextLength < 1 || contextLength > c.maxPositionEmbeddings) {
      throw new InputError('context-length', `must be an integer in [1, ${c.maxPositionEmbeddings}] (max_position_embeddings), got ${contextLength}`);
    }
    const chunk = options.prefillChunk ?? 64;
    if (!Number.isInteger(chunk) || chunk < 1) throw new InputError('prefill-chunk', `must be a positive integer, got ${chunk}`);
    const wgs = options.attentionWorkgroups ?? defaultAttentionWorkgroups(gpu, options.profile);
    if (!Number.isInteger(wgs) || wgs < 1) throw new InputError('attention-workgroups', `must be a positive integer, got ${wgs}`);
    const profile = withKnobs(options.profile ?? adapterProfile(gpu), { 'mla-decode': { TARGET_WORKGROUPS: wgs } });
    const cap = options.bufferLimit;
    if (cap !== undefined && (!Number.isInteger(cap) || cap < 4)) throw new InputError('buffer-limit', `must be an integer of at least 4 bytes, got ${cap}`);
    const embedDtype = folder.checkpoint.has(modelNames(c).embed) ? folder.checkpoint.info(modelNames(c).embed).dtype : 'BF16';
    checkShapeLimits(c, { embedDtype, limits: gpu.limits, profile }, `${folder.folder.name}/config.json`);
    // Every buffer below is planned, and checked against the limits and the budget, before the first read.
    const gpuMemory = typeof options.gpuMemory === 'string' ? parseByteSize(options.gpuMemory, 'gpu-memory') : options.gpuMemory;
    if (gpuMemory !== undefined && (!Number.isSafeInteger(gpuMemory) || gpuMemory < 1)) throw new InputError('gpu-memory', `must be a positive number of bytes, got ${gpuMemory}`);
    const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    const planOptions = { contextLength, pageSize, maxSequences: options.maxSequences, prefillChunk: chunk, quantize: options.quantize, mtp: options.mtp, attentionWorkgroups: wgs, gpuMemory };
    const limit = bufferLimit(gpu.limits, cap);
    const { cacheTokens, plan } = sizeCache(
      (tokens) => planMemory(c, folder.checkpoint, { ...planOptions, cacheTokens: tokens }, limit),
      { contextLength, pageSize, cacheTokens: options.cacheTokens, cacheSequences: gpuMemory === undefined ? options.cacheSequences : 1, budget: options.memoryBudget },
      `${folder.folder.name} with a ${contextLength}-token context`,
    );
    const cacheOptions = { contextLength, cacheTokens, pageSize, maxSequences: options.maxSequences };
    const total = folder.checkpoint.names().reduce((n, name) => n + folder.checkpoint.info(name).end - folder.checkpoint.info(name).begin, 0);
    const ckpt = folder.checkpoint;
    const fetching = ckpt.prefetch(tensorsInUploadOrder(plan.weightPlan, ckpt), {
      ...options.prefetch,
      onBytes: (done, all) => options.onProgress?.(done, all, 'download'),
    });
    let weights: GpuWeights;
    try {
      weights = await gpu.captureErrors('upload weights', () =>
        uploadWeights(gpu, ckpt, c, plan.weightPlan, { onBytes: (bytes) => options.onProgress?.(bytes, total, 'upload') }),
      );
    } finally {
      fetching.stop();
    }
    options.onProgress?.(total, total, 'upload');
    const mtp = weights.mtp.length > 0;
    const cache = new LatentCache(gpu, cacheShape(c, mtp, cacheOptions), undefined, { prefixCache: options.prefixCache });
    const act = new Activations(gpu, c, chunk, chunk, mtp, wgs);
    const invFreq = uploadStorage(gpu.device, Float32Array.from(c.ropeInvFreq), 'rope inverse frequencies');
    let offload: ExpertOffload | undefined;
    if (plan.offload) {
      const pools = new Map(plan.offload.layers.map((l) => [l, weights.layers[l].moe!.experts]));
      offload = new ExpertOffload(gpu, folder.checkpoint, c, plan.weightPlan, pools, plan.offload.slots, chunk);
    }
    const model = new DeepseekModel(gpu, c, plan, weights, cache, act, invFreq, profile, offload);
    if (options.warmup ?? true) {
      try {
        await model.warmup((done, steps) => options.onProgress?.(done, steps, 'compile'));
      } catch (e) {
        model.dispose();
        throw e;
      }
    }
    return model;
  }

  /**
   * Builds every pipeline of a decode step once (a one-token step, then forgotten), so the first real step is
   * not slower; `onStep(done, steps)` before and after each warm-up step.
   */
  async warmup(onStep?: (done: number, steps: number) => void): Promise<void> {
    const spec = this.maxLength >= 3 ? this.speculator() : null;
    const steps = spec ? 2 : 1;
    onStep?.(0, steps);
    await this.append([0], GREEDY);
    this.truncate(0);
    onStep?.(1, steps);
    if (spec) {
      // prefill of one position, then t and one draft
      const t = await spec.prefill([0], GREEDY);
      await spec.step(t, [GREEDY], [GREEDY, GREEDY], false);
      spec.reset();
      onStep?.(2, steps);
    }
  }

  /** Every kernel's launch shape: ModelLoadOptions.profile, resolved, or the last useProfile(). */
  get profile(): LaunchProfile {
    return this.rec.profile;
  }

  /**
   * Launches every later step as `profile` says (tune tries candidates on a loaded model). Its attention target
   * may not exceed the one the split scratch was planned for (ModelLoadOptions.attentionWorkgroups / profile).
   */
  useProfile(profile: LaunchProfile): void {
    const target = knob(profile, 'mla-decode', 'TARGET_WORKGROUPS');
    if (!Number.isInteger(target) || target < 1 || target > this.attentionWorkgroups) {
      throw new InputError('profile', `mla-decode TARGET_WORKGROUPS ${target} must be in 1..${this.attentionWorkgroups} (what the attention scratch was planned for at load)`);
    }
    this.rec.profile = profile;
    this.f.attentionWorkgroups = target;
  }

  get length(): number {
    return this.seq.length;
  }

  /** Positions one prefill forward pass takes (ModelLoadOptions.prefillChunk). */
  get prefillChunk(): number {
    return this.act.rows;
  }

  /** Rows the MTP's latent cache holds (0 without an MTP module); speculation resumes at most there. */
  get draftLength(): number {
    return this.seq.mtpLength;
  }

  /**
   * The expert cache's running totals since load (lookups, hits, bytes uploaded, stall time), or null when
   * every expert is resident. Per-token figures are differences of two readings.
   */
  get expertCache(): Readonly<ExpertCacheStats> | null {
    return this.offload ? { ...this.offload.stats } : null;
  }

  /** Dispatches recorded so far (benchmarks divide by tokens for dispatches per token). */
  get dispatches(): number {
    return this.rec.dispatchesTotal;
  }

  /**
   * Installs (or, with null, removes) the recorder's trace hook for every dispatch this model and its
   * speculator record from now on: how benchmarks time and steer steps without reaching into the model.
   */
  traceDispatches(listener: DispatchListener | null): void {
    this.rec.onDispatch = listener;
  }

  append(tokens: readonly number[], sample: SampleRequest | null): Promise<number | null> {
    return this.work(() => this.appendNow(tokens, sample));
  }

  private async appendNow(tokens: readonly number[], sample: SampleRequest | null, seq = this.seq): Promise<number | null> {
    this.checkTokens(tokens, seq.length);
    if (sample && tokens.length === 0) throw new InputError('tokens', 'is empty: there is no position to choose the next token after');
    let lastRows = 0;
    for (const { start, end, last } of chunks(tokens.length, this.act.rows)) {
      const offloading = this.runForward(tokens.slice(start, end), seq);
      if (offloading) await offloading;
      lastRows = end - start;
      if (!last || !sample) this.rec.submit(sample ? 'prefill' : 'append');
    }
    if (!sample) return null;
    // One submission: the last chunk's forward, lm_head on its last row, the sampler, the token copy.
    recordLogits(this.rec, this.f, lastRows - 1, 1);
    recordSample(this.rec, { logits: this.act.logits, token: this.act.sampled, scratch: this.act.sampleScratch, penalized: this.penalizedBuffer(sample) }, sample, {
      vocab: this.config.vocabSize,
      row: 0,
    });
    this.readback.record(this.rec, this.act.sampled, 0, 4);
    const phase = tokens.length === 1 ? 'decode step' : 'prefill';
    this.rec.submit(phase);
    const [token] = await this.readback.readU32(1, phase);
    await this.rec.check();
    return token;
  }

  async appendLogits(tokens: readonly number[]): Promise<Float32Array> {
    return (await this.appendOutputs(tokens)).logits;
  }

  /**
   * Appends `tokens` and reads back, for every appended position, the logits [T, vocab] and the hidden
   * state after the final norm [T, hidden] (what lm_head and the MTP module consume).
   */
  appendOutputs(tokens: readonly number[]): Promise<{ logits: Float32Array; hidden: Float32Array }> {
    return this.work(() => this.appendOutputsNow(tokens));
  }

  private async appendOutputsNow(tokens: readonly number[]): Promise<{ logits: Float32Array; hidden: Float32Array }> {
    this.checkTokens(tokens);
    const V = this.config.vocabSize;
    const H = this.config.hiddenSize;
    const logits = new Float32Array(tokens.length * V);
    const hidden = new Float32Array(tokens.length * H);
    for (const { start: i, end } of chunks(tokens.length, this.act.rows)) {
      const rows = end - i;
      const offloading = this.runForward(tokens.slice(i, end));
      if (offloading) await offloading;
      recordLogits(this.rec, this.f, 0, rows);
      this.rec.submit('logits');
      const device = this.gpu.device;
      const [l, h] = await Promise.all([readStorage(device, this.act.logits, 0, rows * V * 4), readStorage(device, this.act.x, 0, rows * H * 4)]);
      logits.set(new Float32Array(l), i * V);
      hidden.set(new Float32Array(h), i * H);
    }
    await this.rec.check();
    return { logits, hidden };
  }

  /**
   * Runs MTP rows after those already in the MTP cache: row i takes `hidden` row i (main-model hidden
   * state after the final norm, [T, H]) and `nextTokens[i]`, and its logits [T, vocab] predict the token
   * after nextTokens[i].
   */
  appendMtpLogits(hidden: Float32Array, nextTokens: readonly number[]): Promise<Float32Array> {
    return this.work(() => this.appendMtpLogitsNow(hidden, nextTokens));
  }

  private async appendMtpLogitsNow(hidden: Float32Array, nextTokens: readonly number[]): Promise<Float32Array> {
    const mtp = this.weights.mtp[0];
    if (!mtp || !this.cache.mtpLayer) throw new InputError('mtp', 'this model has no MTP module loaded (num_nextn_predict_layers is 0, or loaded with mtp: false)');
    this.checkTokens(nextTokens, this.seq.mtpLength);
    const V = this.config.vocabSize;
    const H = this.config.hiddenSize;
    if (hidden.length !== nextTokens.length * H) throw new InputError('hidden', `has ${hidden.length} values, expected ${nextTokens.length} x ${H}`);
    const out = new Float32Array(nextTokens.length * V);
    for (const { start: i, end } of chunks(nextTokens.length, this.act.rows)) {
      const rows = end - i;
      const pos = this.seq.mtpLength;
      this.rec.write(this.act.mtpTokens, 0, Uint32Array.from(nextTokens.slice(i, end)));
      this.rec.write(this.act.mtpHidden, 0, hidden.subarray(i * H, (i + rows) * H));
      this.seq.reserve(this.rec, pos, pos + rows);
      recordMtp(this.rec, this.f, mtp, { hidden: this.act.mtpHidden, tokens: this.act.mtpTokens }, [{ rows, firstPos: pos, tableAt: this.seq.tableAt }]);
      recordMtpLogits(this.rec, mtp, this.act.x, this.act.logits, rows);
      this.seq.mtpLength = pos + rows;
      this.rec.submit('MTP logits');
      out.set(new Float32Array(await readStorage(this.gpu.device, this.act.logits, 0, rows * V * 4)), i * V);
    }
    await this.rec.check();
    return out;
  }

  /** CausalLM.startFromPrefix on the model's own sequence (emptied first by truncate(0)). */
  startFromPrefix(tokens: readonly number[], draft: boolean): number {
    this.checkTokens(tokens, 0);
    return this.seq.startFromPrefix(this.rec, tokens, Math.floor((tokens.length - 1) / this.cache.pageSize), draft);
  }

  /** CausalLM.keepPrefix: the own sequence's whole pages into the prefix cache. */
  keepPrefix(tokens: readonly number[]): void {
    if (!this.disposed) this.seq.keepPrefix(tokens);
  }

  /** Speculative decoding with the MTP head, over this model's caches; null without an MTP module. */
  speculator(): MtpSpeculator | null {
    const mtp = this.weights.mtp[0];
    if (!mtp || !this.cache.mtpLayer) return null;
    this.mtpSpeculator ??= new MtpSpeculator({
      gpu: this.gpu,
      rec: this.rec,
      f: this.f,
      act: this.act,
      seq: this.seq,
      mtp,
      readback: this.readback,
      penalized: (sample) => this.penalizedBuffer(sample),
      work: (op) => this.work(op),
    });
    return this.mtpSpeculator;
  }

  /** Most sequences one decodeStep advances (the scratch holds a prefill chunk's rows). */
  get maxBatch(): number {
    return Math.min(this.act.rows, this.act.logitRows);
  }

  /** A new, empty sequence in this model's cache (BatchLM; the model's own append/truncate use `seq`). */
  openSequence(): CacheSequence {
    return this.cache.open();
  }

  /** A new sequence holding `seq`'s rows, sharing its pages until either writes into one (n > 1 choices). */
  forkSequence(seq: CacheSequence): Promise<CacheSequence> {
    return this.work(async () => seq.fork(this.rec));
  }

  /**
   * Returns a sequence's pages to the cache at once; it is unusable afterwards. With `tokens` (the tokens of its
   * rows), its whole pages stay in the prefix cache for prompts that start with them.
   */
  releaseSequence(seq: CacheSequence, tokens?: readonly number[]): void {
    if (seq === this.seq) throw new InputError('sequence', "is the model's own; truncate(0) empties it");
    if (tokens) seq.keepPrefix(tokens);
    seq.release();
  }

  /**
   * append() on another sequence of the cache: a prompt into `seq`, and the next token when `sample` is given.
   * An empty sequence first takes what the prefix cache holds of `tokens` (at least the last token is run, for
   * its logits), and offers its own whole pages to it afterwards.
   */
  appendSequence(seq: CacheSequence, tokens: readonly number[], sample: SampleRequest | null): Promise<number | null> {
    return this.work(async () => {
      if (seq.length > 0) return this.appendNow(tokens, sample, seq);
      const P = this.cache.pageSize;
      const from = seq.startFromPrefix(this.rec, tokens, Math.floor((sample ? tokens.length - 1 : tokens.length) / P), false);
      const rest = tokens.slice(from);
      const next = rest.length > 0 ? await this.appendNow(rest, sample, seq) : null;
      seq.keepPrefix(tokens);
      return next;
    });
  }

  /**
   * One decode step for several sequences in one submission: row i appends rows[i].token to rows[i].seq and
   * chooses its next token under rows[i].sample. The matmuls and experts take the B rows together, attention
   * runs per sequence over its own pages, sampling per row; one read-back of B ids.
   */
  decodeStep(rows: readonly BatchRow<CacheSequence>[]): Promise<number[]> {
    return this.work(() => this.decodeStepNow(rows));
  }

  private async decodeStepNow(rows: readonly BatchRow<CacheSequence>[]): Promise<number[]> {
    const B = rows.length;
    if (B < 1 || B > this.maxBatch) throw new InputError('batch', `a step takes 1 to ${this.maxBatch} sequences, got ${B}`);
    if (new Set(rows.map((r) => r.seq)).size !== B) throw new InputError('batch', 'a sequence appears twice in one step');
    rows.forEach((r, i) => this.checkTokens([r.token], r.seq.length, `batch row ${i}`));
    const { rec, act, f } = this;
    const V = this.config.vocabSize;
    for (const { seq } of rows) seq.reserve(rec, seq.length, seq.length + 1);
    rec.write(act.tokens, 0, Uint32Array.from(rows, (r) => r.token));
    const offloading = recordForward(rec, f, placeRows(rec, f, rows.map(({ seq }) => ({ rows: 1, firstPos: seq.length, tableAt: seq.tableAt }))));
    if (offloading) await offloading;
    recordLogits(rec, f, 0, B);
    const samples = rows.map((r) => r.sample);
    if (samples.every(isPlainArgmax) && argmaxScratchBytes(B, V) <= act.sampleScratch.size) {
      recordArgmax(rec, { logits: act.logits, partial: act.sampleScratch, token: act.sampled }, { vocab: V, rows: B });
    } else {
      const penalized = this.penalizedRows(samples);
      samples.forEach((sample, row) => {
        recordSample(rec, { logits: act.logits, token: act.sampled, scratch: act.sampleScratch, penalized: penalized[row] }, sample, { vocab: V, row });
      });
    }
    this.readback.record(rec, act.sampled, 0, B * 4);
    rec.submit('batch decode step');
    const tokens = Array.from(await this.readback.readU32(B, 'batch decode step'));
    await rec.check();
    for (const { seq } of rows) seq.length++;
    return tokens;
  }

  /** Greedy speculative decoding of batched sequences with the MTP module; null without one. */
  batchSpeculator(): MtpBatch | null {
    const speculator = this.speculator();
    if (!speculator || !this.pendingHidden) return null;
    this.mtpBatch ??= new MtpBatch({
      rec: this.rec,
      f: this.f,
      act: this.act,
      mtp: this.weights.mtp[0],
      readback: this.readback,
      speculator,
      pendingHidden: this.pendingHidden,
      work: (op) => this.work(op),
    });
    return this.mtpBatch;
  }

  /** Resolves when no step is running on the GPU (a caller about to dispose() waits for this). */
  async idle(): Promise<void> {
    await this.inFlight;
  }

  /**
   * Runs one operation that records and submits GPU work: refused after dispose(), and remembered so idle()
   * can wait for it. Operations never overlap (they share the recorder, scratch and read-back buffers):
   * a second one waits for the first.
   */
  private work<T>(op: () => Promise<T>): Promise<T> {
    if (this.disposed) return Promise.reject(new InputError('model', 'has been disposed; load it again'));
    const run = this.inFlight.then(() => {
      if (this.disposed) throw new InputError('model', 'has been disposed; load it again');
      return op();
    });
    this.inFlight = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  truncate(length: number): void {
    this.seq.truncate(length);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.rec.destroy();
    this.readback.destroy();
    this.penalized?.destroy();
    this.act.destroy();
    this.rowMaps.destroy();
    this.pendingHidden?.destroy();
    this.cache.destroy();
    this.f.invFreq.destroy();
    this.offload?.destroy();
    for (const b of this.weights.buffers) b.destroy();
  }

  /**
   * Records the forward pass of `tokens` at the end of `seq` (its end not yet submitted); a promise when
   * offloaded experts make it wait for routing read-backs (recordForward).
   */
  private runForward(tokens: readonly number[], seq = this.seq): Promise<void> | undefined {
    const pos = seq.length;
    this.rec.write(this.act.tokens, 0, Uint32Array.from(tokens));
    seq.reserve(this.rec, pos, pos + tokens.length);
    const offloading = recordForward(this.rec, this.f, placeRows(this.rec, this.f, [{ rows: tokens.length, firstPos: pos, tableAt: seq.tableAt }]));
    seq.length = pos + tokens.length;
    return offloading;
  }

  /** The request's penalty entries on the GPU (grown when a request has more than fit). */
  private penalizedBuffer(sample: SampleRequest): Bindable | undefined {
    return this.penalizedRows([sample])[0];
  }

  /**
   * Each request's penalty entries on the GPU, one 256-byte aligned range each in one buffer (grown when they
   * do not fit): a batched step's rows are all written before it runs, so they cannot share a range.
   */
  private penalizedRows(samples: readonly SampleRequest[]): (Bindable | undefined)[] {
    const packed = samples.map((s) => {
      const entries = penaltyEntries(s);
      return entries.length ? packPenalties(entries) : null;
    });
    const offsets: number[] = [];
    let bytes = 0;
    for (const p of packed) {
      offsets.push(bytes);
      if (p) bytes += Math.ceil(p.byteLength / 256) * 256;
    }
    if (bytes === 0) return packed.map(() => undefined);
    if (!this.penalized || this.penalized.size < bytes) {
      this.penalized?.destroy();
      this.penalized = createStorage(this.gpu.device, Math.max(256, bytes), 'penalized tokens');
    }
    const buffer = this.penalized;
    return packed.map((p, i) => {
      if (!p) return undefined;
      this.rec.write(buffer, offsets[i], p);
      return { buffer, offset: offsets[i], size: p.byteLength };
    });
  }

  private checkTokens(tokens: readonly number[], length = this.seq.length, what = 'tokens'): void {
    if (this.disposed) throw new InputError('model', 'has been disposed');
    const V = this.config.vocabSize;
    const bad = tokens.findIndex((t) => !Number.isInteger(t) || t < 0 || t >= V);
    if (bad >= 0) throw new InputError(what, `token id ${tokens[bad]} at index ${bad} is outside the vocabulary [0, ${V})`);
    if (length + tokens.length > this.maxLength) {
      throw new InputError(what, `${length + tokens.length} positions exceed the context of ${this.maxLength}`);
    }
  }
}
