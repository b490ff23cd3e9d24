// A DeepSeek model on the GPU: weights uploaded, latent cache and scratch allocated once, and the
// CausalLM operations the decode loop needs. A step is one command submission; the only read-back is the
// sampled token id (or the logits, when the caller asks for them).
import { packPenalties, penaltyEntries } from '../kernels/sample-penalty.ts';
import type { ModelFolder } from '../checkpoint/model-folder.ts';
import { modelNames } from '../checkpoint/tensor-names.ts';
import type { ModelConfig } from '../config/model-config.ts';
import type { CausalLM } from '../decode/causal-lm.ts';
import { GREEDY, type SampleRequest } from '../sampling/rules.ts';
import { InputError } from '../errors.ts';
import type { Gpu } from '../gpu/device.ts';
import { createStorage, readStorage, uploadStorage } from '../gpu/buffers.ts';
import { Readback } from '../gpu/readback.ts';
import { recordSample } from '../kernels/sample.ts';
import { PipelineCache } from '../gpu/pipelines.ts';
import { Recorder, type DispatchListener } from '../gpu/recorder.ts';
import { Activations } from './activations.ts';
import { chunks } from './chunks.ts';
import { recordForward, recordLogits, type ForwardContext } from './forward.ts';
import { recordMtp, recordMtpLogits } from './mtp.ts';
import { MtpSpeculator } from './mtp-speculator.ts';
import { LatentCache } from './kv-cache.ts';
import { bufferLimit, checkMemoryPlan, planMemory, type MemoryPlan } from './memory-plan.ts';
import { checkShapeLimits } from './shape-limits.ts';
import { uploadWeights, type GpuWeights } from './weights.ts';
import type { QuantizeFormat } from './weight-plan.ts';

export interface ModelLoadOptions {
  /** Positions the latent cache holds; default min(max_position_embeddings, 4096). */
  contextLength?: number;
  /** Positions per forward call when prefilling; default 64. */
  prefillChunk?: number;
  /** Quantize linear and expert weights at load: 'fp8' (BF16/F32 ones, to FP8 blocks) or 'q4' (4-bit, docs/q4.md). */
  quantize?: QuantizeFormat;
  /** Load the MTP module when the checkpoint has one (default true). */
  mtp?: boolean;
  /** Run one throw-away step at load so pipelines are compiled before the first real one (default true). */
  warmup?: boolean;
  /**
   * Workgroups the attention aims to fill, splitting the cached sequence when the query rows alone can't
   * (flash-decoding). Default: the core count on a CPU adapter, 128 on a GPU. Tests set it to exercise
   * many-core split plans on a 2-core machine.
   */
  attentionWorkgroups?: number;
  /**
   * Refuse to load when the memory plan's total (exactly the bytes loading allocates) exceeds this many
   * bytes. WebGPU cannot tell device memory: loadModel() in Node sets it to the available memory on a CPU
   * adapter and leaves it unset on a GPU.
   */
  memoryBudget?: number;
  /**
   * Largest GPU buffer to create, in bytes, below the device's maxBufferSize and maxStorageBufferBindingSize:
   * lm_head, the embeddings and expert stacks are split into parts that fit; any other buffer that does not
   * fit refuses the load (GpuLimitError) before anything is read. Tests use it to split tiny models.
   */
  bufferLimit?: number;
  /**
   * Load progress, phase by phase: 'weights' counts checkpoint bytes read of the checkpoint's size (each
   * tensor once, so never past it); 'warmup' counts the warm-up steps that compile the pipelines (seconds on
   * some adapters), reported after the weights reached their total.
   */
  onProgress?: (done: number, total: number, phase: LoadPhase) => void;
}

/** What a load is doing: reading and uploading the checkpoint, then compiling pipelines with warm-up steps. */
export type LoadPhase = 'weights' | 'warmup';

/** Logical CPU cores (navigator.hardwareConcurrency in browsers and Node >= 21), 2 when unknown. */
function cpuCores(): number {
  const n = (globalThis.navigator as Navigator | undefined)?.hardwareConcurrency;
  return Number.isInteger(n) && n! > 0 ? n! : 2;
}

/**
 * Workgroups the attention aims to fill on this adapter. SwiftShader runs one workgroup per core at a time:
 * split the sequence only as far as the cores go (one row's 4-query-vector block of a small model is a
 * single workgroup: 2 splits on 2 cores took 0.55 ms instead of 0.69 over 1000 cached rows, tiny-v3 widths).
 */
export function defaultAttentionWorkgroups(gpu: Gpu): number {
  return gpu.adapterInfo.isFallbackAdapter ? cpuCores() : 128;
}

