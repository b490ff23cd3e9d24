// The memory and speed figures of README's "Running real DeepSeek checkpoints", computed with the engine's
// own memory plan (src/model/memory-plan.ts) from header-only checkpoints: every tensor the release stores,
// with its real dtype and shape and no data, as the released config.json and safetensors headers give them.
//   npx tsx tools/plan-real-models.ts [--json]
// Nothing is measured here: the tok/s columns are bandwidth-bound ceilings (active bytes per token divided
// into a GPU's memory bandwidth), upper bounds that no run has reached (benchmarks/README.md has measurements).
import type { Checkpoint } from '../src/checkpoint/checkpoint.ts';
import type { DType } from '../src/checkpoint/dtypes.ts';
import type { TensorInfo } from '../src/checkpoint/safetensors.ts';
import { fp8ScaleName, modelSlots, type TensorSlot } from '../src/checkpoint/tensor-names.ts';
import { parseModelConfig, type ModelConfig } from '../src/config/model-config.ts';
import { bufferLimit, formatBytes, planMemory, type MemoryPlan } from '../src/model/memory-plan.ts';
import type { QuantizeFormat, WeightsPlan } from '../src/model/weight-plan.ts';
import { V2, V2_LITE, V3 } from '../src/model/test-configs.ts';

export interface Release {
  name: string;
  /** Hugging Face repositories with this config and these dtypes. */
  repos: string[];
  config: object;
  /** 'fp8': V3's layout (FP8 e4m3 128x128 blocks for linear/expert/kv_b weights); 'bf16': every tensor BF16. */
  format: 'fp8' | 'bf16';
}

const FP8_CONFIG = { quant_method: 'fp8', fmt: 'e4m3', activation_scheme: 'dynamic', weight_block_size: [128, 128] };

export const RELEASES: Release[] = [
  { name: 'DeepSeek-V2-Lite', repos: ['deepseek-ai/DeepSeek-V2-Lite', 'deepseek-ai/DeepSeek-V2-Lite-Chat'], config: V2_LITE, format: 'bf16' },
  { name: 'DeepSeek-V2', repos: ['deepseek-ai/DeepSeek-V2', 'deepseek-ai/DeepSeek-V2-Chat', 'deepseek-ai/DeepSeek-V2.5'], config: V2, format: 'bf16' },
  { name: 'DeepSeek-V3 / R1', repos: ['deepseek-ai/DeepSeek-V3', 'deepseek-ai/DeepSeek-R1', 'deepseek-ai/DeepSeek-V3-0324', 'deepseek-ai/DeepSeek-R1-0528'], config: { ...V3, quantization_config: FP8_CONFIG }, format: 'fp8' },
];

const DTYPE_BYTES: Partial<Record<DType, number>> = { F8_E4M3: 1, BF16: 2, F32: 4 };

/** The release's stored dtype of a slot's tensor. */
function slotDtype(slot: TensorSlot, format: Release['format']): DType {
  if (format === 'bf16') return 'BF16';
  // V3's release: the routing bias in F32; lm_head, the MTP head, the router, eh_proj, tables and norms in BF16;
  // every other matmul weight FP8 with an F32 scale per 128x128 block.
  if (/e_score_correction_bias/.test(slot.name)) return 'F32';
  if (/lm_head|shared_head\.head|mlp\.gate\.weight/.test(slot.name)) return 'BF16';
  return slot.kind === 'linear' || slot.kind === 'expert' || slot.kind === 'kvB' ? 'F8_E4M3' : 'BF16';
}

/** A Checkpoint whose info() returns the release's header entries (no data behind them). */
export function releaseHeaders(c: ModelConfig, format: Release['format']): { checkpoint: Checkpoint; tensors: TensorInfo[] } {
  const tensors: TensorInfo[] = [];
  const entry = (name: string, dtype: DType, shape: number[]) => {
    tensors.push({ name, dtype, shape, file: 'model.safetensors', begin: 0, end: shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype]! });
  };
  for (const slot of modelSlots(c)) {
    const dtype = slotDtype(slot, format);
    entry(slot.name, dtype, slot.shape);
    if (dtype === 'F8_E4M3') entry(fp8ScaleName(slot.name), 'F32', slot.shape.map((d) => Math.ceil(d / 128)));
  }
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const info = (name: string): TensorInfo => {
    const t = byName.get(name);
    if (!t) throw new Error(`no header entry for ${name}`);
    return t;
  };
  return { checkpoint: { info } as unknown as Checkpoint, tensors };
}

