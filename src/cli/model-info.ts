// The model part of `deepseek-webgpu info --model DIR`: config summary, parameter counts and the memory
// plan, from config.json and the checkpoint headers alone (nothing is uploaded): the plan is the one a load
// on this adapter checks, so its buffers, splits and refusals are the load's.
import type { FolderSource } from '../checkpoint/byte-source.ts';
import { openModelFolder } from '../checkpoint/model-folder.ts';
import { nodeFolder } from '../checkpoint/sources/node-file.ts';
import type { ModelConfig } from '../config/model-config.ts';
import { InputError } from '../errors.ts';
import { bufferLimit, formatBytes, formatPlanParts, planMemory, planRefusal, type BufferLimit, type BufferLimits, type MemoryPlan, type OffloadPlan } from '../model/memory-plan.ts';
import { countParameters, type ParameterCount } from '../model/parameter-count.ts';
import type { QuantizeFormat } from '../model/weight-plan.ts';

export interface ModelInfo {
  folder: string;
  architecture: string;
  summary: Record<string, string | number | boolean | null>;
  parameters: ParameterCount;
  contextLength: number;
  memory: PlanSummary;
  latentCacheBytesPerToken: number;
}

/** The memory plan without its buffer list (thousands of entries for a full model). */
export interface PlanSummary extends Omit<MemoryPlan, 'buffers' | 'weightPlan' | 'limit' | 'overLimit'> {
  buffers: number;
  limit: BufferLimit;
  /** Weights split into more than one buffer to fit the limit, with their part counts. */
  splits: { tensor: string; kind: string; parts: number }[];
  /** What a load checks the total against (null: no budget, a GPU adapter), and where it comes from. */
  budget: { bytes: number; source: string } | null;
  /** Why a load would be refused (a buffer over the limit, or the total over the budget), or null. */
  refusal: string | null;
}

export interface ModelInfoOptions {
  quantize?: QuantizeFormat;
  /** The adapter's buffer limits (the plan is checked against them as a load would). */
  limits: BufferLimits;
  /** A cap below the limits (ModelLoadOptions.bufferLimit). */
  bufferLimit?: number;
  budget: PlanSummary['budget'];
  /** The adapter's attention split target (defaultAttentionWorkgroups), which sizes the split scratch. */
  attentionWorkgroups?: number;
  /** ModelLoadOptions.gpuMemory: plan the expert offload this budget needs (bytes). */
  gpuMemory?: number;
}

/** `model`: a folder on disk, or any FolderSource (a hub repository read in place). */
export async function modelInfo(model: string | FolderSource, contextLength: number | undefined, o: ModelInfoOptions): Promise<ModelInfo> {
  const source = typeof model === 'string' ? nodeFolder(model) : model;
  const dir = source.name;
  const { config: c, checkpoint } = await openModelFolder(source);
  try {
    const context = contextLength ?? Math.min(c.maxPositionEmbeddings, 4096);
    const options = { contextLength: context, prefillChunk: 64, quantize: o.quantize, attentionWorkgroups: o.attentionWorkgroups };
    const limit = bufferLimit(o.limits, o.bufferLimit);
    // A --gpu-memory too small for the resident part is the load's refusal; the whole plan is shown beside it.
    let tooSmall: string | null = null;
    let full: MemoryPlan;
    try {
      full = planMemory(c, checkpoint, { ...options, gpuMemory: o.gpuMemory }, limit);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      tooSmall = e.message;
      full = planMemory(c, checkpoint, options, limit);
    }
    const { buffers, weightPlan, overLimit: _, ...plan } = full;
    const refusal = tooSmall ?? planRefusal(full, o.budget?.bytes, 'a load')?.message ?? null;
    const splits = [...weightPlan.tensors.values()].filter((w) => w.parts.length > 1).map((w) => ({ tensor: w.key, kind: w.kind, parts: w.parts.length }));
    return {
      folder: dir,
      architecture: c.architecture,
      summary: summary(c),
      parameters: countParameters(c),
      contextLength: context,
      memory: { ...plan, buffers: buffers.length, splits, budget: o.budget, refusal },
      latentCacheBytesPerToken: (c.numHiddenLayers + c.numNextnPredictLayers) * c.latentDim * 4,
    };
  } finally {
    await checkpoint.close();
  }
}

