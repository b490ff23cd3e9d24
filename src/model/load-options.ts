// What a model load may be told (DeepseekModel.load; loadModel and Engine.load pass them through): the cache's
// size and paging, quantization, launch shapes, buffer limits, progress and prefetching.
import type { CheckpointPrefetchOptions } from '../checkpoint/checkpoint.ts';
import type { LaunchProfile } from '../gpu/launch-profile.ts';
import type { QuantizeFormat } from './weight-plan.ts';

export interface ModelLoadOptions {
  /** Positions one sequence may reach; default min(max_position_embeddings, 4096). */
  contextLength?: number;
  /**
   * Rows of the paged latent cache, every sequence together (a batch of sequences shares them); default
   * contextLength, one full-length sequence (see cacheSequences). A number whose cache does not fit the memory
   * plan is refused with an InputError naming cache-tokens and the rows that would fit.
   */
  cacheTokens?: number;
  /**
   * Without cacheTokens: size the cache for this many sequences of contextLength each, or for as many pages as
   * memoryBudget and the buffer limit allow when that is less, never under one sequence (src/model/cache-size.ts).
   * Ignored with gpuMemory, whose memory goes to the expert slots. Default 1; `serve` asks for --max-batch.
   */
  cacheSequences?: number;
  /** Rows per page of the latent cache, a power of two; default 16. */
  pageSize?: number;
  /**
   * Keep the whole cache pages of batched sequences for later prompts that start with the same tokens
   * (docs/architecture.md "The prefix cache"); default true.
   */
  prefixCache?: boolean;
  /** Sequences the cache can hold at once (the batch's, forks included); default 64. */
  maxSequences?: number;
  /** Positions per forward call when prefilling; default 64. */
  prefillChunk?: number;
  /** Quantize linear and expert weights at load: 'fp8' (BF16/F32 ones, to FP8 blocks) or 'q4' (4-bit, docs/q4.md). */
  quantize?: QuantizeFormat;
  /** Load the MTP module when the checkpoint has one (default true). */
  mtp?: boolean;
  /** Run one throw-away step at load so pipelines are compiled before the first real one (default true). */
  warmup?: boolean;
  /**
   * Every kernel's launch shape (docs/launch-profiles.md). Default: profileFor the adapter (the CPU profile on
   * a software adapter, the GPU defaults of its kind otherwise); loadModel() in Node uses a `tune` result
   * cached for this adapter instead.
   */
  profile?: LaunchProfile;
  /**
   * Workgroups the attention aims to fill, splitting the cached sequence when the query rows alone can't
   * (flash-decoding): replaces the profile's mla-decode TARGET_WORKGROUPS. Tests set it to exercise
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
   * The GPU memory to use, in bytes. When the whole model needs more, the routed experts of the MoE layers stay
   * in host memory (read from the checkpoint when routed) and what the budget leaves after the resident part
   * (embeddings, attention, dense layers, shared experts, norms, routers, lm_head, caches, scratch) becomes a
   * per-layer cache of expert slots (src/model/expert-offload.ts). A budget below the resident part plus one
   * token's experts per layer is refused (InputError naming both). The output is the same as resident.
   * Bytes, or a size such as '4GB', '6G' or '512MiB' (src/byte-size.ts).
   */
  gpuMemory?: number | string;
  /**
   * Largest GPU buffer to create, in bytes, below the device's maxBufferSize and maxStorageBufferBindingSize:
   * lm_head, the embeddings and expert stacks are split into parts that fit; any other buffer that does not
   * fit refuses the load (GpuLimitError) before anything is read. Tests use it to split tiny models.
   */
  bufferLimit?: number;
  /**
   * Load progress, phase by phase. 'download' counts the bytes of the checkpoint's read ranges fetched (or
   * found in the browser's cache), ahead of 'upload', which counts checkpoint bytes read and put on the GPU
   * (each tensor once, so never past its total); the two interleave, 'download' leading. 'compile' counts the
   * warm-up steps that compile the pipelines (seconds on some adapters), reported after 'upload' reached its
   * total. Each phase's `done` never decreases.
   */
  onProgress?: (done: number, total: number, phase: LoadPhase) => void;
  /** How checkpoint bytes are fetched ahead of the upload (src/checkpoint/prefetch.ts, read-plan.ts). */
  prefetch?: CheckpointPrefetchOptions;
}

/** What a load is doing: fetching the checkpoint, putting it on the GPU, compiling pipelines with warm-up steps. */
export type LoadPhase = 'download' | 'upload' | 'compile';