const GiB = 2 ** 30;
/** Limits large enough that nothing is split (the plan's totals do not depend on the splits). */
const NO_LIMIT = bufferLimit({ maxBufferSize: 2 ** 52, maxStorageBufferBindingSize: 2 ** 52 });
export const CONTEXTS = [4096, 32768] as const;
/** WebGPU's default binding limit (128 MiB), and 1, 2 and 4 GiB (what adapters commonly report). */
export const BINDING_LIMITS = [GiB / 8, GiB, 2 * GiB, 4 * GiB];
export const BANDWIDTHS = [300e9, 1e12, 3.3e12];
const PREFILL_CHUNK = 64; // the engine's default (ModelLoadOptions.prefillChunk)

export interface ReleasePlan {
  release: string;
  option: 'as stored' | '--quantize fp8' | '--quantize q4';
  /** Sum of every stored tensor's bytes (the safetensors data; headers and tokenizer files add a few MB). */
  diskBytes: number;
  weights: number;
  /** Latent caches (main + MTP) at each of CONTEXTS. */
  latentCache: number[];
  activations: number;
  /** The plan's total (weights + caches + activations + rope table) at each of CONTEXTS. */
  total: number[];
  /** Per binding limit: the largest buffer after splitting, and the buffers still over it (which refuse a load). */
  limits: { limit: number; largest: { label: string; bytes: number }; overLimit: string[] }[];
  /** The largest weight buffer that is never split (everything but lm_head/MTP head, embeddings, expert stacks). */
  largestUnsplittable: { label: string; bytes: number };
  /** Weight bytes one decoded token reads (main model): non-expert weights, shared experts, top-k of the routed. */
  activeBytesPerToken: number;
  /** Latent cache bytes one decoded token reads per 1,000 cached positions (main model). */
  cacheBytesPerTokenPer1k: number;
}

/**
 * Weight bytes one decoded token reads (main model, as planned on the GPU): every weight less the embedding
 * (one row is read), with the routed expert stacks counted at top-k of n_routed.
 */
export function activeWeightBytes(c: ModelConfig, main: WeightsPlan): number {
  let active = 0;
  for (const w of main.tensors.values()) {
    const bytes = w.parts.reduce((n, p) => n + p.weight.bytes + (p.scale?.bytes ?? 0), 0);
    if (w.kind === 'embedding') continue;
    const routed = w.kind === 'experts' && /\.experts\.\d+\./.test(w.key);
    active += routed ? (bytes * c.numExpertsPerTok) / c.nRoutedExperts : bytes;
  }
  return active;
}

export function planRelease(r: Release, quantize?: QuantizeFormat): ReleasePlan {
  const c = parseModelConfig(r.config);
  const { checkpoint, tensors } = releaseHeaders(c, r.format);
  const plan = (contextLength: number, limit = NO_LIMIT): MemoryPlan => planMemory(c, checkpoint, { contextLength, prefillChunk: PREFILL_CHUNK, quantize }, limit);
  const plans = CONTEXTS.map((n) => plan(n));
  const first = plans[0];
  const splittable = new Set(['rows', 'embedding', 'experts']);
  let largestUnsplittable = { label: '', bytes: 0 };
  for (const w of first.weightPlan.tensors.values()) {
    if (splittable.has(w.kind)) continue;
    for (const p of w.parts) if (p.weight.bytes > largestUnsplittable.bytes) largestUnsplittable = { ...p.weight };
  }
  const main = planMemory(c, checkpoint, { contextLength: CONTEXTS[0], prefillChunk: PREFILL_CHUNK, quantize, mtp: false }, NO_LIMIT).weightPlan;
  const active = activeWeightBytes(c, main);
  return {
    release: r.name,
    option: quantize ? `--quantize ${quantize}` : 'as stored',
    diskBytes: tensors.reduce((n, t) => n + (t.end - t.begin), 0),
    weights: first.weights,
    latentCache: plans.map((p) => p.latentCache + p.mtpCache),
    activations: first.activations,
    total: plans.map((p) => p.total),
    limits: BINDING_LIMITS.map((bytes) => {
      const p = plan(CONTEXTS[0], bufferLimit({ maxBufferSize: bytes, maxStorageBufferBindingSize: bytes }));
      return { limit: bytes, largest: p.largest, overLimit: p.overLimit.map((b) => b.label) };
    }),
    largestUnsplittable,
    activeBytesPerToken: Math.round(active),
    cacheBytesPerTokenPer1k: c.numHiddenLayers * c.latentDim * 4 * 1000,
  };
}

