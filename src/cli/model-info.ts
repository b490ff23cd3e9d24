// The model part of `deepseek-webgpu info --model DIR`: config summary, parameter counts and the memory
// plan, from config.json and the checkpoint headers alone (nothing is uploaded).
import { openModelFolder } from '../checkpoint/model-folder.ts';
import { nodeFolder } from '../checkpoint/sources/node-file.ts';
import type { ModelConfig } from '../config/model-config.ts';
import { formatBytes, planMemory, type MemoryPlan } from '../model/memory-plan.ts';
import { countParameters, type ParameterCount } from '../model/parameter-count.ts';

export interface ModelInfo {
  folder: string;
  architecture: string;
  summary: Record<string, string | number | boolean | null>;
  parameters: ParameterCount;
  contextLength: number;
  memory: MemoryPlan;
  latentCacheBytesPerToken: number;
}

export async function modelInfo(dir: string, contextLength: number | undefined, quantize?: 'fp8'): Promise<ModelInfo> {
  const { config: c, checkpoint } = await openModelFolder(nodeFolder(dir));
  try {
    const context = contextLength ?? Math.min(c.maxPositionEmbeddings, 4096);
    return {
      folder: dir,
      architecture: c.architecture,
      summary: summary(c),
      parameters: countParameters(c),
      contextLength: context,
      memory: planMemory(c, checkpoint, { contextLength: context, prefillChunk: 64, quantize }),
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
    weights: c.quantization ? `FP8 e4m3, ${c.quantization.weightBlockSize.join('x')} blocks` : 'as stored (BF16/F32)',
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
    ['memory plan', `weights ${formatBytes(m.memory.weights)} + cache ${formatBytes(m.memory.latentCache + m.memory.mtpCache)} + activations ${formatBytes(m.memory.activations)} = ${formatBytes(m.memory.total)}`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  return ['Model', ...rows.map(([k, v]) => `  ${k.padEnd(width)}${v}`)].join('\n');
}