export class DeepseekModel implements CausalLM {
  readonly maxLength: number;
  private readonly rec: Recorder;
  private readonly f: ForwardContext;
  /** Workgroups the attention aims to fill (ModelLoadOptions.attentionWorkgroups, resolved). */
  readonly attentionWorkgroups: number;
  private readonly readback: Readback;
  private penalized: GPUBuffer | undefined;
  private mtpSpeculator: MtpSpeculator | null = null;
  private disposed = false;
  private inFlight: Promise<void> = Promise.resolve();

  private constructor(
    readonly gpu: Gpu,
    readonly config: ModelConfig,
    /** What the load planned, buffer by buffer: weights, caches, scratch and the rope table are exactly these. */
    readonly plan: MemoryPlan,
    readonly weights: GpuWeights,
    readonly cache: LatentCache,
    /** The MTP module's own latent cache (one layer), when the model has one. */
    readonly mtpCache: LatentCache | null,
    private readonly act: Activations,
    invFreq: GPUBuffer,
    attentionWorkgroups: number,
  ) {
    this.maxLength = cache.capacity;
    this.attentionWorkgroups = attentionWorkgroups;
    this.rec = new Recorder(gpu.device, new PipelineCache(gpu.device));
    this.readback = new Readback(gpu.device, 512); // up to 63 drafts and 64 choices per speculative step
    this.f = {
      c: config,
      weights,
      cacheLayers: cache.layers,
      act,
      invFreq,
      attentionWorkgroups,
    };
  }

