// The model options every running subcommand shares (--model, --context-length, --quantize, --quiet), and
// loading: config and checkpoint headers, the GPU, the weights with a progress bar, the tokenizer if any.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Option, type Command } from 'commander';
import { openModelFolder, type ModelFolder } from '../checkpoint/model-folder.ts';
import { nodeFolder } from '../checkpoint/sources/node-file.ts';
import { InputError } from '../errors.ts';
import type { Gpu } from '../gpu/device.ts';
import { createNodeGpu, type NodeFallback } from '../gpu/node-webgpu.ts';
import { DeepseekModel } from '../model/deepseek-model.ts';
import { loadTokenizer } from '../tokenizer/load-node.ts';
import type { TextTokenizer } from '../tokenizer/tokenizer.ts';
import { progressBar } from './progress.ts';

/** The embedded default: a small DeepSeek-V3-architecture model trained on public-domain English. */
export const DEFAULT_MODEL = join(dirname(dirname(dirname(fileURLToPath(import.meta.url)))), 'weights', 'tiny-v3-trained');

export interface ModelCliOptions {
  model?: string;
  contextLength?: string;
  quantize?: 'fp8';
  quiet?: boolean;
}

export function addModelOptions(cmd: Command): Command {
  return cmd
    .option('--model <dir>', 'Hugging Face checkpoint folder (default: the embedded tiny-v3-trained)')
    .option('--context-length <n>', 'positions the KV cache holds (default: min(max_position_embeddings, 4096))')
    .addOption(new Option('--quantize <format>', 'quantize BF16 linear weights at load').choices(['fp8']))
    .option('--quiet', 'no progress bar');
}

export interface LoadedModel {
  gpu: Gpu;
  folder: ModelFolder;
  model: DeepseekModel;
  tokenizer: TextTokenizer | null;
  close(): Promise<void>;
}

export function parseIntOption(value: string | undefined, option: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()) || Number(value) < min) throw new InputError(option, `expected an integer >= ${min}, got '${value}'`);
  return Number(value);
}

export function parseNumberOption(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InputError(option, `expected a number, got '${value}'`);
  return n;
}

export async function loadModelFromCli(opts: ModelCliOptions, fallback: NodeFallback, extra: { prefillChunk?: number } = {}): Promise<LoadedModel> {
  const dir = opts.model ?? DEFAULT_MODEL;
  const folder = await openModelFolder(nodeFolder(dir));
  const tokenizer = await loadTokenizer(dir);
  const gpu = await createNodeGpu({ fallback });
  const bar = progressBar(`loading ${dir}`, !opts.quiet);
  try {
    const model = await DeepseekModel.load(gpu, folder, {
      contextLength: parseIntOption(opts.contextLength, '--context-length', 1),
      quantize: opts.quantize,
      prefillChunk: extra.prefillChunk,
      onProgress: (done, total) => bar.update(done, total),
    });
    bar.finish();
    return {
      gpu,
      folder,
      model,
      tokenizer,
      async close() {
        model.dispose();
        await folder.checkpoint.close();
        gpu.destroy();
      },
    };
  } catch (e) {
    bar.finish();
    await folder.checkpoint.close();
    gpu.destroy();
    throw e;
  }
}