export function planAll(): ReleasePlan[] {
  return RELEASES.flatMap((r) => (r.format === 'bf16' ? [planRelease(r), planRelease(r, 'fp8'), planRelease(r, 'q4')] : [planRelease(r), planRelease(r, 'q4')]));
}

const gb = (n: number) => `${(n / 1e9).toFixed(1)} GB`;
const gib = (n: number) => (n >= GiB ? `${(n / GiB).toFixed(1)} GiB` : formatBytes(n));

/** "nothing", or how many buffers are over the limit and the first one's name. */
function refused(l: ReleasePlan['limits'][number]): string {
  if (!l.overLimit.length) return 'nothing';
  return l.overLimit.length === 1 ? `\`${l.overLimit[0]}\`` : `${l.overLimit.length} buffers (\`${l.overLimit[0]}\`, ...)`;
}

const short = (p: ReleasePlan) => (p.option === 'as stored' ? 'stored' : p.option.slice('--quantize '.length));

/** README's tables (Markdown). */
export function formatTables(plans: ReleasePlan[]): string {
  const memory = [
    '| release | weights as | on disk | weights on GPU | latent cache 4K / 32K | activations (64-row chunk) | total at 4K | total at 32K |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...plans.map((p) => `| ${p.release} | ${p.option === 'as stored' ? 'stored' : `\`${p.option}\``} | ${gb(p.diskBytes)} | ${gib(p.weights)} | ${gib(p.latentCache[0])} / ${gib(p.latentCache[1])} | ${gib(p.activations)} | ${gib(p.total[0])} | ${gib(p.total[1])} |`),
  ];
  const limits = [
    `| release | weights as | largest buffer at ${BINDING_LIMITS.map((l) => gib(l)).join(' / ')} binding limit | largest unsplittable weight | refused at ${BINDING_LIMITS.map((l) => gib(l)).join(' / ')} |`,
    '| --- | --- | ---: | --- | --- |',
    ...plans.map((p) => `| ${p.release} | ${short(p)} | ${p.limits.map((l) => gib(l.largest.bytes)).join(' / ')} | ${gib(p.largestUnsplittable.bytes)} (\`${p.largestUnsplittable.label}\`) | ${p.limits.map(refused).join(' / ')} |`),
  ];
  const speed = [
    `| release | weights as | weights read per token | + latent cache per 1K context | ceiling at ${BANDWIDTHS.map((b) => (b >= 1e12 ? `${b / 1e12} TB/s` : `${b / 1e9} GB/s`)).join(' / ')} |`,
    '| --- | --- | ---: | ---: | ---: |',
    ...plans.map((p) => `| ${p.release} | ${short(p)} | ${gb(p.activeBytesPerToken)} | ${(p.cacheBytesPerTokenPer1k / 1e6).toFixed(0)} MB | ${BANDWIDTHS.map((b) => `${(b / p.activeBytesPerToken).toFixed(0)}`).join(' / ')} tok/s |`),
  ];
  return [memory.join('\n'), limits.join('\n'), speed.join('\n')].join('\n\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const plans = planAll();
  console.log(process.argv.includes('--json') ? JSON.stringify(plans, null, 2) : formatTables(plans));
}