  static async load(gpu: Gpu, folder: ModelFolder, options: ModelLoadOptions = {}): Promise<DeepseekModel> {
    const c = folder.config;
    const contextLength = options.contextLength ?? Math.min(c.maxPositionEmbeddings, 4096);
    if (!Number.isInteger(contextLength) || contextLength < 1 || contextLength > c.maxPositionEmbeddings) {
      throw new InputError('context-length', `must be an integer in [1, ${c.maxPositionEmbeddings}] (max_position_embeddings), got ${contextLength}`);
    }
    const chunk = options.prefillChunk ?? 64;
    if (!Number.isInteger(chunk) || chunk < 1) throw new InputError('prefill-chunk', `must be a positive integer, got ${chunk}`);
    const wgs = options.attentionWorkgroups ?? defaultAttentionWorkgroups(gpu);
    if (!Number.isInteger(wgs) || wgs < 1) throw new InputError('attention-workgroups', `must be a positive integer, got ${wgs}`);
    const cap = options.bufferLimit;
    if (cap !== undefined && (!Number.isInteger(cap) || cap < 4)) throw new InputError('buffer-limit', `must be an integer of at least 4 bytes, got ${cap}`);
    const embedDtype = folder.checkpoint.has(modelNames(c).embed) ? folder.checkpoint.info(modelNames(c).embed).dtype : 'BF16';
    checkShapeLimits(c, { embedDtype, limits: gpu.limits }, `${folder.folder.name}/config.json`);
    // Every buffer below is planned, and checked against the limits and the budget, before the first read.
    const plan = planMemory(c, folder.checkpoint, { contextLength, prefillChunk: chunk, quantize: options.quantize, mtp: options.mtp, attentionWorkgroups: wgs }, bufferLimit(gpu.limits, cap));
    checkMemoryPlan(plan, options.memoryBudget, `${folder.folder.name} with a ${contextLength}-token context`);
    const total = folder.checkpoint.names().reduce((n, name) => n + folder.checkpoint.info(name).end - folder.checkpoint.info(name).begin, 0);
    const weights = await gpu.captureErrors('upload weights', () =>
      uploadWeights(gpu, folder.checkpoint, c, plan.weightPlan, { onBytes: (bytes) => options.onProgress?.(bytes, total, 'weights') }),
    );
    options.onProgress?.(total, total, 'weights');
    const mtp = weights.mtp.length > 0;
    const cache = new LatentCache(gpu, c.latentDim, c.numHiddenLayers, contextLength);
    const mtpCache = mtp ? new LatentCache(gpu, c.latentDim, 1, contextLength, 'mtp latent cache') : null;
    const act = new Activations(gpu, c, chunk, chunk, mtp, wgs);
    const invFreq = uploadStorage(gpu.device, Float32Array.from(c.ropeInvFreq), 'rope inverse frequencies');
    const model = new DeepseekModel(gpu, c, plan, weights, cache, mtpCache, act, invFreq, wgs);
    if (options.warmup ?? true) {
      try {
        await model.warmup((done, steps) => options.onProgress?.(done, steps, 'warmup'));
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

  get length(): number {
    return this.cache.length;
  }

  /** Rows the MTP's latent cache holds (0 without an MTP module); speculation resumes at most there. */
  get draftLength(): number {
    return this.mtpCache?.length ?? 0;
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

  private async appendNow(tokens: readonly number[], sample: SampleRequest | null): Promise<number | null> {
    this.checkTokens(tokens);
    if (sample && tokens.length === 0) throw new InputError('tokens', 'is empty: there is no position to choose the next token after');
    let lastRows = 0;
    for (const { start, end, last } of chunks(tokens.length, this.act.rows)) {
      this.runForward(tokens.slice(start, end));
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
      this.runForward(tokens.slice(i, end));
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
    if (!mtp || !this.mtpCache) throw new InputError('mtp', 'this model has no MTP module loaded (num_nextn_predict_layers is 0, or loaded with mtp: false)');
    this.checkTokens(nextTokens, this.mtpCache.length);
    const V = this.config.vocabSize;
    const H = this.config.hiddenSize;
    if (hidden.length !== nextTokens.length * H) throw new InputError('hidden', `has ${hidden.length} values, expected ${nextTokens.length} x ${H}`);
    const out = new Float32Array(nextTokens.length * V);
    for (const { start: i, end } of chunks(nextTokens.length, this.act.rows)) {
      const rows = end - i;
      const pos = this.mtpCache.length;
      this.rec.write(this.act.mtpTokens, 0, Uint32Array.from(nextTokens.slice(i, end)));
      this.rec.write(this.act.mtpHidden, 0, hidden.subarray(i * H, (i + rows) * H));
      recordMtp(this.rec, this.f, mtp, this.mtpCache.layers[0], { hidden: this.act.mtpHidden, tokens: this.act.mtpTokens }, rows, pos);
      recordMtpLogits(this.rec, mtp, this.act.x, this.act.logits, rows);
      this.mtpCache.length = pos + rows;
      this.rec.submit('MTP logits');
      out.set(new Float32Array(await readStorage(this.gpu.device, this.act.logits, 0, rows * V * 4)), i * V);
    }
    await this.rec.check();
    return out;
  }

  /** Speculative decoding with the MTP head, over this model's caches; null without an MTP module. */
  speculator(): MtpSpeculator | null {
    const mtp = this.weights.mtp[0];
    if (!mtp || !this.mtpCache) return null;
    this.mtpSpeculator ??= new MtpSpeculator({
      gpu: this.gpu,
      rec: this.rec,
      f: this.f,
      act: this.act,
      cache: this.cache,
      mtpCache: this.mtpCache,
      mtp,
      readback: this.readback,
      penalized: (sample) => this.penalizedBuffer(sample),
      work: (op) => this.work(op),
    });
    return this.mtpSpeculator;
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
    this.cache.truncate(length);
    if (this.mtpCache && this.mtpCache.length > length) this.mtpCache.truncate(length);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.rec.destroy();
    this.readback.destroy();
    this.penalized?.destroy();
    this.act.destroy();
    this.cache.destroy();
    this.mtpCache?.destroy();
    this.f.invFreq.destroy();
    for (const b of this.weights.buffers) b.destroy();
  }

  /** Records the forward pass of `tokens` at the end of the sequence (not yet submitted). */
  private runForward(tokens: readonly number[]): void {
    const pos = this.cache.length;
    this.rec.write(this.act.tokens, 0, Uint32Array.from(tokens));
    recordForward(this.rec, this.f, tokens.length, pos);
    this.cache.length = pos + tokens.length;
  }

  /** The request's penalty entries on the GPU (grown when a request has more than fit). */
  private penalizedBuffer(sample: SampleRequest): GPUBuffer | undefined {
    const entries = penaltyEntries(sample);
    if (entries.length === 0) return undefined;
    const ids = packPenalties(entries);
    if (!this.penalized || this.penalized.size < ids.byteLength) {
      this.penalized?.destroy();
      this.penalized = createStorage(this.gpu.device, Math.max(256, ids.byteLength), 'penalized tokens');
    }
    this.rec.write(this.penalized, 0, ids);
    return this.penalized;
  }

  private checkTokens(tokens: readonly number[], length = this.cache.length): void {
    if (this.disposed) throw new InputError('model', 'has been disposed');
    const V = this.config.vocabSize;
    const bad = tokens.findIndex((t) => !Number.isInteger(t) || t < 0 || t >= V);
    if (bad >= 0) throw new InputError('tokens', `token id ${tokens[bad]} at index ${bad} is outside the vocabulary [0, ${V})`);
    if (length + tokens.length > this.maxLength) {
      throw new InputError('tokens', `${length + tokens.length} positions exceed the context of ${this.maxLength}`);
    }
  }
}