function summary(c: ModelConfig): ModelInfo['summary'] {
  return {
    model_type: c.modelType,
    layers: `${c.numHiddenLayers} (${c.firstKDenseReplace} dense)${c.numNextnPredictLayers ? ` + ${c.numNextnPredictLayers} MTP` : ''}`,
    hidden: c.hiddenSize,
    vocab: c.vocabSize,
    attention: `MLA, ${c.numAttentionHeads} heads, q_lora ${c.qLoraRank ?? 'none'}, kv_lora ${c.kvLoraRank}, nope/rope/v ${c.qkNopeHeadDim}/${c.qkRopeHeadDim}/${c.vHeadDim}`,
    experts: c.nRoutedExperts ? `${c.nRoutedExperts} routed (top-${c.numExpertsPerTok}, width ${c.moeIntermediateSize}) + ${c.nSharedExperts} shared` : 'none',
    routing: c.nRoutedExperts ? `${c.topkMethod}, ${c.scoringFunc}${c.nGroup > 1 ? `, ${c.nGroup} groups top-${c.topkGroup}` : ''}, scale ${c.routedScalingFactor}` : '-',
    rope: c.ropeScaling ? `YaRN x${c.ropeScaling.factor} from ${c.ropeScaling.originalMaxPositionEmbeddings}` : 'plain',
    weights: !c.quantization ? 'as stored (BF16/F32)' : c.quantization.method === 'q4' ? `q4, 4-bit codes with an f32 scale per ${c.quantization.groupSize} inputs` : `FP8 e4m3, ${c.quantization.weightBlockSize.join('x')} blocks`,
    max_position_embeddings: c.maxPositionEmbeddings,
  };
}

export function formatModelInfo(m: ModelInfo): string {
  const b = (n: number) => `${(n / 1e9).toFixed(n < 1e8 ? 4 : 2)} B`;
  const rows: [string, string][] = [
    ['folder', m.folder],
    ['architecture', m.architecture],
    ...Object.entries(m.summary).map(([k, v]): [string, string] => [k, String(v)]),
    ['parameters', `${b(m.parameters.total)} total, ${b(m.parameters.active)} active per token${m.parameters.mtp ? `, MTP ${b(m.parameters.mtp)}` : ''}`],
    ['latent cache', `${formatBytes(m.latentCacheBytesPerToken)} per token (f32), ${formatBytes(m.memory.latentCache + m.memory.mtpCache)} for ${m.contextLength} tokens`],
    ['memory plan', `${formatBytes(m.memory.total)} in ${m.memory.buffers} buffers: ${formatPlanParts(m.memory)}`],
    ['largest buffer', `${formatBytes(m.memory.largest.bytes)} (${m.memory.largest.label}); limit ${formatBytes(m.memory.limit.bytes)} (${m.memory.limit.name})`],
    ['split to fit', splitSummary(m.memory.splits)],
    ...offloadRows(m.memory.offload),
    ['budget', budgetLine(m.memory)],
    ...(m.memory.refusal ? [['refused', m.memory.refusal] as [string, string]] : []),
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  return ['Model', ...rows.map(([k, v]) => `  ${k.padEnd(width)}${v}`)].join('\n');
}

/** The two parts of a plan under --gpu-memory: what stays on the GPU, and the experts kept in host memory. */
function offloadRows(o: OffloadPlan | null): [string, string][] {
  if (!o) return [];
  const layers = `${o.layers.length} MoE layer${o.layers.length > 1 ? 's' : ''}`;
  return [
    ['gpu memory', `${formatBytes(o.resident + o.cache)} of --gpu-memory ${formatBytes(o.budget)}: resident part ${formatBytes(o.resident)} + expert cache ${formatBytes(o.cache)}`],
    ['expert cache', `${o.slots} of ${o.experts} routed experts per layer x ${layers}, ${formatBytes(o.expertBytes)} per expert (least recently used out)`],
    ['host memory', `${formatBytes(o.host)}: the routed experts of the ${layers}, uploaded when routed and not cached`],
  ];
}

/** "lm_head.weight 2 parts, model.embed_tokens.weight 2 parts, experts: 58 stacks in 4 parts". */
function splitSummary(splits: PlanSummary['splits']): string {
  const experts = splits.filter((s) => s.kind === 'experts');
  const stacks = new Map<number, number>();
  for (const s of experts) stacks.set(s.parts, (stacks.get(s.parts) ?? 0) + 1);
  const rest = splits.filter((s) => s.kind !== 'experts').map((s) => `${s.tensor} ${s.parts} parts`);
  const expertText = [...stacks].map(([parts, n]) => `${n} expert stack${n > 1 ? 's' : ''} in ${parts} parts`);
  return [...rest, ...expertText].join(', ') || 'nothing (every weight fits one buffer)';
}

function budgetLine(p: PlanSummary): string {
  if (!p.budget) return 'none: WebGPU does not report GPU memory (only the per-buffer limits refuse)';
  const verdict = p.total <= p.budget.bytes ? 'fits' : 'over: a load is refused';
  return `${formatBytes(p.budget.bytes)} (${p.budget.source}): ${verdict}`;
}
